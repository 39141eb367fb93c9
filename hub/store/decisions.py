"""SQL of the leads' decisions (hub.lead): a seat reassignment, an approved swap, a meal slot,
leave, an excused violation, an equipment tag's new home. Each is written with its audit row in
one transaction that bumps the plans version (DerivedStore.lead_write), so a running engine
re-judges what it affects; returns the audit id. `audit` is (ts, actor, action, target, details)."""

from __future__ import annotations

from typing import Any

from hub.store.derived import DerivedStore

Audit = tuple[int, str, str, str, dict[str, Any]]


def assign_seat(derived: DerivedStore, date: str, shift: str, employee_no: str, seat: str, by: str, at: int,
                audit: Audit) -> int:
    return derived.lead_write(
        [('INSERT INTO seat_assignments(date, shift, employee_no, seat, "by", at) VALUES (?,?,?,?,?,?)'
          ' ON CONFLICT(date, shift, employee_no) DO UPDATE SET seat=excluded.seat, "by"=excluded."by", at=excluded.at',
          (date, shift, employee_no, seat, by, at))], audit)


def approve_swap(derived: DerivedStore, date: str, shift: str, seat: str, from_employee_no: str,
                 to_employee_no: str, by: str, at: int, audit: Audit) -> int:
    return derived.lead_write(
        [('INSERT INTO swaps(date, shift, seat, from_employee_no, to_employee_no, approved_by, at) VALUES (?,?,?,?,?,?,?)'
          ' ON CONFLICT(date, shift, from_employee_no) DO UPDATE SET to_employee_no=excluded.to_employee_no,'
          ' seat=excluded.seat, approved_by=excluded.approved_by, at=excluded.at',
          (date, shift, seat, from_employee_no, to_employee_no, by, at))], audit)


def set_meal_start(derived: DerivedStore, date: str, shift: str, employee_no: str, meal_start: str,
                   audit: Audit) -> int:
    return derived.lead_write(
        [("UPDATE roster SET meal_start = ?, source = 'lead' WHERE date = ? AND shift = ? AND employee_no = ?",
          (meal_start, date, shift, employee_no))], audit)


def grant_leave(derived: DerivedStore, date: str, employee_no: str, kind: str, reason: str, by: str, at: int,
                audit: Audit) -> int:
    return derived.lead_write(
        [('INSERT INTO leave(date, employee_no, kind, reason, granted_by, at) VALUES (?,?,?,?,?,?)'
          ' ON CONFLICT(date, employee_no) DO UPDATE SET kind=excluded.kind, reason=excluded.reason,'
          ' granted_by=excluded.granted_by, at=excluded.at', (date, employee_no, kind, reason, by, at))], audit)


def excuse_violation(derived: DerivedStore, violation_id: str, reason: str, by: str, at: int, audit: Audit) -> int:
    """The excuse, the violation marked excused (it stays), and its id added to the attendance
    rows that list it."""
    vid = violation_id
    d = derived.store.dialect
    return derived.lead_write(
        [('INSERT INTO excuses(violation_id, reason, "by", at) VALUES (?,?,?,?) ON CONFLICT(violation_id)'
          ' DO UPDATE SET reason=excluded.reason, "by"=excluded."by", at=excluded.at', (vid, reason, by, at)),
         ("UPDATE violations SET excused = 1, excuse_reason = ?, excused_by = ?, excused_at = ? WHERE id = ?",
          (reason, by, at, vid)),
         (f"UPDATE attendance SET excused = (SELECT {d.json_array_agg('value')} FROM (SELECT DISTINCT value FROM"
          f" (SELECT value FROM {d.json_values('attendance.excused')} UNION SELECT CAST(? AS TEXT)) AS u"
          f" ORDER BY value) AS s) WHERE EXISTS (SELECT 1 FROM {d.json_values('attendance.violation_ids')}"
          " WHERE value = ?)", (vid, vid))],
        audit)


def assign_equipment_home(derived: DerivedStore, tag: str, home_seat: str, by: str, at: int, audit: Audit) -> int:
    return derived.lead_write(
        [('INSERT INTO equipment_assignments(tag, home_seat, "by", at) VALUES (?,?,?,?) ON CONFLICT(tag)'
          ' DO UPDATE SET home_seat=excluded.home_seat, "by"=excluded."by", at=excluded.at', (tag, home_seat, by, at))],
        audit)
