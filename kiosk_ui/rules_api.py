"""The rule engine's JSON endpoints under /api (blueprint "engine"): seats, violations, roll call,
devices, equipment, and the leads' actions.

Reads come from the running engine when the web app lives inside the hub (live seat states,
fresh equipment sightings) and from the derived tables otherwise. Lead actions validate their
JSON body (a bad field is a 400 naming it), write the decision and its audit row in one
transaction (actor: `flask.g.user`, set by the auth layer, else "unknown"), then let the
engine re-judge at once. Who may call what is decided by the auth layer's policy, by endpoint
name (engine.seats, engine.lead_reassign, ...).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request

from edge.clock import SystemClock
from hub.engine.core import violation_json
from hub.engine.site_time import local_date, shift_window
from hub.enrolment import EnrolmentError, enrolment_view
from hub.enrolment import open_enrolment as open_enrolment_for
from hub.lead import Lead, LeadError
from hub.site import RULE_IDS
from hub.store.derived import DerivedStore
from kiosk_ui import state
from kiosk_ui.api import BadParameter

bp = Blueprint("engine", __name__, url_prefix="/api")

_EMP = re.compile(r"^[\w.-]{1,32}$")


@bp.errorhandler(LeadError)
def _lead_error(exc: LeadError):
    return jsonify({"error": "bad request", "field": exc.field, "parameter": exc.field, "reason": exc.reason}), 400


@bp.errorhandler(EnrolmentError)
def _enrolment_error(exc: EnrolmentError):
    return jsonify({"error": "bad request", "field": exc.field, "parameter": exc.field, "reason": exc.reason}), 400


# ---------------------------------------------------------------- helpers


def _engine() -> Any:
    hub = state.hub()
    return getattr(hub, "engine", None) if hub is not None else None


def _now_ms() -> int:
    hub = state.hub()
    clock = getattr(hub, "clock", None) if hub is not None else None
    return (clock or SystemClock()).now_ms()


def _derived() -> DerivedStore:
    ext = current_app.extensions.setdefault("floorwatch.derived", {})
    st = state.store()
    if ext.get("store") is not st:
        ext["store"], ext["derived"] = st, DerivedStore(st)
    return ext["derived"]


def _actor() -> str:
    user = g.get("user")
    if user is None:
        return "unknown"
    for attr in ("username", "name"):
        v = getattr(user, attr, None) or (user.get(attr) if isinstance(user, dict) else None)
        if v:
            return str(v)
    return str(user)


def _date_arg(name: str, default: str | None = None) -> str | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return dt.date.fromisoformat(raw).isoformat()
    except ValueError:
        raise BadParameter(name, f"not an ISO date (YYYY-MM-DD): {raw!r}") from None


def lead_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise LeadError("body", "a JSON object is required")
    return body


def after_lead_action() -> None:
    """Let a running engine re-judge now and push what changed to the live views."""
    engine, hub = _engine(), state.hub()
    if engine is None:
        return
    outcome = engine.refresh()
    live = getattr(hub, "live", None)
    if live is not None:
        for channel, data in outcome.updates:
            live.publish(channel, data)


def _today() -> str:
    return local_date(_now_ms(), state.site().tz).isoformat()


# ---------------------------------------------------------------- reads


@bp.get("/seats")
def seats():
    """Every seat's live state: seat, zone, state, agent, since, break_used_s."""
    engine = _engine()
    if engine is not None:
        return jsonify(engine.seats())
    now = _now_ms()
    rows = {r["seat"]: r for r in _derived().seat_states()}
    out = []
    for s in state.site().info.seats:
        r = rows.get(s.id)
        if r is None:
            out.append({"seat": s.id, "zone": s.zone, "state": "no_data", "agent": None, "since": None, "break_used_s": 0})
            continue
        used = r.get("used_before_s") or 0
        if r["state"] in ("break", "unattended") and r.get("since") and r.get("agent"):
            used += max(0, now - r["since"]) / 1000
        out.append({"seat": r["seat"], "zone": r["zone"], "state": r["state"], "agent": r["agent"],
                    "since": r["since"], "break_used_s": round(used, 1)})
    return jsonify(out)


