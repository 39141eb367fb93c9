"""One violation as a page: what an alert's link opens (hub.alerts.messages.evidence_url).

A lead tapping the link in the group chat lands on the facts (agent, seat, zone, times, minutes,
points), the excuse state, the evidence events the engine judged on, and what the alert outbox
sent about it, instead of the raw JSON of /api/assessment/violations/<id>. Leads see their own
teams' violations only; badge UIDs are masked for anyone but an admin.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort

from hub.exports.formats import local_datetime
from hub.exports.raw import decorate_violation, describe_event
from hub.privacy import mask_tree, mask_uid
from hub.store.alerts import AlertStore
from hub.store.reports import ReportReader
from kiosk_ui import i18n, masking, state
from kiosk_ui.pages import page_config, render_page

bp = Blueprint("violation", __name__)

WORDS = {
    "zh_CN": {
        "title": "违规详情", "agent": "客服", "team": "班组", "seat": "座位", "zone": "区域", "device": "设备",
        "shift": "班次", "start": "开始", "end": "结束", "ongoing": "进行中", "minutes": "时长(分钟)",
        "points": "扣分", "rule": "规则", "excuse": "豁免", "excused": "已豁免", "not_excused": "未豁免",
        "by": "操作人", "at": "时间", "reason": "原因", "evidence": "证据事件", "time": "时间", "type": "类型",
        "what": "内容", "missing": "日志中缺失", "alerts": "群提醒", "channel": "渠道", "kind": "类型",
        "state": "状态", "attempts": "尝试次数", "sent": "发送时间", "json": "JSON", "console": "班长台",
        "none": "—", "no_evidence": "无证据事件", "no_alerts": "未发送提醒", "unknown_badge": "未登记工牌",
    },
    "en": {
        "title": "Violation", "agent": "Agent", "team": "Team", "seat": "Seat", "zone": "Zone", "device": "Device",
        "shift": "Shift", "start": "Start", "end": "End", "ongoing": "ongoing", "minutes": "Minutes",
        "points": "Points", "rule": "Rule", "excuse": "Excuse", "excused": "Excused", "not_excused": "Not excused",
        "by": "By", "at": "At", "reason": "Reason", "evidence": "Evidence events", "time": "Time", "type": "Type",
        "what": "What", "missing": "missing from the log", "alerts": "Chat alerts", "channel": "Channel", "kind": "Kind",
        "state": "State", "attempts": "Attempts", "sent": "Sent", "json": "JSON", "console": "Console",
        "none": "-", "no_evidence": "No evidence events", "no_alerts": "No alert sent", "unknown_badge": "unknown badge",
    },
}


def _when(ms: Any, site_tz: Any, none: str) -> str:
    return local_datetime(int(ms), site_tz).strftime("%Y-%m-%d %H:%M:%S") if isinstance(ms, int) else none


@bp.get("/console/violations/<violation_id>")
def page(violation_id: str):
    if not 1 <= len(violation_id) <= 64 or not all(c.isalnum() or c in "-_.:" for c in violation_id):
        abort(404)
    site = state.site()
    lang = i18n.current_lang()
    w = WORDS[lang]
    with ReportReader(state.store()) as reader:
        v = reader.violation(violation_id)
        teams = masking.visible_teams()
        if v is None or (teams is not None and v.get("team") not in teams):
            abort(404)
        events = reader.evidence_events(v["evidence"], (v["start"], v.get("end") or v["start"]))
    found = [events[e] for e in v["evidence"] if e in events]
    v = decorate_violation(v, site, "zh" if lang == "zh_CN" else "en", found)
    admin = teams is None
    evidence = [{"time": _when(int(e["ts"]), site.tz, w["none"]), "device": e["device"], "type": e["type"],
                 "what": describe_event(e if admin else mask_tree(e)[0], site)} for e in found]
    missing = [e for e in v["evidence"] if e not in events]
    alerts = [{"channel": r.channel, "kind": r.kind, "state": r.state, "attempts": r.attempts,
               "sent": _when(r.sent_at, site.tz, w["none"]), "error": r.last_error or ""}
              for r in AlertStore(state.store()).for_violation(violation_id)]
    uid = (v.get("details") or {}).get("uid")
    who = (f"{v['name']} ({v['employee_no']})" if v.get("name") else v.get("employee_no")) or (
        f"{w['unknown_badge']} {mask_uid(uid, reveal=admin)}" if isinstance(uid, str) and uid else w["none"])
    facts = [
        (w["rule"], f"{v['rule_name']} ({v['rule']})"), (w["agent"], who), (w["team"], v.get("team") or w["none"]),
        (w["seat"], v.get("seat") or w["none"]), (w["zone"], v.get("zone") or w["none"]),
        (w["device"], v.get("device") or w["none"]), (w["shift"], v.get("shift") or w["none"]),
        (w["start"], _when(v.get("start"), site.tz, w["none"])),
        (w["end"], _when(v.get("end"), site.tz, w["ongoing"])),
        (w["minutes"], f"{v['minutes']:g}" if isinstance(v.get("minutes"), (int, float)) else w["none"]),
        (w["points"], f"{v['points']:g}"),
    ]
    excuse = ([(w["excuse"], w["excused"]), (w["by"], v.get("excused_by") or w["none"]),
               (w["at"], _when(v.get("excused_at"), site.tz, w["none"])), (w["reason"], v.get("excuse_reason") or w["none"])]
              if v["excused"] else [(w["excuse"], w["not_excused"])])
    return render_page("violation.html", site=site, w=w, v=v, facts=facts, excuse=excuse, evidence=evidence,
                       missing=missing, alerts=alerts, config=page_config())
