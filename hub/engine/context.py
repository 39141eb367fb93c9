"""The questions every rule asks of the facts: who was signed in where, when a seat was occupied,
whether a device had a data gap, and records in the contract's shape.

Rules are pure: they read facts and `now` and return records. Whenever a rule's answer would
change at some later time without any new event (a break passing 10 minutes, a shift ending), it
calls `need(t)` so the engine recomputes it then. Results never depend on *when* they were
computed, only on the facts and `now`; that is what lets a rebuild reproduce live processing.
"""

from __future__ import annotations

import bisect
import hashlib
from dataclasses import dataclass, field
from typing import Any

from hub.engine.facts import DeviceTrack, Fact, ReportRuns, TagTrack, Timeline
from hub.engine.plans import Duty, Plans
from hub.engine.site_time import ARRIVAL_LOOKBACK_MS, local_date
from hub.site import Site

INF = 1 << 62


@dataclass(frozen=True)
class Limits:
    """rules.toml thresholds in milliseconds (and counts), read once."""

    badge_grace: int
    min_travel: int
    tailgate_window: int
    roll_call_lead: int
    absent_after: int
    signin_window: int
    early_leave_grace: int
    break_max: int
    break_total: int
    meal_max: int
    meal_slot_tolerance: int
    peak_idle: int
    missing_cycles: int
    inventory_period: int
    zone_empty: int
    ac_precool: int
    audit_grace: int
    heartbeat: int
    offline_after: int
    clock_skew_max: int
    reorder_tolerance: int
    tap_hold_off: int
    max_shift: int  # the longest shift template: how long a sign-in without a duty lasts

    @classmethod
    def from_site(cls, site: Site) -> Limits:
        th = site.rules.thresholds
        s, m = 1000, 60_000
        longest = 0
        for tmpl in site.info.shifts:
            a = int(tmpl.start[:2]) * 60 + int(tmpl.start[3:])
            b = int(tmpl.end[:2]) * 60 + int(tmpl.end[3:])
            longest = max(longest, (b - a) % (24 * 60) or 24 * 60)
        return cls(
            badge_grace=int(th.badge_grace_s * s), min_travel=int(th.badge_min_travel_s * s),
            tailgate_window=int(th.tailgate_window_s * s), roll_call_lead=int(th.roll_call_lead_min * m),
            absent_after=int(th.absent_after_min * m), signin_window=int(th.seat_signin_window_min * m),
            early_leave_grace=int(th.early_leave_grace_min * m), break_max=int(th.break_max_min * m),
            break_total=int(th.break_total_min * m), meal_max=int(th.meal_max_min * m),
            meal_slot_tolerance=int(th.meal_slot_tolerance_min * m), peak_idle=th.peak_idle_threshold,
            missing_cycles=th.equipment_missing_cycles, inventory_period=int(th.inventory_period_s * s),
            zone_empty=int(th.zone_empty_min * m), ac_precool=int(th.ac_precool_min * m),
            audit_grace=int(th.equipment_audit_grace_min * m), heartbeat=int(th.heartbeat_s * s),
            offline_after=int(th.offline_after_s * s), clock_skew_max=int(th.clock_skew_max_s * s),
            reorder_tolerance=int(th.reorder_tolerance_s * s), tap_hold_off=int(th.tap_hold_off_s * s),
            max_shift=longest * m,
        )


@dataclass
class Session:
    """An agent signed in at a seat: from a badge tap until sign-out, takeover, a move or expiry."""

    seat: str
    emp: str
    start: int
    start_event: str
    end: int | None  # None: still signed in
    end_reason: str | None  # signout | takeover | move | expired
    end_event: str | None


@dataclass
class Interval:
    """A stretch of one occupancy state at a seat. occupied None: unknown (no report yet)."""

    occupied: bool | None
    start: int
    end: int | None
    start_event: str | None
    end_event: str | None


def vid(rule: str, *parts: object) -> str:
    """A violation id that a rebuild reproduces: the rule and what anchors it, hashed."""
    h = hashlib.sha1("|".join([rule, *map(str, parts)]).encode()).hexdigest()
    return f"v{h[:15]}"


def rid(prefix: str, *parts: object) -> str:
    h = hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()
    return f"{prefix}{h[:15]}"


