"""Facilities: FAC-ZONE-EMPTY and the zone's A/C relay, and the live state of each seat.

A zone is empty when none of its seats is occupied and every seat's device is reporting (a seat
whose device has a data gap might be occupied, so the zone is not known to be empty). An empty
spell longer than zone_empty_min inside opening hours is an alert for facilities (switch the air
conditioning off).

A zone whose site.toml names an `ac_relay_device` has its A/C switched by the hub, as a pure
function of the same spells (so live processing, a restart and a rebuild agree on it):
- off once the zone has been known empty for zone_empty_min (a zone empty at opening: at once);
- on at the first occupancy, or when a seat's device stops reporting (no data is never a reason
  to leave someone without A/C), or ac_precool_min before a rostered shift starts at a seat in
  the zone; after that start it goes off again only once the zone has stayed empty for
  zone_empty_min more (ac_precool_min = 0: the roster plays no part);
- outside opening hours the hub sends nothing (the relay keeps its last state).
The judgement is the unit's `_relay` row: (state, reason, since), since = when the state began.
The engine sends a command to the relay device when that row changes, live only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from edge import wire
from hub.engine import away
from hub.engine.context import INF, Ctx
from hub.engine.site_time import local_ms


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
    ended_by: list[str] = []  # what ended each closed span: occupied | no_data
    # why the relay is on at opening, unless an empty zone switches it off at once
    opened_as = "occupied" if occupied > 0 else "no_data" if unknown > 0 else "precool"
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
                ended_by.append("occupied" if occupied > 0 else "no_data")
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
    out: dict[str, list[dict[str, Any]]] = {"violations": vios, "_zone": live}
    device = ctx.st.ac_relay.get(zone)
    if device is not None and ctx.now < t1:
        state, reason, since = relay_state(ctx, zone, date, t0, spans, ended_by, opened_as)
        out["_relay"] = [{"key": zone, "zone": zone, "device": device, "state": state, "reason": reason, "since": since}]
    return out


def relay_state(ctx: Ctx, zone: str, date: str, t0: int, spans: list[tuple[int, int | None]], ended_by: list[str],
                opened_as: str) -> tuple[str, str, int]:
    """The zone's A/C relay at `now`: (on | off, why, since when), from the zone's empty spells
    since opening and the duties rostered at its seats (see the module's policy)."""
    limit, pre = ctx.lim.zone_empty, ctx.lim.ac_precool
    seats = set(ctx.st.seats_in_zone.get(zone, ()))
    starts = sorted({d.start for d in ctx.plans.by_date.get(date, []) if d.seat in seats and not d.leave}) if pre else []
    last: tuple[str, str, int] = ("on", opened_as, t0)
    for i, (a, b) in enumerate(spans):
        end = b if b is not None else INF
        # each rostered start inside the spell restarts its count (after a precool)
        anchors = [a if a > t0 else t0 - limit - 1] + [s for s in starts if a <= s < end]
        for j, anchor in enumerate(anchors):
            seg_end = anchors[j + 1] if j + 1 < len(anchors) else end
            nxt = next((s for s in starts if s > anchor), None)
            off_from = max(anchor + limit + 1, a)
            off_to, why = seg_end, (ended_by[i] if b is not None and seg_end == b else "precool")
            if nxt is not None and nxt - pre < off_to:
                off_to, why = max(nxt - pre, a), "precool"
            if off_from >= off_to:
                continue
            if not ctx.reached(off_from):
                return last
            last = ("off", "zone_empty", off_from)
            if off_to >= INF or not ctx.reached(off_to):
                return last
            last = ("on", why, off_to)
    return last


def relay_command(row: dict[str, Any], now: int) -> wire.Command:
    """The command for a changed `_relay` row: what the zone's relay device is told."""
    return wire.Command(v=1, device=row["device"], ts=now, cmd="relay", state=row["state"], reason=row["reason"],
                        since=row["since"])


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
