"""The attendance log HR asked for: one row per agent per rostered shift (and per unrostered
shift worked), straight from the engine's `attendance` table, streamed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hub.exports import labels
from hub.exports.formats import Column, Sheet
from hub.exports.query import ExportQuery
from hub.site import Site
from hub.store import Store
from hub.store.reports import ReportReader

COLUMNS = [
    Column("date", "日期", "Date", "date", 11),
    Column("shift", "班次", "Shift", "text", 9),
    Column("shift_name", "班次名称", "Shift name", "text", 14),
    Column("employee_no", "工号", "Employee no.", "text", 10),
    Column("name", "姓名", "Name", "text", 10),
    Column("team", "班组", "Team", "text", 8),
    Column("rostered_seat", "排班台席", "Rostered seat", "text", 10),
    Column("seats_used", "实际台席", "Seats used", "list", 12),
    Column("first_arrival", "首次到达", "First arrival", "datetime", 19),
    Column("arrival_minutes_before", "提前到达(分钟)", "Minutes before start", "number", 12, digits=1),
    Column("rollcall", "点名结果", "Roll call", "enum", 12, labels=labels.ROLLCALL),
    Column("seat_signin", "台席签入", "Seat sign-in", "datetime", 19),
    Column("signout", "签出", "Sign-out", "datetime", 19),
    Column("minutes_worked", "工作时长(分钟)", "Minutes worked", "number", 12, digits=1),
    Column("breaks_count", "小休次数", "Breaks", "int", 8),
    Column("breaks_minutes", "小休时长(分钟)", "Break minutes", "number", 12, digits=1),
    Column("meal_minutes", "就餐时长(分钟)", "Meal minutes", "number", 12, digits=1),
    Column("violations_count", "违规次数", "Violations", "int", 8),
    Column("violation_ids", "违规编号", "Violation ids", "list", 24),
    Column("leave", "请假", "Leave", "text", 10),
    Column("excused", "已免责违规", "Excused violations", "list", 24),
    Column("unrostered", "排班外", "Unrostered", "bool", 8),
]


def shift_id(value: str | None) -> str:
    """The shift id of an attendance row's shift (a bare id or a "<date>/<id>" key)."""
    return (value or "").rsplit("/", 1)[-1]


def rows(site: Site, store: Store, q: ExportQuery) -> Iterator[dict[str, Any]]:
    names = {s.id: s.name for s in site.info.shifts}
    with ReportReader(store) as reader:
        employees = [q.agent] if q.agent else None
        for row in reader.attendance(q.date_from.isoformat(), q.date_to.isoformat(), team=q.team, employees=employees):
            row["shift"] = shift_id(row.get("shift"))
            row["shift_name"] = names.get(row["shift"], row["shift"])
            row["violations_count"] = len(row["violation_ids"])
            yield row


def sheets(site: Site, store: Store, q: ExportQuery) -> list[Sheet]:
    return [Sheet("attendance", COLUMNS, rows(site, store, q))]
