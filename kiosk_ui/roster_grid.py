"""The console's month grid (当月排班表): `/console/roster?month=YYYY-MM`.

Agents × days of the effective roster (hub.roster.view) with holidays from the site calendar,
coverage per hour underneath and fairness at the side. A click on a cell opens the day's
override form: rest day, extra duty, leave, or a swap (the 换班记录 SWAP-UNAPPROVED checks).
Each is a hub.lead action: validated (a bad field is a 400 naming it), written with its audit row,
then the running engine re-judges.
"""

from __future__ import annotations

import datetime as dt
import io
import re

from flask import Blueprint, current_app, jsonify, request, send_file, url_for

from hub.errors import FormError, PublishedError
from hub.lead import LEAVE_KINDS, Done, Lead, LeadError
from hub.roster.forms import KINDS as FORM_KINDS
from hub.roster.forms import MAX_BYTES, check_form
from hub.roster.month import propose, publish, report
from hub.roster.roster_files import load_roster_config
from hub.roster.view import draft_view, fingerprint, month_view, parse_month
from hub.store.rosters import RosterStore
from kiosk_ui import state
from kiosk_ui.masking import visible_teams
from kiosk_ui.pages import page_config, render_page
from kiosk_ui.rules_api import after_lead_action, lead_body
from kiosk_ui.sessions import actor

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
    site, month = state.site(), _month_of(lead_body())
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
    b = lead_body()
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
        audit_id = publish(site, store, draft, actor=actor(), now_ms=state.now_ms())
    except PublishedError as exc:
        return jsonify({"error": "conflict", "field": "month", "reason": str(exc)}), 409
    _drafts().pop(fp, None)
    after_lead_action()
    return jsonify({"ok": True, "action": "roster.publish", "audit_id": audit_id, "target": month})


def _yours(emp: str) -> bool:
    """A lead handles the forms of their own teams' agents (a multipart body: the guard's team check
    reads JSON only, so the view checks)."""
    teams = visible_teams()
    return teams is None or any(a.team in teams for a in state.site().agents if a.employee_no == emp)


@bp.post("/swap-form")
def swap_form():
    """The signed 换班记录表 of an approved swap (multipart: date, shift, employee_no = who gave the
    duty away, form = the scan). Checked by content and size; kept with its sha256, audited."""
    site = state.site()
    date = str(request.form.get("date") or "").strip()
    try:
        date = dt.date.fromisoformat(date).isoformat()
    except ValueError:
        raise LeadError("date", f"not an ISO date: {date[:20]!r}") from None
    shift = str(request.form.get("shift") or "").strip()
    if shift not in {s.id for s in site.info.shifts}:
        raise LeadError("shift", f"unknown shift {shift[:20]!r}")
    emp = str(request.form.get("employee_no") or "").strip()
    if emp not in {a.employee_no for a in site.agents}:
        raise LeadError("employee_no", f"unknown agent {emp[:20]!r}")
    if not _yours(emp):
        return jsonify({"error": "forbidden", "reason": f"agent {emp!r} is not in your teams"}), 403
    upload = request.files.get("form")
    if upload is None:
        raise LeadError("form", "attach the signed 换班记录表 (a photo or a PDF scan)")
    data = upload.stream.read(MAX_BYTES + 1)
    try:
        form = check_form(data)
    except FormError as exc:
        raise LeadError("form", str(exc)) from None
    rosters = RosterStore(state.store())
    swap = rosters.swap(date, shift, emp)
    if swap is None:
        raise LeadError("employee_no", f"no approved swap of {emp}'s {shift} on {date}: approve the swap first")
    audit_id = rosters.add_swap_form(swap, sha256=form.sha256, media_type=form.media_type, data=form.data,
                                     actor=actor(), now_ms=state.now_ms())
    return jsonify({"ok": True, "action": "roster.swap_form", "audit_id": audit_id, "sha256": form.sha256,
                    "media_type": form.media_type, "size": len(form.data),
                    "url": url_for("roster_grid.swap_form_file", sha256=form.sha256)})


@bp.get("/swap-form/<sha256>")
def swap_form_file(sha256: str):
    """A kept form, as it was uploaded (lead / manager)."""
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise LeadError("sha256", "not a sha256 (64 hex digits)")
    row = RosterStore(state.store()).swap_form(sha256)
    if row is None:
        return jsonify({"error": "not found", "field": "sha256", "reason": f"no signed form {sha256}"}), 404
    if not _yours(row["from_employee_no"]):
        return jsonify({"error": "forbidden", "reason": "this form is of an agent not in your teams"}), 403
    ext = next((k[1] for k in FORM_KINDS if k[0] == row["media_type"]), "bin")
    name = f"swap-{row['date']}-{row['shift']}-{row['from_employee_no']}.{ext}"
    return send_file(io.BytesIO(row["data"]), mimetype=row["media_type"], download_name=name,
                     as_attachment=request.args.get("download") == "1", etag=sha256)


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
