"""The console's month grid (当月排班表): `/console/roster?month=YYYY-MM`.

Agents × days of the effective roster (hub.roster.view) with holidays from the site calendar,
coverage per hour underneath and fairness at the side. A click on a cell opens the day's
override form: rest day, extra duty, leave, or a swap (the 换班记录 SWAP-UNAPPROVED checks).
Each is a hub.lead action: validated (a bad field is a 400 naming it), written with its audit row,
then the running engine re-judges.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, jsonify, request

from hub.lead import LEAVE_KINDS, Done, Lead, LeadError
from hub.roster.view import month_view, parse_month
from kiosk_ui import state
from kiosk_ui.pages import page_config, render_page
from kiosk_ui.rules_api import after_lead_action, lead_body
from kiosk_ui.sessions import actor

bp = Blueprint("roster_grid", __name__, url_prefix="/console/roster")

KINDS = ("rest", "extra", "leave", "swap")


@bp.errorhandler(LeadError)
def _lead_error(exc: LeadError):
    return jsonify({"error": "bad request", "field": exc.field, "parameter": exc.field, "reason": exc.reason}), 400


def _month() -> str:
    """?month=, else the hub clock's month in site time (the demo's injected day)."""
    raw = request.args.get("month")
    if not raw:
        return dt.datetime.fromtimestamp(state.now_ms() / 1000, state.site().tz).strftime("%Y-%m")
    try:
        return parse_month(raw)
    except ValueError as exc:
        raise LeadError("month", str(exc)) from None


@bp.get("")
def grid():
    site = state.site()
    month = _month()
    config = page_config(month=month, leaveKinds=list(LEAVE_KINDS), kinds=list(KINDS),
                         seats=[s.id for s in site.info.seats])
    return render_page("roster_grid.html", site=site, config=config, month=month)


@bp.get("/month.json")
def month_json():
    return jsonify(month_view(state.site(), state.store(), _month()))


@bp.post("/override")
def override():
    """One day's override for one agent: {kind, date, employee_no, reason, shift?, seat?,
    to_employee_no?, leave_kind?}."""
    b = lead_body()
    kind = str(b.get("kind") or "").strip()
    lead = Lead(state.site(), state.store())
    common = {"date": b.get("date"), "actor": actor(), "now_ms": state.now_ms()}
    done: Done
    if kind == "rest":
        done = lead.rest_day(employee_no=b.get("employee_no"), shift=b.get("shift"), reason=b.get("reason"), **common)
    elif kind == "extra":
        done = lead.extra_duty(employee_no=b.get("employee_no"), shift=b.get("shift"), seat=b.get("seat"),
                               reason=b.get("reason"), **common)
    elif kind == "leave":
        done = lead.grant_leave(employee_no=b.get("employee_no"), kind=b.get("leave_kind"), reason=b.get("reason"),
                                **common)
    elif kind == "swap":
        done = lead.swap(shift=b.get("shift"), from_employee_no=b.get("employee_no"),
                         to_employee_no=b.get("to_employee_no"), **common)
    else:
        raise LeadError("kind", f"one of {', '.join(KINDS)}")
    after_lead_action()
    return jsonify({"ok": True, "action": done.action, "audit_id": done.audit_id, "target": done.target,
                    "details": done.details})
