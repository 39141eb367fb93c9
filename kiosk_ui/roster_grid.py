"""The console's month grid (当月排班表): `/console/roster?month=YYYY-MM`.

Agents × days of the effective roster (hub.roster.view) with holidays from the site calendar,
coverage per hour underneath and fairness at the side. A click on a cell opens the day's
override form: rest day, extra duty, leave, or a swap (the 换班记录 SWAP-UNAPPROVED checks).
Each is a hub.lead action: validated (a bad field is a 400 naming it), written with its audit row,
then the running engine re-judges.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, jsonify, request

from hub.lead import LEAVE_KINDS, Done, Lead, LeadError
from hub.roster.config import load_roster_config
from hub.roster.month import PublishedError, propose, publish, report
from hub.roster.view import draft_view, fingerprint, month_view, parse_month
from kiosk_ui import state
from kiosk_ui.pages import page_config, render_page
from kiosk_ui.rules_api import _actor, _after_lead_action, _body, _now_ms

bp = Blueprint("roster_grid", __name__, url_prefix="/console/roster")

KINDS = ("rest", "extra", "leave", "swap")
DRAFTS_KEPT = 4  # proposals held for review (the last few: a lead may propose twice before publishing)


def _drafts() -> dict:
    """fingerprint -> MonthPlan under review, per app."""
    return current_app.extensions.setdefault("floorwatch.roster_drafts", {})


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


def _month_of(body: dict) -> str:
    try:
        return parse_month(body.get("month"))
    except ValueError as exc:
        raise LeadError("month", str(exc)) from None


@bp.post("/plan")
def plan():
    """Propose `month` from the rotations (the library call `floorwatch roster plan` makes) and
    return it as a draft for review; nothing is written."""
    site, month = state.site(), _month_of(_body())
    proposal = propose(site, state.store(), month)
    view = draft_view(site, load_roster_config(site)[0].calendar, proposal.plan, report(proposal))
    drafts = _drafts()
    drafts[view["fingerprint"]] = proposal.plan
    while len(drafts) > DRAFTS_KEPT:
        drafts.pop(next(iter(drafts)))
    return jsonify(view)


@bp.post("/publish", endpoint="publish")
def publish_month():
    """Publish the draft the lead reviewed ({month, fingerprint}), audited; a published day then
    changes only through overrides. 409 if the month is already published or the draft is gone
    and a fresh proposal differs from it."""
    b = _body()
    month, fp = _month_of(b), str(b.get("fingerprint") or "").strip()
    if not fp:
        raise LeadError("fingerprint", "publish the draft you reviewed: its fingerprint is required")
    site, store = state.site(), state.store()
    draft = _drafts().get(fp)
    if draft is None or draft.month != month:
        fresh = propose(site, store, month).plan
        if fingerprint(fresh) != fp:
            return jsonify({"error": "conflict", "field": "fingerprint",
                            "reason": "the proposal changed since it was reviewed: propose the month again"}), 409
        draft = fresh
    try:
        audit_id = publish(site, store, draft, actor=_actor(), now_ms=_now_ms())
    except PublishedError as exc:
        return jsonify({"error": "conflict", "field": "month", "reason": str(exc)}), 409
    _drafts().pop(fp, None)
    _after_lead_action()
    return jsonify({"ok": True, "action": "roster.publish", "audit_id": audit_id, "target": month})


@bp.post("/override")
def override():
    """One day's override for one agent: {kind, date, employee_no, reason, shift?, seat?,
    to_employee_no?, leave_kind?}."""
    b = _body()
    kind = str(b.get("kind") or "").strip()
    lead, actor, now = Lead(state.site(), state.store()), _actor(), _now_ms()
    common = {"date": b.get("date"), "actor": actor, "now_ms": now}
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
    _after_lead_action()
    return jsonify({"ok": True, "action": done.action, "audit_id": done.audit_id, "target": done.target,
                    "details": done.details})
