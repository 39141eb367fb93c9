"""SQL of the month at a glance (hub.month_at_glance): small aggregate reads of the engine's derived
tables for one date range, on the same read-only snapshot the exports use (ReportReader), so
the charts and /api/attendance or `floorwatch assess` read the same rows.

Dates are the site-local dates the engine files rows under; times are UTC epoch ms."""

from __future__ import annotations

import json
from typing import Any

from hub.store.reports import ReportReader

OVERUSE_RULES = ("AWAY-BREAK-LONG", "AWAY-BREAK-TOTAL", "AWAY-MEAL-LONG", "AWAY-MEAL-SLOT")


def _details(text: str | None) -> dict[str, Any]:
    try:
        d = json.loads(text or "{}")
    except ValueError:
        return {}
    return d if isinstance(d, dict) else {}


class AnalyticsReader(ReportReader):
    def rollcall_counts(self, date_from: str, date_to: str) -> list[tuple[str, str, str, int]]:
        """(date, team, rollcall, agents) of every attendance row (a shift of an agent)."""
        if not self.has_table("attendance"):
            return []
        return [(r[0], r[1] or "", r[2], r[3]) for r in self._fetchall(
            "SELECT date, team, rollcall, count(*) FROM attendance WHERE date BETWEEN ? AND ?"
            " GROUP BY date, team, rollcall ORDER BY date, team, rollcall", (date_from, date_to))]

    def violation_counts(self, date_from: str, date_to: str) -> dict[str, int]:
        """Violations not excused per rule (headquarters' month per site)."""
        if not self.has_table("violations"):
            return {}
        return dict(self._fetchall("SELECT rule, count(*) FROM violations WHERE date BETWEEN ? AND ? AND excused = 0"
                                   " GROUP BY rule ORDER BY rule", (date_from, date_to)))

    def days_with_attendance(self, date_from: str, date_to: str) -> list[str]:
        if not self.has_table("attendance"):
            return []
        return [r[0] for r in self._fetchall(
            "SELECT DISTINCT date FROM attendance WHERE date BETWEEN ? AND ? ORDER BY date", (date_from, date_to))]

    def rule_violations(self, date_from: str, date_to: str, rules: tuple[str, ...]) -> list[dict[str, Any]]:
        """Violations of `rules` not excused: team, rule, seat, zone, start, end, details."""
        if not self.has_table("violations") or not rules:
            return []
        marks = ",".join("?" * len(rules))
        rows = self._fetchall(
            f'SELECT team, rule, seat, zone, start, "end", details, employee_no FROM violations'
            f" WHERE date BETWEEN ? AND ? AND rule IN ({marks}) AND excused = 0 ORDER BY start, id",
            (date_from, date_to, *rules))
        return [{"team": r[0], "rule": r[1], "seat": r[2], "zone": r[3], "start": r[4], "end": r[5],
                 "details": _details(r[6]), "employee_no": r[7]} for r in rows]

    def occupied_spans(self, from_ms: int, to_ms: int) -> list[tuple[str, int, int | None, str | None]]:
        """(seat, start, end, occupied_by) of occupancy intervals starting in [from_ms, to_ms)."""
        if not self.has_table("occupancy_intervals"):
            return []
        return [(r[0], r[1], r[2], r[3]) for r in self._fetchall(
            'SELECT seat, start, "end", occupied_by FROM occupancy_intervals WHERE start >= ? AND start < ?'
            " ORDER BY start, seat", (from_ms, to_ms))]