class Facts:
    """All timelines, by seat, agent, badge, door, tag and device."""

    def __init__(self) -> None:
        self.seat_occ: dict[str, Timeline] = {}
        self.seat_taps: dict[str, Timeline] = {}
        self.seat_buttons: dict[str, Timeline] = {}
        self.agent_taps: dict[str, Timeline] = {}  # taps whose badge was the agent's and valid
        self.uid_taps: dict[str, Timeline] = {}
        self.door_pass: dict[str, Timeline] = {}
        self.door_taps: dict[str, Timeline] = {}
        self.tags: dict[str, TagTrack] = {}
        self.inv_runs: dict[str, ReportRuns] = {}  # device -> when it reported inventories
        self.devices: dict[str, DeviceTrack] = {}
        self.acd: list[tuple[int, int]] = []  # (time, idle agents), sorted
        self.latest = 0  # the latest effective time of any fact

    @staticmethod
    def line(index: dict[str, Timeline], key: str) -> Timeline:
        tl = index.get(key)
        if tl is None:
            tl = index[key] = Timeline()
        return tl


@dataclass
class Statics:
    """Lookups from the site configuration, built once."""

    seat_device: dict[str, str]  # seat -> its device
    zone_of: dict[str, str]  # seat -> zone
    door_kind: dict[str, str]  # door -> entry | exit | both
    seats_in_zone: dict[str, list[str]]
    site_equipment: dict[str, Any]  # tag (upper case) -> Equipment
    prices: dict[str, float]  # equipment kind -> price
    disabled: frozenset[str]  # rule ids switched off in rules.toml
    arrival_devices: list[str]  # kiosks and entry doors: where roll call is taken
    ac_relay: dict[str, str]  # zone -> the device whose relay switches its A/C

    @classmethod
    def from_site(cls, site: Site) -> Statics:
        seat_device = {d.seat: dev for dev, d in site.devices.items() if d.role == "seat" and d.seat}
        zones: dict[str, list[str]] = {}
        door_kind = {d.id: d.kind for d in site.info.doors}
        for s in site.info.seats:
            zones.setdefault(s.zone, []).append(s.id)
        return cls(
            seat_device=seat_device, zone_of={s.id: s.zone for s in site.info.seats},
            door_kind=door_kind, seats_in_zone=zones,
            site_equipment={e.tag.upper(): e for e in site.equipment},
            prices={p.kind: p.price for p in site.prices},
            disabled=frozenset(r for r, cfg in site.rules.rules.items() if not cfg.enabled),
            arrival_devices=sorted(
                dev for dev, cfg in site.devices.items()
                if cfg.role == "kiosk" or (cfg.role == "door" and door_kind.get(cfg.door or "", "both") in ("entry", "both"))),
            ac_relay={z.id: z.ac_relay_device for z in site.info.zones if z.ac_relay_device},
        )


@dataclass
class AgentTaps:
    """An agent's seat taps (repeats left out) in time order, with their keys, the index of each
    run of taps at one place, and each place's tap times; its arrival taps (kiosks, entry doors)
    and their times; `seen` agent taps were looked at, the last of them `last`."""

    seen: int = 0
    last: Fact | None = None
    taps: list[Fact] = field(default_factory=list)
    keys: list[tuple] = field(default_factory=list)
    runs: list[int] = field(default_factory=list)
    by_place: dict[str, list[int]] = field(default_factory=dict)
    arrivals: list[Fact] = field(default_factory=list)
    arrival_times: list[int] = field(default_factory=list)


@dataclass
class Arrivals:
    """arrival_taps' walk through an agent's taps, after `seen` of them (the last `last`)."""

    seen: int = 0
    last: Fact | None = None
    found: dict[tuple, Fact] = field(default_factory=dict)


@dataclass
class SessionPrefix:
    """A seat's sessions after its first `n` taps (the last of them `last`): the closed ones and
    the open one's first tap. Taps after those cannot change them, so a later evaluation resumes
    from here instead of replaying the seat's whole day."""

    n: int
    last: Fact
    closed: tuple[Session, ...]
    open: Fact | None
    open_emp: str | None


@dataclass
class BadgeDay:
    """badge_unit's walk through a badge's taps of a day, after `seen` of them (the last `last`):
    the tap an anti-passback check compares the next one with, and per tap its violations, or
    (tap, agent) where BADGE-SHARED two_seats must be asked again (it follows the other seat's
    occupancy and data, which later facts change)."""

    seen: int
    last: Fact | None
    prev: Fact | None
    parts: list[list[dict[str, Any]] | tuple[Fact, str]] = field(default_factory=list)


