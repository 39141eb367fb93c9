"""Time away from the seat: AWAY-BREAK-LONG, AWAY-BREAK-TOTAL, AWAY-MEAL-LONG, AWAY-MEAL-SLOT,
AWAY-PEAK, AWAY-UNATTENDED, and the departure that ROLL-EARLY-LEAVE / ROLL-HANDOVER judge.

Away time is a vacancy of the seat while its agent is signed in, during the shift. It is a meal
when the seat's meal button was pressed just before leaving or when it starts inside the lead's
meal slot (within the slot tolerance), else a break. The final vacancy that lasts to the end of
the shift (or to a takeover) is a departure, not a break. A vacancy while the seat's device has a
data gap is recorded but never judged.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

from hub.engine.context import INF, Ctx, Session, rid
from hub.engine.plans import Duty

# A break/meal button counts for a vacancy that starts up to this long after it was pressed (the
# agent presses, then stands up) or shortly before it (pressed while walking away).
BUTTON_BEFORE_MS = 10 * 60_000
BUTTON_AFTER_MS = 60_000


@dataclass
class Away:
    kind: str  # break | meal
    seat: str
    start: int
    end: int | None
    start_event: str | None
    end_event: str | None
    declared: str | None  # the button pressed, if any
    no_data: bool = False

    def duration(self, now: int) -> int:
        return (self.end if self.end is not None else now) - self.start


@dataclass
class Departure:
    t: int
    event: str | None
    reason: str  # signout | takeover | vacancy | expired


@dataclass
class AwayResult:
    aways: list[Away] = field(default_factory=list)
    departure: Departure | None = None
    minutes_worked: float = 0.0
    breaks_count: int = 0
    breaks_minutes: float = 0.0
    meal_minutes: float = 0.0
    violations: list[dict[str, Any]] = field(default_factory=list)
    periods: list[dict[str, Any]] = field(default_factory=list)


def meal_limit(ctx: Ctx, duty: Duty) -> int:
    """The meal limit: rules.toml's meal_max, or the shift's own longer meal (the office lunch hour)."""
    return max(ctx.lim.meal_max, duty.meal_minutes * 60_000)


def departure(ctx: Ctx, duty: Duty, sessions: list[Session]) -> Departure | None:
    """When the agent left for good: a sign-out tap, the vacancy before a takeover, or a vacancy
    that lasted to the end of the shift. None while the agent is (or may still be) there."""
    if not sessions:
        return None
    last = sessions[-1]
    if last.end_reason == "signout" and last.end is not None:
        return Departure(last.end, last.end_event, "signout")
    if last.end is not None and last.end_reason == "takeover":
        # someone else tapped in here. Either the agent had left and the newcomer sat down and
        # tapped within the badge grace, or the agent was still seated and left when the seat
        # next fell vacant (within the handover window)
        grace = ctx.lim.badge_grace
        for prev in reversed(ctx.occupancy(last.seat, last.end - grace, last.end)):
            if (prev.occupied is False and last.start <= prev.start < last.end
                    and (prev.end is None or prev.end >= last.end - grace)):
                return Departure(prev.start, prev.start_event, "takeover")
        window_end = duty.end + ctx.lim.absent_after
        for nxt in ctx.occupancy(last.seat, last.end, max(window_end, last.end + 1)):
            if nxt.occupied is False and last.end <= nxt.start < window_end:
                return Departure(nxt.start, nxt.start_event, "takeover")
        if not ctx.reached(window_end):
            return None
        return Departure(last.end, last.end_event, "takeover")
    upto = last.end if last.end is not None else ctx.now
    iv = ctx.occupancy(last.seat, upto - 1, upto)[0]  # the state just before `upto`
    if iv.occupied is False:
        v = max(iv.start, last.start)
        if last.end is not None:
            return Departure(v, iv.start_event, "takeover" if last.end_reason == "takeover" else "vacancy")
        if v >= duty.end or ctx.reached(duty.end):
            return Departure(v, iv.start_event, "vacancy")
        return None
    if last.end is not None:
        return Departure(last.end, last.end_event, last.end_reason or "expired")
    return None


def _button(ctx: Ctx, seat: str, v: int) -> tuple[str | None, str | None]:
    tl = ctx.f.seat_buttons.get(seat)
    if tl is None:
        return None, None
    found = None
    for b in tl.between(v - BUTTON_BEFORE_MS, v + BUTTON_AFTER_MS + 1):
        if b.button in ("break", "meal"):
            found = b
    return (found.button, found.event_id) if found else (None, None)


def idle_at(ctx: Ctx, t: int) -> int | None:
    """The contact center's idle-agent count at t (None without a fresh feed: AWAY-PEAK is off)."""
    acd = ctx.f.acd
    i = bisect.bisect_right(acd, (t, INF)) - 1
    if i < 0:
        return None
    at, idle = acd[i]
    return idle if t - at <= ctx.lim.offline_after else None


