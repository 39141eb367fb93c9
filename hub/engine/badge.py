"""Badge and identity: BADGE-NO-TAP, BADGE-UNKNOWN, BADGE-WRONG-SEAT, BADGE-SHARED,
BADGE-TAILGATE, and the verdict a reader shows the agent who tapped.

A seat tap signs the agent in (a second tap at the seat signs out); a kiosk or entry-door tap is
a roll-call arrival. A tap repeated within tap_hold_off_s gets the first tap's verdict again and
makes no new record.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hub.engine.arrival import arrival_taps, minutes_before
from hub.engine.context import INF, BadgeDay, Ctx, Session, rid
from hub.engine.facts import Fact
from hub.engine.plans import Duty
from hub.engine.site_time import day_bounds, local_time_str


def wrong_seat(ctx: Ctx, duty: Duty, sessions: list[Session]) -> list[dict[str, Any]]:
    """BADGE-WRONG-SEAT: the agent signed in at a seat other than the duty's (after any lead
    reassignment)."""
    if not ctx.enabled("BADGE-WRONG-SEAT"):
        return []
    return [
        ctx.violation(
            "BADGE-WRONG-SEAT", "wrong_seat", (duty.key, duty.emp, s.start_event), start=s.start,
            end=min(s.end, duty.end) if s.end is not None else (duty.end if ctx.reached(duty.end) else None),
            evidence=[s.start_event], emp=duty.emp, seat=s.seat, shift=duty.key, details={"rostered_seat": duty.seat},
        )
        for s in sessions if s.seat != duty.seat
    ]


# ---------------------------------------------------------------- seat: BADGE-NO-TAP, occupancy


def seat_unit(ctx: Ctx, seat: str, date: str) -> dict[str, list[dict[str, Any]]]:
    """Occupancy intervals starting on a local date, and BADGE-NO-TAP for them: occupied longer
    than badge_grace_s with nobody signed in at the seat since it became occupied."""
    d0, d1 = day_bounds(dt.date.fromisoformat(date), ctx.tz)
    device = ctx.seat_device.get(seat)
    intervals: list[dict[str, Any]] = []
    vios: list[dict[str, Any]] = []
    grace = ctx.lim.badge_grace
    for iv in ctx.occupancy(seat, d0, d1):
        if iv.occupied is not True or iv.start < d0 or iv.start >= d1 or iv.start_event is None:
            continue
        sess = ctx.session_at(seat, iv.start)
        signins = [s for s in ctx.sessions_at(seat, iv.start, iv.end if iv.end is not None else INF)
                   if iv.start <= s.start and (iv.end is None or s.start < iv.end)]
        who = sess.emp if sess is not None else (signins[0].emp if signins else None)
        intervals.append({"id": rid("o", seat, iv.start_event), "seat": seat, "device": device,
                          "start": iv.start, "end": iv.end, "occupied_by": who})
        if sess is not None or not ctx.enabled("BADGE-NO-TAP"):
            continue
        first = signins[0] if signins else None
        bound = min(x for x in (first.start if first else INF, iv.end if iv.end is not None else INF))
        if bound != INF:
            if bound - iv.start <= grace:
                continue
        elif not ctx.reached(iv.start + grace + 1):
            continue
        if ctx.gap(device, iv.start, iv.start + grace):
            continue
        end = bound if bound != INF else None
        vios.append(ctx.violation(
            "BADGE-NO-TAP", "no_badge", (seat, iv.start_event), start=iv.start, end=end,
            evidence=[iv.start_event] + ([first.start_event] if first else []),
            emp=first.emp if first else None, seat=seat, details={"grace_s": grace / 1000}))
    return {"occupancy_intervals": intervals, "violations": vios}


# ---------------------------------------------------------------- badge: BADGE-UNKNOWN, BADGE-SHARED


def _zone(ctx: Ctx, f: Fact) -> str | None:
    if f.role == "seat":
        return ctx.zone_of.get(f.place or "")
    if f.role == "door":
        door = next((d for d in ctx.site.info.doors if d.id == f.place), None)
        return door.zone if door else None
    return None


def badge_unit(ctx: Ctx, uid: str, date: str) -> dict[str, list[dict[str, Any]]]:
    """BADGE-UNKNOWN and BADGE-SHARED for a badge's taps of a day. The walk resumes from the
    memo (BadgeDay): a tap's verdicts follow from the taps before it, so only new taps are judged,
    and only two_seats, which later facts change, is asked again of the taps that need it."""
    d0, d1 = day_bounds(dt.date.fromisoformat(date), ctx.tz)
    tl = ctx.f.uid_taps.get(uid)
    if tl is None:
        return {}
    day = tl.between(d0, d1)
    walk = ctx.memo.badge_days.get((uid, date))
    if walk is None or walk.seen > len(day) or (walk.seen and day[walk.seen - 1] is not walk.last):
        before = [f for f in tl.between(d0 - ctx.lim.min_travel, d0) if not ctx.is_repeat(f)]
        walk = ctx.memo.badge_days[(uid, date)] = BadgeDay(0, None, before[-1] if before else None)
    prev = walk.prev
    for f in day[walk.seen:]:
        if ctx.is_repeat(f):
            continue
        part: list[dict[str, Any]] = []
        walk.parts.append(part)
        owner = ctx.plans.owner(uid, f.t)
        seat = f.place if f.role == "seat" else None
        if owner.status != "ok":
            if ctx.enabled("BADGE-UNKNOWN"):
                kind = _UNATTRIBUTED[owner.status]
                part.append(ctx.violation(
                    "BADGE-UNKNOWN", kind, (f.event_id,), start=f.t, end=f.t, evidence=[f.event_id],
                    seat=seat, device=f.device, date=date,
                    details={"uid": uid, "place": f.place, "role": f.role,
                             "former_owner": owner.agent.employee_no if owner.agent else None}))
            prev = None
            continue
        emp = owner.agent.employee_no if owner.agent else None
        if ctx.enabled("BADGE-SHARED"):
            # anti-passback: two places in different zones closer in time than walking allows
            if prev is not None and prev.place != f.place and f.t - prev.t < ctx.lim.min_travel:
                z1, z2 = _zone(ctx, prev), _zone(ctx, f)
                if z1 and z2 and z1 != z2:
                    part.append(ctx.violation(
                        "BADGE-SHARED", "impossible_travel", (prev.event_id, f.event_id), start=prev.t, end=f.t,
                        evidence=[prev.event_id, f.event_id], emp=emp, seat=seat, device=f.device, date=date,
                        details={"uid": uid, "from": prev.place, "to": f.place, "seconds": (f.t - prev.t) / 1000,
                                 "min_travel_s": ctx.lim.min_travel / 1000}))
            # one badge signed in at two seats at once: a sign-in here while still signed in at
            # another seat that is occupied at this moment (none without a seat tapped lately)
            if f.role == "seat" and emp is not None and ctx.seats_tapped(emp, f.t - ctx.lim.max_shift, f.t) - {f.place}:
                walk.parts.append((f, emp))
        prev = f
    walk.prev, walk.seen, walk.last = prev, len(day), day[-1] if day else None
    vios: list[dict[str, Any]] = []
    for p in walk.parts:
        vios.extend(_two_seats(ctx, p[0], p[1], uid, date) if isinstance(p, tuple) else p)
    return {"violations": vios}


def _two_seats(ctx: Ctx, f: Fact, emp: str, uid: str, date: str) -> list[dict[str, Any]]:
    seats = ctx.seats_tapped(emp, f.t - ctx.lim.max_shift, f.t) - {f.place}
    out = []
    for other in sorted(seats):
        s = ctx.session_at(other, f.t - 1)
        if s is None or s.emp != emp or s.start >= f.t:
            continue
        if ctx.occupied_at(other, f.t) is not True:
            continue  # the agent left that seat: a move, not a shared badge
        ivs = ctx.occupancy(other, f.t, f.t + 1)
        end = ivs[-1].end if ivs else None
        if ctx.seat_gap(other, f.t, f.t):
            continue
        out.append(ctx.violation(
            "BADGE-SHARED", "two_seats", (s.start_event, f.event_id), start=f.t, end=end,
            evidence=[s.start_event, f.event_id], emp=emp, seat=f.place, date=date,
            details={"uid": uid, "other_seat": other, "other_signin": s.start}))
    return out


# ---------------------------------------------------------------- door: BADGE-TAILGATE


def door_unit(ctx: Ctx, door: str, date: str) -> dict[str, list[dict[str, Any]]]:
    """More people through a door (presence counter: occupancy events from a door device) than
    valid badge taps at it within tailgate_window_s."""
    if not ctx.enabled("BADGE-TAILGATE"):
        return {}
    d0, d1 = day_bounds(dt.date.fromisoformat(date), ctx.tz)
    w = ctx.lim.tailgate_window
    passes = [f for f in ctx.f.door_pass.get(door, ()) if d0 <= f.t < d1 and f.occupied]
    taps_tl = ctx.f.door_taps.get(door)
    vios: list[dict[str, Any]] = []
    i = 0
    while i < len(passes):
        group = [passes[i]]
        j = i + 1
        while j < len(passes) and passes[j].t - passes[i].t <= w:
            group.append(passes[j])
            j += 1
        i = j
        first, last = group[0].t, group[-1].t
        taps = [f for f in (taps_tl.between(first - w, last + 1) if taps_tl else [])
                if not ctx.is_repeat(f) and ctx.plans.owner(f.uid or "", f.t).status == "ok"]
        n = sum(p.count for p in group)
        if n <= len(taps):
            continue
        device = group[0].device
        if ctx.gap(device, first - w, last):
            continue
        emp = ctx.owner_emp(taps[-1]) if taps else None
        vios.append(ctx.violation(
            "BADGE-TAILGATE", "tailgate", (door, group[0].event_id), start=first, end=last,
            evidence=[p.event_id for p in group] + [t.event_id for t in taps], emp=emp, device=device, date=date,
            details={"door": door, "passed": n, "badges": len(taps), "window_s": w / 1000}))
    return {"violations": vios}


# ---------------------------------------------------------------- the verdict shown at the reader

TEXTS = {
    "on_time": ("{name} 准时 · 台席 {seat}", "{name}: on time · seat {seat}"),
    "roll_call_late": ("{name} 点名迟到 · 提前{m}分钟", "{name}: late for roll call ({m} min before start)"),
    "late": ("{name} 迟到 {late}分钟", "{name}: late by {late} min"),
    "signed_in": ("{name} 已签入 {place}", "{name}: signed in at {place}"),
    "seat_signin_late": ("{name} 签入迟到", "{name}: signed in late"),
    "wrong_seat": ("非排班台席,请到 {seat}", "Not your seat: go to {seat}"),
    "unknown_badge": ("未知工牌", "Unknown badge"),
    "revoked_badge": ("工牌已停用", "Badge revoked"),
    "ambiguous_badge": ("工牌无法区分,请找组长", "Badge ambiguous: see a lead"),
    "no_shift": ("{name} 无排班", "{name}: no shift rostered"),
    "signed_out": ("{name} 已签出", "{name}: signed out"),
    "enrolled": ("{name} 已登记", "{name}: enrolled"),
    "enrol_refused": ("登记被拒,请看组长控制台", "Enrolment refused: see the lead's console"),
}
RESULT = {
    "on_time": "ok", "signed_in": "ok", "signed_out": "ok", "roll_call_late": "warn", "late": "warn",
    "seat_signin_late": "warn", "wrong_seat": "warn", "no_shift": "warn", "unknown_badge": "deny",
    "revoked_badge": "deny", "ambiguous_badge": "deny", "enrolled": "ok", "enrol_refused": "deny",
}  # fmt: skip
# a tap no single card owns: recorded against nobody (an ambiguous tap is the site's
# configuration at fault: two cards this reader cannot tell apart)
_UNATTRIBUTED = {"unknown": "unknown_badge", "revoked": "revoked_badge", "ambiguous": "ambiguous_badge"}


def verdict(ctx: Ctx, f: Fact, arrival_status: dict[str, Any] | None = None) -> dict[str, Any]:
    """The tap's live update (contract channel "tap") for one badge event."""
    repeat = ctx.is_repeat(f)
    g = ctx.first_of_repeat(f) if repeat else f
    owner = ctx.plans.owner(g.uid or "", g.t)
    agent = owner.agent if owner.status == "ok" else None
    duty = ctx.plans.agent_duty_at(agent.employee_no, g.t) if agent else None
    minutes = None
    enrolment = ctx.plans.enrolment_taps.get(g.event_id)
    if enrolment is not None:  # a lead's enrolment tap: the reader answers that, not roll call (hub.enrolment)
        v = "enrolled" if enrolment["state"] == "enrolled" else "enrol_refused"
    elif owner.status != "ok":
        v = _UNATTRIBUTED[owner.status]
    elif g.role == "seat":
        ended = [s for s in ctx.sessions_at(g.place or "", g.t - 1, g.t + 1)
                 if s.emp == agent.employee_no and s.end_reason == "signout" and s.end_event == g.event_id]
        if ended:
            v = "signed_out"
        elif duty is None or duty.leave:
            v = "no_shift"
        elif g.place != duty.seat:
            v = "wrong_seat"
        elif g.t > duty.start and not _arrived_late(ctx, duty, g):
            v = "seat_signin_late"
        else:
            v = "signed_in"
    elif g.role == "door" and ctx.door_kind.get(g.place or "", "both") == "exit":
        v = "signed_out"
    elif duty is None or duty.leave:
        v = "no_shift"
    else:
        first = arrival_taps(ctx, agent.employee_no).get(duty.unit) or g
        a = first.t
        minutes = minutes_before(duty.start, a)
        if a <= duty.start - ctx.lim.roll_call_lead:
            v = "on_time"
        elif a <= duty.start:
            v = "roll_call_late"
        else:
            v = "late"
    seat = duty.seat if duty else None
    fmt = {"name": agent.name if agent else "", "seat": seat or "-", "place": g.place or "",
           "m": minutes if minutes is not None else 0, "late": -minutes if minutes is not None else 0}
    zh, en = (t.format(**fmt) for t in TEXTS[v])
    return {
        "device": f.device, "place": f.place, "event_id": f.event_id, "ts": f.t, "result": RESULT[v], "verdict": v,
        "minutes": minutes, "repeat": repeat,
        "agent": {"employee_no": agent.employee_no, "name": agent.name, "team": agent.team} if agent else None,
        "seat": seat,
        "shift": {"id": duty.shift, "name": duty.shift_name, "date": duty.date,
                  "start": local_time_str(duty.start, ctx.tz), "end": local_time_str(duty.end, ctx.tz),
                  "start_ms": duty.start, "end_ms": duty.end} if duty else None,
        "text_zh": zh, "text_en": en,
    }


def _arrived_late(ctx: Ctx, duty: Duty, g: Fact) -> bool:
    """A seat sign-in after the start by someone who arrived late is not a second offence."""
    first = arrival_taps(ctx, duty.emp).get(duty.unit)
    return first is not None and first.t > duty.start