@dataclass
class Tappers:
    """Who tapped at a seat, after `seen` of its taps (the last `last`): (badge, local date, the
    agent who held it or None) -> the times, so a change at the seat finds the badges and agents
    it touches by bisection instead of walking the seat's taps."""

    seen: int = 0
    last: Fact | None = None
    times: dict[tuple[str, str, str | None], list[int]] = field(default_factory=dict)


class Memo:
    """Answers evaluations reuse across Ctx instances, so a tap costs the same however many taps
    came before it that day. Each is a function of taps up to some time and of the plans; a new
    tap after every tap so far (the live case) leaves them true, so the engine resets the memo
    (`reset`) only when a tap is filed out of order, facts are pruned, re-attributed or restored,
    and Ctx drops it when the plans or the excuses (in the violations kept) change."""

    def __init__(self) -> None:
        self.plans_version = -1
        self.excuses: dict[str, dict[str, Any]] | None = None
        self.newest_tap = -1  # the latest effective time of any badge tap filed
        self.reset()

    def reset(self) -> None:
        self.repeat: dict[str, bool] = {}
        self.agent_taps: dict[str, AgentTaps] = {}
        self.arrivals: dict[str, Arrivals] = {}
        self.sessions: dict[str, SessionPrefix] = {}
        self.badge_days: dict[tuple[str, str], BadgeDay] = {}
        self.tappers: dict[str, Tappers] = {}

    def check(self, plans_version: int, excuses: dict[str, dict[str, Any]]) -> None:
        """Reset when the plans or the excuses are not those the memo was built with."""
        if self.plans_version != plans_version or self.excuses is not excuses:
            self.reset()
            self.plans_version, self.excuses = plans_version, excuses

    def filed(self, f: Fact) -> None:
        """A badge tap was filed: unless it comes after every tap so far, reset."""
        if f.t <= self.newest_tap:
            self.reset()
        else:
            self.newest_tap = f.t


def starting_in(sessions: list[Session], spans: list[tuple[int, int]]) -> list[Session]:
    """The sessions (in order of start) that start within one of the spans (ordered, disjoint)."""
    starts = [s.start for s in sessions]
    return [s for a, b in spans for s in sessions[bisect.bisect_left(starts, a):bisect.bisect_left(starts, b)]]