def analyze(ctx: Ctx, duty: Duty, sessions: list[Session]) -> AwayResult:
    """Away periods, departure, time worked and the AWAY-* violations of one duty."""
    lim = ctx.lim
    res = AwayResult()
    dep = departure(ctx, duty, sessions)
    res.departure = dep
    worked = 0
    for s in sessions:
        w0 = max(s.start, duty.start)
        w1 = min(s.end if s.end is not None else INF, duty.end)
        if w0 >= w1:
            continue
        for iv in ctx.occupancy(s.seat, w0, w1):
            a = max(iv.start, w0)
            if a >= w1:
                continue
            if iv.occupied is not False:
                # present (or unknown while signed in): counted once the stretch is over, so the
                # figure only changes at events and at the end of the shift
                if iv.end is not None:
                    worked += max(0, min(iv.end, w1) - a)
                elif ctx.reached(w1):
                    worked += w1 - a
                continue
            if iv.end is not None and iv.end < w1:
                end: int | None = iv.end  # came back: a break or a meal
            elif iv.end is None and not ctx.reached(w1):
                end = None  # away now
            else:
                continue  # vacant to the end of the session or shift: a departure or a move
            button, _ = _button(ctx, s.seat, a)
            kind = "meal" if button == "meal" else "break"
            if button is None and duty.meal_start is not None and abs(a - duty.meal_start) <= lim.meal_slot_tolerance:
                kind = "meal"
            away = Away(kind, s.seat, a, end, iv.start_event, iv.end_event if end is not None else None, button)
            away.no_data = ctx.seat_gap(s.seat, a, end if end is not None else ctx.now)
            res.aways.append(away)
    res.minutes_worked = round(worked / 60_000, 2)
    _judge(ctx, duty, res)
    return res


