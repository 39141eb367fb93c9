"""What the engine knows: every observation placed on a timeline at its effective time.

The rules are pure functions of these timelines and the current time (see engine.core), so the
order in which events reach the hub does not matter: an event that arrives late is inserted at its
place and whatever depends on it is recomputed. That is what makes live processing and a rebuild
from the log agree.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


class Fact:
    """One observation, normalised: effective time, where, what."""

    __slots__ = ("t", "key", "event_id", "device", "seq", "kind", "role", "place", "received",
                 "timing", "uid", "occupied", "button", "tags", "count")  # fmt: skip

    def __init__(self, t: int, event_id: str, device: str, seq: int, kind: str, role: str, place: str | None,
                 received: int, timing: str, body: dict[str, Any]) -> None:
        self.t = t
        self.key = (t, device, seq)
        self.event_id = event_id
        self.device = device
        self.seq = seq
        self.kind = kind  # badge | occupancy | button | inventory | heartbeat
        self.role = role  # seat | door | kiosk | "" (unknown device)
        self.place = place
        self.received = received
        self.timing = timing  # "device" (its own clock, trusted) or "hub" (receipt time)
        self.uid = str(body["uid"]).upper() if kind == "badge" else None
        self.occupied = bool(body.get("occupied")) if kind == "occupancy" else None
        self.button = body.get("button") if kind == "button" else None
        self.tags = tuple(str(t).upper() for t in body.get("tags", ())) if kind == "inventory" else ()
        c = body.get("count", 1) if kind == "occupancy" else 1
        self.count = c if isinstance(c, int) and not isinstance(c, bool) and 0 < c <= 100 else 1

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Fact({self.kind} {self.device} t={self.t} {self.uid or self.occupied or self.button or ''})"


def _key(f: Fact) -> tuple:
    return f.key


class Timeline:
    """Facts sorted by (effective time, device, seq)."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[Fact] = []

    def add(self, f: Fact) -> bool:
        """Insert; returns True when it went in at the end (the usual, in-order case)."""
        items = self.items
        if not items or items[-1].key <= f.key:
            items.append(f)
            return True
        bisect.insort(items, f, key=_key)
        return False

    def between(self, t0: int, t1: int) -> list[Fact]:
        """Facts with t0 <= t < t1."""
        items = self.items
        i = bisect.bisect_left(items, (t0,), key=_key)
        j = bisect.bisect_left(items, (t1,), key=_key)
        return items[i:j]

    def last_before(self, t: int) -> Fact | None:
        """The latest fact with time <= t."""
        i = bisect.bisect_right(items := self.items, (t, "\uffff"), key=_key)
        return items[i - 1] if i else None

    def first_after(self, t: int) -> Fact | None:
        """The earliest fact with time > t."""
        items = self.items
        i = bisect.bisect_right(items, (t, "\uffff"), key=_key)
        return items[i] if i < len(items) else None

    def prune_before(self, t: int, keep_last: int = 1) -> None:
        """Forget facts older than t, keeping the last `keep_last` of them (the state at t)."""
        i = bisect.bisect_left(self.items, (t,), key=_key)
        i = max(0, i - keep_last)
        if i:
            del self.items[:i]

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Fact]:
        return iter(self.items)


# ---------------------------------------------------------------- device availability and clock


@dataclass
class Run:
    """A stretch in which a device kept reporting (consecutive reports closer than offline_after)."""

    start: int
    end: int


@dataclass
class ClockEpisode:
    """Consecutive events of one device whose clock could not be trusted (DEV-CLOCK)."""

    kind: str  # clock_unknown | clock_ahead | clock_behind
    start: int  # hub receipt time of the first such event
    end: int
    first_event: str
    last_event: str
    max_skew_ms: int
    count: int = 1


