"""Headquarters: `/hq?month=YYYY-MM` (role manager, and admins), every site of the hub's database
side by side (hub.headquarters): today's roll call in each site's own time zone, the month's violations by
rule, the month's punctuality per day as one chart with a panel per site; `/hq.json` with the same
numbers and `/hq/attendance.csv` the month's attendance of every site in one file."""

from __future__ import annotations

import dataclasses
import datetime as dt

from flask import Blueprint, Response, jsonify, request

from hub.errors import ExportParamError
from hub.exports.labels import rule_name
from hub.headquarters import attendance_csv, site_months
from hub.month_at_glance import PUNCTUALITY
from hub.months import parse_month
from kiosk_ui import i18n, state
from kiosk_ui.analytics import COLORS
from kiosk_ui.analytics import WORDS as MONTH_WORDS
from kiosk_ui.api import BadParameter
from kiosk_ui.charts import Panel, Series, bar_panels, num
from kiosk_ui.pages import page_config, render_page

bp = Blueprint("hq", __name__)

WORDS = {
    "zh_CN": {"title": "总部：各站点一览", "today": "今日点名", "month_violations": "本月违规", "events": "事件",
              "engine": "规则引擎", "none": "无", "sites": "站点", "export": "导出本月考勤（全部站点）",
              "no_sites": "数据库中尚无站点", "punctuality": "各站点每日出勤"},
    "en": {"title": "Headquarters: every site", "today": "Roll call today", "month_violations": "Violations this month",
           "events": "Events", "engine": "Rule engine", "none": "none", "sites": "sites",
           "export": "Export this month's attendance (all sites)", "no_sites": "No site in this database yet",
           "punctuality": "Punctuality per site per day"},
}


def _month() -> dt.date:
    """?month=YYYY-MM, or this hub's site's month now; a bad one is the app's 400 (BadParameter)."""
    raw = request.args.get("month")
    if not raw:
        return dt.datetime.fromtimestamp(state.now_ms() / 1000, state.site().tz).date().replace(day=1)
    try:
        return parse_month(raw)
    except ExportParamError as exc:
        raise BadParameter("month", exc.reason) from exc


@bp.get("/hq")
def page():
    month = _month()
    lang = i18n.current_lang()
    w = WORDS[lang] | {k: MONTH_WORDS[lang][k] for k in (*PUNCTUALITY, "month", "show", "rule", "date")}
    sites = site_months(state.store(), month, state.now_ms())
    kinds = [Series(k, w[k], COLORS[k]) for k in PUNCTUALITY]
    panels = [Panel(f"{s.name} ({s.site})", [d.date[5:] for d in s.days],
                    {k.key: [float(getattr(d, k.key)) for d in s.days] for k in kinds}) for s in sites]
    chart = bar_panels(w["punctuality"], panels, kinds, tip=lambda p, c, s, v: f"{p.title} · {c} · {s.label}: {num(v)}")
    rl = "zh" if lang == "zh_CN" else "en"
    return render_page("hq.html", site=state.site(), w=w, sites=sites, month=month.strftime("%Y-%m"), chart=chart,
                       rule_label=lambda r: rule_name(r, rl), punctuality=PUNCTUALITY,
                       config=page_config(month=month.strftime("%Y-%m")))


@bp.get("/hq.json")
def numbers():
    month = _month()
    return jsonify({"month": month.strftime("%Y-%m"),
                    "sites": [dataclasses.asdict(s) for s in site_months(state.store(), month, state.now_ms())]})


@bp.get("/hq/attendance.csv")
def attendance():
    month = _month()
    name = f"attendance_all_sites_{month:%Y-%m}.csv"
    lang = "zh" if i18n.current_lang() == "zh_CN" else "en"
    return Response(attendance_csv(state.store(), month, lang), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