class Ctx:
    """One evaluation at time `now` over the engine's facts and plans. `memo`: the engine's, kept
    across evaluations (none: a private one, for a judgment that must not leave anything behind)."""

    def __init__(self, site: Site, plans: Plans, facts: Facts, limits: Limits, now: int,
                 excuses: dict[str, dict[str, Any]], statics: Statics, memo: Memo | None = None) -> None:
        self.site = site
        self.plans = plans
        self.f = facts
        self.lim = limits
        self.now = now
        self.excuses = excuses
        self.st = statics
        self.seat_device = statics.seat_device
        self.zone_of = statics.zone_of
        self.door_kind = statics.door_kind
        self.site_equipment = statics.site_equipment
        self.prices = statics.prices
        self.tz = site.tz
        self.deadline: int | None = None
        if memo is None:
            memo = Memo()
        memo.check(plans.version, excuses)
        self.memo = memo
        self._session_memo: dict[str, list[Session]] = {}
        self._session_bounds: dict[str, tuple[list[int], list[int]]] = {}

    # ------------------------------------------------------------ time

    def need(self, t: int | None) -> None:
        """Recompute this unit at t (if that is still ahead)."""
        if t is not None and t > self.now and (self.deadline is None or t < self.deadline):
            self.deadline = t

    def reached(self, t: int) -> bool:
        """now >= t, registering t as a deadline when not yet."""
        if self.now >= t:
            return True
        self.need(t)
        return False

    def date_of(self, t: int) -> str:
        return local_date(t, self.tz).isoformat()

    # ------------------------------------------------------------ devices

    def gap(self, device: str | None, t0: int, t1: int) -> bool:
        """True when the device had no data somewhere in [t0, t1] (or is unknown)."""
        if device is None:
            return False
        track = self.f.devices.get(device)
        if track is None:
            return True
        return track.has_gap(t0, t1, self.now)

    def seat_gap(self, seat: str, t0: int, t1: int) -> bool:
        return self.gap(self.seat_device.get(seat), t0, t1)

    # ------------------------------------------------------------ badges

    def is_repeat(self, f: Fact) -> bool:
        """A tap within tap_hold_off_s of an earlier (non-repeat) tap of the same badge at the
        same device repeats that tap: same feedback, no new record."""
        memo = self.memo.repeat.get(f.event_id)
        if memo is not None:
            return memo
        result = False
        tl = self.f.uid_taps.get(f.uid or "")
        if tl is not None and self.lim.tap_hold_off > 0:
            for g in reversed(tl.between(f.t - self.lim.tap_hold_off, f.t + 1)):
                if g.key >= f.key or g.device != f.device:
                    continue
                if not self.is_repeat(g):
                    result = True
                    break
        self.memo.repeat[f.event_id] = result
        return result

    def first_of_repeat(self, f: Fact) -> Fact:
        """The tap a repeat repeats."""
        tl = self.f.uid_taps.get(f.uid or "")
        if tl is None:
            return f
        for g in reversed(tl.between(f.t - self.lim.tap_hold_off, f.t + 1)):
            if g.key < f.key and g.device == f.device and not self.is_repeat(g):
                return g
        return f

    def agent_taps(self, emp: str, t0: int, t1: int, roles: tuple[str, ...] | None = None) -> list[Fact]:
        tl = self.f.agent_taps.get(emp)
        if tl is None:
            return []
        return [f for f in tl.between(t0, t1) if (roles is None or f.role in roles) and not self.is_repeat(f)]

    def arrival_taps_between(self, emp: str, t0: int, t1: int) -> list[Fact]:
        """The agent's arrival taps (repeats left out) with t0 <= t < t1."""
        idx = self.seat_tap_index(emp)
        times = idx.arrival_times
        return idx.arrivals[bisect.bisect_left(times, t0):bisect.bisect_left(times, t1)]

    def arrival_places(self, f: Fact) -> bool:
        """Kiosk taps and entry-door taps are roll-call arrivals."""
        return f.role == "kiosk" or (f.role == "door" and self.door_kind.get(f.place or "", "both") in ("entry", "both"))

    def owner_emp(self, f: Fact) -> str | None:
        o = self.plans.owner(f.uid or "", f.t)
        return o.agent.employee_no if o.status == "ok" and o.agent is not None else None

    # ------------------------------------------------------------ sessions

    def _session_expiry(self, emp: str, start: int) -> int:
        duty = self.plans.agent_duty_at(emp, start)
        if duty is not None:
            return duty.end + self.lim.absent_after
        return start + self.lim.max_shift

    def seat_tap_index(self, emp: str) -> AgentTaps:
        """The agent's seat and arrival taps (repeats left out), kept in the memo and extended by
        the taps filed since. What used to rescan the agent's day for every tap (the next tap at
        another seat, the seats used lately, the arrivals) is a bisection here: the cost of a tap
        stays flat in taps per day."""
        tl = self.f.agent_taps.get(emp)
        items = tl.items if tl is not None else []
        idx = self.memo.agent_taps.get(emp)
        if idx is None or idx.seen > len(items) or (idx.seen and items[idx.seen - 1] is not idx.last):
            idx = self.memo.agent_taps[emp] = AgentTaps()
        for g in items[idx.seen:]:
            if self.is_repeat(g):
                continue
            if self.arrival_places(g):
                idx.arrivals.append(g)
                idx.arrival_times.append(g.t)
            if g.role != "seat":
                continue
            if not idx.taps or idx.taps[-1].place != g.place:
                idx.runs.append(len(idx.taps))
            idx.taps.append(g)
            idx.keys.append(g.key)
            if g.place:
                idx.by_place.setdefault(g.place, []).append(g.t)
        idx.seen = len(items)
        idx.last = items[-1] if items else None
        return idx

    def seats_tapped(self, emp: str, t0: int, t1: int) -> set[str]:
        """The places of the agent's seat taps with t0 <= t < t1 (repeats left out)."""
        out = set()
        for place, times in self.seat_tap_index(emp).by_place.items():
            i = bisect.bisect_left(times, t0)
            if i < len(times) and times[i] < t1:
                out.add(place)
        return out

    def _move_time(self, emp: str, seat: str, after_key: tuple) -> tuple[int, str] | None:
        """The agent's first seat tap after after_key at another place than seat."""
        idx = self.seat_tap_index(emp)
        taps = idx.taps
        p = bisect.bisect_right(idx.keys, after_key)
        if p < len(taps) and taps[p].place == seat:  # the next run is at another place
            r = bisect.bisect_right(idx.runs, p)
            p = idx.runs[r] if r < len(idx.runs) else len(taps)
        if p >= len(taps):
            return None
        return taps[p].t, taps[p].event_id

    def _session_limit(self, emp: str, seat: str, f: Fact) -> tuple[int, str, str | None]:
        """When a session begun by tap f ends unless a tap at the seat ends it first: a move to
        another seat, else its expiry."""
        expiry = self._session_expiry(emp, f.t)
        move = self._move_time(emp, seat, f.key)
        return (move[0], "move", move[1]) if move and move[0] < expiry else (expiry, "expired", None)

    def _all_sessions(self, seat: str) -> list[Session]:
        """Every sign-in session at a seat over the facts kept (computed once per evaluation, so a
        session ends the same way whatever window a rule looks through). Resumed from the memo's
        prefix of the seat's taps: a session closed by its taps so far stays closed as it is, and
        the open one's end is looked up again."""
        memo = self._session_memo.get(seat)
        if memo is not None:
            return memo
        tl = self.f.seat_taps.get(seat)
        out: list[Session] = []
        if tl is not None and len(tl):
            items = tl.items
            cur: Session | None = None
            opened: Fact | None = None
            limit: tuple[int, str, str | None] = (INF, "", None)
            start = 0
            pre = self.memo.sessions.get(seat)
            if pre is not None and pre.n <= len(items) and items[pre.n - 1] is pre.last:
                start = pre.n
                out = list(pre.closed)
                if pre.open is not None and pre.open_emp is not None:
                    opened = pre.open
                    cur = Session(seat, pre.open_emp, opened.t, opened.event_id, None, None, None)
                    limit = self._session_limit(cur.emp, seat, opened)
            for f in items[start:]:
                if self.is_repeat(f):
                    continue
                emp = self.owner_emp(f)
                if emp is None:
                    continue
                if cur is not None and limit[0] <= f.t:
                    cur.end, cur.end_reason, cur.end_event = limit
                    out.append(cur)
                    cur = None
                if cur is not None and cur.emp == emp:
                    cur.end, cur.end_reason, cur.end_event = f.t, "signout", f.event_id
                    out.append(cur)
                    cur = None
                    continue
                if cur is not None:
                    cur.end, cur.end_reason, cur.end_event = f.t, "takeover", f.event_id
                    out.append(cur)
                cur = Session(seat, emp, f.t, f.event_id, None, None, None)
                opened = f
                limit = self._session_limit(emp, seat, f)
            self.memo.sessions[seat] = SessionPrefix(len(items), items[-1], tuple(out), opened if cur else None,
                                                     cur.emp if cur else None)
            if cur is not None:
                if self.reached(limit[0]):
                    cur.end, cur.end_reason, cur.end_event = limit
                out.append(cur)
        self._session_memo[seat] = out
        return out

    def sessions_at(self, seat: str, t0: int, t1: int) -> list[Session]:
        """Sign-in sessions at a seat that overlap [t0, t1)."""
        sessions = self._all_sessions(seat)
        if sessions and sessions[-1].end is None and sessions[-1].start < t1:
            # an open session: the unit asking depends on when it expires
            self.reached(self._session_expiry(sessions[-1].emp, sessions[-1].start))
        # sessions follow each other (one ends at or before the next starts, only the last may be
        # open): their starts and their ends both ascend, so the overlap is a slice
        bounds = self._session_bounds.get(seat)
        if bounds is None:
            bounds = self._session_bounds[seat] = ([s.start for s in sessions],
                                                   [INF if s.end is None else s.end for s in sessions])
        return sessions[bisect.bisect_right(bounds[1], t0):bisect.bisect_left(bounds[0], t1)]

    def session_at(self, seat: str, t: int) -> Session | None:
        for s in self.sessions_at(seat, t, t + 1):
            if s.start <= t and (s.end is None or t < s.end):
                return s
        return None

    def agent_sessions(self, emp: str, t0: int, t1: int) -> list[Session]:
        """The agent's sessions at any seat overlapping [t0, t1)."""
        span = self.lim.max_shift + self.lim.absent_after
        seats = sorted(self.seats_tapped(emp, t0 - span, t1))  # the order the sort below keeps
        out = [s for seat in seats for s in self.sessions_at(seat, t0, t1) if s.emp == emp]
        if len(seats) > 1:  # one seat's sessions are in order already
            out.sort(key=lambda s: (s.start, s.seat))
        return out

    def duty_sessions(self, duty: Duty) -> list[Session]:
        """The agent's sessions that belong to this duty (started while it was the agent's duty)."""
        t0, t1 = duty.start - ARRIVAL_LOOKBACK_MS, duty.end
        return starting_in(self.agent_sessions(duty.emp, t0, t1), self.owned_by(duty.emp, duty))

    def owned_by(self, emp: str, duty: Duty | None) -> list[tuple[int, int]]:
        """The stretches [a, b) of time, in order, whose moments Plans.agent_duty_at gives to `duty`
        (None: to no duty). Its answer changes only at an edge of one of the agent's duty windows,
        so a day of sessions is sliced by a few bisections instead of asked one by one."""
        edges = sorted({e for d in self.plans.of_agent(emp) for e in (d.start - ARRIVAL_LOOKBACK_MS, d.end)})
        out: list[tuple[int, int]] = []
        for a, b in zip([-INF, *edges], [*edges, INF], strict=True):
            d = self.plans.agent_duty_at(emp, a)
            if d is duty or (d is not None and duty is not None and d == duty):
                if out and out[-1][1] == a:
                    out[-1] = (out[-1][0], b)
                else:
                    out.append((a, b))
        return out

    # ------------------------------------------------------------ occupancy

    def occupancy(self, seat: str, t0: int, t1: int) -> list[Interval]:
        """Occupancy intervals of a seat overlapping [t0, t1), unclipped; the last one may be open."""
        tl = self.f.seat_occ.get(seat)
        if tl is None or not len(tl):
            return [Interval(None, t0, None, None, None)]
        prev = tl.last_before(t0)
        out: list[Interval] = []
        cur = Interval(prev.occupied if prev else None, prev.t if prev else t0, None, prev.event_id if prev else None, None)
        for f in tl.between(t0 + 1 if prev else t0, t1):
            if f.occupied == cur.occupied:
                continue
            cur.end, cur.end_event = f.t, f.event_id
            out.append(cur)
            cur = Interval(f.occupied, f.t, None, f.event_id, None)
        for f in tl.between(t1, INF):  # where does the last one end?
            if f.occupied != cur.occupied:
                cur.end, cur.end_event = f.t, f.event_id
                break
        out.append(cur)
        return out

    def occupied_at(self, seat: str, t: int) -> bool | None:
        tl = self.f.seat_occ.get(seat)
        f = tl.last_before(t) if tl is not None else None
        return f.occupied if f is not None else None

    # ------------------------------------------------------------ records

    def team_of(self, emp: str | None) -> str | None:
        a = self.plans.agents.get(emp or "")
        return a.team if a else None

    def violation(
        self, rule: str, kind: str, anchor: tuple, *, start: int, end: int | None, evidence: list[str],
        emp: str | None = None, seat: str | None = None, zone: str | None = None, device: str | None = None,
        shift: str | None = None, date: str | None = None, details: dict[str, Any] | None = None,
        amount: float | None = None,
    ) -> dict[str, Any]:
        v_id = vid(rule, *anchor)
        exc = self.excuses.get(v_id)
        if zone is None and seat is not None:
            zone = self.zone_of.get(seat)
        if device is None and seat is not None:
            device = self.seat_device.get(seat)
        return {
            "id": v_id, "rule": rule, "kind": kind, "employee_no": emp, "team": self.team_of(emp),
            "seat": seat, "zone": zone, "device": device, "shift": shift,
            "date": date or (shift.split("/")[0] if shift else self.date_of(start)),
            "start": start, "end": end, "evidence": [e for e in evidence if e], "details": details or {},
            "amount": amount, "excused": 1 if exc else 0, "excuse_reason": exc["reason"] if exc else None,
            "excused_by": exc["by"] if exc else None, "excused_at": exc["at"] if exc else None,
        }

    def enabled(self, rule: str) -> bool:
        return rule not in self.st.disabled