@dataclass
class DeviceTrack:
    """Availability (runs of reports, broken by gaps and offline statuses) and clock trust."""

    device: str
    offline_after: int
    runs: list[Run] = field(default_factory=list)
    marks: list[int] = field(default_factory=list)  # offline statuses (hub receipt time)
    verified: bool | None = None  # the clock agrees with the hub (None: not shown yet)
    probes: list[int] = field(default_factory=list)  # delays of the last live heartbeats
    episodes: list[ClockEpisode] = field(default_factory=list)
    last_skew_ms: int | None = None
    newest_ts: int = -1  # the newest device-clock reading seen (events and statuses)

    # ---- availability

    def _mark_between(self, a: int, b: int) -> bool:
        i = bisect.bisect_right(self.marks, a)
        return i < len(self.marks) and self.marks[i] <= b

    def _joinable(self, a: int, b: int) -> bool:
        return b - a <= self.offline_after and not self._mark_between(a, b)

    def end_before(self, t: int) -> int | None:
        """The end of the last run that starts at or before t: where a gap containing t starts."""
        i = bisect.bisect_right(self.runs, t, key=lambda r: r.start) - 1
        return self.runs[i].end if i >= 0 else None

    def add_presence(self, t: int) -> bool:
        """Record that the device reported at t. Returns True if a gap opened or closed
        (extending the latest run, the everyday case, returns False)."""
        runs = self.runs
        if runs and t >= runs[-1].start:
            last = runs[-1]
            if t <= last.end:
                return False
            if self._joinable(last.end, t):
                last.end = t
                return False
            runs.append(Run(t, t))
            return True
        i = bisect.bisect_right(runs, t, key=lambda r: r.start) - 1
        if i >= 0 and runs[i].start <= t <= runs[i].end:
            return False
        before = runs[i] if i >= 0 else None
        after = runs[i + 1] if i + 1 < len(runs) else None
        if before is not None and self._joinable(before.end, t):
            before.end = t
            if after is not None and self._joinable(t, after.start):
                before.end = after.end
                del runs[i + 1]
            return True
        if after is not None and self._joinable(t, after.start):
            after.start = t
            return True
        runs.insert(i + 1, Run(t, t))
        return True

    def add_mark(self, t: int) -> bool:
        """An offline status (last will) at hub time t: no run is joined across it."""
        bisect.insort(self.marks, t)
        for i, r in enumerate(self.runs):
            if r.start < t < r.end:  # a late mark inside a run: split it there
                self.runs[i:i + 1] = [Run(r.start, t), Run(t + 1, r.end)]
                break
        return True

    def online_at(self, now: int) -> bool:
        """Reporting at `now`: a report within offline_after and no offline status since it."""
        if not self.runs:
            return False
        last = self.runs[-1].end
        if last > now:
            return True
        return now - last <= self.offline_after and not self._mark_between(last, now)

    def offline_deadline(self, now: int) -> int | None:
        """When the device counts as offline if nothing more arrives (None: it already is)."""
        if not self.online_at(now):
            return None
        return self.runs[-1].end + self.offline_after + 1

    def gaps(self, t0: int, t1: int, now: int) -> list[tuple[int, int | None]]:
        """No-data spans overlapping [t0, t1]: before the first report, between runs, and after
        the last one if the device is offline at `now`."""
        out: list[tuple[int, int | None]] = []
        runs = self.runs
        if not runs:
            return [(t0, None)]
        if runs[0].start > t0:
            out.append((t0, runs[0].start))
        i = max(0, bisect.bisect_right(runs, t0, key=lambda r: r.start) - 1)
        while i < len(runs) - 1 and runs[i].end <= t1:
            a, b = runs[i].end, runs[i + 1].start
            if b >= t0 and a <= t1:
                out.append((a, b))
            i += 1
        if not self.online_at(now):
            a = runs[-1].end
            if a <= t1:
                out.append((a, None))
        return out

    def has_gap(self, t0: int, t1: int, now: int) -> bool:
        """No data in [t0, t1]: not reporting, or reporting without a clock (clock_ok false:
        its events carry the hub's receipt time, which may be late; never judged on)."""
        if any(ep.kind == "clock_unknown" and ep.start <= t1 and ep.end >= t0 for ep in self.episodes):
            return True
        return bool(self.gaps(t0, t1, now))

    def all_gaps(self, now: int) -> list[tuple[int, int | None]]:
        """Every gap between runs (and the open one), for DEV-OFFLINE."""
        out: list[tuple[int, int | None]] = [(r.end, n.start) for r, n in zip(self.runs, self.runs[1:], strict=False)]
        if self.runs and not self.online_at(now):
            out.append((self.runs[-1].end, None))
        return out

    def prune_before(self, t: int) -> None:
        while len(self.runs) > 1 and self.runs[1].end < t:
            del self.runs[0]
        i = bisect.bisect_left(self.marks, t)
        if i:
            del self.marks[:i]
        while len(self.episodes) > 1 and self.episodes[0].end < t:
            del self.episodes[0]

    # ---- clock trust (folded in log order, which live processing and a rebuild share)

    def effective_time(self, ts: int, received: int, clock_ok: bool, event_id: str, skew_max: int,
                       live_probe: bool = False) -> tuple[int, str]:
        """DEV-CLOCK: the device's time when its clock is trustworthy, else the hub's receipt time.

        Any report within clock_skew_max_s of receipt shows the clock agrees with the hub. A
        later report from such a device is a delayed delivery (a spool replayed after an
        outage): its own time stands. A heartbeat sent with nothing spooled ahead of it is a
        live probe: when the last three all came late, the clock is behind, and its reports are
        timed by the hub with a warning. Until a device has shown either, late reports are timed
        by the hub without a warning. Returns (effective time, "device" | "hub").
        """
        skew = received - ts
        self.last_skew_ms = skew if clock_ok else None
        if not clock_ok:
            self.verified = False
            self._episode("clock_unknown", received, event_id, 0)
            return received, "hub"
        if skew < -skew_max:
            self.verified = False
            self._episode("clock_ahead", received, event_id, skew)
            return received, "hub"
        if live_probe:
            self.probes.append(skew)
            if len(self.probes) > 3:
                del self.probes[0]
            if len(self.probes) == 3 and min(self.probes) > skew_max:
                self.verified = False
        if skew <= skew_max:
            self.verified = True
            return ts, "device"
        if self.verified:
            return ts, "device"
        if self.verified is False:
            self._episode("clock_behind", received, event_id, skew)
        return received, "hub"

    def probe(self, ts: int, received: int, skew_max: int) -> None:
        """An `online` status carries the device's clock at connect time: agreement verifies it
        (disagreement proves nothing: the status may have waited in the hub's queue)."""
        if abs(received - ts) <= skew_max:
            self.verified = True

    def _episode(self, kind: str, received: int, event_id: str, skew: int) -> None:
        ep = self.episodes[-1] if self.episodes else None
        if ep is not None and ep.kind == kind and received - ep.end <= self.offline_after:
            ep.end = max(ep.end, received)
            ep.last_event = event_id
            ep.max_skew_ms = max(ep.max_skew_ms, abs(skew))
            ep.count += 1
            return
        self.episodes.append(ClockEpisode(kind, received, received, event_id, event_id, abs(skew)))