def _judge(ctx: Ctx, duty: Duty, res: AwayResult) -> None:
    lim = ctx.lim
    key, emp = duty.key, duty.emp
    cum = 0  # closed break time so far
    total_hit = False
    mlimit = meal_limit(ctx, duty)
    for a in res.aways:
        dur_closed = a.end - a.start if a.end is not None else None
        res.periods.append({
            "id": rid("a", key, emp, a.start), "employee_no": emp, "seat": a.seat, "shift": key,
            "kind": a.kind, "start": a.start, "end": a.end, "evidence": [e for e in (a.start_event, a.end_event) if e],
        })
        if a.kind == "break":
            res.breaks_count += 1
            if dur_closed is not None:
                res.breaks_minutes += dur_closed / 60_000
        elif dur_closed is not None:
            res.meal_minutes += dur_closed / 60_000
        if a.no_data:
            if a.kind == "break" and dur_closed is not None:
                cum += dur_closed
            continue
        evidence = [e for e in (a.start_event, a.end_event) if e]
        common = {"emp": emp, "seat": a.seat, "shift": key}
        limit = lim.break_max if a.kind == "break" else mlimit
        long_rule = "AWAY-BREAK-LONG" if a.kind == "break" else "AWAY-MEAL-LONG"
        over = (dur_closed > limit) if dur_closed is not None else ctx.reached(a.start + limit + 1)
        if over:
            details = {"limit_min": limit / 60_000, "minutes": round(dur_closed / 60_000, 2) if dur_closed is not None else None}
            if ctx.enabled(long_rule):
                res.violations.append(ctx.violation(
                    long_rule, f"{a.kind}_long", (key, emp, a.start), start=a.start, end=a.end,
                    evidence=evidence, details=details, **common))
            if ctx.enabled("AWAY-UNATTENDED"):
                res.violations.append(ctx.violation(
                    "AWAY-UNATTENDED", "unattended", (key, emp, a.start), start=a.start, end=a.end,
                    evidence=evidence, details={"limit_min": limit / 60_000, "away": a.kind}, **common))
        outside_slot = duty.meal_start is not None and abs(a.start - duty.meal_start) > lim.meal_slot_tolerance
        if a.kind == "meal" and a.declared == "meal" and outside_slot and ctx.enabled("AWAY-MEAL-SLOT"):
            res.violations.append(ctx.violation(
                "AWAY-MEAL-SLOT", "meal_outside_slot", (key, emp, a.start), start=a.start, end=a.end,
                evidence=evidence, details={"slot_start": duty.meal_start, "tolerance_min": lim.meal_slot_tolerance / 60_000},
                **common))
        if a.kind != "break":
            continue
        idle = idle_at(ctx, a.start)
        if idle is not None and idle <= lim.peak_idle and ctx.enabled("AWAY-PEAK"):
            res.violations.append(ctx.violation(
                "AWAY-PEAK", "break_at_peak", (key, emp, a.start), start=a.start, end=a.start,
                evidence=evidence[:1], details={"idle": idle, "threshold": lim.peak_idle}, **common))
        if not total_hit:
            room = lim.break_total - cum
            crossed = (dur_closed > room) if dur_closed is not None else ctx.reached(a.start + room + 1)
            if crossed:
                total_hit = True
                if ctx.enabled("AWAY-BREAK-TOTAL"):
                    res.violations.append(ctx.violation(
                        "AWAY-BREAK-TOTAL", "break_total", (key, emp), start=a.start + room, end=a.end,
                        evidence=evidence, details={"limit_min": lim.break_total / 60_000,
                                                    "before_min": round(cum / 60_000, 2)}, **common))
        if dur_closed is not None:
            cum += dur_closed
    res.breaks_minutes = round(res.breaks_minutes, 2)
    res.meal_minutes = round(res.meal_minutes, 2)


def _attended(ctx: Ctx, seat: str, t: int) -> bool:
    """Occupied at t, or (no occupancy known) someone signed in there."""
    occ = ctx.occupied_at(seat, t)
    return occ is True or (occ is None and ctx.session_at(seat, t) is not None)


def unattended_spans(ctx: Ctx, duty: Duty, sessions: list[Session], dep: Departure | None) -> list[dict[str, Any]]:
    """AWAY-UNATTENDED for a rostered seat nobody signed in at: vacant from the shift start
    (before any sign-in), or from an early departure, past the break limit."""
    if duty.leave or not ctx.enabled("AWAY-UNATTENDED"):
        return []
    lim = ctx.lim
    out = []
    spans: list[tuple[int, str | None]] = []
    first_signin = sessions[0].start if sessions else None
    if (first_signin is None or first_signin > duty.start) and not _attended(ctx, duty.seat, duty.start):
        spans.append((duty.start, None))
    if dep is not None and dep.t < duty.end - lim.early_leave_grace:
        spans.append((dep.t, dep.event))
    for v, ev in spans:
        ivs = ctx.occupancy(duty.seat, v, duty.end)
        occupied = [iv.start for iv in ivs if iv.occupied and iv.start >= v]
        signed = [x.start for x in ctx.sessions_at(duty.seat, v, duty.end) if x.start >= v]
        o = min(occupied + signed, default=None)  # someone sat down, or signed in on a seat without a sensor
        if o is not None and o >= duty.end:
            o = None
        end = o if o is not None else (duty.end if ctx.reached(duty.end) else None)
        dur = (end if end is not None else ctx.now) - v
        if dur <= lim.break_max:
            if end is None:
                ctx.need(v + lim.break_max + 1)
            continue
        if ctx.seat_gap(duty.seat, v, end if end is not None else ctx.now):
            continue
        out.append(ctx.violation(
            "AWAY-UNATTENDED", "unattended", (duty.key, duty.emp, "seat", v), start=v, end=end,
            evidence=[ev] if ev else [], emp=duty.emp, seat=duty.seat, shift=duty.key,
            details={"limit_min": lim.break_max / 60_000, "away": "no_signin" if ev is None else "departed"}))
    return out
