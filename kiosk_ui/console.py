"""The leads' console: `/console`.

Roll-call board for a shift (the current one by default, `?date=&shift=` for another), the live
violations feed with evidence, lead actions (reassign seat, approve swap, set meal slot, grant
leave, excuse a violation with a reason) posted to the engine's /api/lead/* and
/api/violations/<id>/excuse, device health, equipment incidents and the alert outbox (what went
to the leads' chat robots, what is waiting and why).

The board starts from the roster in the site config, so every rostered agent is on it before
the engine has said anything; the engine's /api/rollcall and live `rollcall` updates fill in
arrivals and statuses.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

from flask import Blueprint, jsonify, request

from edge import wire
from hub.site import ShiftTemplate, Site
from hub.store.reports import ReportReader
from kiosk_ui import state
from kiosk_ui.floor import device_rows, layout
from kiosk_ui.masking import visible_teams
from kiosk_ui.pages import page_config, render_page

bp = Blueprint("console", __name__, url_prefix="/console")

ROLLCALL_STATUSES = ("on_time", "roll_call_late", "late", "absent", "pending", "leave")
ROLL_CALL_OPENS_H = 2  # a shift is "current" from this long before its start (arrivals come early)
MAX_EVIDENCE = 100


def shift_window(site: Site, day: dt.date, shift: ShiftTemplate) -> tuple[dt.datetime, dt.datetime]:
    """Start and end of `shift` on `day`, in the site's time zone (an end before the start is
    the next day)."""
    start = dt.datetime.combine(day, shift.start_time, tzinfo=site.tz)
    end = dt.datetime.combine(day, shift.end_time, tzinfo=site.tz)
    if shift.crosses_midnight:
        end += dt.timedelta(days=1)
    return start, end


def current_shift(site: Site, now_ms: int) -> tuple[dt.date, ShiftTemplate]:
    """The shift a lead is most likely watching at `now_ms`: of the shifts under way (or about
    to start), preferring rostered ones, the one that started last; else the day's first."""
    now = dt.datetime.fromtimestamp(now_ms / 1000, site.tz)
    opens = dt.timedelta(hours=ROLL_CALL_OPENS_H)
    candidates = []
    for day in (now.date() - dt.timedelta(days=1), now.date()):
        for shift in site.info.shifts:
            start, end = shift_window(site, day, shift)
            if start - opens <= now < end:
                candidates.append((start, day, shift))
    rostered = {(r.date, r.shift) for r in site.roster}
    if any((day, shift.id) in rostered for _, day, shift in candidates):
        candidates = [c for c in candidates if (c[1], c[2].id) in rostered]
    if candidates:
        # Prefer the shift whose start is nearest the present (a handover hour belongs to the
        # incoming shift once it has started).
        started = [c for c in candidates if c[0] <= now]
        pick = max(started, key=lambda c: c[0]) if started else min(candidates, key=lambda c: c[0])
        return pick[1], pick[2]
    return now.date(), min(site.info.shifts, key=lambda s: s.start)


def roster_board(site: Site, day: dt.date, shift_id: str) -> list[dict[str, Any]]:
    """Everyone rostered for the shift, as the board's starting rows (status "pending")."""
    agents = {a.employee_no: a for a in site.agents}
    rows = []
    for r in site.roster:
        if r.date != day or r.shift != shift_id:
            continue
        a = agents.get(r.employee_no)
        rows.append({
            "employee_no": r.employee_no,
            "name": a.name if a else r.employee_no,
            "team": a.team if a else None,
            "seat": r.seat,
            "meal_start": r.meal_start,
            "status": "pending",
            "arrival": None,
        })
    return sorted(rows, key=lambda r: (r["seat"], r["employee_no"]))


def _selected_shift(site: Site) -> tuple[dt.date, ShiftTemplate]:
    day, shift = current_shift(site, state.now_ms())
    raw_date, raw_shift = request.args.get("date"), request.args.get("shift")
    if raw_date:
        with contextlib.suppress(ValueError):  # a bad date shows the current shift
            day = dt.date.fromisoformat(raw_date)
    if raw_shift and site.shift(raw_shift) is not None:
        shift = site.shift(raw_shift)  # type: ignore[assignment]
    return day, shift


