"""The month at a glance (issue 15, item 3): what a manager wants to see of a month, computed
from the engine's derived tables (queries in hub.store.month_aggregates) and the assessment
(hub.assess), so every number is one the exports and `floorwatch assess` also give.

  punctuality    per team per day: shifts on time, late (roll-call late or late), absent, on leave
  overuse        per team: break and meal violations (not excused) by rule, and minutes over the limit
  unattended     per zone per local hour of day: minutes of AWAY-UNATTENDED in the month
  utilisation    per seat: occupied minutes, as a share of the opening hours of the days with data
  coverage       per local hour: agents seated at half past (mean over days) against the target
  month_over     per team, this month and the one before: violations, points, mean score, late, absent

A day "with data" is a date with attendance rows (the engine judged a rostered shift)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from hub.assess import assess_month
from hub.months import day_start_ms, month_end, parse_month
from hub.roster.calendar import load_calendar
from hub.site import Site
from hub.store import Store
from hub.store.month_aggregates import OVERUSE_RULES, AnalyticsReader

LATE = ("roll_call_late", "late")
PUNCTUALITY = ("on_time", "late", "absent", "leave")
HOURS = list(range(24))
MIN = 60_000


@dataclass
class DayCounts:
    date: str
    on_time: int = 0
    late: int = 0
    absent: int = 0
    leave: int = 0

    def add(self, rollcall: str, n: int) -> None:
        key = "late" if rollcall in LATE else rollcall
        if key in PUNCTUALITY:
            setattr(self, key, getattr(self, key) + n)


@dataclass
class SeatUse:
    seat: str
    zone: str
    x: float
    y: float
    minutes: float
    share: float  # of the opening hours of the days with data, 0..1


@dataclass
class TeamMonth:
    violations: int = 0  # counted (not excused), as `floorwatch assess` lists them
    points: float = 0
    mean_score: float = 100.0
    agents: int = 0
    late: int = 0
    absent: int = 0


@dataclass
class MonthAtGlance:
    month: str
    previous: str
    days: list[str]  # dates with data
    teams: list[str]
    punctuality: dict[str, list[DayCounts]]  # team -> one per day with data
    overuse: dict[str, dict[str, int]]  # team -> rule -> violations
    overuse_minutes: dict[str, float]  # team -> minutes over the limits
    zones: list[str]
    unattended: dict[str, list[float]]  # zone -> minutes per local hour 0..23
    seats: list[SeatUse]
    map_size: tuple[float, float]
    coverage: list[tuple[int, float, float]]  # (hour, mean agents seated at half past, mean target)
    month_over: dict[str, tuple[TeamMonth, TeamMonth]]  # team -> (previous month, this month)
    rules: tuple[str, ...] = OVERUSE_RULES
    notes: dict[str, Any] = field(default_factory=dict)


def previous_month(first: dt.date) -> dt.date:
    return (first - dt.timedelta(days=1)).replace(day=1)


def _hhmm_min(s: str) -> int:
    h, m = s.split(":")
    return int(h) * 60 + int(m)


def _split_by_hour(start: int, end: int, tz: Any, out: list[float]) -> None:
    """Add the minutes of [start, end) to the local hour of day they fall in."""
    t = start
    while t < end:
        local = dt.datetime.fromtimestamp(t / 1000, tz)
        next_hour = int((local.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)).timestamp() * 1000)
        stop = min(end, next_hour)
        out[local.hour] += (stop - t) / MIN
        t = stop


def _punctuality(rows: list[tuple[str, str, str, int]], days: list[str], teams: list[str]) -> dict[str, list[DayCounts]]:
    out = {t: {d: DayCounts(d) for d in days} for t in teams}
    for date, team, rollcall, n in rows:
        if team in out and date in out[team]:
            out[team][date].add(rollcall, n)
    return {t: list(by_day.values()) for t, by_day in out.items()}


def _target(site: Site, cal: Any, day: dt.date, hour: int) -> int:
    """Agents the rules want on shift in `hour` of `day`: the floor's own target, else the sum of the teams'."""
    kind = cal.day_type(day)
    applying = [c for c in site.rules.coverage if c.applies(day.weekday(), kind) and hour in c.hour_range]
    floor = [c.min_agents for c in applying if c.team is None]
    return max(floor) if floor else sum(c.min_agents for c in applying)


def _team_month(site: Site, store: Store, month: str, rollcalls: list[tuple[str, str, str, int]]) -> dict[str, TeamMonth]:
    out: dict[str, TeamMonth] = {}
    scores: dict[str, list[float]] = {}
    for a in assess_month(site, store, month).agents:
        tm = out.setdefault(a.team, TeamMonth())
        tm.violations += sum(1 for v in a.violations if not v.excused)
        tm.points += a.points
        tm.agents += 1
        scores.setdefault(a.team, []).append(a.score)
    for team, xs in scores.items():
        out[team].mean_score = round(sum(xs) / len(xs), 1)
    for _date, team, rollcall, n in rollcalls:
        tm = out.setdefault(team, TeamMonth())
        if rollcall in LATE:
            tm.late += n
        elif rollcall == "absent":
            tm.absent += n
    return out


def month_at_glance(site: Site, store: Store, month: str, *, now_ms: int | None = None) -> MonthAtGlance:
    first = parse_month(month)
    last = month_end(first)
    prev = previous_month(first)
    tz = site.tz
    d0, d1 = first.isoformat(), last.isoformat()
    from_ms, to_ms = day_start_ms(first, tz), day_start_ms(last + dt.timedelta(days=1), tz)
    clip = min(to_ms, now_ms) if now_ms is not None else to_ms
    teams = sorted({a.team for a in site.agents if a.role == "agent" and a.team})
    zones = [z.id for z in site.info.zones]
    zone_of = {s.id: s.zone for s in site.info.seats}
    with AnalyticsReader(store) as r:
        days = r.days_with_attendance(d0, d1)
        rollcalls = r.rollcall_counts(d0, d1)
        prev_rollcalls = r.rollcall_counts(prev.isoformat(), month_end(prev).isoformat())
        overuse_rows = r.rule_violations(d0, d1, OVERUSE_RULES)
        unattended_rows = r.rule_violations(d0, d1, ("AWAY-UNATTENDED",))
        spans = r.occupied_spans(from_ms, to_ms)

    overuse = {t: {rule: 0 for rule in OVERUSE_RULES} for t in teams}
    over_min = {t: 0.0 for t in teams}
    for v in overuse_rows:
        team = v["team"] or ""
        if team not in overuse:
            continue
        overuse[team][v["rule"]] += 1
        limit = v["details"].get("limit_min")
        if isinstance(limit, (int, float)) and v["end"] is not None and v["rule"] != "AWAY-MEAL-SLOT":
            dur = (v["end"] - v["start"]) / MIN
            over_min[team] += max(0.0, dur - (0 if v["rule"] == "AWAY-BREAK-TOTAL" else limit))

    unattended = {z: [0.0] * 24 for z in zones}
    for v in unattended_rows:
        zone = v["zone"] or zone_of.get(v["seat"] or "")
        if zone in unattended:
            _split_by_hour(v["start"], v["end"] if v["end"] is not None else clip, tz, unattended[zone])

    open_min = (_hhmm_min(site.info.closing) - _hhmm_min(site.info.opening)) % (24 * 60) or 24 * 60
    available = open_min * len(days)
    used: dict[str, float] = {s.id: 0.0 for s in site.info.seats}
    for seat, start, end, _who in spans:
        if seat in used:
            used[seat] += ((end if end is not None else clip) - start) / MIN
    seats = [SeatUse(s.id, s.zone, s.x, s.y, round(used[s.id], 1), min(1.0, used[s.id] / available) if available else 0.0)
             for s in site.info.seats]

    cal, _errors = load_calendar(site.root)  # a bad holidays.csv is check-config's to report
    by_day: dict[str, list[tuple[int, int | None, str]]] = {}
    for _seat, start, end, who in spans:
        if who:
            day = dt.datetime.fromtimestamp(start / 1000, tz).date().isoformat()
            by_day.setdefault(day, []).append((start, end, who))
    coverage = []
    for h in HOURS:
        seated = targets = 0
        for d in days:
            day = dt.date.fromisoformat(d)
            at = int(dt.datetime.combine(day, dt.time(h, 30), tz).timestamp() * 1000)
            seated += len({w for s, e, w in by_day.get(d, []) if s <= at and (e is None or at < e)})
            targets += _target(site, cal, day, h)
        n = len(days) or 1
        coverage.append((h, round(seated / n, 2), round(targets / n, 2)))

    this = _team_month(site, store, first.strftime("%Y-%m"), rollcalls)
    before = _team_month(site, store, prev.strftime("%Y-%m"), prev_rollcalls)
    month_over = {t: (before.get(t, TeamMonth()), this.get(t, TeamMonth())) for t in teams}
    return MonthAtGlance(
        month=first.strftime("%Y-%m"), previous=prev.strftime("%Y-%m"), days=days, teams=teams,
        punctuality=_punctuality(rollcalls, days, teams), overuse=overuse,
        overuse_minutes={t: round(m, 1) for t, m in over_min.items()}, zones=zones,
        unattended={z: [round(x, 1) for x in v] for z, v in unattended.items()}, seats=seats,
        map_size=(site.info.map.width, site.info.map.height), coverage=coverage, month_over=month_over)
