"""Facilities: FAC-ZONE-EMPTY, and the live state of each seat on the floor map.

A zone is empty when none of its seats is occupied and every seat's device is reporting (a seat
whose device has a data gap might be occupied, so the zone is not known to be empty). An empty
spell longer than zone_empty_min inside opening hours is an alert for facilities (switch the air
conditioning off).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hub.engine import away
from hub.engine.calendar import local_ms
from hub.engine.context import INF, Ctx


def opening_window(ctx: Ctx, date: str) -> tuple[int, int]:
    day = dt.date.fromisoformat(date)
    info = ctx.site.info
    return local_ms(day, dt.time.fromisoformat(info.opening), ctx.tz), local_ms(day, dt.time.fromisoformat(info.closing), ctx.tz)


def zone_unit(ctx: Ctx, zone: str, date: str) -> dict[str, list[dict[str, Any]]]:
    t0, t1 = opening_window(ctx, date)
    if not ctx.reached(t0):
        return {}
    upto = min(t1, ctx.now)
    changes: list[tuple[int, int, int]] = []  # (time, d_occupied, d_unknown)
    occupied = unknown = 0
    for seat in ctx.st.seats_in_zone.get(zone, []):
        for iv in ctx.occupancy(seat, t0, upto + 1):
            if iv.occupied is not True:
                continue
            a, b = max(iv.start, t0), (iv.end if iv.end is not None else INF)
            if a <= t0:
                occupied += 1
            else:
                changes.append((a, 1, 0))
            if b <= upto:
                changes.append((b, -1, 0))
        device = ctx.seat_device.get(seat)
        track = ctx.f.devices.get(device) if device else None
        gaps = track.gaps(t0, upto, ctx.now) if track is not None else [(t0, None)]
        for a, b in gaps:
            if a <= t0:
                unknown += 1
            else:
                changes.append((a, 0, 1))
            if b is not None and b <= upto:
                changes.append((b, 0, -1))
    changes.sort()
    spans: list[tuple[int, int | None]] = []
    start = t0 if occupied == 0 and unknown == 0 else None
    for t, d_occ, d_unk in changes:
        occupied += d_occ
        unknown += d_unk
        empty = occupied <= 0 and unknown <= 0
        if empty and start is None:
            start = t
        elif not empty and start is not None:
            if t > start:
                spans.append((start, t))
            start = None
    if start is not None:
        spans.append((start, t1 if ctx.reached(t1) else None))
    limit = ctx.lim.zone_empty
    vios, live = [], []
    for a, b in spans:
        if b is not None and b - a <= limit:
            continue
        if b is None and not ctx.reached(a + limit + 1):
            continue
        if ctx.enabled("FAC-ZONE-EMPTY"):
            vios.append(ctx.violation(
                "FAC-ZONE-EMPTY", "zone_empty", (zone, date, a), start=a, end=b, evidence=[], zone=zone, date=date,
                details={"limit_min": limit / 60_000}))
        if b is None:
            live.append({"key": zone, "zone": zone, "empty": True, "since": a})
    return {"violations": vios, "_zone": live}


def seat_now(ctx: Ctx, seat: str) -> dict[str, Any]:
    """The seat's state on the floor map at `now` (contract channel "seat")."""
    now = ctx.now
    zone = ctx.zone_of.get(seat)
    row = {"seat": seat, "zone": zone, "state": "vacant", "agent": None, "since": None, "used_before_s": 0.0}
    device = ctx.seat_device.get(seat)
    track = ctx.f.devices.get(device) if device else None
    if track is None or not track.online_at(now):  # (the engine's device watch recomputes this
        gaps = track.gaps(now, now, now) if track is not None else []  # seat when that changes)
        row.update(state="no_data", since=gaps[-1][0] if gaps else None)
        return row
    sess = ctx.session_at(seat, now)
    ivs = ctx.occupancy(seat, now, now + 1)
    iv = ivs[0]
    if iv.occupied is True or (iv.occupied is None and sess is not None):
        if sess is not None:
            since = max(sess.start, iv.start) if iv.occupied is True else sess.start
            row.update(state="signed_in", agent=sess.emp, since=since)
        else:
            row.update(state="occupied_no_badge", since=iv.start)
        return row
    v = iv.start if iv.occupied is False else None
    if sess is not None:
        duty = ctx.plans.agent_duty_at(sess.emp, sess.start)
        if duty is not None and now < duty.end:
            res = away.analyze(ctx, duty, ctx.duty_sessions(duty))
            current = next((a for a in res.aways if a.end is None and a.seat == seat), None)
            used = sum(a.end - a.start for a in res.aways if a.kind == "break" and a.end is not None)
            if current is not None:
                limit = ctx.lim.break_max if current.kind == "break" else away.meal_limit(ctx, duty)
                state = "unattended" if ctx.reached(current.start + limit + 1) else current.kind
                row.update(state=state, agent=sess.emp, since=current.start, used_before_s=used / 1000)
                return row
        elif duty is None:
            start = v if v is not None else sess.start
            state = "unattended" if ctx.reached(start + ctx.lim.break_max + 1) else "break"
            row.update(state=state, agent=sess.emp, since=start)
            return row
    duty = ctx.plans.seat_duty_at(seat, now)
    if duty is not None and not duty.leave:
        start = max(duty.start, v) if v is not None else duty.start
        for d in ctx.plans.at_seat(seat):  # a duty starting later is a deadline for this seat
            if d.start > now:
                ctx.need(d.start)
                break
        ctx.need(duty.end)
        if ctx.reached(start + ctx.lim.break_max + 1):
            row.update(state="unattended", agent=duty.emp, since=start)
            return row
        row.update(since=start)
        return row
    for d in ctx.plans.at_seat(seat):
        if d.start > now:
            ctx.need(d.start)
            break
    row.update(since=v)
    return row
