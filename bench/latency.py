"""Tap to kiosk latency: a badge tap published over MQTT until the kiosk page in Chromium shows
its verdict, p50 and p99, while a 2,000-seat simulated floor runs.

    python bench/latency.py                    # 2,000 seats, 200 taps (a few minutes)
    python bench/latency.py --seats 400 --taps 50

Everything is real and separate where it is in production: a private mosquitto; the simulated
floor (`floorwatch sim`: one edge agent per seat, door and kiosk on simulated drivers) in its own
process; in this process the hub (ingest, rule engine, live bus) and the web server
(kiosk_ui.server); the kiosk page in headless Chromium, signed in as a kiosk display. Taps are
published by a paho client as the bench's own kiosk reader (kiosk-k2, left out of the simulated
floor so sequence numbers never collide), each with a fresh badge.

Figures: publish -> verdict on the hub's live bus (MQTT, ingest, engine) and -> page updated
(SSE, browser), first with the floor idle (the baseline, same run) and then with the floor
running; the ratio is floor/idle.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402
import psutil  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from edge import wire  # noqa: E402
from edge.clock import ScaledClock  # noqa: E402
from hub.broker import MosquittoBroker  # noqa: E402
from hub.processes import stop_process  # noqa: E402
from hub.service import HubService  # noqa: E402
from hub.site import load_site  # noqa: E402
from hub.sitegen import generate_site  # noqa: E402
from hub.store import Store  # noqa: E402
from kiosk_ui import create_app  # noqa: E402
from kiosk_ui.server import WebServer  # noqa: E402

KIOSK = "kiosk-k2"
WARM_TAPS = 5  # the first taps after the hub starts (the engine warms up): reported, not in the baseline
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))]


class BusWatch:
    """When each tap verdict reached the hub's live bus (wall clock ms)."""

    def __init__(self, hub: HubService) -> None:
        self.hub = hub
        self.sub = hub.live.subscribe({"tap"})
        self.seen: dict[str, float] = {}
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for update in self.hub.live.listen(self.sub, 0.2):
            if self._stop.is_set():
                return
            if update is not None:
                self.seen.setdefault(update.data.get("event_id"), time.time() * 1000)

    def close(self) -> None:
        self._stop.set()
        self.hub.live.unsubscribe(self.sub)


