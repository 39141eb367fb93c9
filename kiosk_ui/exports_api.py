"""Downloads for HR and the assessment page: `/api/attendance`, `/api/exports/<kind>`,
`/api/assessment`, and the console page `/assessment`.

Every parameter is checked by hub.exports.query before anything is read (a bad one is a 400
naming it, and a parameter given twice is refused rather than guessed). Files stream: the
response starts while rows are still being read, so a year of attendance costs the server the
memory of a few hundred rows.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from urllib.parse import quote

from flask import Blueprint, Response, jsonify, request

from hub.exports import (
    KINDS,
    ExportParamError,
    Rendered,
    assessment_filename,
    export_filename,
    labels,
    parse_query,
    render_assessment,
    render_export,
)
from hub.exports.query import parse_agent, parse_format, parse_lang, parse_team
from hub.months import parse_month
from kiosk_ui import i18n, state
from kiosk_ui.masking import visible_teams
from kiosk_ui.pages import page_config, render_page
from kiosk_ui.sessions import principal

log = logging.getLogger(__name__)

bp = Blueprint("exports", __name__)

QUERY_PARAMS = ("from", "to", "team", "agent", "format", "lang", "month")
_MAX_PARAM_LEN = 200


@bp.errorhandler(ExportParamError)
def _bad_parameter(exc: ExportParamError):
    return jsonify({"error": "bad parameter", "parameter": exc.param, "reason": exc.reason}), 400


def _args() -> dict[str, str | None]:
    """The known parameters, each given at most once and of sane length."""
    out: dict[str, str | None] = {}
    for name in QUERY_PARAMS:
        values = request.args.getlist(name)
        if len(values) > 1:
            raise ExportParamError(name, "given more than once")
        value = values[0] if values else None
        if value is not None and len(value) > _MAX_PARAM_LEN:
            raise ExportParamError(name, "too long")
        out[name] = value
    return out


def _download(rendered: Rendered, filename: str) -> Response:
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")

    def body() -> Iterator[bytes]:
        try:
            yield from rendered.chunks
        except Exception:  # the status line is already sent: log, and the file ends short
            log.exception("export %s failed while streaming", filename)
            raise

    resp = Response(body(), mimetype=rendered.media_type.split(";")[0], direct_passthrough=True)
    resp.headers["Content-Type"] = rendered.media_type
    resp.headers["Content-Disposition"] = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _export(kind: str) -> Response:
    args = _args()
    query = parse_query(args)
    fmt = parse_format(args["format"], default="json")
    lang = parse_lang(args["lang"])
    site = state.site()
    return _download(render_export(kind, site, state.store(), query, fmt, lang), export_filename(kind, site, query, fmt))


@bp.get("/api/attendance")
def attendance():
    """One row per agent per shift: ?from=&to=[&team=][&agent=]&format=csv|xlsx|json[&lang=zh|en]."""
    return _export("attendance")


@bp.get("/api/exports/<kind>")
def raw_export(kind: str):
    """Raw exports (taps, occupancy, violations, incidents, audit) with the same parameters."""
    if kind not in KINDS:
        raise ExportParamError("kind", f"one of {', '.join(KINDS)}")
    return _export(kind)


@bp.get("/api/assessment")
def assessment():
    """?month=YYYY-MM[&team=][&agent=]: the scores as JSON; with format=csv|xlsx|json a download."""
    from hub.assess import assess_month

    args = _args()
    month_first = parse_month(args["month"])
    month = month_first.strftime("%Y-%m")
    team = parse_team(args["team"])
    agent = parse_agent(args["agent"])
    lang = parse_lang(args["lang"])
    site = state.site()
    if args["format"]:
        fmt = parse_format(args["format"])
        rendered = render_assessment(site, state.store(), month, fmt, lang, team=team, agent=agent)
        return _download(rendered, assessment_filename(site, month, fmt))
    result = assess_month(site, state.store(), month, team=team, agent=agent)
    return jsonify(
        {
            "month": result.month,
            "site": result.site,
            "grades": {k: {"zh": v[0], "en": v[1]} for k, v in labels.GRADES.items()},
            "agents": [s.to_json() for s in result.agents],
            "unassigned": result.unassigned,
        }
    )


def _may_see_team(team: str | None) -> bool:
    """A lead sees the evidence of their own teams only (admins everything)."""
    if principal() is None:
        return True  # no auth layer in front of this app: the guard decides, not this view
    teams = visible_teams()
    return teams is None or team in teams


@bp.get("/api/assessment/violations/<violation_id>")
def violation_evidence(violation_id: str):
    """One violation with its evidence events (what the assessment page shows on a click)."""
    from hub.exports.raw import decorate_violation
    from hub.store.reports import ReportReader

    if not 1 <= len(violation_id) <= 64 or not all(c.isalnum() or c in "-_.:" for c in violation_id):
        raise ExportParamError("violation", "not a violation id")
    site = state.site()
    lang = parse_lang(_args()["lang"])
    with ReportReader(state.store()) as reader:
        v = reader.violation(violation_id)
        if v is None or not _may_see_team(v.get("team")):
            return jsonify({"error": "not found", "violation": violation_id}), 404
        events = reader.evidence_events(v["evidence"], (v["start"], v.get("end") or v["start"]) if v.get("start") else None)
    found = [events[e] for e in v["evidence"] if e in events]
    data = decorate_violation(v, site, lang, found)
    data["evidence_events"] = data.pop("_evidence_events")
    data["missing_evidence"] = [e for e in v["evidence"] if e not in events]
    return jsonify(data)


PAGE_TEXT = {
    "zh": {
        "title": "月度考核", "month": "月份", "team": "班组", "all": "全部", "show": "查看", "download": "下载",
        "agent": "工号", "name": "姓名", "violations": "违规", "points": "扣分", "score": "得分", "grade": "等级",
        "fines": "罚款(元)", "dismissal": "辞退审查", "compensation": "赔偿(元)", "total": "合计(元)",
        "date": "日期", "rule": "规则", "step": "第几次", "action": "处理", "fine": "罚款", "excused": "已免责",
        "evidence": "证据", "none": "本月无违规", "incident": "设备事件", "share": "份额", "amount": "金额",
        "unassigned": "无法落实责任人的遗失设备", "console": "班长台", "floor": "现场图", "missing": "缺失",
        "agents": "人",
    },
    "en": {
        "title": "Monthly assessment", "month": "Month", "team": "Team", "all": "All", "show": "Show",
        "download": "Download", "agent": "Employee no.", "name": "Name", "violations": "Violations",
        "points": "Points", "score": "Score", "grade": "Grade", "fines": "Fines (CNY)", "dismissal": "Dismissal review",
        "compensation": "Compensation (CNY)", "total": "Total (CNY)", "date": "Date", "rule": "Rule", "step": "Step",
        "action": "Action", "fine": "Fine", "excused": "Excused", "evidence": "Evidence", "none": "No violations this month",
        "incident": "Incident", "share": "Share", "amount": "Amount", "unassigned": "Lost equipment nobody could be charged for",
        "console": "Console", "floor": "Floor", "missing": "missing", "agents": "agents",
    },
}


@bp.get("/assessment")
def assessment_page():
    """The console's monthly assessment: scores, grades, fines, each linked to its evidence.
    ?month=YYYY-MM (default: this month on the hub's clock, site time: the demo's injected day) [&team=]."""
    import datetime as dt

    from hub.assess import assess_month

    site = state.site()
    raw = request.args.get("month") or dt.datetime.fromtimestamp(state.now_ms() / 1000, site.tz).strftime("%Y-%m")
    month = parse_month(raw).strftime("%Y-%m")
    team = parse_team(request.args.get("team"))
    lang = "zh" if i18n.current_lang() == "zh_CN" else "en"
    result = assess_month(site, state.store(), month, team=team)
    grades = {code: pair[0 if lang == "zh" else 1] for code, pair in labels.GRADES.items()}
    counts = {code: sum(1 for a in result.agents if a.grade == code) for code in grades}
    actions = {code: pair[0 if lang == "zh" else 1] for code, pair in labels.ESCALATION.items()}
    return render_page(
        "assessment.html", site=site, result=result, month=month, team=team, teams=sorted({a.team for a in site.agents}),
        grades=grades, counts=counts, actions=actions, t=PAGE_TEXT[lang], ui_lang=lang,
        rule_name=lambda r: labels.rule_name(r, lang), config=page_config(page="assessment", month=month),
    )
