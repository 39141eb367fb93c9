"""The roster files of a site folder: calendar, patterns and assignments, checked together.

check-config reports every problem with file, row (or key), column and reason; a site without
these files simply has no rotations (its roster is imported day by day, as before).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from edge.config import load_toml
from edge.exceptions import ConfigError
from hub.roster.calendar import SiteCalendar, calendar_warnings, load_calendar
from hub.roster.patterns import REST, Assignment, Pattern, Rotation
from hub.sitecsv import read_csv_rows


class _PatternsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    patterns: list[Pattern] = []


@dataclass
class RosterConfig:
    calendar: SiteCalendar = field(default_factory=SiteCalendar)
    patterns: dict[str, Pattern] = field(default_factory=dict)
    assignments: list[Assignment] = field(default_factory=list)

    def rotation(self, a: Assignment) -> Rotation:
        return Rotation(self.patterns[a.pattern], a.start, a.phase)

    def assignment_on(self, employee_no: str, day: dt.date) -> Assignment | None:
        return next((a for a in self.by_agent().get(employee_no, []) if a.covers(day)), None)

    def by_agent(self) -> dict[str, list[Assignment]]:
        out: dict[str, list[Assignment]] = {}
        for a in self.assignments:
            out.setdefault(a.employee_no, []).append(a)
        return out

    def team_patterns(self, team: str) -> list[Pattern]:
        return [p for p in self.patterns.values() if team in p.teams]


def load_roster_config(site) -> tuple[RosterConfig, list[ConfigError]]:
    """Read holidays.csv, patterns.toml and assignments.csv of a loaded Site; every problem found."""
    root: Path = site.root
    calendar, errors = load_calendar(root)
    patterns: dict[str, Pattern] = {}
    ppath = root / "patterns.toml"
    if ppath.exists():
        try:
            data, _ = load_toml(ppath)
            parsed = _PatternsFile.model_validate(data)
        except ConfigError as exc:
            errors.append(exc)
            parsed = _PatternsFile()
        except ValueError as exc:  # pydantic ValidationError
            for err in exc.errors(include_url=False):  # type: ignore[attr-defined]
                errors.append(ConfigError(str(ppath), ".".join(str(p) for p in err["loc"]) or "-", err["msg"]))
            parsed = _PatternsFile()
        shifts = {s.id for s in site.info.shifts}
        teams = {a.team for a in site.agents}
        for i, p in enumerate(parsed.patterns):
            if p.id in patterns:
                errors.append(ConfigError(str(ppath), f"patterns.{i}.id", f"duplicate pattern id {p.id!r}"))
            patterns[p.id] = p
            for j, cell in enumerate(p.cycle):
                if cell != REST and cell not in shifts:
                    errors.append(ConfigError(str(ppath), f"patterns.{i}.cycle.{j}",
                                              f"{cell!r} is neither a shift of site.toml nor {REST!r}"))
            for j, team in enumerate(p.teams):
                if team not in teams:
                    errors.append(ConfigError(str(ppath), f"patterns.{i}.teams.{j}", f"no agent is in team {team!r}"))
    assignments: list[Assignment] = []
    apath = root / "assignments.csv"
    if apath.exists():
        assignments = read_csv_rows(apath, Assignment, errors)
        employees = {a.employee_no for a in site.agents}
        seats = {s.id for s in site.info.seats}
        for line, a in enumerate(assignments, start=2):
            where = f"row {line}"
            for col, ok, why in (("employee_no", a.employee_no in employees, f"unknown employee_no {a.employee_no!r}"),
                                 ("pattern", a.pattern in patterns, f"unknown pattern {a.pattern!r}"),
                                 ("seat", a.seat in seats, f"unknown seat {a.seat!r}")):
                if not ok:
                    errors.append(ConfigError(str(apath), f"{where}, column {col}", why))
        by_agent: dict[str, list[Assignment]] = {}
        for a in assignments:
            for b in by_agent.get(a.employee_no, []):
                if a.start <= (b.end or dt.date.max) and b.start <= (a.end or dt.date.max):
                    errors.append(ConfigError(str(apath), f"employee_no {a.employee_no}",
                                              f"assignments from {b.start} and {a.start} overlap"))
            by_agent.setdefault(a.employee_no, []).append(a)
    return RosterConfig(calendar, patterns, assignments), errors


def roster_warnings(site) -> list[str]:
    """What check-config prints as warnings (not errors): holidays awaiting the official notice."""
    calendar, _ = load_calendar(site.root)
    return calendar_warnings(calendar, str(site.root / "holidays.csv"))
