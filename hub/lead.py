"""Lead actions (交接班长/班长): reassign a seat, approve a swap (换班记录), set a meal slot, grant
leave, excuse a violation. Each is validated, written in one transaction together with its audit
row (who, when, what), and bumps the plans version so a running engine re-judges what it affects.
An excused violation stays, marked excused with the reason; nothing is deleted.

`actor` comes from the caller (the web layer's authenticated user); the role check belongs to the
security layer, which wraps these calls.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from hub.errors import InputError
from hub.roster.effective import install as install_roster
from hub.site import Site
from hub.store import Store, decisions
from hub.store.derived import DerivedStore
from hub.store.rosters import RosterStore

LEAVE_KINDS = ("personal", "sick", "annual", "other")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class LeadError(InputError):
    """A lead action that cannot be done; `field` names the offending input."""


@dataclass(frozen=True)
class Done:
    action: str
    audit_id: int
    target: str
    details: dict[str, Any]


class Lead:
    """Lead actions on one site's database."""

    def __init__(self, site: Site, store: Store) -> None:
        self.site = site
        self.derived = DerivedStore(store)
        install_roster(site, store)  # a lead acts on the effective roster (rotations, published months)
        self.agents = {a.employee_no: a for a in site.agents}
        self.seats = {s.id for s in site.info.seats}
        self.shifts = {s.id for s in site.info.shifts}

    # ------------------------------------------------------------ validation

    def _date(self, value: Any) -> str:
        try:
            return dt.date.fromisoformat(str(value)).isoformat()
        except ValueError:
            raise LeadError("date", f"not an ISO date: {value!r}") from None

    def _agent(self, value: Any, field: str = "employee_no") -> str:
        v = str(value or "").strip()
        if v not in self.agents:
            raise LeadError(field, f"unknown agent {v!r}")
        return v

    def _seat(self, value: Any) -> str:
        v = str(value or "").strip().upper()
        if v not in self.seats:
            raise LeadError("seat", f"unknown seat {value!r}")
        return v

    def _shift(self, value: Any) -> str:
        v = str(value or "").strip()
        if v not in self.shifts:
            raise LeadError("shift", f"unknown shift {v!r}")
        return v

    def _text(self, value: Any, field: str, max_len: int = 200) -> str:
        v = str(value or "").strip()
        if not v:
            raise LeadError(field, "required")
        if len(v) > max_len:
            raise LeadError(field, f"at most {max_len} characters")
        return v

    def _rostered(self, date: str, shift: str, emp: str) -> dict[str, Any]:
        rows = [r for r in self.derived.roster_for([date]) if r["shift"] == shift and r["employee_no"] == emp]
        if not rows:
            raise LeadError("employee_no", f"{emp} is not rostered on {date} for shift {shift}")
        return rows[0]

    def _managed(self, date: str) -> None:
        """Day overrides change the roster model's days; a day imported from a file is the file's."""
        if RosterStore(self.derived.store).imported_dates([date]):
            raise LeadError("date", f"the roster of {date} was imported from a file: change it there and import again")

    def _write(self, action: str, target: str, details: dict[str, Any], actor: str, now_ms: int, write) -> Done:
        """Run `write(audit)` (a hub.store.decisions function bound to its values) and report it."""
        audit_id = write((now_ms, actor, action, target, details))
        return Done(action, audit_id, target, details)

    # ------------------------------------------------------------ actions

    def reassign(self, *, date: Any, shift: Any, employee_no: Any, seat: Any, actor: str, now_ms: int) -> Done:
        """Seat the agent elsewhere for this shift (不得私自调换座位: only a lead may)."""
        date, shift, emp, seat = self._date(date), self._shift(shift), self._agent(employee_no), self._seat(seat)
        row = self._rostered(date, shift, emp)
        return self._write(
            "lead.reassign", emp, {"date": date, "shift": shift, "seat": seat, "rostered_seat": row["seat"]},
            actor, now_ms, lambda audit: decisions.assign_seat(self.derived, date, shift, emp, seat, actor, now_ms, audit))

    def swap(self, *, date: Any, shift: Any, from_employee_no: Any, to_employee_no: Any, actor: str, now_ms: int,
             seat: Any = None) -> Done:
        """Approve a swap (换班): another agent works this rostered duty."""
        date, shift = self._date(date), self._shift(shift)
        frm, to = self._agent(from_employee_no, "from_employee_no"), self._agent(to_employee_no, "to_employee_no")
        if frm == to:
            raise LeadError("to_employee_no", "an agent cannot swap with themselves")
        row = self._rostered(date, shift, frm)
        if seat not in (None, "") and self._seat(seat) != row["seat"]:
            raise LeadError("seat", f"{frm} is rostered at {row['seat']}, not {seat}")
        if any(r["shift"] == shift and r["employee_no"] == to for r in self.derived.roster_for([date])):
            raise LeadError("to_employee_no", f"{to} already works shift {shift} on {date}")
        return self._write(
            "lead.swap", frm, {"date": date, "shift": shift, "seat": row["seat"], "to": to}, actor, now_ms,
            lambda audit: decisions.approve_swap(self.derived, date, shift, row["seat"], frm, to, actor, now_ms, audit))

    def meal_slot(self, *, date: Any, shift: Any, employee_no: Any, meal_start: Any, actor: str, now_ms: int) -> Done:
        """Set when the agent eats (就餐统一听从交接班长安排)."""
        date, shift, emp = self._date(date), self._shift(shift), self._agent(employee_no)
        start = str(meal_start or "").strip()
        if not _HHMM.match(start):
            raise LeadError("meal_start", f"not a time HH:MM: {meal_start!r}")
        row = self._rostered(date, shift, emp)
        return self._write(
            "lead.meal_slot", emp, {"date": date, "shift": shift, "meal_start": start, "was": row["meal_start"]},
            actor, now_ms, lambda audit: decisions.set_meal_start(self.derived, date, shift, emp, start, audit))

    def grant_leave(self, *, date: Any, employee_no: Any, kind: Any, reason: Any, actor: str, now_ms: int) -> Done:
        """Approved leave: no absence, no attendance rules for that date."""
        date, emp = self._date(date), self._agent(employee_no)
        kind = str(kind or "").strip()
        if kind not in LEAVE_KINDS:
            raise LeadError("kind", f"one of {', '.join(LEAVE_KINDS)}")
        reason = self._text(reason, "reason")
        return self._write(
            "lead.leave", emp, {"date": date, "kind": kind, "reason": reason}, actor, now_ms,
            lambda audit: decisions.grant_leave(self.derived, date, emp, kind, reason, actor, now_ms, audit))

    def rest_day(self, *, date: Any, employee_no: Any, reason: Any, actor: str, now_ms: int,
                 shift: Any = None) -> Done:
        """A rest day override (调休): the agent's duties that day (or one shift's) are taken off the roster."""
        date, emp = self._date(date), self._agent(employee_no)
        shift = self._shift(shift) if shift not in (None, "") else None
        duties = [r for r in self.derived.roster_for([date]) if r["employee_no"] == emp and shift in (None, r["shift"])]
        if not duties:
            raise LeadError("employee_no", f"{emp} has no duty on {date}{f' for shift {shift}' if shift else ''}: nothing to rest")
        self._managed(date)
        row = {"date": date, "employee_no": emp, "kind": "rest", "shift": shift, "reason": self._text(reason, "reason")}
        audit_id = RosterStore(self.derived.store).add_override(row, actor=actor, now_ms=now_ms)
        return Done("roster.rest", audit_id, emp, row | {"was": sorted(r["shift"] for r in duties)})

    def extra_duty(self, *, date: Any, employee_no: Any, shift: Any, seat: Any, reason: Any, actor: str,
                   now_ms: int) -> Done:
        """An extra duty (加班): the agent works this shift at this seat, rostered like any duty."""
        date, emp, shift, seat = self._date(date), self._agent(employee_no), self._shift(shift), self._seat(seat)
        reason = self._text(reason, "reason")
        self._managed(date)
        for r in self.derived.roster_for([date]):
            if r["shift"] != shift:
                continue
            if r["employee_no"] == emp:
                raise LeadError("shift", f"{emp} already works shift {shift} on {date}")
            if r["seat"] == seat:
                raise LeadError("seat", f"seat {seat} is {r['employee_no']}'s for shift {shift} on {date}")
        row = {"date": date, "employee_no": emp, "kind": "extra", "shift": shift, "seat": seat, "reason": reason}
        audit_id = RosterStore(self.derived.store).add_override(row, actor=actor, now_ms=now_ms)
        return Done("roster.extra", audit_id, emp, row)

    def excuse(self, *, violation_id: Any, reason: Any, actor: str, now_ms: int) -> Done:
        """Excuse a violation with a reason: it stays, marked excused, and stops counting."""
        vid = str(violation_id or "").strip()
        current = self.derived.violation(vid)
        if current is None:
            raise LeadError("violation_id", f"no violation {vid!r}")
        reason = self._text(reason, "reason")
        return self._write(
            "lead.excuse", vid, {"reason": reason, "rule": current["rule"], "employee_no": current["employee_no"]},
            actor, now_ms, lambda audit: decisions.excuse_violation(self.derived, vid, reason, actor, now_ms, audit))

    def reassign_equipment(self, *, tag: Any, seat: Any, actor: str, now_ms: int) -> Done:
        """Give a tag a new home seat (a lead moved the headset on purpose: not EQUIP-MOVED)."""
        t = str(tag or "").strip().upper()
        if t not in {e.tag.upper() for e in self.site.equipment}:
            raise LeadError("tag", f"unknown equipment tag {tag!r}")
        seat = self._seat(seat)
        return self._write(
            "lead.equipment_home", t, {"home_seat": seat}, actor, now_ms,
            lambda audit: decisions.assign_equipment_home(self.derived, t, seat, actor, now_ms, audit))
