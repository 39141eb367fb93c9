"""Roll call and shift attendance: ROLL-EARLY, ROLL-ABSENT, ROLL-SEAT-SIGNIN, ROLL-EARLY-LEAVE,
ROLL-HANDOVER, SWAP-UNAPPROVED, and the attendance row of every duty.

Roll call uses the first arrival tap (a kiosk or an entry door) for the shift: at least
roll_call_lead_min before the start is on time, later but not after the start is 点名迟到
(roll_call_late), after the start is 迟到 (late), nothing by start + absent_after_min is 旷工
(absent) unless leave was granted. An agent who skipped the kiosk but signed in at a seat has
arrived at that sign-in. A data gap at the arrival devices (or the seat device, for the seat
rules) makes the verdict "pending": no data is never a violation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from hub.engine import away, badge
from hub.engine.arrival import arrival_taps, minutes_before
from hub.engine.context import Ctx, Session, starting_in
from hub.engine.facts import Fact
from hub.engine.plans import Duty
from hub.engine.site_time import ARRIVAL_LOOKBACK_MS, local_date, shift_window


@dataclass
class RollCall:
    status: str  # on_time | roll_call_late | late | absent | leave | pending
    arrival: int | None
    arrival_event: str | None
    via: str | None  # kiosk | door | seat
    no_data: bool = False


@dataclass
class UnitResult:
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, table: str, rows: list[dict[str, Any]] | dict[str, Any]) -> None:
        lst = self.records.setdefault(table, [])
        if isinstance(rows, dict):
            lst.append(rows)
        else:
            lst.extend(rows)


def arrival_devices(ctx: Ctx) -> list[str]:
    return ctx.st.arrival_devices


def roll_call(ctx: Ctx, duty: Duty, first: Fact | None, sessions: list[Session]) -> RollCall:
    lim = ctx.lim
    if duty.leave:
        return RollCall("leave", first.t if first else None, first.event_id if first else None,
                        first.role if first else None)
    a, ev, via = (first.t, first.event_id, first.role) if first else (None, None, None)
    if a is None and sessions and sessions[0].start < duty.end:
        a, ev, via = sessions[0].start, sessions[0].start_event, "seat"  # skipped the kiosk
    deadline = duty.start + lim.absent_after
    devices = arrival_devices(ctx) + ([ctx.seat_device[duty.seat]] if via == "seat" and duty.seat in ctx.seat_device else [])
    if a is None:
        if not ctx.reached(deadline + 1):
            return RollCall("pending", None, None, None)
        gap = any(ctx.gap(d, duty.start - lim.roll_call_lead, deadline) for d in devices) or not devices
        return RollCall("pending" if gap else "absent", None, None, None, no_data=gap)
    if a <= duty.start - lim.roll_call_lead:
        return RollCall("on_time", a, ev, via)
    status = "roll_call_late" if a <= duty.start else ("late" if a <= deadline else "absent")
    gap = any(ctx.gap(d, duty.start - lim.roll_call_lead, min(a, deadline)) for d in devices)
    return RollCall("pending" if gap else status, a, ev, via, no_data=gap)


def duty_unit(ctx: Ctx, duty: Duty) -> UnitResult:
    """Everything judged per agent per shift."""
    lim = ctx.lim
    res = UnitResult()
    firsts = arrival_taps(ctx, duty.emp)
    first = firsts.get(duty.unit)
    sessions = ctx.duty_sessions(duty)
    rc = roll_call(ctx, duty, first, sessions)
    key, emp = duty.key, duty.emp
    vios: list[dict[str, Any]] = []
    common = {"emp": emp, "seat": duty.seat, "shift": key}

    # ROLL-EARLY / ROLL-ABSENT
    if rc.status in ("roll_call_late", "late") and ctx.enabled("ROLL-EARLY"):
        vios.append(ctx.violation(
            "ROLL-EARLY", rc.status, (key, emp), start=rc.arrival, end=rc.arrival, evidence=[rc.arrival_event],
            details={"minutes_before": minutes_before(duty.start, rc.arrival), "via": rc.via,
                     "lead_min": lim.roll_call_lead / 60_000}, **common))
    if rc.status == "absent" and ctx.enabled("ROLL-ABSENT"):
        vios.append(ctx.violation(
            "ROLL-ABSENT", "absent", (key, emp), start=duty.start, end=rc.arrival if rc.arrival is not None else duty.end,
            evidence=[rc.arrival_event] if rc.arrival_event else [],
            details={"deadline": duty.start + lim.absent_after, "arrival": rc.arrival}, **common))

    on_duty = rc.status not in ("leave", "absent") and not duty.leave
    # ROLL-SEAT-SIGNIN: only for agents who arrived by the start (a late arrival is already late)
    signin = sessions[0] if sessions else None
    if on_duty and rc.arrival is not None and rc.arrival <= duty.start and ctx.enabled("ROLL-SEAT-SIGNIN"):
        s_t = signin.start if signin else None
        if (s_t is not None and s_t > duty.start) or (s_t is None and ctx.reached(duty.start + 1)):
            end = s_t if s_t is not None else (duty.end if ctx.reached(duty.end) else None)
            # decided inside its own window: a later gap (the device's shutdown at 11:00) ends
            # nothing already settled at the start of the shift
            if not ctx.seat_gap(duty.seat, duty.start - lim.signin_window, duty.start):
                vios.append(ctx.violation(
                    "ROLL-SEAT-SIGNIN", "seat_signin_late", (key, emp), start=duty.start, end=end,
                    evidence=[signin.start_event] if signin else [rc.arrival_event],
                    details={"signin": s_t, "window_min": lim.signin_window / 60_000}, **common))

    # away time, departure, time worked
    aw = away.analyze(ctx, duty, sessions) if not duty.leave else away.AwayResult()
    vios.extend(aw.violations)
    dep = aw.departure
    if not duty.leave:
        vios.extend(away.unattended_spans(ctx, duty, sessions, dep))

    # ROLL-EARLY-LEAVE
    early = dep is not None and dep.t < duty.end - lim.early_leave_grace
    if on_duty and early and dep is not None and ctx.enabled("ROLL-EARLY-LEAVE"):
        seat = sessions[-1].seat if sessions else duty.seat
        if not ctx.seat_gap(seat, dep.t, duty.end if ctx.reached(duty.end) else ctx.now):
            vios.append(ctx.violation(
                "ROLL-EARLY-LEAVE", "early_leave", (key, emp), start=dep.t, end=duty.end,
                evidence=[dep.event] if dep.event else [], emp=emp, seat=seat, shift=key,
                details={"how": dep.reason, "minutes_early": round((duty.end - dep.t) / 60_000, 1)}))

    # ROLL-HANDOVER
    if on_duty and dep is not None and not early and ctx.enabled("ROLL-HANDOVER"):
        vios.extend(handover(ctx, duty, sessions, dep))

    # BADGE-WRONG-SEAT for this agent, SWAP-UNAPPROVED by others at this duty's seat
    if not duty.leave:
        vios.extend(badge.wrong_seat(ctx, duty, sessions))
    vios.extend(swaps(ctx, duty))

    res.add("violations", vios)
    res.add("away_periods", aw.periods)
    mine = sorted(v["id"] for v in vios if v["employee_no"] == emp)
    res.add("attendance", {
        "date": duty.date, "shift": duty.shift, "employee_no": emp, "name": duty.name, "team": duty.team,
        "rostered_seat": duty.seat, "seats_used": sorted({s.seat for s in sessions}),
        "first_arrival": rc.arrival,
        "arrival_minutes_before": round((duty.start - rc.arrival) / 60_000, 2) if rc.arrival is not None else None,
        "rollcall": rc.status, "seat_signin": signin.start if signin else None,
        "signout": dep.t if dep is not None else None, "minutes_worked": aw.minutes_worked,
        "breaks_count": aw.breaks_count, "breaks_minutes": aw.breaks_minutes, "meal_minutes": aw.meal_minutes,
        "violation_ids": mine, "leave": duty.leave,
        "excused": sorted(v["id"] for v in vios if v["employee_no"] == emp and v["excused"]), "unrostered": 0,
    })
    res.add("_rollcall", {"key": f"{key}/{emp}", "date": duty.date, "shift": duty.shift, "employee_no": emp,
                          "name": duty.name, "team": duty.team, "seat": duty.seat, "status": rc.status,
                          "arrival": rc.arrival})
    return res


def handover(ctx: Ctx, duty: Duty, sessions: list[Session], dep: away.Departure) -> list[dict[str, Any]]:
    """ROLL-HANDOVER: the agent left the seat at the end of the shift before the relief (the next
    duty at the same position) signed in. The relief gets badge_grace_s to tap after sitting down."""
    relief = ctx.plans.relief(duty)
    if relief is None or relief.leave:
        return []
    lim = ctx.lim
    rs = ctx.duty_sessions(relief)
    b = rs[0].start if rs else None
    if b is not None and b <= dep.t + lim.badge_grace:
        return []
    if b is None and not ctx.reached(dep.t + lim.badge_grace + 1):
        return []
    given_up = relief.start + lim.absent_after  # the relief is absent by then: the lead's problem
    if dep.t >= given_up:
        return []
    end = b
    if end is None and ctx.reached(given_up):
        end = given_up
    seat = sessions[-1].seat if sessions else duty.seat
    if ctx.seat_gap(seat, dep.t, end if end is not None else ctx.now):
        return []
    return [ctx.violation(
        "ROLL-HANDOVER", "no_handover", (duty.key, duty.emp), start=dep.t, end=end,
        evidence=[e for e in (dep.event, rs[0].start_event if rs else None) if e], emp=duty.emp, seat=seat,
        shift=duty.key, details={"relief": relief.emp, "relief_signin": b})]


def swaps(ctx: Ctx, duty: Duty) -> list[dict[str, Any]]:
    """SWAP-UNAPPROVED: someone with no duty of their own signed in at this duty's seat during
    it (working a shift rostered to someone else, 私自代班/换班, without an approved swap)."""
    if not ctx.enabled("SWAP-UNAPPROVED"):
        return []
    out = []
    for s in ctx.sessions_at(duty.seat, duty.start, duty.end):
        if s.emp == duty.emp or s.start >= duty.end or s.start < duty.start - ctx.lim.signin_window - ctx.lim.roll_call_lead:
            continue
        if ctx.plans.agent_duty_at(s.emp, s.start) is not None:
            continue  # they have a duty: sitting here is their wrong seat, judged on their duty
        end = min(s.end, duty.end) if s.end is not None else (duty.end if ctx.reached(duty.end) else None)
        out.append(ctx.violation(
            "SWAP-UNAPPROVED", "unapproved_swap", (duty.key, s.emp, s.start_event), start=s.start, end=end,
            evidence=[s.start_event], emp=s.emp, seat=duty.seat, shift=duty.key,
            details={"rostered": duty.emp}))
    return out


def _shift_for(ctx: Ctx, t: int, seat: str | None) -> str:
    """The shift an unrostered sign-in or arrival belongs to: the duty rostered at that seat,
    else the earliest shift template that has not ended (arrival lookback included)."""
    if seat:
        for d in ctx.plans.at_seat(seat):
            if d.covers(t):
                return d.shift
    day = local_date(t, ctx.tz)
    best = None
    for dd in (day - dt.timedelta(days=1), day):
        for tmpl in ctx.site.info.shifts:
            w = shift_window(dd, tmpl, ctx.tz)
            if w.start - ARRIVAL_LOOKBACK_MS <= t < w.end and (best is None or w.start < best.start):
                best = w
    return best.shift if best else "none"


def free_unit(ctx: Ctx, emp: str, date: str) -> UnitResult:
    """Attendance of an agent who worked without a duty of their own on a date (unrostered)."""
    res = UnitResult()
    agent = ctx.plans.agents.get(emp)
    if agent is None:
        return res
    day = dt.date.fromisoformat(date)
    from hub.engine.site_time import day_bounds  # noqa: PLC0415 - small helper, local use

    d0, d1 = day_bounds(day, ctx.tz)
    free = [(max(a, d0), min(b, d1)) for a, b in ctx.owned_by(emp, None) if max(a, d0) < min(b, d1)]
    sessions = starting_in(ctx.agent_sessions(emp, d0, d1), free)
    taps = [f for a, b in free for f in ctx.arrival_taps_between(emp, a, b)]
    groups: dict[str, dict[str, Any]] = {}
    for t, seat, sess, tap in [(s.start, s.seat, s, None) for s in sessions] + [(f.t, None, None, f) for f in taps]:
        shift = _shift_for(ctx, t, seat)
        g = groups.setdefault(shift, {"sessions": [], "taps": []})
        if sess is not None:
            g["sessions"].append(sess)
        if tap is not None:
            g["taps"].append(tap)
    for shift, g in sorted(groups.items()):
        ss: list[Session] = sorted(g["sessions"], key=lambda s: s.start)
        arrivals = sorted([f.t for f in g["taps"]] + [s.start for s in ss])
        ends = [s.end for s in ss if s.end is not None]
        worked = sum(((s.end if s.end is not None else s.start) - s.start) for s in ss)
        res.add("attendance", {
            "date": date, "shift": shift, "employee_no": emp, "name": agent.name, "team": agent.team,
            "rostered_seat": None, "seats_used": sorted({s.seat for s in ss}),
            "first_arrival": arrivals[0] if arrivals else None, "arrival_minutes_before": None,
            "rollcall": "pending", "seat_signin": ss[0].start if ss else None,
            "signout": max(ends) if ends and all(s.end is not None for s in ss) else None,
            "minutes_worked": round(worked / 60_000, 2), "breaks_count": 0, "breaks_minutes": 0.0,
            "meal_minutes": 0.0, "violation_ids": [], "leave": None, "excused": [], "unrostered": 1,
        })
    return res
