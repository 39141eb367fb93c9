"""The month at a glance: `/analytics?month=YYYY-MM` (leads and admins), charts a manager reads at
once, each with its numbers one click away (a table) and downloads as SVG or PNG
(static/charts.js), and `/analytics.json` with the same numbers.

The numbers come from hub.month_at_glance (the engine's derived tables and the assessment); the SVG
from kiosk_ui.charts. A lead sees their own teams in the per-team charts; the floor-wide ones
(unattended minutes, seat use, coverage) are the whole floor's.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from flask import Blueprint, jsonify, request
from markupsafe import Markup

from hub.errors import ExportParamError
from hub.exports.labels import rule_name
from hub.month_at_glance import PUNCTUALITY, MonthAtGlance, month_at_glance
from hub.months import parse_month
from kiosk_ui import i18n, masking, state
from kiosk_ui.charts import Panel, Series, bar_panels, floor_heat, heat_grid, num, target_bars
from kiosk_ui.pages import page_config, render_page

bp = Blueprint("analytics", __name__)

WORDS = {
    "zh_CN": {
        "title": "月度一览", "month": "月份", "show": "查看", "data": "数据", "days": "有数据的天数",
        "punctuality": "各班组每日出勤", "on_time": "准时", "late": "迟到", "absent": "旷工", "leave": "请假",
        "overuse": "小休与就餐超时", "overuse_min": "超时分钟", "unattended": "各区域各时段无人值守分钟",
        "utilisation": "座位使用率（营业时间占比）", "coverage": "各时段在岗人数与目标", "seated": "在岗人数（平均）",
        "target": "目标人数", "month_over": "环比：本月与上月", "violations": "违规", "points": "扣分",
        "mean_score": "平均得分", "team": "班组", "date": "日期", "zone": "区域", "hour": "时段", "seat": "座位",
        "minutes": "分钟", "share": "使用率", "rule": "规则", "measure": "指标", "console": "班长台",
        "assessment": "月度考核", "png": "PNG", "svg": "SVG", "total": "合计", "no_data": "本月无数据",
    },
    "en": {
        "title": "Month at a glance", "month": "Month", "show": "Show", "data": "Data", "days": "days with data",
        "punctuality": "Punctuality per team per day", "on_time": "On time", "late": "Late", "absent": "Absent",
        "leave": "On leave", "overuse": "Break and meal overuse", "overuse_min": "Minutes over",
        "unattended": "Unattended minutes per zone per hour", "utilisation": "Seat utilisation (share of opening hours)",
        "coverage": "Agents seated per hour vs target", "seated": "Seated (mean)", "target": "Target",
        "month_over": "Month over month", "violations": "Violations", "points": "Points", "mean_score": "Mean score",
        "team": "Team", "date": "Date", "zone": "Zone", "hour": "Hour", "seat": "Seat", "minutes": "Minutes",
        "share": "Utilisation", "rule": "Rule", "measure": "Measure", "console": "Console", "assessment": "Assessment",
        "png": "PNG", "svg": "SVG", "total": "Total", "no_data": "No data this month",
    },
}
COLORS = {"on_time": "#1e9b50", "late": "#e09b00", "absent": "#d42a20", "leave": "#9aa3ae"}
RULE_COLORS = ["#2f6fdb", "#8b5cf6", "#e09b00", "#0f766e"]
PREV_COLOR, THIS_COLOR = "#9aa3ae", "#2f6fdb"


@dataclasses.dataclass
class Chart:
    id: str
    title: str
    svg: Markup
    head: list[str]
    rows: list[list[str]]


def _month_arg() -> str:
    raw = request.args.get("month")
    if not raw:
        return dt.datetime.fromtimestamp(state.now_ms() / 1000, state.site().tz).strftime("%Y-%m")
    return parse_month(raw).strftime("%Y-%m")


def _visible(m: MonthAtGlance) -> list[str]:
    teams = masking.visible_teams()
    return [t for t in m.teams if teams is None or t in teams]


def charts(m: MonthAtGlance, lang: str, teams: list[str]) -> list[Chart]:
    w = WORDS[lang]
    rl = "zh" if lang == "zh_CN" else "en"
    out: list[Chart] = []

    kinds = [Series(k, w[k], COLORS[k]) for k in PUNCTUALITY]
    days = [d[5:] for d in m.days]
    panels = [Panel(t, days, {k.key: [getattr(c, k.key) for c in m.punctuality[t]] for k in kinds}) for t in teams]
    svg = bar_panels(w["punctuality"], panels, kinds, tip=lambda p, c, s, v: f"{p.title} · {c} · {s.label}: {num(v)}")
    rows = [[t, c.date, *(str(getattr(c, k)) for k in PUNCTUALITY)] for t in teams for c in m.punctuality[t]]
    out.append(Chart("punctuality", w["punctuality"], svg, [w["team"], w["date"], *(w[k] for k in PUNCTUALITY)], rows))

    rules = [Series(r, rule_name(r, rl), RULE_COLORS[i % 4]) for i, r in enumerate(m.rules)]
    panel = Panel("", teams, {r.key: [float(m.overuse[t][r.key]) for t in teams] for r in rules})
    svg = bar_panels(w["overuse"], [panel], rules, tip=lambda p, c, s, v: f"{c} · {s.label}: {num(v)}", panel_h=200)
    rows = [[t, *(str(m.overuse[t][r]) for r in m.rules), num(m.overuse_minutes[t])] for t in teams]
    out.append(Chart("overuse", w["overuse"], svg, [w["team"], *(r.label for r in rules), w["overuse_min"]], rows))

    hours = [f"{h:02d}" for h in range(24)]
    svg = heat_grid(w["unattended"], m.zones, hours, m.unattended,
                    lambda z, h, v: f"{w['zone']} {z} · {h}:00 · {num(v)} {w['minutes']}", unit_label=w["minutes"])
    rows = [[z, *(num(v) for v in m.unattended[z]), num(sum(m.unattended[z]))] for z in m.zones]
    out.append(Chart("unattended", w["unattended"], svg, [w["zone"], *hours, w["total"]], rows))

    share = {s.seat: s for s in m.seats}
    svg = floor_heat(w["utilisation"], [(s.seat, s.zone, s.x, s.y, s.share) for s in m.seats], m.map_size,
                     lambda sid, v: f"{w['seat']} {sid} · {v * 100:.0f}% · {num(share[sid].minutes)} {w['minutes']}")
    rows = [[s.seat, s.zone, num(s.minutes), f"{s.share * 100:.0f}%"] for s in m.seats]
    out.append(Chart("utilisation", w["utilisation"], svg, [w["seat"], w["zone"], w["minutes"], w["share"]], rows))

    cov = [c for c in m.coverage if c[1] or c[2]] or m.coverage
    svg = target_bars(w["coverage"], [f"{h:02d}" for h, _, _ in cov], [c[1] for c in cov], [c[2] for c in cov],
                      Series("seated", w["seated"], "#2f6fdb"), Series("target", w["target"], "#d42a20"),
                      lambda c, v, t: f"{c}:30 · {w['seated']}: {num(v)} · {w['target']}: {num(t)}")
    rows = [[f"{h:02d}:30", num(v), num(t)] for h, v, t in cov]
    out.append(Chart("coverage", w["coverage"], svg, [w["hour"], w["seated"], w["target"]], rows))

    measures = ["violations", "points", "mean_score", "late", "absent"]
    both = [Series("prev", m.previous, PREV_COLOR), Series("this", m.month, THIS_COLOR)]
    panels = [Panel(w[k], teams, {"prev": [float(getattr(m.month_over[t][0], k)) for t in teams],
                                  "this": [float(getattr(m.month_over[t][1], k)) for t in teams]}) for k in measures]
    svg = bar_panels(w["month_over"], panels, both, grouped=True, panel_h=120,
                     tip=lambda p, c, s, v: f"{c} · {p.title} · {s.label}: {num(v)}")
    rows = [[t, w[k], num(getattr(m.month_over[t][0], k)), num(getattr(m.month_over[t][1], k))] for t in teams for k in measures]
    out.append(Chart("month_over", w["month_over"], svg, [w["team"], w["measure"], m.previous, m.month], rows))
    return out


@bp.get("/analytics")
def page():
    try:
        month = _month_arg()
    except ExportParamError as exc:
        return f"month: {exc.reason}", 400, {"Content-Type": "text/plain; charset=utf-8"}
    site, lang = state.site(), i18n.current_lang()
    m = month_at_glance(site, state.store(), month, now_ms=state.now_ms())
    return render_page("analytics.html", site=site, w=WORDS[lang], m=m, charts=charts(m, lang, _visible(m)),
                       config=page_config(month=month))


@bp.get("/analytics.json")
def numbers():
    """The page's numbers, for a script or a test to compare with the exports."""
    try:
        month = _month_arg()
    except ExportParamError as exc:
        return jsonify({"error": exc.reason, "parameter": "month"}), 400
    m = month_at_glance(state.site(), state.store(), month, now_ms=state.now_ms())
    teams = _visible(m)
    data: dict[str, Any] = dataclasses.asdict(m)
    for key in ("punctuality", "overuse", "overuse_minutes", "month_over"):
        data[key] = {t: v for t, v in data[key].items() if t in teams}
    data["teams"] = teams
    return jsonify(data)
