"""Rule engine throughput: events/s through the Engine alone on a 2,000-seat floor, and the time
to rebuild a month of events from the log.

    python bench/rules.py                    # defaults below
    python bench/rules.py --seats 2000 --hours 2 --month-seats 40 --month-days 30
    python bench/rules.py --seats 2000 --taps 1,10,100,1000    # per-tap cost, one badge
    python bench/rules.py --month-only --month-seats 2000 --month-heartbeat-s 1800 --month-inventory-s 14400

Everything is synthetic but shaped like a floor: every device sends a heartbeat every 30 s and
each seat an inventory every 60 s; agents tap in at the kiosk (a few late, a few absent), sit,
tap at the seat, take breaks and a meal (meal button), and leave around the end of the shift.
Figures are printed as events/s and as ratios against a baseline measured in the same run:
reading the same events back from the SQLite log (what any rebuild must pay anyway).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import random
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.soak_plan import retime_site  # noqa: E402
from edge.clock import ManualClock  # noqa: E402
from hub.engine import Engine  # noqa: E402
from hub.engine.site_time import local_ms, shift_window  # noqa: E402
from hub.rebuild import rebuild  # noqa: E402
from hub.site import Site, load_site  # noqa: E402
from hub.sitegen import generate_site  # noqa: E402
from hub.store import IncomingEvent, Store  # noqa: E402

HB_MS = 30_000
INV_MS = 60_000


class Stream:
    """Synthetic events for one site, appended to a store in receipt order."""

    def __init__(self, site: Site, seed: int = 7) -> None:
        self.site = site
        self.rng = random.Random(seed)
        self.seq: dict[str, int] = {}
        self.n = 0
        self.seat_dev = {d.seat: dev for dev, d in site.devices.items() if d.role == "seat"}
        self.tags = {}
        for e in site.equipment:
            self.tags.setdefault(e.home_seat, []).append(e.tag)
        self.badge = {a.employee_no: a.badges[0] for a in site.agents if a.badges}

    def _ev(self, out: list, device: str, t: int, etype: str, body: dict) -> None:
        self.n += 1
        s = self.seq.get(device, 0) + 1
        self.seq[device] = s
        out.append((t, device, s, etype, body, f"00000000-0000-4000-8000-{self.n:012x}"))

    def behaviour(self, day: dt.date, roster: list[tuple[str, str, str]]) -> list:
        """Taps, occupancy, buttons for one day's roster rows (employee, shift, seat)."""
        out: list = []
        rng = self.rng
        tmpl = {s.id: s for s in self.site.info.shifts}
        for emp, shift, seat in roster:
            w = shift_window(day, tmpl[shift], self.site.tz)
            dev = self.seat_dev[seat]
            if rng.random() < 0.03:
                continue  # absent
            arrive = w.start - rng.randint(-8 * 60_000 if rng.random() < 0.05 else 0, 25 * 60_000)
            self._ev(out, "kiosk-k1", arrive, "badge", {"uid": self.badge[emp], "reader": "badge"})
            sit = arrive + rng.randint(60_000, 8 * 60_000)
            self._ev(out, dev, sit, "occupancy", {"occupied": True, "sensor": "mat"})
            self._ev(out, dev, sit + 20_000, "badge", {"uid": self.badge[emp], "reader": "badge"})
            t = w.start + rng.randint(40, 80) * 60_000
            for k in range(rng.randint(2, 3)):
                if k == 1:  # the meal, with the button
                    self._ev(out, dev, t - 30_000, "button", {"button": "meal"})
                    length = rng.randint(25, 33) * 60_000
                else:
                    length = rng.randint(4, 12) * 60_000
                self._ev(out, dev, t, "occupancy", {"occupied": False, "sensor": "mat"})
                self._ev(out, dev, t + length, "occupancy", {"occupied": True, "sensor": "mat"})
                t += length + rng.randint(60, 150) * 60_000
            leave = w.end + rng.randint(-20 * 60_000 if rng.random() < 0.03 else 0, 5 * 60_000)
            self._ev(out, dev, max(leave, t + 60_000), "occupancy", {"occupied": False, "sensor": "mat"})
        return out

    def routine(self, t0: int, t1: int, hb_ms: int = HB_MS, inv_ms: int = INV_MS) -> list:
        """Heartbeats of every device and inventories of every seat in [t0, t1)."""
        out: list = []
        devices = sorted(self.site.devices)
        t = t0
        while t < t1:
            for d in devices:
                self._ev(out, d, t + zlib.crc32(d.encode()) % 1000, "heartbeat", {"uptime_s": (t - t0) // 1000, "spooled": 0, "dropped": 0})
            t += hb_ms
        t = t0 + 15_000
        while t < t1:
            for seat, dev in self.seat_dev.items():
                tags = self.tags.get(seat, [])
                if tags and self.rng.random() < 0.0005:
                    tags = tags[1:]
                self._ev(out, dev, t, "inventory", {"tags": tags, "reader": "tags"})
            t += inv_ms
        return out

    def append(self, store: Store, events: list) -> int:
        events.sort(key=lambda e: (e[0], e[1], e[2]))
        rows = [IncomingEvent(eid, dev, seq, t, t + 50, etype, True, body) for t, dev, seq, etype, body, eid in events]
        for i in range(0, len(rows), 20_000):
            store.append_events(rows[i:i + 20_000])
        return len(rows)


def roster_rows(site: Site) -> list[tuple[str, str, str]]:
    return [(r.employee_no, r.shift, r.seat) for r in site.roster]


def baseline_read(store: Store) -> tuple[int, float]:
    t = time.perf_counter()
    n = sum(1 for _ in store.iter_events())
    return n, time.perf_counter() - t


def replay(engine: Engine, events: list, batch: int, t0: int, t1: int) -> float:
    """Feed logged events to the engine in batches on its manual clock, ticking each simulated
    second and at the end `t1`, as the live hub does; the wall seconds it took."""
    started = time.perf_counter()
    next_tick = t0 + 1000
    for i in range(0, len(events), batch):
        chunk = events[i:i + batch]
        engine.clock.set(chunk[-1].received)
        engine.process(chunk)
        if chunk[-1].received >= next_tick:
            engine.tick(chunk[-1].received)
            next_tick = chunk[-1].received + 1000
    engine.tick(t1)
    return time.perf_counter() - started


def bench_live(seats: int, zones: int, hours: float, batch: int, root: Path) -> None:
    day = dt.date(2026, 3, 10)
    site_dir = generate_site(root / "live-site", site="bench", seats=seats, zones=zones, roster_date=day, sim_devices=True)
    site = load_site(site_dir)
    store = Store(root / "live.db")
    s = Stream(site)
    t0 = local_ms(day, dt.time(7, 50), site.tz)
    t1 = t0 + int(hours * 3_600_000)
    events = [e for e in s.behaviour(day, [r for r in roster_rows(site) if r[1] == "day"]) if e[0] < t1]
    events += s.routine(t0, t1)
    n = s.append(store, events)
    kinds: dict[str, int] = {}
    for e in events:
        kinds[e[3]] = kinds.get(e[3], 0) + 1
    base_n, base_s = baseline_read(store)
    engine = Engine(site, store, ManualClock(t0), warm=False)
    logged = list(store.iter_events())
    took = replay(engine, logged, batch, t0, t1)
    v = engine.derived.count("violations")
    # the same floor with nobody on it (heartbeats and inventories only): the difference is what
    # the agents' taps, sitting, standing and buttons cost
    store2 = Store(root / "live-routine.db")
    routine = [e for e in logged if e.type in ("heartbeat", "inventory")]
    routine_took = replay(Engine(site, store2, ManualClock(t0), warm=False), routine, batch, t0, t1)
    store2.close()
    acts = n - len(routine)
    print(f"live: {seats} seats, {zones} zones, {hours:g} h from 07:50, {n:,} events "
          f"({', '.join(f'{k} {c:,}' for k, c in sorted(kinds.items()))})")
    print(f"  engine: {n / took:,.0f} events/s in batches of {batch} ({took:.1f} s), "
          f"{engine.stats['units_computed']:,} unit evaluations, {v:,} violations")
    print(f"  heartbeats and inventories alone: {len(routine) / routine_took:,.0f} events/s ({routine_took:.1f} s); "
          f"the {acts:,} taps/occupancy/buttons cost the rest: {acts / max(took - routine_took, 1e-9):,.0f} events/s")
    print(f"  baseline (read the same events back from the log): {base_n / base_s:,.0f} events/s")
    print(f"  ratio engine/baseline: {(n / took) / (base_n / base_s):.3f} (engine time = {took / base_s:.1f} x log read time)")
    store.close()


def bench_month(seats: int, days: int, root: Path, heartbeat_s: int = HB_MS // 1000, inventory_s: int = INV_MS // 1000) -> None:
    """`hub rebuild` of a month of the log. At the agents' real periods (30 s heartbeats, 60 s
    inventories) a 2,000-seat month is ~260 M events (~60 GB of log at 243 B an event), so the
    big month thins them (`--month-heartbeat-s`), and the site is told the same periods."""
    start = dt.date(2026, 2, 1)
    site_dir = generate_site(root / "month-site", site="month", seats=seats, zones=max(1, seats // 20), roster_date=start,
                             sim_devices=True)
    retime_site(site_dir, heartbeat_s, inventory_s)
    (site_dir / "roster.csv").unlink()
    lines = ["date,employee_no,shift,seat,meal_start"]
    site0 = load_site(site_dir)
    base = roster_rows(generate_and_load_roster(site0, start))
    for k in range(days):
        d = start + dt.timedelta(days=k)
        lines += [f"{d.isoformat()},{e},{sh},{seat}," for e, sh, seat in base]
    (site_dir / "roster.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    site = load_site(site_dir)
    store = Store(root / "month.db")
    s = Stream(site)
    total = 0
    for k in range(days):
        d = start + dt.timedelta(days=k)
        t0 = local_ms(d, dt.time(0, 0), site.tz)
        evs = s.behaviour(d, [r for r in base])
        evs += s.routine(t0, t0 + 86_400_000, heartbeat_s * 1000, inventory_s * 1000)
        total += s.append(store, evs)
    base_n, base_s = baseline_read(store)
    end = local_ms(start + dt.timedelta(days=days), dt.time(1, 0), site.tz)
    cpu0 = time.process_time()
    report = rebuild(site, store, now_ms=end)
    cpu = time.process_time() - cpu0
    print(f"month: {seats} seats x {days} days = {total:,} events (heartbeat {heartbeat_s} s, inventory {inventory_s} s);"
          f" load {os.getloadavg()[0]:.1f}")
    print(f"  rebuild: {report.seconds:.1f} s ({cpu:.1f} s CPU) = {report.events / report.seconds:,.0f} events/s; rows: "
          + ", ".join(f"{t} {c:,}" for t, c in report.rows.items() if c))
    print(f"  baseline (read the log): {base_s:.1f} s = {base_n / base_s:,.0f} events/s; "
          f"rebuild = {report.seconds / base_s:.1f} x log read time")
    per_seat_day = report.seconds / (seats * days)
    print(f"  per seat-day: {per_seat_day * 1000:.1f} ms; a month of 2,000 seats at this rate: "
          f"{per_seat_day * 2000 * 30 / 60:.0f} min")
    store.close()


HEARTBEAT_MS = 30_000


def bench_taps(seats: int, counts: list[int], root: Path) -> None:
    """Live cost per tap as one badge taps more often in a day (1, 10, 100, 1,000 taps): the same
    agent sits at its seat and taps it, now and then at the kiosk, across its day shift, each
    tap judged as it arrives (one consume per tap, as the hub does); the rest of the floor is
    quiet, but its 2,000 duties' deadlines fire as time passes, whatever the badge does. So each
    count runs twice: with the taps, and with a heartbeat at the same moments instead (the
    control); the tap's own cost is the difference. It should stay flat (issue 13: within 2x
    from 1 to 1,000 taps)."""
    day = dt.date(2026, 3, 10)
    site_dir = generate_site(root / "taps-site", site="taps", seats=seats, zones=max(1, seats // 100),
                             roster_date=day, sim_devices=True)
    site = load_site(site_dir)
    r = next(r for r in site.roster if r.shift == "day")
    w = shift_window(day, next(s for s in site.info.shifts if s.id == r.shift), site.tz)
    seat_dev = next(dev for dev, d in site.devices.items() if d.role == "seat" and d.seat == r.seat)
    kiosk = next(dev for dev, d in site.devices.items() if d.role == "kiosk")
    uid = next(a.badges[0] for a in site.agents if a.employee_no == r.employee_no)
    out = []
    for n in counts:
        took = {kind: _one_badge_day(site, root / f"{kind}-{n}.db", w, kiosk, seat_dev, uid, n, kind)
                for kind in ("badge", "heartbeat")}
        extra = [a - b for a, b in zip(took["badge"], took["heartbeat"], strict=True)]
        tail = extra[len(extra) // 2:]  # the later taps: what a long day of taps costs each new one
        out.append((n, sum(took["badge"]) / n, sum(took["heartbeat"]) / n, sum(extra) / n, sum(tail) / len(tail),
                    statistics.median(extra)))
    base = next((o[5] for o in out if o[0] >= 10), out[0][5])  # one tap is one sample: compare medians from 10 up
    print(f"taps of one badge in a day ({seats} seats, one consume per tap; CPU ms, garbage collection"
          " outside the timing; the two devices heartbeat every 30 s between taps, untimed; control: a"
          " heartbeat from the same device at the same moments instead):")
    for n, tap, control, extra, late, med in out:
        print(f"  {n:>5} taps: {tap * 1000:7.2f} per tap, control {control * 1000:7.2f}; the tap's own cost"
              f" mean {extra * 1000:6.2f} (later half {late * 1000:6.2f}), median {med * 1000:6.2f},"
              f" {med / base:.2f}x the median at 10 taps")


def _one_badge_day(site: Site, db: Path, w, kiosk: str, seat_dev: str, uid: str, n: int, kind: str) -> list[float]:
    """CPU seconds of each consume as one badge taps n times over its shift (kind "badge"), or
    the same devices send a heartbeat at the same moments instead (kind "heartbeat": the control).
    Timed as the consuming thread's CPU time (the engine judges in the caller's thread), so other
    processes on a shared machine do not move the figure."""
    store = Store(db)
    clock = ManualClock(w.start - 20 * 60_000)
    engine = Engine(site, store, clock, warm=False)
    t_warm = w.start - 20 * 60_000  # the day's duties loaded, both readers seen, all judged before the taps
    store.append_events([IncomingEvent(f"00000000-0000-4000-9000-{k:012x}", dev, 1, t_warm, t_warm + 50,
                                       "heartbeat", True, {"uptime_s": 1, "spooled": 0, "dropped": 0})
                         for k, dev in enumerate((kiosk, seat_dev))])
    engine.consume()
    span = w.end - w.start - 60_000
    seq: dict[str, int] = {kiosk: 1, seat_dev: 1}
    took = []
    beat = t_warm  # the devices' heartbeats, every 30 s as agents send them (a quiet gap is a device offline)
    gc.collect()
    gc.disable()  # a collection of the 2,000-seat heap (~100 ms) would land in whichever consume it falls in
    for k in range(n):
        t = w.start - 10 * 60_000 + (span * k) // max(n, 1)
        beats = []
        while beat + HEARTBEAT_MS < t:
            beat += HEARTBEAT_MS
            for dev in (kiosk, seat_dev):
                seq[dev] += 1
                beats.append(IncomingEvent(f"00000000-0000-4000-a000-{seq[dev]:08x}{dev == kiosk:04x}", dev, seq[dev],
                                           beat, beat + 50, "heartbeat", True, {"uptime_s": 1, "spooled": 0, "dropped": 0}))
        if beats:  # untimed: what the floor sends between taps
            store.append_events(beats)
            clock.set(beat + 50)
            engine.consume()
        dev = kiosk if k % 10 == 0 else seat_dev
        seq[dev] = seq.get(dev, 0) + 1
        body = {"uid": uid, "reader": "badge"} if kind == "badge" else {"uptime_s": 1, "spooled": 0, "dropped": 0}
        store.append_events([IncomingEvent(f"00000000-0000-4000-8000-{k:012x}", dev, seq[dev], t, t + 50, kind,
                                           True, body)])
        clock.set(t + 50)
        started = time.thread_time()
        engine.consume()
        took.append(time.thread_time() - started)
    gc.enable()
    store.close()
    return took


def generate_and_load_roster(site: Site, day: dt.date) -> Site:
    """The generated site's roster pattern (day and evening agent per seat) for `day`."""
    gen = generate_site(Path(tempfile.mkdtemp()) / "r", site=site.id, seats=len(site.info.seats),
                        zones=len(site.info.zones), roster_date=day, sim_devices=True)
    return load_site(gen)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seats", type=int, default=2000)
    p.add_argument("--zones", type=int, default=20)
    p.add_argument("--hours", type=float, default=2.0, help="live window from 07:50 (arrivals, sign-ins, breaks)")
    p.add_argument("--batch", type=int, default=200, help="events per process() call (ingest batches)")
    p.add_argument("--month-seats", type=int, default=40)
    p.add_argument("--month-days", type=int, default=30)
    p.add_argument("--month-heartbeat-s", type=int, default=HB_MS // 1000, help="device heartbeat in the month (thin it for big months)")
    p.add_argument("--month-inventory-s", type=int, default=INV_MS // 1000, help="seat inventory period in the month")
    p.add_argument("--skip-month", action="store_true")
    p.add_argument("--month-only", action="store_true")
    p.add_argument("--taps", default="", help="only the taps-per-badge bench, e.g. 1,10,100,1000")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="fw-bench-rules-") as tmp:
        root = Path(tmp)
        if args.taps:
            bench_taps(args.seats, [int(x) for x in args.taps.split(",")], root)
            return 0
        if not args.month_only:
            bench_live(args.seats, args.zones, args.hours, args.batch, root)
        if not args.skip_month:
            bench_month(args.month_seats, args.month_days, root, args.month_heartbeat_s, args.month_inventory_s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
