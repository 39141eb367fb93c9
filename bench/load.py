"""Load on a 2,000-seat hub: the shift-change burst, when people stand at the kiosk.

    python bench/load.py
    python bench/load.py --seats 2000 --burst-speed 10

Shift-change burst: every agent of the day shift taps at an entry door and a kiosk, sits down and
taps at the seat, all within 10 minutes of simulated time, played at `--burst-speed` times real
time (a clock the hub shares), from a separate publisher process.

The replay after an outage is bench/replay.py's (true device times from synchronised clocks,
queued while the hub is down); this bench's former replay mode timed every event hours before its
receipt without a verified clock, so the hub timed them all by receipt: it measured that, not a
replay, and is gone.

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

from bench.generated_floor import NoEngine, pct, publish  # noqa: E402
from edge import wire  # noqa: E402
from edge.clock import ScaledClock  # noqa: E402
from hub.broker import MosquittoBroker  # noqa: E402
from hub.service import HubService  # noqa: E402
from hub.site import load_site  # noqa: E402
from hub.sitegen import generate_site  # noqa: E402
from hub.store import Store  # noqa: E402

MIN = 60_000


def ev(device: str, seq: int, ts: int, type_: str, **body: Any) -> bytes:
    return json.dumps({"v": 1, "id": str(uuid.uuid4()), "device": device, "seq": seq, "ts": ts, "type": type_, **body},
                      separators=(",", ":")).encode()


# ---------------------------------------------------------------- the publisher (another process)


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Shift-change burst on a 2,000-seat hub.")
    ap.add_argument("--seats", type=int, default=2000)
    ap.add_argument("--burst-speed", type=float, default=10.0, help="simulated seconds per real second for the burst")
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
        for engine in (False, True):
            r = run_burst(site, root, broker, args.burst_speed, engine=engine, seed=args.seed)
            results[f"burst_{'engine' if engine else 'baseline'}"] = r
            print(("burst, with the rule engine: " if engine else "burst, baseline (ingest + log, no rules): ")
                  + json.dumps(r), flush=True)
    finally:
        broker.close()
    for kind in ("burst",):
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
