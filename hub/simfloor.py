"""The floor simulator: one real agent (edge.agent) per device file of a site, with simulated
drivers (edge.drivers.sim) behind the same interfaces, acting out a plausible day from the
roster on a faster clock. It lives in the hub because it reads the hub's site (roster, shift
templates, cards); a Pi never runs it.

`plan_floor()` is pure: from the site (roster, shift templates, seats, equipment, time zone) and
a seeded random generator it writes the day's script as a sorted list of `Action`s: agents
arriving at the door and the kiosk (most 10-20 min early, some late, a few absent), sitting down
and signing in at their seat (a few forget), breaks (with or without the break button; mostly
under 10 min, sometimes longer), meals around their slot, an occasional unknown badge, a headset
wandering to a neighbour's seat for a while, and leaving at the end of the shift (a few early).

`SimFloor` runs the agents (all on one network loop: light enough for a few hundred agents per
process) and a player thread that performs each action when the clock reaches it. The clock is a
`ScaledClock` (default 60x) starting at the site's local "now", or 40 minutes before today's first
rostered shift if that is later, so roll call starts at once; `floor.clock` is meant to be shared
with the hub. Simulated devices report their clock synchronised (`clock_sync` true, a few ms). With `truth_path`, every event the agents spool is appended as a JSON line (device,
seq, id, type, body, ts): the ground truth for fault and soak checks.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import threading
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge import wire
from edge.agent import Agent, stop_together
from edge.clock import Clock, ScaledClock
from edge.clocksync import SIM_SYNCED, FixedClockSync
from edge.config import DeviceConfig
from edge.drivers import Drivers, build_sim_drivers
from edge.link import LinkLoop
from edge.spool import Spool
from hub.cards import seen_uid

log = logging.getLogger(__name__)

MIN = 60_000
SEC = 1000


@dataclass(frozen=True, order=True)
class Action:
    """One thing that happens at a device at time `t_ms` (UTC ms on the sim clock)."""

    t_ms: int
    order: int  # tie-breaker: keeps the planned order of simultaneous actions
    device: str
    kind: str  # tap | occupancy | button | tag_move
    value: Any  # uid | bool | button name | (tag, from_device)
    who: str = ""  # employee number, or "" (unknown badge, equipment)
    note: str = ""  # arrival, roll_call, signin, break, meal, leave, unknown, ...


@dataclass
class _Places:
    seats: dict[str, str]  # seat id -> device id
    kiosks: list[str]
    entry_doors: list[str]
    exit_doors: list[str]


def _places(site) -> _Places:
    seats, kiosks, entry, exit_ = {}, [], [], []
    door_kind = {d.id: d.kind for d in site.info.doors}
    for dev in sorted(site.devices.values(), key=lambda d: d.id):
        if dev.role == "seat" and dev.seat:
            seats.setdefault(dev.seat, dev.id)
        elif dev.role == "kiosk":
            kiosks.append(dev.id)
        elif dev.role == "door":
            kind = door_kind.get(dev.door, "both")
            if kind in ("entry", "both"):
                entry.append(dev.id)
            if kind in ("exit", "both"):
                exit_.append(dev.id)
    return _Places(seats, kiosks, entry or exit_, exit_ or entry)


def local_ms(day: dt.date, hhmm: str, tz) -> int:
    """UTC ms of the local wall time `hhmm` on `day` in `tz`: roster times are local."""
    t = dt.time.fromisoformat(hhmm)
    return int(dt.datetime.combine(day, t, tzinfo=tz).timestamp() * 1000)


def roster_for_day(site, day: dt.date) -> list:
    """Roster rows to act out on `day`: that day's rows, plus the previous day's shifts that run
    past midnight. A roster without rows for the day (the shipped example is dated) is replayed
    from its nearest date."""
    rows = [r for r in site.roster if r.date == day]
    if not rows and site.roster:
        nearest = min({r.date for r in site.roster}, key=lambda d: abs((d - day).days))
        log.info("sim: roster has no rows for %s; replaying %s's", day, nearest)
        rows = [r.model_copy(update={"date": day}) for r in site.roster if r.date == nearest]
    prev = [r for r in site.roster if r.date == day - dt.timedelta(days=1)]
    rows += [r for r in prev if (s := site.shift(r.shift)) is not None and s.crosses_midnight]
    return rows


def first_shift_start_ms(site, day: dt.date) -> int | None:
    starts = [local_ms(r.date, s.start, site.tz) for r in roster_for_day(site, day)
              if (s := site.shift(r.shift)) is not None and r.date == day]
    return min(starts) if starts else None


def default_start_ms(site, now_ms: int | None = None) -> int:
    """The site's local now, or 40 minutes before today's first rostered shift if that is later."""
    now_ms = wire.now_ms() if now_ms is None else now_ms
    day = dt.datetime.fromtimestamp(now_ms / 1000, site.tz).date()
    first = first_shift_start_ms(site, day)
    if first is not None and first - 40 * MIN > now_ms:
        return first - 40 * MIN
    return now_ms


def plan_floor(site, start_ms: int, rng: random.Random) -> list[Action]:
    """The day's script from `start_ms` on (see the module docstring)."""
    tz = site.tz
    day = dt.datetime.fromtimestamp(start_ms / 1000, tz).date()
    places = _places(site)
    agents = {a.employee_no: a for a in site.agents if a.active and a.badges}
    tags_by_seat: dict[str, list[str]] = defaultdict(list)
    for e in site.equipment:
        tags_by_seat[e.home_seat].append(e.tag)
    seat_ids = [s.id for s in site.info.seats]
    actions: list[Action] = []
    counter = iter(range(10**9))

    def add(t: float, device: str | None, kind: str, value: Any, who: str = "", note: str = "") -> None:
        if device is not None and t >= start_ms:
            actions.append(Action(int(t), next(counter), device, kind, value, who, note))

    def U(a: float, b: float) -> float:  # noqa: N802 - reads like the maths
        return rng.uniform(a, b)

    def step_away(seat_dev: str, who: str, what: str, t: float, dur: float, *, p_button: float,
                  button_lead_s: tuple[float, float], p_back: float) -> None:
        """A break or a meal: maybe its button first, the seat empty for `dur`, maybe "back"."""
        if rng.random() < p_button:
            add(t - U(*button_lead_s) * SEC, seat_dev, "button", what, who, what)
        add(t, seat_dev, "occupancy", False, who, what)
        add(t + dur, seat_dev, "occupancy", True, who, f"{what}_back")
        if rng.random() < p_back:
            add(t + dur + U(5, 20) * SEC, seat_dev, "button", "back", who, f"{what}_back")

    rows = []
    for r in roster_for_day(site, day):
        shift = site.shift(r.shift)
        if shift is None or r.employee_no not in agents:
            continue
        start = local_ms(r.date, shift.start, tz)
        end = local_ms(r.date, shift.end, tz)
        if shift.crosses_midnight:
            end += 24 * 60 * MIN
        if end > start_ms:
            rows.append((start, end, r, shift))
    rows.sort(key=lambda x: (x[2].seat, x[0]))
    seat_free_at: dict[str, float] = {}

    for start, end, r, shift in rows:
        agent = agents[r.employee_no]
        badge = seen_uid(agent.badges[0], 40)  # the card itself: each reader sees its part of it
        who = r.employee_no
        seat_dev = places.seats.get(r.seat)
        in_progress = start <= start_ms
        if rng.random() < 0.04:  # absent (旷工, or leave the hub does not know about)
            continue
        if in_progress:
            sit = start_ms + U(0, 90 * SEC)
        else:
            p = rng.random()
            early = (U(10.5, 20) if p < 0.75 else U(20, 35) if p < 0.85 else U(1, 9.5) if p < 0.93 else -U(1, 15)) * MIN
            arrive = max(start - early, start_ms + U(0, 60 * SEC))
            if places.entry_doors:
                add(arrive - U(30, 120) * SEC, rng.choice(places.entry_doors), "tap", badge, who, "arrival")
            if places.kiosks:
                kiosk = rng.choice(places.kiosks)
                add(arrive, kiosk, "tap", badge, who, "roll_call")
                if rng.random() < 0.03:  # tapped twice, not sure it worked
                    add(arrive + U(1, 3) * SEC, kiosk, "tap", badge, who, "roll_call_repeat")
            sit = max(arrive + U(1, 4) * MIN, start - U(1, 5) * MIN) if early > 0 else arrive + U(1, 3) * MIN
        sit = max(sit, seat_free_at.get(r.seat, 0) + U(15, 45) * SEC)  # relief waits for the seat
        leave = end - U(5, 25) * MIN if rng.random() < 0.04 else end + U(0, 4) * MIN
        leave = max(leave, sit + 5 * MIN)
        seat_free_at[r.seat] = leave
        if seat_dev is not None:
            add(sit, seat_dev, "occupancy", True, who, "sit")
            if rng.random() >= 0.05:  # a few forget to sign in at the seat
                add(sit + U(5, 40) * SEC, seat_dev, "tap", badge, who, "signin")
            busy: list[tuple[float, float]] = []
            if r.meal_start and shift.meal_minutes > 0:
                meal = local_ms(r.date, r.meal_start, tz)
                if meal < start:
                    meal += 24 * 60 * MIN
                if rng.random() < 0.05:
                    meal += U(45, 90) * MIN  # outside the slot the lead assigned
                meal += U(-3, 6) * MIN
                m = shift.meal_minutes
                dur = (U(min(20, m * 0.7), m - 1) if rng.random() < 0.8 else U(m + 1, m + 12)) * MIN
                if sit + 20 * MIN < meal < leave - dur - 10 * MIN:
                    step_away(seat_dev, who, "meal", meal, dur, p_button=0.9, button_lead_s=(2, 10), p_back=0.5)
                    busy.append((meal - 15 * MIN, meal + dur + 15 * MIN))
            for _ in range(rng.choice([1, 2, 2, 3, 3])):
                lo, hi = sit + 30 * MIN, leave - 35 * MIN
                if hi <= lo:
                    break
                t = U(lo, hi)
                q = rng.random()
                dur = (U(3, 9.5) if q < 0.8 else U(10.5, 18) if q < 0.95 else U(20, 30)) * MIN
                if any(a < t + dur and t < b for a, b in busy):
                    continue
                busy.append((t - 5 * MIN, t + dur + 5 * MIN))
                step_away(seat_dev, who, "break", t, dur, p_button=0.6, button_lead_s=(2, 15), p_back=0.4)
                if rng.random() < 0.3:
                    add(t + dur + U(5, 30) * SEC, seat_dev, "tap", badge, who, "break_back_tap")
            if rng.random() < 0.04 and tags_by_seat.get(r.seat):  # headset borrowed by a neighbour
                i = seat_ids.index(r.seat) if r.seat in seat_ids else -1
                neighbour = seat_ids[i + 1] if 0 <= i < len(seat_ids) - 1 else None
                to_dev = places.seats.get(neighbour) if neighbour else None
                if to_dev is not None:
                    tag = tags_by_seat[r.seat][0]
                    t = U(sit + 20 * MIN, max(sit + 21 * MIN, leave - 60 * MIN))
                    add(t, to_dev, "tag_move", (tag, seat_dev), "", "equipment_moved")
                    add(t + U(20, 90) * MIN, seat_dev, "tag_move", (tag, to_dev), "", "equipment_back")
            add(leave, seat_dev, "occupancy", False, who, "leave")
        if places.exit_doors:
            add(leave + U(1, 3) * MIN, rng.choice(places.exit_doors), "tap", badge, who, "exit")

    # unknown badges (visitors, a forgotten badge replaced by a spare) at kiosks and doors
    open_at = local_ms(day, site.info.opening, tz)
    close_at = local_ms(day, site.info.closing, tz)
    taps_at = places.kiosks + places.entry_doors
    if taps_at and close_at > open_at:
        for _ in range(max(2, len(site.info.seats) // 10)):
            add(U(max(open_at, start_ms), max(close_at, start_ms + 1)), rng.choice(taps_at), "tap",
                f"0F{rng.getrandbits(32):08X}", "", "unknown")
    actions.sort()
    return actions


class SimFloor:
    """A simulated floor: every device of `site` as a real agent on simulated drivers."""

    def __init__(
        self,
        site,
        host: str,
        port: int,
        *,
        spool_dir: Path,
        speed: float = 60.0,
        clock: Clock | None = None,
        seed: int | None = None,
        truth_path: Path | None = None,
        devices: list[str] | None = None,
        autoplay: bool = True,
    ) -> None:
        self.site = site
        self.host, self.port = host, port
        self.spool_dir = Path(spool_dir)
        self.clock: Clock = clock if clock is not None else ScaledClock(default_start_ms(site), speed)
        self.speed = float(getattr(self.clock, "speed", 1.0)) or 1.0
        self.seed = seed
        self.truth_path = Path(truth_path) if truth_path else None
        self.autoplay = autoplay
        self.loop = LinkLoop(name=f"sim-{site.id}")
        self.agents: dict[str, Agent] = {}
        self.drivers: dict[str, Drivers] = {}
        self.stats = {"actions": 0, "skipped": 0}
        self.plan: list[Action] = []
        self._next = 0
        self._stop = threading.Event()
        self._player: threading.Thread | None = None
        self._truth = None
        self._truth_lock = threading.Lock()
        self._play_lock = threading.Lock()
        wanted = set(devices) if devices is not None else None
        self.configs: dict[str, DeviceConfig] = {
            d: cfg for d, cfg in sorted(site.devices.items()) if wanted is None or d in wanted
        }

    # ------------------------------------------------------------ lifecycle

    def start(self) -> SimFloor:
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        if self.truth_path is not None:
            self.truth_path.parent.mkdir(parents=True, exist_ok=True)
            self._truth = self.truth_path.open("a", encoding="utf-8", buffering=1)
        now = self.clock.now_ms()
        self.plan = [a for a in plan_floor(self.site, now, random.Random(self.seed)) if a.device in self.configs]
        self.loop.start()
        floor = wire.clock_is_valid(now)
        for dev_id, cfg in self.configs.items():
            cfg = cfg.model_copy(update={"broker": cfg.broker.model_copy(update={"host": self.host, "port": self.port})})
            drivers = build_sim_drivers(cfg)
            spool = Spool(self.spool_dir / f"{dev_id}.db", cfg.spool.max_events, sync="normal",
                          seq_floor=now if floor else 0)
            agent = Agent(cfg, config_hash=self.site.device_hashes.get(dev_id, ""), clock=self.clock,
                          clock_sync=FixedClockSync(SIM_SYNCED), loop=self.loop, drivers=drivers, spool=spool,
                          on_event=self._record, reconnect_max_s=10.0, quiet=True)
            self.agents[dev_id] = agent
            self.drivers[dev_id] = drivers
        tags_by_seat: dict[str, list[str]] = defaultdict(list)
        for e in self.site.equipment:
            tags_by_seat[e.home_seat].append(e.tag.upper())
        for dev_id, agent in self.agents.items():
            agent.start()
            cfg = self.configs[dev_id]
            if cfg.role == "seat" and self.drivers[dev_id].tag_readers:
                self.drivers[dev_id].tag_readers[0].present = set(tags_by_seat.get(cfg.seat or "", []))
        if self.autoplay:
            self._player = threading.Thread(target=self._play, name=f"sim-player-{self.site.id}", daemon=True)
            self._player.start()
        log.info("sim: %d agents, %d planned actions, clock %s x%.0f", len(self.agents), len(self.plan),
                 dt.datetime.fromtimestamp(now / 1000, self.site.tz).isoformat(timespec="minutes"), self.speed)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._player is not None:
            self._player.join(5)
        for agent in self.agents.values():
            agent.quiesce()
        stop_together(self.agents.values(), self.loop, drain_s=3.0, timeout_s=5.0)
        with self._truth_lock:
            if self._truth is not None:
                self._truth.close()
                self._truth = None

    def __enter__(self) -> SimFloor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ playing the script

    def step(self) -> int:
        """Perform every action due by the clock now; returns how many."""
        done = 0
        with self._play_lock:
            now = self.clock.now_ms()
            while self._next < len(self.plan) and self.plan[self._next].t_ms <= now:
                self._perform(self.plan[self._next])
                self._next += 1
                done += 1
        return done

    def _play(self) -> None:
        announced = False
        while not self._stop.is_set():
            if not announced and all(a.link.connected.is_set() for a in self.agents.values()):
                announced = True
                log.info("sim: all %d agents connected to %s:%s", len(self.agents), self.host, self.port)
            self.step()
            if self._next >= len(self.plan):
                self._stop.wait(1.0)
                continue
            wait = (self.plan[self._next].t_ms - self.clock.now_ms()) / 1000 / self.speed
            self._stop.wait(min(max(wait, 0.0), 0.5))

    def _perform(self, a: Action) -> None:
        drivers = self.drivers.get(a.device)
        if drivers is None:
            self.stats["skipped"] += 1
            return
        try:
            if a.kind == "tap" and drivers.readers:
                drivers.readers[0].tap(a.value)
            elif a.kind == "occupancy":
                for sensor in drivers.sensors:
                    sensor.set(a.value)
            elif a.kind == "button" and drivers.buttons is not None:
                drivers.buttons.press(a.value)
            elif a.kind == "tag_move" and drivers.tag_readers:
                tag, from_dev = a.value
                source = self.drivers.get(from_dev)
                if source is not None and source.tag_readers:
                    source.tag_readers[0].present.discard(tag.upper())
                drivers.tag_readers[0].present.add(tag.upper())
            else:
                self.stats["skipped"] += 1
                return
            self.stats["actions"] += 1
        except Exception:
            log.exception("sim: action %s failed", a)

    # ------------------------------------------------------------ ground truth

    def _record(self, event: Any) -> None:
        if self._truth is None:
            return
        body = event.model_dump(exclude={"v", "id", "device", "seq", "ts", "type", "clock_ok"})
        line = json.dumps({"device": event.device, "seq": event.seq, "id": event.id, "type": event.type,
                           "body": body, "ts": event.ts}, ensure_ascii=False, separators=(",", ":"))
        with self._truth_lock:
            if self._truth is not None:
                self._truth.write(line + "\n")