def _range_arg(name: str) -> tuple[str | None, int | None]:
    """A bound of a range: a site-local date (YYYY-MM-DD), or a moment (UTC ms or ISO time)."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None, None
    if raw.isdigit():
        return None, int(raw)
    try:
        return dt.date.fromisoformat(raw).isoformat(), None
    except ValueError:
        pass
    try:
        t = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadParameter(name, f"not a date (YYYY-MM-DD), ISO time or UTC ms: {raw!r}") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=state.site().tz)
    return None, int(t.timestamp() * 1000)


@bp.get("/violations")
def violations():
    """Violations by range (site-local dates or moments; default today), agent, team, rule id."""
    date_from, start_from = _range_arg("from")
    date_to, start_to = _range_arg("to")
    if (date_from, start_from, date_to, start_to) == (None, None, None, None):
        date_from = date_to = _today()
    agent = request.args.get("agent") or None
    if agent is not None and not _EMP.match(agent):
        raise BadParameter("agent", "not an employee number")
    team = request.args.get("team") or None
    if team is not None and len(team) > 64:
        raise BadParameter("team", "too long")
    rule = request.args.get("rule") or None
    if rule is not None and rule not in RULE_IDS:
        raise BadParameter("rule", f"unknown rule id {rule!r}")
    rows = _derived().violations(date_from=date_from, date_to=date_to, agent=agent, team=team, rule=rule,
                                 start_from=start_from, start_to=start_to)
    return jsonify([violation_json(r) for r in rows])


@bp.get("/rollcall")
def rollcall():
    """The roll-call board: every agent rostered for a date (and shift), with status and arrival."""
    site = state.site()
    date = _date_arg("date", None) or _today()
    shift = request.args.get("shift") or None
    if shift is not None and site.shift(shift) is None:
        raise BadParameter("shift", f"unknown shift {shift!r}")
    derived = _derived()
    att = {(r["shift"], r["employee_no"]): r for r in derived.attendance(date, shift)}
    plans = derived.plans_for([date])
    swaps = {(r["shift"], r["from_employee_no"]): r["to_employee_no"] for r in plans["swaps"]}
    moves = {(r["shift"], r["employee_no"]): r["seat"] for r in plans["seat_assignments"]}
    leave = {r["employee_no"]: r["kind"] for r in plans["leave"]}
    agents = {a.employee_no: a for a in site.agents}
    out, seen = [], set()
    day = dt.date.fromisoformat(date)
    for r in plans["roster"]:
        if shift is not None and r["shift"] != shift:
            continue
        emp = swaps.get((r["shift"], r["employee_no"]), r["employee_no"])
        key = (r["shift"], emp)
        seen.add(key)
        a = att.get(key)
        agent = agents.get(emp)
        tmpl = site.shift(r["shift"])
        w = shift_window(day, tmpl, site.tz) if tmpl else None
        out.append({
            "date": date, "shift": r["shift"], "employee_no": emp, "name": agent.name if agent else None,
            "team": agent.team if agent else None, "seat": moves.get(key, r["seat"]),
            "status": a["rollcall"] if a else ("leave" if emp in leave else "pending"),
            "arrival": a["first_arrival"] if a else None,
            "arrival_minutes_before": a["arrival_minutes_before"] if a else None,
            "seat_signin": a["seat_signin"] if a else None, "leave": leave.get(emp),
            "violation_ids": a["violation_ids"] if a else [], "excused": a["excused"] if a else [],
            "start": w.start if w else None, "end": w.end if w else None, "unrostered": False,
        })
    for key, a in att.items():
        if key not in seen:
            out.append({"date": date, "shift": a["shift"], "employee_no": a["employee_no"], "name": a["name"],
                        "team": a["team"], "seat": a["rostered_seat"], "status": a["rollcall"],
                        "arrival": a["first_arrival"], "arrival_minutes_before": a["arrival_minutes_before"],
                        "seat_signin": a["seat_signin"], "leave": a["leave"], "violation_ids": a["violation_ids"],
                        "excused": a["excused"], "start": None, "end": None, "unrostered": bool(a["unrostered"])})
    out.sort(key=lambda r: (r["shift"], r["seat"] or "", r["employee_no"]))
    return jsonify(out)


@bp.get("/devices")
def devices():
    """Each configured device: role and place, last status, and whether it is reporting."""
    site = state.site()
    stored = {d["device"]: d for d in state.store().devices()}
    engine = _engine()
    judged = engine.device_states() if engine is not None else {}
    out = []
    for dev_id in sorted(set(site.devices) | set(stored)):
        cfg = site.devices.get(dev_id)
        row = dict(stored.get(dev_id) or {"device": dev_id, "state": "unknown"})
        row.update({"role": cfg.role if cfg else None, "place": cfg.place if cfg else None, "configured": cfg is not None})
        if dev_id in judged:
            row.update({k: v for k, v in judged[dev_id].items() if k != "device"})
        out.append(row)
    return jsonify(out)


@bp.get("/equipment")
def equipment():
    """Every tag's state (home, moved, missing, exit) and the open incidents with who is liable."""
    engine = _engine()
    derived = _derived()
    tags = engine.equipment() if engine is not None else derived.equipment_states()
    incidents = {}
    for inc in derived.open_incidents():
        incidents.setdefault(inc["tag"], []).append(inc)
    out = []
    for t in tags:
        row = dict(t)
        open_ = incidents.get(t["tag"], [])
        row["incidents"] = open_
        if open_:
            latest = open_[-1]
            row.update({"rule": latest["rule"], "opened": latest["opened"], "price": latest["price"],
                        "liable": latest["liable"], "last_seen_device": latest["last_seen_device"]})
        out.append(row)
    if engine is None and not tags:  # nothing judged yet: the configured tags, at home
        out = [{"tag": e.tag, "kind": e.kind, "home_seat": e.home_seat, "state": "home", "incidents": []}
               for e in state.site().equipment]
    return jsonify(out)


