"""The monthly assessment as files: one row per agent (CSV, JSON lines, first XLSX sheet), plus
in XLSX a sheet of every violation with its step, fine and evidence and a sheet of equipment
charges, so each score can be traced to what caused it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from hub.exports import labels
from hub.exports.formats import Column, Sheet

if TYPE_CHECKING:  # hub.assess imports hub.exports.query: no import cycle at run time
    from hub.assess import AgentScore, Assessment

COLUMNS = [
    Column("month", "月份", "Month", "text", 8),
    Column("employee_no", "工号", "Employee no.", "text", 10),
    Column("name", "姓名", "Name", "text", 10),
    Column("team", "班组", "Team", "text", 8),
    Column("violations_count", "违规次数", "Violations", "int", 8),
    Column("excused_count", "免责次数", "Excused", "int", 8),
    Column("points", "扣分", "Points deducted", "number", 8, digits=2),
    Column("score", "得分", "Score", "number", 8, digits=2),
    Column("grade", "等级", "Grade", "enum", 8, labels=labels.GRADES),
    Column("escalation_summary", "处罚升级", "Escalation", "text", 40),
    Column("fines", "罚款(元)", "Fines (CNY)", "number", 10, digits=2),
    Column("dismissal_review", "辞退审查规则", "Dismissal review", "list", 18),
    Column("compensation_total", "设备赔偿(元)", "Compensation (CNY)", "number", 12, digits=2),
    Column("total_due", "合计(元)", "Total due (CNY)", "number", 10, digits=2),
    Column("violation_ids", "违规编号", "Violation ids", "list", 40),
]

VIOLATION_COLUMNS = [
    Column("employee_no", "工号", "Employee no.", "text", 10),
    Column("name", "姓名", "Name", "text", 10),
    Column("id", "违规编号", "Violation id", "text", 14),
    Column("date", "日期", "Date", "date", 11),
    Column("start", "时间", "Time", "datetime", 19),
    Column("rule", "规则", "Rule", "text", 18),
    Column("rule_name", "规则名称", "Rule name", "text", 14),
    Column("points", "扣分", "Points", "number", 7),
    Column("excused", "已免责", "Excused", "bool", 8),
    Column("excuse_reason", "免责原因", "Excuse reason", "text", 20),
    Column("step", "第几次", "Step", "int", 7),
    Column("action", "处理", "Action", "enum", 10, labels=labels.ESCALATION),
    Column("fine", "罚款(元)", "Fine (CNY)", "number", 9, digits=2),
    Column("evidence", "证据事件", "Evidence event ids", "list", 40),
]

CHARGE_COLUMNS = [
    Column("employee_no", "工号", "Employee no.", "text", 10),
    Column("name", "姓名", "Name", "text", 10),
    Column("incident", "事件编号", "Incident", "text", 14),
    Column("tag", "标签", "Tag", "text", 14),
    Column("kind", "设备类型", "Kind", "text", 10),
    Column("share", "份额", "Share", "number", 8, digits=4),
    Column("amount", "金额(元)", "Amount (CNY)", "number", 10, digits=2),
    Column("team_shared", "班组分摊", "Team shared", "bool", 9),
]


def escalation_summary(score: AgentScore, lang: str) -> str:
    parts = []
    for rule, e in sorted(score.escalation.items()):
        action = labels.ESCALATION[e.action][0 if lang == "zh" else 1]
        if lang == "zh":
            parts.append(f"{rule} 第{e.step}次 {action} 累计¥{e.fines:g}")
        else:
            parts.append(f"{rule} x{e.step} {action} total ¥{e.fines:g}")
    return "; ".join(parts)


def score_rows(a: Assessment, lang: str) -> Iterator[dict[str, Any]]:
    for s in a.agents:
        data = s.to_json()
        yield {
            **{c.key: data.get(c.key) for c in COLUMNS},
            "escalation_summary": escalation_summary(s, lang),
            "violation_ids": [v.id for v in s.violations],
            "_escalation": data["escalation"],
            "_violations": data["violations"],
            "_compensation": data["compensation"],
        }


def violation_rows(a: Assessment, lang: str) -> Iterator[dict[str, Any]]:
    for s in a.agents:
        for v in s.violations:
            yield {"employee_no": s.employee_no, "name": s.name, "rule_name": labels.rule_name(v.rule, lang), **v.__dict__}


def charge_rows(a: Assessment) -> Iterator[dict[str, Any]]:
    for s in a.agents:
        for c in s.compensation:
            yield {"name": s.name, **c.__dict__}


def sheets(a: Assessment, lang: str) -> list[Sheet]:
    return [
        Sheet("assessment", COLUMNS, score_rows(a, lang)),
        Sheet("violations", VIOLATION_COLUMNS, violation_rows(a, lang)),
        Sheet("compensation", CHARGE_COLUMNS, charge_rows(a)),
    ]