@bp.get("")
def console():
    site = state.site()
    day, shift = _selected_shift(site)
    start, end = shift_window(site, day, shift)
    lay = layout()
    config = page_config(
        date=day.isoformat(),
        shift={"id": shift.id, "name": shift.name, "start": shift.start, "end": shift.end,
               "startMs": int(start.timestamp() * 1000), "endMs": int(end.timestamp() * 1000)},
        shifts=[{"id": s.id, "name": s.name, "start": s.start, "end": s.end} for s in site.info.shifts],
        board=roster_board(site, day, shift.id),
        agents=[{"employee_no": a.employee_no, "name": a.name, "team": a.team} for a in site.agents if a.active],
        seats=[s["id"] for s in lay["seats"]],
        zones={z.id: z.name for z in site.info.zones},
        devices=device_rows(),
        deviceInfo=lay["devices"],
        equipment={e.tag: {"kind": e.kind, "home_seat": e.home_seat} for e in site.equipment},
        kinds=lay["kinds"],
        statuses=list(ROLLCALL_STATUSES),
        offlineAfterS=site.rules.thresholds.offline_after_s,
        clockSkewMaxS=site.rules.thresholds.clock_skew_max_s,
    )
    return render_page("console.html", site=site, config=config)


@bp.get("/evidence")
def evidence():
    """The events a violation cites (`?ids=` comma-separated event ids, `&near=start,end` the
    violation's span to search first), oldest first."""
    raw = [i.strip() for i in request.args.get("ids", "").split(",") if i.strip()]
    if not raw:
        return jsonify({"error": "bad parameter", "parameter": "ids", "reason": "no event ids"}), 400
    if len(raw) > MAX_EVIDENCE:
        return jsonify({"error": "bad parameter", "parameter": "ids", "reason": f"at most {MAX_EVIDENCE}"}), 400
    bad = [i for i in raw if len(i) > 64 or not wire.is_valid_id(i.lower())]
    if bad:
        return jsonify({"error": "bad parameter", "parameter": "ids", "reason": f"not an event id: {bad[0][:64]!r}"}), 400
    near = None
    if request.args.get("near"):  # the violation's start,end (ms): where its evidence lies
        parts = request.args["near"].split(",")
        if len(parts) != 2 or not all(p.strip().isdigit() and len(p.strip()) <= 15 for p in parts):
            return jsonify({"error": "bad parameter", "parameter": "near",
                            "reason": "expected start,end in epoch milliseconds"}), 400
        near = (int(parts[0]), int(parts[1]))
    with ReportReader(state.store()) as reader:  # its own connection: ingest's write lock is not held
        found = reader.evidence_events(raw, near)
    return jsonify(sorted(found.values(), key=lambda e: (e["ts"], e["event_id"])))


@bp.get("/alerts.json")
def alerts_json():
    """The alert outbox (hub.alerts): newest rows with attempts and last error, counts per channel;
    a lead sees their own teams' alerts and those of no team (an unknown badge, an empty zone), as
    kiosk_ui.masking's team filter does; badge UIDs are masked for non-admins where the JSON is written."""
    from hub.store.alerts import AlertStore  # noqa: PLC0415 - only when the console asks

    raw_state = request.args.get("state")
    if raw_state not in (None, "pending", "sending", "sent", "cancelled"):
        return jsonify({"error": "bad parameter", "parameter": "state", "reason": "pending, sending, sent or cancelled"}), 400
    outbox = AlertStore(state.store())
    teams = visible_teams()
    rows = [r.to_json() for r in outbox.recent(200, raw_state)
            if teams is None or r.payload.get("team") in (None, *teams)]
    return jsonify({"now": state.now_ms(), "counts": outbox.counts() if teams is None else None, "alerts": rows})


@bp.get("/devices.json")
def devices_json():
    """Device health rows for the console's table (refreshed by the page)."""
    return jsonify({"now": state.now_ms(), "devices": device_rows()})
