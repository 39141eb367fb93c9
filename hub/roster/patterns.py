"""Shift patterns (班次轮换) and who follows them: the rotations a center keeps its roster by.

A pattern is a cycle of cells, each a shift template id (site.toml [[shifts]]) or `rest`:
做六休一 on 白晚班轮换 is `day`×6, rest, `night`×6, rest. The cycle steps either on every
calendar day (a floor open every day) or on working days only (office hours: holidays are rest,
a 调休 Saturday is worked), per the site calendar. An assignment puts an agent on a pattern
from a date, at a phase (the cycle cell on that date) and a home seat; the phase carries on
across months, which is what keeps a rotation stable.

patterns.toml: [[patterns]] id, name, teams, cycle, steps ("days" | "workdays").
assignments.csv: employee_no, pattern, start, end (blank: open), phase, seat, meal_start.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.roster.calendar import SiteCalendar

REST = "rest"


class Pattern(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    name: str
    teams: list[str] = []
    cycle: Annotated[list[str], Field(min_length=1, max_length=366)]
    steps: Literal["days", "workdays"] = "days"

    def cell(self, index: int) -> str:
        return self.cycle[index % len(self.cycle)]


class Assignment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    employee_no: Annotated[str, Field(min_length=1)]
    pattern: Annotated[str, Field(min_length=1)]
    start: dt.date
    end: dt.date | None = None
    phase: Annotated[int, Field(ge=0)] = 0
    seat: Annotated[str, Field(min_length=1)]
    meal_start: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Assignment:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self

    def covers(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class Rotation:
    """A pattern as one agent runs it: the cycle index is `phase` on `anchor`."""

    pattern: Pattern
    anchor: dt.date
    phase: int

    def index_on(self, day: dt.date, calendar: SiteCalendar) -> int | None:
        """The cycle index on a day (None: a non-working day of a workdays pattern)."""
        if self.pattern.steps == "days":
            return (self.phase + (day - self.anchor).days) % len(self.pattern.cycle)
        if not calendar.is_workday(day):
            return None
        return (self.phase + calendar.workdays_between(self.anchor, day)) % len(self.pattern.cycle)

    def shift_on(self, day: dt.date, calendar: SiteCalendar) -> str:
        """The shift template id worked on a day, or REST."""
        i = self.index_on(day, calendar)
        return REST if i is None else self.pattern.cell(i)

    def moved_to(self, anchor: dt.date, calendar: SiteCalendar) -> Rotation:
        """The same rotation described from another date (how a phase carries into next month)."""
        if self.pattern.steps == "days":
            phase = (self.phase + (anchor - self.anchor).days) % len(self.pattern.cycle)
        else:
            phase = (self.phase + calendar.workdays_between(self.anchor, anchor)) % len(self.pattern.cycle)
        return Rotation(self.pattern, anchor, phase)
