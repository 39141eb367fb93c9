"""Load on a 2,000-seat hub: the shift-change burst and a 100,000-event replay after an outage.

    python bench/load.py                      # both scenarios
    python bench/load.py --seats 2000 --burst-speed 10 --replay 100000

1. Shift-change burst: every agent of the day shift taps at an entry door and a kiosk, sits down
   and taps at the seat, all within 10 minutes of simulated time, played at `--burst-speed` times
   real time (a clock the hub shares), from a separate publisher process.
2. Replay after an outage: the hub is away (its persistent session stays at the broker) while
   100,000 events of the floor's day (taps, occupancy, buttons, heartbeats) are published; then it
   comes back and drains them.

Measured, with the rule engine and, as the in-run baseline, with the same hub without it
(ingest + event log only):
  - ingest throughput: events committed per second;
  - tap-to-kiosk latency: from the hub's receipt of a badge event to its verdict on the live bus
    (what the kiosk page shows next), p50 and p99; and device tap -> verdict;
  - hub memory: this process's RSS (the hub runs here; the publisher is another process).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import random
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # noqa: E402

from edge import wire  # noqa: E402
from edge.clock import ScaledClock  # noqa: E402
from hub.broker import MosquittoBroker  # noqa: E402
from hub.service import HubService  # noqa: E402
from hub.site import load_site  # noqa: E402
from hub.sitegen import generate_site  # noqa: E402
from hub.store import Store  # noqa: E402

MIN = 60_000


class NoEngine:
    """The baseline: HubService with ingest and the event log only (no rules)."""

    def process(self, events):  # noqa: D102
        return None

    def tick(self, now_ms):  # noqa: D102
        return None

    def on_status(self, status):  # noqa: D102
        return None

    def on_acd(self, feed):  # noqa: D102
        return None


def ev(device: str, seq: int, ts: int, type_: str, **body: Any) -> bytes:
    return json.dumps({"v": 1, "id": str(uuid.uuid4()), "device": device, "seq": seq, "ts": ts, "type": type_, **body},
                      separators=(",", ":")).encode()


# ---------------------------------------------------------------- the publisher (another process)


def _publish(host: str, port: int, messages: list[tuple[float, str, bytes]], wall0: float, done: Any) -> None:
    """Publish (at, topic, payload) at wall0 + at (at <= 0: as fast as possible), QoS 1."""
    import paho.mqtt.client as mqtt  # noqa: PLC0415
    from paho.mqtt.enums import CallbackAPIVersion  # noqa: PLC0415

    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"load-pub-{uuid.uuid4().hex[:6]}")
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.connect(host, port)
    c.loop_start()
    infos = []
    for at, topic, payload in messages:
        if at > 0:
            delay = wall0 + at - time.time()
            if delay > 0:
                time.sleep(delay)
        if len(infos) >= 20_000:  # paho refuses more than 65,535 unacknowledged messages
            infos[-20_000].wait_for_publish(120)
        infos.append(c.publish(topic, payload, qos=1))
    for info in infos:
        info.wait_for_publish(120)
    c.disconnect()
    c.loop_stop()
    done.set()


def publish(host: str, port: int, messages: list[tuple[float, str, bytes]], wall0: float = 0.0) -> mp.Process:
    ctx = mp.get_context("spawn")
    done = ctx.Event()
    p = ctx.Process(target=_publish, args=(host, port, messages, wall0, done), daemon=True)
    p.start()
    p.done = done  # type: ignore[attr-defined]
    return p


# ---------------------------------------------------------------- the hub under test (this process)


class Measured:
    """A HubService with samplers: RSS, committed events, tap latency from its live bus."""

    def __init__(self, site, db: Path, broker: MosquittoBroker, clock, *, engine: bool) -> None:
        self.store = Store(db)
        self.clock = clock
        self.speed = float(getattr(clock, "speed", 1.0))
        self.hub = HubService(site, self.store, broker_host=broker.host, broker_port=broker.port, clock=clock,
                              tick_s=0.5, engine=None if engine else NoEngine(), purge_every_s=None)
        self.rss: list[int] = []
        self.hub_ms: list[float] = []
        self.device_ms: list[float] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> Measured:
        self.sub = self.hub.live.subscribe({"event", "tap"})
        self.sub.q.maxsize = 200_000  # keep every sample of a burst
        for target in (self._sample_rss, self._sample_taps):
            t = threading.Thread(target=target, daemon=True)
            t.start()
            self._threads.append(t)
        self.hub.start()
        return self

    def _sample_rss(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.25):
            self.rss.append(me.memory_info().rss)

    def _sample_taps(self) -> None:
        received: dict[str, int] = {}
        for update in self.hub.live.listen(self.sub, timeout=0.2):
            if self._stop.is_set():
                return
            if update is None:
                continue
            d = update.data
            if update.channel == "event":
                if d.get("type") == "badge":
                    received[d["event_id"]] = d["received"]
                continue
            got = received.pop(d.get("event_id"), None)
            if got is None or d.get("repeat"):
                continue
            now = self.clock.now_ms()
            self.hub_ms.append((now - got) / self.speed)
            self.device_ms.append((now - d["ts"]) / self.speed)

    def count(self) -> int:
        return self.store.count_events()

    def wait_count(self, n: int, timeout: float) -> float:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.count() >= n and self.hub.ingest.idle():
                return time.monotonic() - t0
            time.sleep(0.05)
        raise TimeoutError(f"{self.count()} of {n} events committed after {timeout:.0f} s")

    def stop(self) -> None:
        self._stop.set()
        self.hub.stop()
        self.store.close()


def pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(q * len(xs)))], 1)


# ---------------------------------------------------------------- scenarios


def burst_messages(site, day: dt.date, speed: float, rng: random.Random) -> tuple[list[tuple[float, str, bytes]], int, int]:
    """The day shift arriving: (real seconds after the burst's start, topic, payload); sim start; taps."""
    tz = site.tz
    t0 = int(dt.datetime.combine(day, dt.time(8, 10), tzinfo=tz).timestamp() * 1000)
    badge = {a.employee_no: a.badges[0] for a in site.agents if a.badges}
    devices = {(d.role, d.place): dev for dev, d in site.devices.items()}
    kiosks = [dev for (role, _), dev in devices.items() if role == "kiosk"]
    doors = [dev for (role, place), dev in devices.items() if role == "door" and place != "D2"]
    seq: dict[str, int] = {}
    out: list[tuple[int, str, bytes]] = []
    taps = 0

    def add(t: float, dev: str, type_: str, **body: Any) -> None:
        seq[dev] = seq.get(dev, 0) + 1
        out.append((int(t), wire.event_topic(site.id, dev), ev(dev, seq[dev], int(t), type_, **body)))

    for r in site.roster:
        if r.shift != "day" or r.date != day:
            continue
        uid = badge[r.employee_no]
        a = t0 + rng.uniform(0, 10 * MIN)
        add(a, rng.choice(doors), "badge", uid=uid, reader="badge")
        add(a + rng.uniform(20_000, 90_000), rng.choice(kiosks), "badge", uid=uid, reader="badge")
        seat = devices[("seat", r.seat)]
        sit = a + rng.uniform(2, 4) * MIN
        add(sit, seat, "occupancy", occupied=True, sensor="seat")
        add(sit + rng.uniform(10_000, 40_000), seat, "badge", uid=uid, reader="badge")
        taps += 3
    out.sort()
    return [((t - t0) / 1000 / speed, topic, p) for t, topic, p in out], t0, taps


def day_messages(site, day: dt.date, n: int, rng: random.Random) -> tuple[list[tuple[float, str, bytes]], int]:
    """n events of the floor's day in time order (as spools replay them): taps, occupancy, buttons
    from the soak's planner (bench/soak_plan.py) and half-hourly heartbeats."""
    from bench.soak_plan import SoakConfig, plan  # noqa: PLC0415

    seats = len(site.info.seats)
    cfg = SoakConfig(seats=seats, zones=len(site.info.zones), doors=len(site.info.doors), kiosks=len(site.info.kiosks),
                     days=1, first_day=day.isoformat(), begin="00:00", end_after_midnight_min=0, workers=1,
                     broker_kills=0, hub_kills=0, worker_kills=0, cuts=0, skews=0, malformed=0, duplicates=0)
    p, _ = plan(cfg)
    items: list[tuple[int, str, str, dict]] = []
    for a in p.acts:
        if a.kind == "tap":
            items.append((a.t, a.device, "badge", {"uid": a.value, "reader": "badge"}))
        elif a.kind == "occupancy":
            items.append((a.t, a.device, "occupancy", {"occupied": bool(a.value), "sensor": "seat"}))
        elif a.kind == "button":
            items.append((a.t, a.device, "button", {"button": a.value}))
    for dev in site.devices:
        t = p.start_ms + rng.uniform(0, 30 * MIN)
        while t < p.end_ms:
            items.append((int(t), dev, "heartbeat", {"uptime_s": 1, "spooled": 0, "dropped": 0}))
            t += 30 * MIN
    items.sort(key=lambda x: x[0])
    items = items[:n]
    seq: dict[str, int] = {}
    out = []
    for t, dev, type_, body in items:
        seq[dev] = seq.get(dev, 0) + 1
        out.append((0.0, wire.event_topic(site.id, dev), ev(dev, seq[dev], t, type_, **body)))
    return out, items[-1][0]


def run_burst(site, root: Path, broker: MosquittoBroker, speed: float, *, engine: bool, seed: int) -> dict[str, Any]:
    day = site.roster[0].date
    msgs, t0, taps = burst_messages(site, day, speed, random.Random(seed))
    clock = ScaledClock(t0 - 2 * MIN, speed)  # the hub and the devices share this clock
    rss0 = psutil.Process().memory_info().rss
    m = Measured(site, root / f"burst-{engine}.db", broker, clock, engine=engine).start()
    try:
        wall0 = time.time() + (t0 - clock.now_ms()) / 1000 / speed  # simulated t0, in wall time
        pub = publish(broker.host, broker.port, [(at + 1e-6, t, p) for at, t, p in msgs], wall0)
        pub.done.wait(900)
        published = time.time()
        m.wait_count(len(msgs), timeout=900)
        done = time.time()
        pub.join(60)
        time.sleep(1.0)  # the last verdicts
        return {"events": len(msgs), "taps": taps, "burst_real_s": round(msgs[-1][0], 1),
                "offered_rate": round(len(msgs) / max(msgs[-1][0], 1e-9), 1),
                "lag_after_last_publish_s": round(done - published, 2),
                "throughput": round(len(msgs) / max(done - max(wall0, 0), 1e-9), 1),
                "hub_p50_ms": pct(m.hub_ms, 0.5), "hub_p99_ms": pct(m.hub_ms, 0.99),
                "device_p50_ms": pct(m.device_ms, 0.5), "device_p99_ms": pct(m.device_ms, 0.99),
                "verdicts": len(m.hub_ms), "rss_start_mb": round(rss0 / 2**20, 1),
                "rss_peak_mb": round(max(m.rss) / 2**20, 1) if m.rss else None}
    finally:
        m.stop()


def run_replay(site, root: Path, broker: MosquittoBroker, n: int, *, engine: bool, seed: int) -> dict[str, Any]:
    day = site.roster[0].date
    msgs, last = day_messages(site, day, n, random.Random(seed))
    clock = ScaledClock(last + 10 * MIN, 1.0)
    db = root / f"replay-{engine}.db"
    # the hub's persistent session exists at the broker, then the hub is away
    m = Measured(site, db, broker, clock, engine=engine).start()
    m.hub.ingest.connected.wait(10)
    m.stop()
    t = time.monotonic()
    pub = publish(broker.host, broker.port, msgs)
    pub.done.wait(900)
    pub.join(60)
    publish_s = time.monotonic() - t
    m = Measured(site, db, broker, clock, engine=engine)
    rss0 = psutil.Process().memory_info().rss
    m.start()
    try:
        elapsed = m.wait_count(len(msgs), timeout=1800)
        time.sleep(1.0)
        return {"events": len(msgs), "publish_s": round(publish_s, 1), "drained_s": round(elapsed, 1),
                "throughput": round(len(msgs) / elapsed, 1), "hub_p50_ms": pct(m.hub_ms, 0.5),
                "hub_p99_ms": pct(m.hub_ms, 0.99), "verdicts": len(m.hub_ms),
                "rss_start_mb": round(rss0 / 2**20, 1), "rss_peak_mb": round(max(m.rss) / 2**20, 1) if m.rss else None}
    finally:
        m.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Shift-change burst and 100k replay on a 2,000-seat hub.")
    ap.add_argument("--seats", type=int, default=2000)
    ap.add_argument("--burst-speed", type=float, default=10.0, help="simulated seconds per real second for the burst")
    ap.add_argument("--replay", type=int, default=100_000, help="events in the replay after an outage")
    ap.add_argument("--only", choices=["burst", "replay"])
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="fw-load-"))
    day = dt.date(2026, 3, 2)
    site_dir = generate_site(root / "site", site="load", seats=args.seats, zones=max(1, args.seats // 100), doors=4,
                             kiosks=2, roster_date=day, sim_devices=True)
    site = load_site(site_dir)
    broker = MosquittoBroker(root / "broker").start()
    results: dict[str, Any] = {"seats": args.seats, "machine_load": [round(x, 1) for x in __import__("os").getloadavg()]}
    try:
        if args.only in (None, "burst"):
            for engine in (False, True):
                r = run_burst(site, root, broker, args.burst_speed, engine=engine, seed=args.seed)
                results[f"burst_{'engine' if engine else 'baseline'}"] = r
                print(("burst, with the rule engine: " if engine else "burst, baseline (ingest + log, no rules): ")
                      + json.dumps(r), flush=True)
        if args.only in (None, "replay"):
            for engine in (False, True):
                r = run_replay(site, root, broker, args.replay, engine=engine, seed=args.seed)
                results[f"replay_{'engine' if engine else 'baseline'}"] = r
                print(("replay, with the rule engine: " if engine else "replay, baseline (ingest + log, no rules): ")
                      + json.dumps(r), flush=True)
    finally:
        broker.close()
    for kind in ("burst", "replay"):
        b, e = results.get(f"{kind}_baseline"), results.get(f"{kind}_engine")
        if b and e:
            print(f"{kind}: throughput with the engine = {e['throughput'] / b['throughput']:.2f} x baseline;"
                  f" peak RSS {e['rss_peak_mb']} MB vs {b['rss_peak_mb']} MB;"
                  f" receipt->verdict p50 {e['hub_p50_ms']} ms, p99 {e['hub_p99_ms']} ms")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
