"""The soak's world, planned up front and pure: the site folder, a roster for every day, what each
agent does at which door, kiosk and seat, and the chaos schedule.

Behaviour keeps a margin from every rule threshold (an on-time arrival is at least 12 minutes
early, a short break at most 8 minutes, a long one at least 12...), so a violation is either
clearly deserved or clearly not, and the checker (bench/checker.py) can hold the hub to exact
answers. Each seat is rostered for one shift a day (day-shift zones, evening-shift zones): no
handover between consecutive shifts on one chair, whose rules (sign in before 16:00, stay until
16:00) cannot both be met by two people on one seat.

The world runs on `EpochClock`: simulated time derived from the wall clock, the same in every
process (workers, hub, orchestrator), and the same again after any of them restarts.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from edge.clock import ScaledClock
from hub.sitegen import card_id, generate_site

MIN = 60_000
SEC = 1000
HOUR = 3_600_000


class EpochClock(ScaledClock):
    """Simulated UTC ms = sim_epoch_ms + (wall time - wall_epoch_s) * speed: edge.clock's
    ScaledClock anchored at a wall time, so separate processes (and a restarted one) agree on
    "now"; the hub gets the same three numbers as `floorwatch hub --clock WHEN@WALL --speed X`."""

    def __init__(self, wall_epoch_s: float, sim_epoch_ms: int, speed: float) -> None:
        super().__init__(sim_epoch_ms, speed, wall_s=wall_epoch_s)

    def wall_at(self, sim_ms: int) -> float:
        """The wall time (time.time()) at which the simulated clock reads sim_ms."""
        assert self.wall_s is not None
        return self.wall_s + (sim_ms - self.start_ms) / 1000 / self.speed


def write_epoch(run: Path, wall_epoch_s: float, sim_epoch_ms: int) -> None:
    """Start the world: every process derives the simulated clock from this file."""
    tmp = run / "epoch.json.tmp"
    tmp.write_text(json.dumps({"wall_epoch_s": wall_epoch_s, "sim_epoch_ms": sim_epoch_ms}), encoding="utf-8")
    tmp.replace(run / "epoch.json")


def wait_for_epoch(run: Path, speed: float, timeout_s: float = 600.0) -> EpochClock:
    """The world's clock, once the orchestrator has started it (workers and the hub get ready first,
    however long a loaded machine makes them take, so nobody starts hours of simulated time late)."""
    deadline = time.monotonic() + timeout_s
    path = run / "epoch.json"
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear")
        time.sleep(0.05)
    e = json.loads(path.read_text(encoding="utf-8"))
    return EpochClock(e["wall_epoch_s"], e["sim_epoch_ms"], speed)


@dataclass
class SoakConfig:
    seats: int = 2000
    zones: int = 20
    doors: int = 4
    kiosks: int = 2
    days: int = 7
    first_day: str = "2026-03-02"
    begin: str = "06:30"  # local time on the first day the world starts
    end_after_midnight_min: int = 60  # the world ends this long after the last day's midnight
    speed: float = 300.0  # the hub keeps up with 2,000 seats at this on a 2-core machine shared with the agents
    workers: int = 4
    seed: int = 1
    tz: str = "Asia/Shanghai"
    heartbeat_s: int = 7200  # device heartbeat, simulated seconds (scaled with the speed: 24 s real at 300x)
    inventory_s: int = 28_800  # seat equipment-tag inventory period, simulated seconds
    clock_skew_max_s: int = 600  # DEV-CLOCK: above the hub's receipt latency times the speed
    # chaos
    broker_kills: int = 3
    hub_kills: int = 3
    worker_kills: int = 4
    cuts: int = 40
    skews: int = 20
    malformed: int = 300
    duplicates: int = 500
    kill_gap_real_s: float = 60.0  # at least this long (real time) between two process kills
    catch_up_real_s: float = 60.0  # after a hub or broker kill, no clock skew for this long (real time)
    # behaviour (fractions of duties)
    p_absent: float = 0.02
    p_unrostered_seat: float = 0.02  # seats left free each day (wrong-seat agents sit there)
    p_wrong_seat: float = 0.01
    p_no_signin: float = 0.03
    p_roll_call_late: float = 0.08
    p_late: float = 0.10
    p_early_leave: float = 0.03
    p_long_break: float = 0.12
    p_long_meal: float = 0.08
    p_meal_off_slot: float = 0.04
    p_double_tap: float = 0.03
    unknown_taps_per_100_seats: float = 1.0

    def dump(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Act:
    """One scripted happening at one device (or, for chaos, at one device's link or clock)."""

    t: int  # simulated UTC ms
    id: int  # unique, increasing in planning order
    device: str
    kind: str  # tap | occupancy | button | cut | uncut | skew | unskew
    value: Any = None
    who: str = ""
    note: str = ""

    def to_json(self) -> str:
        return json.dumps([self.t, self.id, self.device, self.kind, self.value, self.who, self.note],
                          ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> Act:
        return cls(*json.loads(line))


@dataclass
class Chaos:
    """A process-level fault the orchestrator injects (at simulated time t)."""

    t: int
    kind: str  # broker_kill | hub_kill | worker_kill | malformed | duplicate
    arg: Any = None
    down_s: float = 0.0  # real seconds the process stays dead


@dataclass
class Plan:
    cfg: SoakConfig
    start_ms: int
    end_ms: int
    acts: list[Act] = field(default_factory=list)
    chaos: list[Chaos] = field(default_factory=list)
    shards: dict[str, int] = field(default_factory=dict)  # device -> worker index


def local_ms(day: dt.date, hhmm: str, tz: ZoneInfo) -> int:
    return int(dt.datetime.combine(day, dt.time.fromisoformat(hhmm), tzinfo=tz).timestamp() * 1000)


# ---------------------------------------------------------------- the site folder


def make_site(root: Path, cfg: SoakConfig, broker_port: int, spool_dir: Path) -> Path:
    """sitegen's site, with the thresholds a fast clock needs and one roster row per seat per day
    (written separately by `write_roster`)."""
    site = generate_site(root, site="soak", name="Soak 压力测试", seats=cfg.seats, zones=cfg.zones, doors=cfg.doors,
                         kiosks=cfg.kiosks, roster_date=dt.date.fromisoformat(cfg.first_day), tz=cfg.tz,
                         sim_devices=True, broker_port=broker_port)
    retime_site(site, cfg.heartbeat_s, cfg.inventory_s, clock_skew_max_s=cfg.clock_skew_max_s)
    for path in (site / "devices").glob("*.toml"):
        text = path.read_text(encoding="utf-8")
        text = re.sub(r'^path = ".*"$', f'path = "{spool_dir / path.stem}.db"\nsync = "normal"', text, flags=re.M)
        path.write_text(text, encoding="utf-8")
    return site


def retime_site(site: Path, heartbeat_s: int, inventory_s: int, *, clock_skew_max_s: float | None = None) -> None:
    """Make a sitegen site expect the periods its simulated devices keep: the rules' heartbeat
    (offline after 3 missed) and inventory period, and every device file's, so a thinned stream
    is judged as a healthy floor, not as data gaps."""
    rules = (site / "rules.toml").read_text(encoding="utf-8")
    values: list[tuple[str, object]] = [("heartbeat_s", heartbeat_s), ("offline_after_s", 3 * heartbeat_s),
                                        ("inventory_period_s", inventory_s)]
    if clock_skew_max_s is not None:
        values += [("clock_skew_max_s", clock_skew_max_s), ("reorder_tolerance_s", clock_skew_max_s)]
    for key, value in values:
        rules, n = re.subn(rf"^{key} = \S+", f"{key} = {value}", rules, flags=re.M)
        assert n == 1, key
    (site / "rules.toml").write_text(rules, encoding="utf-8")
    for path in (site / "devices").glob("*.toml"):
        text = path.read_text(encoding="utf-8")
        text = text.replace("heartbeat_s = 30", f"heartbeat_s = {heartbeat_s}")
        text = text.replace("period_s = 60.0", f"period_s = {float(inventory_s)}")
        path.write_text(text, encoding="utf-8")


def seat_ids(cfg: SoakConfig) -> list[str]:
    """The seat ids sitegen gives (zone letter + number), in order."""
    per_zone = -(-cfg.seats // cfg.zones)
    zone_ids = [chr(ord("A") + z) if cfg.zones <= 26 else f"Z{z + 1:02d}" for z in range(cfg.zones)]
    out = []
    for i in range(cfg.seats):
        z, k = divmod(i, per_zone)
        out.append(f"{zone_ids[z]}{k + 1:02d}" if per_zone < 100 else f"{zone_ids[z]}{k + 1:04d}")
    return out


# ---------------------------------------------------------------- behaviour


SHIFTS = {"day": ("08:30", "16:00", ["11:00", "11:30", "12:00", "12:30"]),
          "night": ("16:00", "23:30", ["18:00", "18:30", "19:00", "19:30"])}


def plan(cfg: SoakConfig) -> tuple[Plan, list[list[str]]]:
    """The whole run: actions, chaos and the roster rows (date, employee_no, shift, seat, meal_start)."""
    tz = ZoneInfo(cfg.tz)
    rng = random.Random(cfg.seed)
    first = dt.date.fromisoformat(cfg.first_day)
    days = [first + dt.timedelta(days=k) for k in range(cfg.days)]
    start_ms = local_ms(first, cfg.begin, tz)
    end_ms = local_ms(days[-1] + dt.timedelta(days=1), "00:00", tz) + cfg.end_after_midnight_min * MIN
    seats = seat_ids(cfg)
    n = len(seats)
    seat_dev = {s: f"seat-{s.lower()}" for s in seats}
    kiosks = [f"kiosk-k{k + 1}" for k in range(cfg.kiosks)]
    doors = [f"door-d{d + 1}" for d in range(cfg.doors)]
    entry_doors = [d for i, d in enumerate(doors) if i != 1]  # D1 entry, D2 exit, the rest both
    exit_doors = [d for i, d in enumerate(doors) if i != 0] or doors
    p = Plan(cfg, start_ms, end_ms)
    ids = iter(range(1, 1 << 40))
    roster: list[list[str]] = []

    def add(t: float, device: str, kind: str, value: Any = None, who: str = "", note: str = "") -> None:
        if start_ms <= t < end_ms:
            p.acts.append(Act(int(t), next(ids), device, kind, value, who, note))

    def U(a: float, b: float) -> float:  # noqa: N802
        return rng.uniform(a, b)

    half = n // 2  # seats [0, half) work the day shift, [half, n) the evening shift
    for k, day in enumerate(days):
        free = {i for i in range(n) if rng.random() < cfg.p_unrostered_seat}
        spare = {"day": sorted(i for i in free if i < half), "night": sorted(i for i in free if i >= half)}
        for i, seat in enumerate(seats):
            if i in free:
                continue
            shift = "day" if i < half else "night"
            s_hhmm, e_hhmm, meals = SHIFTS[shift]
            emp_index = i if k % 2 == 0 else n + i
            emp = f"{10001 + emp_index}"
            badge = card_id(emp_index)
            meal = meals[i % 4]
            roster.append([day.isoformat(), emp, shift, seat, meal])
            start, end = local_ms(day, s_hhmm, tz), local_ms(day, e_hhmm, tz)
            meal_ms = local_ms(day, meal, tz)
            if rng.random() < cfg.p_absent:
                continue
            where = seat
            if spare[shift] and rng.random() < cfg.p_wrong_seat:
                where = seats[spare[shift].pop()]
            _duty(add, U, rng, cfg, emp, badge, seat_dev[where], start, end, meal_ms, kiosks, entry_doors, exit_doors)
        # visitors and spare badges nobody owns, at kiosks and entry doors in opening hours
        for _ in range(max(1, int(n * cfg.unknown_taps_per_100_seats / 100))):
            add(U(local_ms(day, "07:30", tz), local_ms(day, "22:00", tz)), rng.choice(kiosks + entry_doors), "tap",
                f"0F{rng.getrandbits(32):08X}", "", "unknown")
    _chaos(p, rng, cfg, seats, seat_dev, kiosks, doors)
    p.acts.sort(key=lambda a: (a.t, a.id))
    devices = sorted({*seat_dev.values(), *kiosks, *doors})
    for j, dev in enumerate(devices):
        p.shards[dev] = j % cfg.workers
    return p, roster


def _duty(add, U, rng: random.Random, cfg: SoakConfig, emp: str, badge: str, seat_dev: str, start: int, end: int,
          meal: int, kiosks: list[str], entry_doors: list[str], exit_doors: list[str]) -> None:
    """One agent's shift, every step clear of the rule thresholds by a margin."""
    q = rng.random()
    if q < cfg.p_late:
        a = start + U(2, 20) * MIN
        cat = "late"
    elif q < cfg.p_late + cfg.p_roll_call_late:
        a = start - U(3, 8) * MIN
        cat = "roll_call_late"
    else:
        a = start - U(12, 35) * MIN
        cat = "on_time"
    route = rng.random()
    last = a
    if route < 0.4:  # door, then the kiosk
        add(a, rng.choice(entry_doors), "tap", badge, emp, f"arrive_{cat}")
        last = a + (U(0.5, 1) if cat == "roll_call_late" else U(1, 3)) * MIN
        add(last, rng.choice(kiosks), "tap", badge, emp, "roll_call")
    elif route < 0.9:
        kiosk = rng.choice(kiosks)
        add(a, kiosk, "tap", badge, emp, f"arrive_{cat}")
        if rng.random() < cfg.p_double_tap:  # not sure it beeped
            add(a + U(0.3, 1.2) * SEC, kiosk, "tap", badge, emp, "repeat")
    else:
        add(a, rng.choice(entry_doors), "tap", badge, emp, f"arrive_{cat}")
    if cat == "on_time":
        sit = max(last + 1 * MIN, start - U(4, 9) * MIN)
    elif cat == "roll_call_late":  # arrival <= start - 3 min: seated and signed in a minute before the start
        sit = last + U(0.2, 0.4) * MIN
    else:
        sit = last + U(1, 3) * MIN
        if 9 * MIN < sit - start < 11 * MIN:  # the empty seat at the start: clear of break_max
            sit += 2 * MIN
    add(sit, seat_dev, "occupancy", True, emp, "sit")
    if rng.random() >= cfg.p_no_signin:
        add(sit + (U(10, 30) if cat == "roll_call_late" else U(10, 60)) * SEC, seat_dev, "tap", badge, emp, "signin")
    early = rng.random() < cfg.p_early_leave
    leave = end - U(20, 60) * MIN if early else end + U(1, 10) * MIN
    busy: list[tuple[float, float]] = []
    # the meal, in the slot (with or without the button) or declared outside it
    m_dur = (U(34, 45) if rng.random() < cfg.p_long_meal else U(15, 26)) * MIN
    if rng.random() < cfg.p_meal_off_slot:
        m0, button = meal + U(40, 80) * MIN, True
    else:
        m0, button = meal + U(-3, 3) * MIN, rng.random() < 0.9
    if sit + 20 * MIN < m0 and m0 + m_dur + 10 * MIN < leave:
        if button:
            add(m0 - U(5, 20) * SEC, seat_dev, "button", "meal", emp, "meal_button")
        add(m0, seat_dev, "occupancy", False, emp, "meal")
        add(m0 + m_dur, seat_dev, "occupancy", True, emp, "meal_back")
        busy.append((m0 - 25 * MIN, m0 + m_dur + 10 * MIN))
    busy.append((meal - 25 * MIN, meal + 25 * MIN))  # no break near the slot: it would count as a meal
    total = 0.0
    for _ in range(rng.choice([1, 2, 2, 3, 3])):
        dur = (U(12, 20) if rng.random() < cfg.p_long_break else U(3, 8)) * MIN
        lo, hi = sit + 30 * MIN, leave - 45 * MIN
        if hi <= lo:
            break
        t = U(lo, hi)
        if any(b0 < t + dur + 5 * MIN and t - 5 * MIN < b1 for b0, b1 in busy):
            continue
        if 27 * MIN < total + dur <= 33 * MIN:  # keep clear of the 30-minute total
            continue
        busy.append((t, t + dur))
        total += dur
        if rng.random() < 0.6:
            add(t - U(5, 20) * SEC, seat_dev, "button", "break", emp, "break_button")
        add(t, seat_dev, "occupancy", False, emp, "break")
        add(t + dur, seat_dev, "occupancy", True, emp, "break_back")
        if rng.random() < 0.4:
            add(t + dur + U(5, 20) * SEC, seat_dev, "button", "back", emp, "back_button")
    if rng.random() < 0.5:
        add(leave - U(5, 20) * SEC, seat_dev, "tap", badge, emp, "signout")
    add(leave, seat_dev, "occupancy", False, emp, "leave_early" if early else "leave")
    if rng.random() < 0.5:
        add(leave + U(1, 3) * MIN, rng.choice(exit_doors), "tap", badge, emp, "exit")


# ---------------------------------------------------------------- chaos


def _chaos(p: Plan, rng: random.Random, cfg: SoakConfig, seats: list[str], seat_dev: dict[str, str],
           kiosks: list[str], doors: list[str]) -> None:
    """Process kills at random times (never two at once; the broker is never killed within a
    while after the hub restarted, when its queue for the hub holds a backlog that mosquitto
    saves only every few seconds), device cut-offs and clock skews in the workers' scripts, and
    malformed and duplicated messages."""
    span = p.end_ms - p.start_ms
    lo, hi = p.start_ms + span * 0.05, p.end_ms - span * 0.08
    ids = iter(range(1 << 40, 1 << 41))
    kills: list[Chaos] = []
    gap = cfg.kill_gap_real_s * 1000 * cfg.speed  # real seconds between process kills, in simulated ms
    wanted = [("hub_kill", cfg.hub_kills), ("broker_kill", cfg.broker_kills), ("worker_kill", cfg.worker_kills)]
    for kind, count in wanted:
        placed = 0
        for _ in range(count * 200):
            if placed == count:
                break
            t = int(rng.uniform(lo, hi))
            if any(abs(t - c.t) < gap for c in kills):
                continue
            down = {"hub_kill": rng.uniform(1.0, 4.0), "broker_kill": rng.uniform(1.0, 3.0),
                    "worker_kill": rng.uniform(0.5, 2.5)}[kind]
            arg = rng.randrange(cfg.workers) if kind == "worker_kill" else None
            kills.append(Chaos(t, kind, arg, down))
            placed += 1
    p.chaos.extend(kills)
    for _ in range(cfg.malformed):
        p.chaos.append(Chaos(int(rng.uniform(lo, p.end_ms - span * 0.02)), "malformed", rng.randrange(1 << 30)))
    for _ in range(cfg.duplicates):
        p.chaos.append(Chaos(int(rng.uniform(lo, p.end_ms - span * 0.02)), "duplicate", rng.randrange(1 << 30)))
    p.chaos.sort(key=lambda c: c.t)

    # device-level: cut off from the broker for minutes; clock skewed for hours
    pool = [*seat_dev.values(), *kiosks, *doors]
    busy: dict[str, list[tuple[int, int]]] = {}

    def free(dev: str, a: int, b: int) -> bool:
        return all(b < x or a > y for x, y in busy.get(dev, []))

    for _ in range(cfg.cuts):
        dev = rng.choice(pool)
        a = int(rng.uniform(lo, hi))
        b = a + int(rng.uniform(5, 40) * MIN)
        if not free(dev, a - 30 * MIN, b + 30 * MIN):
            continue
        busy.setdefault(dev, []).append((a, b))
        p.acts.append(Act(a, next(ids), dev, "cut", None, "", "chaos"))
        p.acts.append(Act(b, next(ids), dev, "uncut", None, "", "chaos"))
    # A skewed clock is timed by hub receipt (DEV-CLOCK); while the hub or broker is down or
    # catching up, receipt time says nothing about when a tap happened, for any judge. Skews
    # therefore stay clear of process kills and the catch-up after them.
    catch_up = int(cfg.catch_up_real_s * 1000 * cfg.speed)  # (a restarted 2,000-seat hub replays its last day first)
    kill_windows = [(k.t - 10 * MIN, k.t + catch_up) for k in kills if k.kind in ("hub_kill", "broker_kill")]
    for _ in range(cfg.skews * 20):
        if sum(1 for a in p.acts if a.kind == "skew") >= cfg.skews:
            break
        dev = rng.choice(pool)
        a = int(rng.uniform(lo, hi))
        b = a + int(rng.uniform(1, 4) * HOUR)
        recovered = b + 2 * cfg.heartbeat_s * 1000  # until a prompt report shows the clock right again
        if not free(dev, a - 30 * MIN, b + 30 * MIN) or any(a <= y and x <= recovered for x, y in kill_windows):
            continue
        busy.setdefault(dev, []).append((a, b))
        mode = rng.choice(["ahead", "behind", "unset"])
        offset = {"ahead": int(rng.uniform(1, 3) * HOUR), "behind": -int(rng.uniform(1, 3) * HOUR), "unset": None}[mode]
        p.acts.append(Act(a, next(ids), dev, "skew", offset, "", f"chaos_{mode}"))
        p.acts.append(Act(b, next(ids), dev, "unskew", None, "", "chaos"))


# ---------------------------------------------------------------- files


def write_run(run: Path, p: Plan, roster: list[list[str]], site_dir: Path, extra: dict[str, Any]) -> None:
    """run.json, the roster, one script per worker and the chaos list."""
    import csv  # noqa: PLC0415

    with (site_dir / "roster.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["date", "employee_no", "shift", "seat", "meal_start"])
        w.writerows(roster)
    (run / "scripts").mkdir(parents=True, exist_ok=True)
    files = [(run / "scripts" / f"shard-{k}.jsonl").open("w", encoding="utf-8") for k in range(p.cfg.workers)]
    try:
        for a in p.acts:
            files[p.shards[a.device]].write(a.to_json() + "\n")
    finally:
        for f in files:
            f.close()
    (run / "chaos.json").write_text(json.dumps([asdict(c) for c in p.chaos]), encoding="utf-8")
    meta = {"config": p.cfg.dump(), "start_ms": p.start_ms, "end_ms": p.end_ms, "site_dir": str(site_dir),
            "shards": {str(k): sorted(d for d, s in p.shards.items() if s == k) for k in range(p.cfg.workers)},
            **extra}
    (run / "run.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")


def read_script(path: Path) -> list[Act]:
    with path.open(encoding="utf-8") as f:
        return [Act.from_json(line) for line in f if line.strip()]