# ---------------------------------------------------------------- lead actions


def _lead() -> Lead:
    return Lead(state.site(), state.store())


def _done(done, **extra: Any):
    after_lead_action()
    return jsonify({"ok": True, "action": done.action, "audit_id": done.audit_id, "target": done.target,
                    "details": done.details, **extra})


@bp.post("/lead/reassign")
def lead_reassign():
    b = lead_body()
    return _done(_lead().reassign(date=b.get("date"), shift=b.get("shift"), employee_no=b.get("employee_no"),
                                  seat=b.get("seat"), actor=_actor(), now_ms=_now_ms()))


@bp.post("/lead/swap")
def lead_swap():
    b = lead_body()
    return _done(_lead().swap(date=b.get("date"), shift=b.get("shift"), seat=b.get("seat"),
                              from_employee_no=b.get("from_employee_no"), to_employee_no=b.get("to_employee_no"),
                              actor=_actor(), now_ms=_now_ms()))


@bp.post("/lead/meal-slot")
def lead_meal_slot():
    b = lead_body()
    return _done(_lead().meal_slot(date=b.get("date"), shift=b.get("shift"), employee_no=b.get("employee_no"),
                                   meal_start=b.get("meal_start"), actor=_actor(), now_ms=_now_ms()))


@bp.post("/lead/leave")
def lead_leave():
    b = lead_body()
    return _done(_lead().grant_leave(date=b.get("date"), employee_no=b.get("employee_no"), kind=b.get("kind"),
                                     reason=b.get("reason"), actor=_actor(), now_ms=_now_ms()))


@bp.post("/violations/<violation_id>/excuse")
def excuse_violation(violation_id: str):
    b = lead_body()
    done = _lead().excuse(violation_id=violation_id, reason=b.get("reason"), actor=_actor(), now_ms=_now_ms())
    after_lead_action()
    row = _derived().violation(violation_id)
    return jsonify({**violation_json(row), "ok": True, "audit_id": done.audit_id})


# ---------------------------------------------------------------- enrolment by tapping (hub.enrolment)


@bp.post("/enrolments")
def open_enrolment():
    """Put a kiosk's or seat's reader in enrolment mode: {device, employee_no, minutes (default 2)}.
    The next tap there binds its card to the agent; poll GET /api/enrolments/<id> for the answer."""
    b = lead_body()
    row = open_enrolment_for(state.site(), state.store(), b.get("device"), b.get("employee_no"),
                             minutes=b.get("minutes"), actor=_actor(), now_ms=_now_ms())
    after_lead_action()
    return jsonify({**row, "ok": True}), 201


@bp.get("/enrolments/<int:enrolment_id>")
def enrolment(enrolment_id: int):
    """One enrolment: open, expired, enrolled (card) or refused (reason)."""
    row = _derived().enrolment(enrolment_id)
    if row is None:
        return jsonify({"error": "not found", "reason": f"no enrolment {enrolment_id}"}), 404
    p = g.get("principal")
    teams = {a.employee_no: a.team for a in state.site().agents}
    if p is not None and p.role == "lead" and teams.get(row["employee_no"]) not in p.teams:
        return jsonify({"error": "forbidden", "reason": f"enrolment {enrolment_id} is not of your teams"}), 403
    return jsonify(enrolment_view(row, _now_ms()))