class Tapper:
    """The bench's kiosk reader: a real paho client publishing badge events as kiosk-k2."""

    def __init__(self, site_id: str, host: str, port: int, clock: ScaledClock) -> None:
        self.site_id, self.clock, self.seq = site_id, clock, 0
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{KIOSK}")
        connected = threading.Event()
        self.client.on_connect = lambda *a: connected.set()
        self.client.connect(host, port)
        self.client.loop_start()
        if not connected.wait(10):
            raise SystemExit("the tapper could not connect to the broker")
        status = wire.Status(v=1, device=KIOSK, state="online", ts=clock.now_ms(), fw="bench", config="bench")
        self.client.publish(wire.status_topic(site_id, KIOSK), wire.encode(status), qos=1, retain=True).wait_for_publish(10)

    def tap(self, uid: str) -> tuple[str, float]:
        self.seq += 1
        event = wire.BadgeEvent(v=1, id=wire.new_event_id(), device=KIOSK, seq=self.seq, ts=self.clock.now_ms(),
                                type="badge", uid=uid, reader="badge")
        sent = time.time() * 1000
        self.client.publish(wire.event_topic(self.site_id, KIOSK), wire.encode(event), qos=1)
        return event.id, sent

    def heartbeat(self) -> None:
        self.seq += 1
        hb = wire.HeartbeatEvent(v=1, id=wire.new_event_id(), device=KIOSK, seq=self.seq, ts=self.clock.now_ms(),
                                 type="heartbeat", uptime_s=60, spooled=0)
        self.client.publish(wire.event_topic(self.site_id, KIOSK), wire.encode(hb), qos=1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def run_taps(label: str, tapper: Tapper, page, bus: BusWatch, badges: list[str], gap_s: float) -> dict:
    to_bus, to_page, missing = [], [], 0
    for uid in badges:
        event_id, sent = tapper.tap(uid)
        try:
            page.wait_for_function("id => window.fwRendered.some(r => r.event_id === id)", arg=event_id, timeout=30_000)
        except Exception:
            missing += 1
            continue
        shown = page.evaluate("id => window.fwRendered.find(r => r.event_id === id).t", event_id)
        to_page.append(shown - sent)
        if event_id in bus.seen:
            to_bus.append(bus.seen[event_id] - sent)
        if tapper.seq % 20 == 0:
            tapper.heartbeat()
        time.sleep(gap_s)
    result = {"label": label, "taps": len(badges), "missing": missing, "page": to_page, "bus": to_bus}
    print(f"  {label}: {len(to_page)} taps shown, {missing} not shown within 30 s", flush=True)
    return result


def describe(r: dict) -> str:
    p, b = r["page"], r["bus"]
    return (f"{r['label']:<14} page p50 {pct(p, 50):7.1f} ms  p99 {pct(p, 99):7.1f} ms  max {max(p):7.1f} ms"
            f"   | to live bus p50 {pct(b, 50):6.1f} ms  p99 {pct(b, 99):6.1f} ms")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seats", type=int, default=2000)
    ap.add_argument("--taps", type=int, default=200, help="taps measured while the floor runs")
    ap.add_argument("--baseline-taps", type=int, default=55, help=f"taps with the floor idle (the first {WARM_TAPS} apart)")
    ap.add_argument("--speed", type=float, default=1.0, help="floor clock speed (1 = real time)")
    ap.add_argument("--warmup", type=float, default=20.0, help="seconds the floor runs before measuring")
    ap.add_argument("--gap", type=float, default=0.2, help="seconds between taps")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="fw-latency-"))
    broker = MosquittoBroker(work / "broker").start()
    tz_name = "Asia/Shanghai"
    from zoneinfo import ZoneInfo

    day = dt.datetime.now(ZoneInfo(tz_name)).date()
    site_dir = generate_site(work / "site", site="bench", seats=args.seats, zones=max(2, args.seats // 100),
                             doors=4, kiosks=2, roster_date=day, tz=tz_name, sim_devices=True, broker_port=broker.port)
    sim_dir = work / "sim-site"  # the floor without the bench's own kiosk reader
    shutil.copytree(site_dir, sim_dir)
    (sim_dir / "devices" / f"{KIOSK}.toml").unlink()
    site = load_site(site_dir)
    start = int(dt.datetime.combine(day, dt.time(8, 0), tzinfo=site.tz).timestamp() * 1000)
    clock = ScaledClock(start, args.speed)
    store = Store(work / "hub.db")
    print(f"bench/latency: {args.seats} seats, {len(site.devices)} devices, mosquitto {broker.port}, "
          f"{os.cpu_count()} cores", flush=True)
    t = time.monotonic()
    hub = HubService(site, store, broker_host=broker.host, broker_port=broker.port, clock=clock).start()
    print(f"  hub started in {time.monotonic() - t:.1f} s (engine {'on' if hub.engine else 'OFF'})", flush=True)
    app = create_app({"LIVE_KEEPALIVE_S": 5.0}, hub=hub)
    accounts = app.extensions["floorwatch.auth"].accounts
    accounts.add_user("bench-kiosk", "kiosk", device=KIOSK)
    token = accounts.issue_token("bench-kiosk", "bench")
    server = WebServer(app).start()
    bus = BusWatch(hub)
    tapper = Tapper(site.id, broker.host, broker.port, clock)
    agents = {a.employee_no: a for a in site.agents}
    night = [agents[r.employee_no].badges[0] for r in site.roster if r.shift == "night"]
    badges = night[: args.baseline_taps + args.taps]
    if args.baseline_taps <= WARM_TAPS or len(badges) < args.baseline_taps + args.taps:
        raise SystemExit(f"need more than {WARM_TAPS} baseline taps and a distinct badge per tap (more seats)")
    sim = None
    results = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 800, "height": 480})
            page.goto(f"{server.url}/kiosk/{KIOSK}?token={token}&clear=600")
            page.wait_for_function("document.body.dataset.live === 'open'", timeout=60_000)

            warm = run_taps("first taps", tapper, page, bus, badges[: WARM_TAPS], args.gap)
            results.append(run_taps("floor idle", tapper, page, bus, badges[WARM_TAPS: args.baseline_taps], args.gap))

            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            sim = subprocess.Popen(
                [sys.executable, "-m", "hub.cli", "sim", "--site", str(sim_dir), "--broker", f"{broker.host}:{broker.port}",
                 "--speed", str(args.speed), "--start", "08:00", "--seed", "1", "--spool-dir", str(work / "spool")],
                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )
            print(f"  {sim.stdout.readline().strip()}", flush=True)
            events0, t0 = store.count_events(), time.monotonic()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and store.device_counts().get("online", 0) < len(site.devices) - 1:
                time.sleep(1)
            print(f"  {store.device_counts().get('online', 0)} devices online after {time.monotonic() - t0:.0f} s; "
                  f"warming up {args.warmup:.0f} s", flush=True)
            time.sleep(args.warmup)
            me, sim_ps = psutil.Process(), psutil.Process(sim.pid)
            me.cpu_percent(None), sim_ps.cpu_percent(None)
            ev1, t1 = store.count_events(), time.monotonic()
            results.append(run_taps("floor running", tapper, page, bus, badges[args.baseline_taps:], args.gap))
            ev2, t2 = store.count_events(), time.monotonic()
            cpu_hub, cpu_sim = me.cpu_percent(None), sim_ps.cpu_percent(None)
            browser.close()
    finally:
        if sim is not None:
            stop_process(sim, signal.SIGINT, 30)
        tapper.close()
        bus.close()
        server.stop()
        hub.stop()
        store.close()
        broker.close()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    idle, busy = results
    print()
    print(f"tap published -> kiosk page updated ({args.seats}-seat floor, {os.cpu_count()} cores, floor clock x{args.speed:g})")
    print(f"  floor traffic while measuring: {(ev2 - ev1) / (t2 - t1):.0f} events/s stored "
          f"({ev1 - events0} during warm-up); CPU: hub+web+browser driver {cpu_hub:.0f}%, simulated floor {cpu_sim:.0f}%")
    print(f"  first {WARM_TAPS} taps after the hub started: " + ", ".join(f"{v:.0f}" for v in warm["page"]) + " ms")
    for r in results:
        print("  " + describe(r))
    ratio50 = pct(busy["page"], 50) / pct(idle["page"], 50)
    ratio99 = pct(busy["page"], 99) / pct(idle["page"], 99)
    print(f"  floor running / idle: p50 x{ratio50:.2f}, p99 x{ratio99:.2f}")
    within = sum(1 for v in busy["page"] if v <= 1000) / max(1, len(busy["page"]))
    print(f"  within 1 s while the floor runs: {within * 100:.1f}% of {len(busy['page'])} taps "
          f"({busy['missing']} not shown)")
    return 0 if busy["page"] and statistics.median(busy["page"]) <= 1000 and busy["missing"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
