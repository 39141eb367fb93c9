"""Open event streams and vanished browsers against the API: why kiosk_ui.server is what it is.

    python bench/sse_load.py                  # 50 streams + 10 dead or stuck, both servers

For each server (kiosk_ui.server.WebServer, and waitress with its default 4 threads as the
measured alternative), GET /api/health and the kiosk page 200 times with nothing else open
(the baseline of this run), then again while 50 live streams read updates (20/s published on
the hub's live bus), 5 more vanished (reset) and 5 more stopped reading. A request that takes
longer than --timeout counts as hung. Prints p50/p99 per phase, the ratio to the baseline, and
how long the dead streams held on to the server.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import shutil
import socket
import statistics
import struct
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub.broker import MosquittoBroker  # noqa: E402
from hub.service import HubService  # noqa: E402
from hub.site import load_site  # noqa: E402
from hub.sitegen import generate_site  # noqa: E402
from hub.store import Store  # noqa: E402
from kiosk_ui import create_app, feed  # noqa: E402
from kiosk_ui.server import WebServer  # noqa: E402

MAX_HUNG = 5


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))] if s else float("nan")


def stream_socket(port: int, token: str, rcvbuf: int | None = None) -> socket.socket:
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(30)
    s.connect(("127.0.0.1", port))
    s.sendall(f"GET /live/stream?channels=seat,tap,device HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n"
              f"Authorization: Bearer {token}\r\n\r\n".encode())
    return s


class Reader(threading.Thread):
    """A browser keeping its stream open and reading it."""

    def __init__(self, port: int, token: str) -> None:
        super().__init__(daemon=True)
        self.sock = stream_socket(port, token)
        self.bytes = 0
        self.start()

    def run(self) -> None:
        with contextlib.suppress(OSError):
            while chunk := self.sock.recv(65536):
                self.bytes += len(chunk)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


def timed_gets(urls: list[tuple[str, str]], n: int, timeout: float) -> tuple[list[float], int]:
    lat, hung = [], 0
    for i in range(n):
        url, token = urls[i % len(urls)]
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
        t = time.monotonic()
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                resp.read()
            lat.append((time.monotonic() - t) * 1000)
        except (TimeoutError, urllib.error.URLError, OSError):
            hung += 1
            if hung >= MAX_HUNG:  # it hangs: no need to wait out the rest
                break
    return lat, hung


class WaitressServer:
    """waitress as `waitress-serve` would run it (threads=4 unless told)."""

    def __init__(self, app, threads: int = 4) -> None:
        from waitress.server import create_server

        self.server = create_server(app, host="127.0.0.1", port=0, threads=threads)
        self.port = int(self.server.effective_port)
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.close()


def measure(name: str, server, app, hub, tokens: dict[str, str], args) -> dict:
    urls = [(f"{server.url}/api/health", tokens["facilities"]), (f"{server.url}/kiosk/kiosk-k1", tokens["kiosk"])]
    base, base_hung = timed_gets(urls, args.requests, args.timeout)
    stop = threading.Event()

    def publish() -> None:
        i = 0
        while not stop.wait(1 / args.rate):
            i += 1
            hub.live.publish("seat", {"seat": f"A{i % 8 + 1:02d}", "zone": "A", "state": "vacant", "agent": None,
                                      "since": i, "break_used_s": 0})

    pub = threading.Thread(target=publish, daemon=True)
    pub.start()
    readers = [Reader(server.port, tokens["facilities"]) for _ in range(args.streams)]
    dead = [stream_socket(server.port, tokens["facilities"]) for _ in range(args.vanished)]
    stuck = [stream_socket(server.port, tokens["facilities"], rcvbuf=4096) for _ in range(args.vanished)]
    time.sleep(1.0)
    for s in dead:  # gone without a goodbye: the kernel resets the connection
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    t_dead = time.monotonic()
    loaded, loaded_hung = timed_gets(urls, args.requests, args.timeout)
    expected = sum(1 for r in readers if r.bytes > 0) + len(stuck)
    while feed.open_streams(app) > expected and time.monotonic() - t_dead < 40:
        time.sleep(0.2)
    released_dead = time.monotonic() - t_dead if feed.open_streams(app) <= expected else float("inf")
    stop.set()
    for r in readers:
        r.close()
    for s in stuck:
        s.close()
    t_close = time.monotonic()
    while feed.open_streams(app) > 0 and time.monotonic() - t_close < 40:
        time.sleep(0.2)
    received = sum(1 for r in readers if r.bytes > 0)
    return {"name": name, "base": base, "base_hung": base_hung, "loaded": loaded, "loaded_hung": loaded_hung,
            "reading": received, "released_dead_s": released_dead, "left_open": feed.open_streams(app)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--streams", type=int, default=50)
    ap.add_argument("--vanished", type=int, default=5, help="streams reset, and as many that stop reading")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--rate", type=float, default=20.0, help="live updates per second during the load")
    ap.add_argument("--timeout", type=float, default=5.0, help="a request slower than this counts as hung")
    args = ap.parse_args()

    logging.getLogger("waitress").setLevel(logging.CRITICAL)  # its queue-depth warnings are the point
    work = Path(tempfile.mkdtemp(prefix="fw-sse-"))
    broker = MosquittoBroker(work / "broker").start()
    site_dir = generate_site(work / "site", site="sseload", seats=8, zones=2,  # rostered for the site's today
                             sim_devices=True, broker_port=broker.port)
    store = Store(work / "hub.db")
    hub = HubService(load_site(site_dir), store, broker_host=broker.host, broker_port=broker.port).start()
    app = create_app({"LIVE_KEEPALIVE_S": 5.0}, hub=hub)
    accounts = app.extensions["floorwatch.auth"].accounts
    tokens = {}
    for role, extra in (("facilities", {}), ("kiosk", {"device": "kiosk-k1"})):
        accounts.add_user(f"bench-{role}", role, **extra)
        tokens[role] = accounts.issue_token(f"bench-{role}", "bench")
    results = []
    try:
        ours = WebServer(app, io_timeout_s=10).start()
        try:
            results.append(measure("kiosk_ui.server (thread per connection)", ours, app, hub, tokens, args))
        finally:
            ours.stop()
        try:
            waitress = WaitressServer(app)
        except ImportError:
            print("waitress is not installed: measuring kiosk_ui.server only (pip install waitress to compare)")
        else:
            try:
                results.append(measure("waitress, 4 threads", waitress, app, hub, tokens, args))
            finally:
                waitress.stop()
    finally:
        hub.stop()
        store.close()
        broker.close()
        shutil.rmtree(work, ignore_errors=True)

    print(f"GET /api/health and /kiosk/<device>, {args.requests} requests per phase; load = {args.streams} open streams "
          f"reading {args.rate:g} updates/s + {args.vanished} reset + {args.vanished} not reading; hung = over {args.timeout:g} s")
    for r in results:
        b, lo = r["base"], r["loaded"]
        ratio = statistics.median(lo) / statistics.median(b) if lo and b else float("nan")
        print(f"  {r['name']}")
        print(f"    idle:   p50 {pct(b, 50):7.1f} ms  p99 {pct(b, 99):7.1f} ms  hung {r['base_hung']}")
        stopped = f" (stopped after {MAX_HUNG} hung)" if r["loaded_hung"] >= MAX_HUNG else ""
        print(f"    loaded: p50 {pct(lo, 50):7.1f} ms  p99 {pct(lo, 99):7.1f} ms  answered {len(lo)},"
              f" hung {r['loaded_hung']}{stopped}  (p50 x{ratio:.2f} of idle)")
        print(f"    streams that got data {r['reading']}/{args.streams}; reset streams released after "
              f"{r['released_dead_s']:.1f} s; open after all closed: {r['left_open']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
