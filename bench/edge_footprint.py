"""Footprint of one edge agent: resident memory and CPU while idle and under 10 taps/s, against
a private mosquitto, next to baselines measured in the same run (a bare Python interpreter, and
a bare paho client that only stays connected). Also the tap -> hub -> cmd -> LED round trip and
the spool's burst rate with fsync on (the default) and off.

A Pi Zero 2 W has 512 MB for everything. Run: python3 bench/edge_footprint.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tty
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge import wire  # noqa: E402
from hub.broker import MosquittoBroker  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}

BARE_PAHO = """
import sys, time
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bare-paho")
c.connect(sys.argv[1], int(sys.argv[2]), keepalive=30)
c.loop_start()
print("ready", flush=True)
time.sleep(3600)
"""


def sample(proc: psutil.Process, seconds: float, during=None) -> tuple[float, float]:
    """(CPU % of one core, peak RSS MB) over `seconds`, running `during(stop_event)` meanwhile."""
    stop = threading.Event()
    worker = threading.Thread(target=during, args=(stop,), daemon=True) if during else None
    t0 = proc.cpu_times()
    w0 = time.monotonic()
    rss = proc.memory_info().rss
    if worker:
        worker.start()
    while time.monotonic() - w0 < seconds:
        time.sleep(0.2)
        rss = max(rss, proc.memory_info().rss)
    stop.set()
    if worker:
        worker.join()
    t1 = proc.cpu_times()
    wall = time.monotonic() - w0
    cpu = (t1.user - t0.user + t1.system - t0.system) / wall * 100
    return cpu, rss / 1e6


def spawn(args: list[str]) -> subprocess.Popen:
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=ENV)
    p.stdout.readline()  # "ready" / the agent's banner
    return p


def count_events(broker, site: str) -> tuple[list[int], object]:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    got: list[int] = []
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-counter")
    c.on_connect = lambda cl, *a: cl.subscribe(f"fw/v1/{site}/+/event", qos=1)
    c.on_message = lambda cl, u, m: got.append(1) if b'"badge"' in m.payload else None
    c.connect(broker.host, broker.port)
    c.loop_start()
    return got, c


def footprint(broker, tmp: Path, seconds: float) -> None:
    site = "bench"
    bare = spawn([sys.executable, "-c", "import time; print('ready', flush=True); time.sleep(3600)"])
    paho = spawn([sys.executable, "-c", BARE_PAHO, broker.host, str(broker.port)])
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    cfg = tmp / "seat-a01.toml"
    cfg.write_text(
        f'id = "seat-a01"\nsite = "{site}"\nrole = "seat"\nseat = "A01"\nheartbeat_s = 30\n'
        f'[broker]\nhost = "{broker.host}"\nport = {broker.port}\n[spool]\npath = "{tmp / "spool.db"}"\n'
        f'[[readers]]\nname = "badge"\nkind = "line"\nport = "{os.ttyname(slave)}"\nhold_off_s = 2.0\n'
    )
    agent = spawn([sys.executable, "-m", "edge", "--config", str(cfg)])  # the lean entry a Pi runs
    cli_cfg = tmp / "seat-a02.toml"
    cli_cfg.write_text(cfg.read_text().split("[[readers]]")[0].replace("seat-a01", "seat-a02")
                       .replace("spool.db", "spool2.db"))
    cli_agent = spawn([sys.executable, "-m", "hub.cli", "edge", "--config", str(cli_cfg)])
    got, counter = count_events(broker, site)
    try:
        time.sleep(2.0)  # start-up settles
        procs = {name: psutil.Process(p.pid) for name, p in
                 (("bare", bare), ("paho", paho), ("agent", agent), ("cli", cli_agent))}
        idle = {name: sample(p, seconds) for name, p in procs.items()}

        def tap(stop: threading.Event) -> None:
            i = 0
            nxt = time.monotonic()
            while not stop.is_set():
                os.write(master, f"{0x0A100000 + i:010X}\r\n".encode())
                i += 1
                nxt += 0.1
                time.sleep(max(nxt - time.monotonic(), 0))

        busy = sample(procs["agent"], seconds, tap)
        sent = int(seconds * 10)
        deadline = time.monotonic() + 20
        while len(got) < sent and time.monotonic() < deadline:
            time.sleep(0.05)
        print(f"{'process':34} {'CPU % of a core':>16} {'RSS MB':>8} {'RSS / bare':>11}")
        base_rss = idle["bare"][1]
        for label, (cpu, rss) in (("bare python (baseline)", idle["bare"]), ("bare paho client, idle", idle["paho"]),
                                  ("edge agent (python -m edge), idle", idle["agent"]),
                                  ("edge agent, 10 taps/s", busy), ("floorwatch edge (full CLI), idle", idle["cli"])):
            print(f"{label:34} {cpu:16.2f} {rss:8.1f} {rss / base_rss:10.2f}x")
        cpu, rss = idle["agent"]
        print(f"goal (issue 14): agent idle <= 35 MB RSS and <= 1 % CPU: {'met' if rss <= 35 and cpu <= 1 else 'NOT met'}")
        print(f"agent RSS over a bare paho client: {idle['agent'][1] / idle['paho'][1]:.2f}x idle, "
              f"{busy[1] / idle['paho'][1]:.2f}x at 10 taps/s; taps delivered: {len(got)} of >= {sent}")
    finally:
        counter.disconnect()
        counter.loop_stop()
        for p in (agent, cli_agent, paho, bare):
            p.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(10)
            p.stdout.close()
        os.close(master)
        os.close(slave)


def round_trip(broker, tmp: Path, n: int = 50) -> None:
    """Tap -> agent -> broker -> hub ingest -> cmd -> agent -> LED lit; baseline: a bare paho
    publish -> echo -> receive between two clients through the same broker."""
    import paho.mqtt.client as mqtt
    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory
    from paho.mqtt.enums import CallbackAPIVersion

    from edge.agent import Agent
    from edge.config import parse_device_config
    from edge.drivers import build_drivers
    from edge.drivers.sim import SimReader
    from hub.ingest import Ingest
    from hub.store import Store

    # baseline: two hops through the broker with bare paho
    echo = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-echo")
    echo.on_connect = lambda c, *a: c.subscribe("bench/ping", qos=1)
    echo.on_message = lambda c, u, m: c.publish("bench/pong", m.payload, qos=1)
    echo.connect(broker.host, broker.port)
    echo.loop_start()
    pong = threading.Event()
    pinger = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-ping")
    pinger.on_connect = lambda c, *a: c.subscribe("bench/pong", qos=1)
    pinger.on_message = lambda c, u, m: pong.set()
    pinger.connect(broker.host, broker.port)
    pinger.loop_start()
    time.sleep(0.5)
    base = []
    for _ in range(n):
        pong.clear()
        t = time.perf_counter()
        pinger.publish("bench/ping", b"x", qos=1)
        pong.wait(5)
        base.append(time.perf_counter() - t)
    for c in (echo, pinger):
        c.disconnect()
        c.loop_stop()

    Device.pin_factory = MockFactory()
    store = Store(tmp / "hub.db")
    ingest: Ingest | None = None

    def answer(events) -> None:  # the hub's side: answer every tap at once
        for e in events:
            if e.type == "badge":
                ingest.publish_command(wire.Command(v=1, device=e.device, ts=wire.now_ms(), cmd="feedback",
                                                    result="ok", text="", re=e.event_id))

    ingest = Ingest(store, "rt", broker.host, broker.port, client_id="bench-hub", on_events=answer).start()
    cfg = parse_device_config({"id": "seat-rt", "site": "rt", "role": "seat", "seat": "A01",
                               "broker": {"host": broker.host, "port": broker.port},
                               "spool": {"path": str(tmp / "rt-spool.db")},
                               "feedback": {"green_pin": 23}})
    drivers = build_drivers(cfg)
    reader = SimReader("badge")
    drivers.readers.append(reader)
    agent = Agent(cfg, drivers=drivers, heartbeat=False).start()
    agent.link.connected.wait(10)
    green = Device.pin_factory.pin(23)
    lat = []
    for i in range(n):
        drivers.feedback.outputs["green"].off()
        time.sleep(0.05)
        t = time.perf_counter()
        reader.tap(f"{0x0A200000 + i:010X}")
        while not green.state and time.perf_counter() - t < 5:
            time.sleep(0.0005)
        lat.append(time.perf_counter() - t)
    agent.stop()
    ingest.stop()
    store.close()
    Device.pin_factory.reset()
    Device.pin_factory = None

    def ms(xs):
        xs = sorted(xs)
        return statistics.median(xs) * 1000, xs[int(len(xs) * 0.95) - 1] * 1000

    b, a = ms(base), ms(lat)
    print(f"bare paho two hops (baseline): median {b[0]:.1f} ms, p95 {b[1]:.1f} ms")
    print(f"tap -> hub -> cmd -> LED lit:   median {a[0]:.1f} ms, p95 {a[1]:.1f} ms "
          f"({a[0] / b[0]:.1f}x the baseline; the requirement is under 1,000 ms)")


def spool_rate(tmp: Path, n: int = 500) -> None:
    from edge.spool import Spool

    rates = {}
    for sync in ("normal", "full"):
        s = Spool(tmp / f"rate-{sync}.db", sync=sync)
        t = time.perf_counter()
        for _ in range(n):
            s.append(lambda q: b'{"v":1,"type":"badge","uid":"000A000001","reader":"badge"}')
        rates[sync] = n / (time.perf_counter() - t)
        s.close()
    print(f"spool appends/s: synchronous=NORMAL {rates['normal']:.0f} (baseline), FULL {rates['full']:.0f} "
          f"({rates['full'] / rates['normal']:.2f}x); a reader taps at most a few per second")
    # an event's whole life on the Pi: appended, then acknowledged (the link acks in small batches),
    # with acknowledged events forgotten at once (the baseline) or kept for a broker that forgets
    cycles = {}
    for keep in (0.0, 180.0):
        s = Spool(tmp / f"cycle-{keep:g}.db", sync="full", keep_sent_s=keep)
        t = time.perf_counter()
        for _ in range(n // 5):
            seqs = [s.append(lambda q: b'{"v":1,"type":"badge","uid":"000A000001","reader":"badge"}') for _k in range(5)]
            s.ack(seqs)
        cycles[keep] = n / (time.perf_counter() - t)
        s.close()
    print(f"spool append+ack per event/s (FULL, acks of 5): forgotten at once {cycles[0.0]:.0f} (baseline),"
          f" kept 180 s {cycles[180.0]:.0f} ({cycles[180.0] / cycles[0.0]:.2f}x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spool-only", action="store_true", help="only the spool's rates")
    ap.add_argument("--seconds", type=float, default=10.0, help="length of each measurement window")
    ap.add_argument("--nodelay", action="store_true", help="mosquitto with set_tcp_nodelay true")
    args = ap.parse_args()
    if args.spool_only:
        with tempfile.TemporaryDirectory(prefix="fw-edge-bench-") as d:
            spool_rate(Path(d))
        return
    extra = "set_tcp_nodelay true" if args.nodelay else ""
    with tempfile.TemporaryDirectory(prefix="fw-edge-bench-") as d, \
            MosquittoBroker(Path(d) / "broker", extra_conf=extra) as broker:
        tmp = Path(d)
        print(f"edge footprint, {psutil.cpu_count()} cores, mosquitto on {broker.address}"
              f"{' (set_tcp_nodelay true)' if args.nodelay else ''}, windows of {args.seconds:g} s\n")
        footprint(broker, tmp, args.seconds)
        print()
        round_trip(broker, tmp)
        print()
        spool_rate(tmp)


if __name__ == "__main__":
    main()