# ---------------------------------------------------------------- equipment sightings


class ReportRuns:
    """When a reader was reporting inventories: its reports merged into runs (consecutive reports
    closer than `join`). The same set of reports gives the same runs in any order."""

    __slots__ = ("join", "runs")

    def __init__(self, join: int) -> None:
        self.join = join
        self.runs: list[Run] = []

    def add(self, t: int) -> None:
        runs = self.runs
        if runs and t >= runs[-1].start:
            last = runs[-1]
            if t <= last.end:
                return
            if t - last.end <= self.join:
                last.end = t
            else:
                runs.append(Run(t, t))
            return
        i = bisect.bisect_right(runs, t, key=lambda r: r.start) - 1
        if i >= 0 and runs[i].end >= t:
            return
        before = runs[i] if i >= 0 and t - runs[i].end <= self.join else None
        after = runs[i + 1] if i + 1 < len(runs) and runs[i + 1].start - t <= self.join else None
        if before is not None and after is not None:
            before.end = after.end
            del runs[i + 1]
        elif before is not None:
            before.end = t
        elif after is not None:
            after.start = t
        else:
            runs.insert(i + 1, Run(t, t))

    def first(self) -> int | None:
        return self.runs[0].start if self.runs else None

    def reporting_from(self, t: int) -> int | None:
        """t if the reader was reporting at t, else when it next reported (None: not since)."""
        for r in self.runs:
            if r.start <= t <= r.end:
                return t
            if r.start > t:
                return r.start
        return None

    def prune_before(self, t: int) -> None:
        while len(self.runs) > 1 and self.runs[1].end < t:
            del self.runs[0]



@dataclass
class Sighting:
    """Consecutive reports of one tag at one place, compressed into one run."""

    place: str
    role: str
    device: str
    first: int
    last: int
    first_event: str
    last_event: str


class TagTrack:
    """Where one tag has been seen, as runs by place, sorted by time."""

    __slots__ = ("tag", "runs")

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.runs: list[Sighting] = []

    def add(self, f: Fact) -> bool:
        """Record a sighting; True when the run structure changed (a new place or a new stretch)."""
        runs = self.runs
        place = f.place or f.device
        if runs and f.t >= runs[-1].first:
            last = runs[-1]
            if last.place == place:
                if f.t > last.last:
                    last.last, last.last_event = f.t, f.event_id
                return False
            if f.t >= last.last:
                runs.append(Sighting(place, f.role, f.device, f.t, f.t, f.event_id, f.event_id))
                return True
        # out of order: insert and merge neighbours at the same place
        i = bisect.bisect_right(runs, f.t, key=lambda r: r.first) - 1
        cur = runs[i] if i >= 0 else None
        if cur is not None and cur.first <= f.t <= cur.last:
            if cur.place == place:
                return False
            # a sighting elsewhere inside a run (rare: a late report): split the run around it;
            # the run's inner report ids are not kept, so both halves cite the run's ends
            right = Sighting(cur.place, cur.role, cur.device, f.t + 1, max(cur.last, f.t + 1), cur.last_event, cur.last_event)
            cur.last, cur.last_event = max(cur.first, f.t - 1), cur.first_event
            runs[i + 1:i + 1] = [Sighting(place, f.role, f.device, f.t, f.t, f.event_id, f.event_id), right]
            return True
        if cur is not None and cur.place == place:
            cur.last, cur.last_event = f.t, f.event_id
            return True
        nxt = runs[i + 1] if i + 1 < len(runs) else None
        if nxt is not None and nxt.place == place:
            nxt.first, nxt.first_event = f.t, f.event_id
            return True
        runs.insert(i + 1, Sighting(place, f.role, f.device, f.t, f.t, f.event_id, f.event_id))
        return True

    def last_seen(self) -> Sighting | None:
        return self.runs[-1] if self.runs else None

    def prune_before(self, t: int) -> None:
        while len(self.runs) > 2 and self.runs[1].last < t:
            del self.runs[0]
