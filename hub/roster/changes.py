"""The roster (排班表) and badges: import a roster CSV, revoke or replace a badge.

A roster import is all or nothing: every row is checked (columns, known agent, shift and seat, an
agent rostered twice for one shift, a seat given to two agents in one shift) and any problem is
reported with its row and column; nothing is written until the whole file is clean. Each import,
revocation and replacement is recorded in the audit trail.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from edge.exceptions import ConfigError
from hub.cards import CardForm, clashes, parse_card
from hub.errors import InputError, RosterError
from hub.site import RosterEntry, Site
from hub.sitecsv import read_csv_rows
from hub.store import Store
from hub.store.audit import write_audit
from hub.store.derived import DerivedStore


class BadgeError(InputError):
    """A badge change (revoke, replace, bind) that cannot be made."""


@dataclass
class RosterImport:
    rows: int
    dates: list[str]
    audit_id: int
    errors: list[ConfigError] = field(default_factory=list)


def check_roster(site: Site, path: str | Path, text: str | None = None) -> tuple[list[RosterEntry], list[ConfigError]]:
    """Parse and validate a roster CSV; returns the rows and every problem found."""
    errors: list[ConfigError] = []
    rows: list[RosterEntry] = read_csv_rows(path, RosterEntry, errors, text=text)
    if errors and not rows:
        return [], errors
    # read_csv_rows drops bad rows; recover their line numbers to name later problems right
    where = _line_numbers(path, text)
    employees = {a.employee_no for a in site.agents}
    shifts = {s.id for s in site.info.shifts}
    seats = {s.id for s in site.info.seats}
    seen: dict[tuple, int] = {}
    seat_taken: dict[tuple, tuple[int, str]] = {}
    for i, r in enumerate(rows):
        line = where[i] if i < len(where) else i + 2
        for col, ok, what in (("employee_no", r.employee_no in employees, f"unknown employee_no {r.employee_no!r}"),
                              ("shift", r.shift in shifts, f"unknown shift {r.shift!r}"),
                              ("seat", r.seat in seats, f"unknown seat {r.seat!r}")):
            if not ok:
                errors.append(ConfigError(str(path), f"row {line}, column {col}", what))
        key = (r.date, r.employee_no, r.shift)
        if key in seen:
            errors.append(ConfigError(str(path), f"row {line}, column employee_no",
                                      f"{r.employee_no} is already rostered for {r.date} {r.shift} on row {seen[key]}"))
        seen.setdefault(key, line)
        skey = (r.date, r.shift, r.seat)
        if skey in seat_taken and seat_taken[skey][1] != r.employee_no:
            errors.append(ConfigError(str(path), f"row {line}, column seat",
                                      f"seat {r.seat} is already given to {seat_taken[skey][1]} on row {seat_taken[skey][0]}"))
        seat_taken.setdefault(skey, (line, r.employee_no))
    return rows, errors


def _line_numbers(path: str | Path, text: str | None) -> list[int]:
    """Line numbers of rows that parse (so later checks can name them)."""
    import csv  # noqa: PLC0415
    import io  # noqa: PLC0415

    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            return []
    lines = []
    try:
        for lineno, raw in enumerate(csv.DictReader(io.StringIO(text)), start=2):
            data = {k: (v or "").strip() for k, v in raw.items() if k}
            try:
                RosterEntry.model_validate({k: v for k, v in data.items() if k in RosterEntry.model_fields and (v or k != "meal_start")})
            except ValueError:
                continue
            lines.append(lineno)
    except csv.Error:  # malformed past this row: read_csv_rows has reported it
        pass
    return lines


def import_roster(site: Site, store: Store, path: str | Path, *, text: str | None = None, replace: bool = False,
                  actor: str = "unknown", now_ms: int | None = None) -> RosterImport:
    """Import a roster file, or raise RosterError listing every problem (nothing is written then).
    With replace, the dates in the file are replaced whole; otherwise rows are upserted."""
    rows, errors = check_roster(site, path, text)
    if errors:
        raise RosterError(errors)
    derived = DerivedStore(store)
    dicts = [{"date": r.date.isoformat(), "employee_no": r.employee_no, "shift": r.shift, "seat": r.seat,
              "meal_start": r.meal_start, "source": "import"} for r in rows]
    dates = sorted({d["date"] for d in dicts})
    now_ms = now_ms if now_ms is not None else int(dt.datetime.now(dt.UTC).timestamp() * 1000)

    def write(conn) -> int:
        derived.insert_roster(dicts, replace_dates=replace, conn=conn)
        return write_audit(conn, now_ms, actor, "roster.import", str(path),
                           {"rows": len(dicts), "dates": dates, "replace": replace})

    audit_id = derived.transaction(write)
    return RosterImport(len(dicts), dates, audit_id)


def _json(d: dict) -> str:
    import json  # noqa: PLC0415

    return json.dumps(d, ensure_ascii=False, sort_keys=True)


# ---------------------------------------------------------------- badges


def _owners(site: Site, derived: DerivedStore) -> dict[str, str | None]:
    """Current card (canonical text, hub.cards) -> employee_no (None: revoked). A superseded form
    (an upgrade recorded the full id of the same card) still belongs to its agent."""
    owners: dict[str, str | None] = {c.text: a.employee_no for a in site.agents if a.active for c in a.cards}
    for row in derived.badge_changes():
        owners[_card_text(row["uid"])] = row["employee_no"] if row["action"] in ("assign", "supersede") else None
    return owners


def _superseded(derived: DerivedStore) -> set[str]:
    return {_card_text(r["uid"]) for r in derived.badge_changes() if r["action"] == "supersede"}


def _card_text(uid: str) -> str:
    try:
        return parse_card(uid).text
    except ValueError:
        return uid.strip().upper()  # recorded before badges were cards


def _card(text: str, field: str) -> CardForm:
    """A card form as typed (any printed form), or BadgeError naming why it is not one."""
    try:
        return parse_card(text)
    except ValueError as exc:
        raise BadgeError(field, str(exc)) from None


MAX_AT_DAYS = 366  # how far from now a badge change may be dated (a typo in the year is refused)


def badge_time(site: Site, text: str | None, now_ms: int) -> int:
    """When a badge change takes effect: `--at` as typed (ISO date and time, site-local unless it
    carries an offset), else now. A card handed over at 09:00 and recorded at 10:00 is dated 09:00,
    so the taps in between are the new holder's."""
    if text is None or not str(text).strip():
        return now_ms
    try:
        t = dt.datetime.fromisoformat(str(text).strip())
    except ValueError:
        raise BadgeError("at", f"not a date and time YYYY-MM-DDTHH:MM[:SS] (site time unless it has an offset):"
                               f" {str(text)[:40]!r}") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=site.tz)
    at = int(t.timestamp() * 1000)
    if abs(at - now_ms) > MAX_AT_DAYS * 86_400_000:
        raise BadgeError("at", f"{t.isoformat()} is more than {MAX_AT_DAYS} days from now")
    return at


def _in_order(derived: DerivedStore, cards: tuple[str, ...] | list[str], at: int) -> None:
    """A change dated before a later recorded change of the same card would rewrite its history."""
    for row in derived.badge_changes():
        if _card_text(row["uid"]) in cards and row["at"] > at:
            when = dt.datetime.fromtimestamp(row["at"] / 1000, dt.UTC).isoformat(timespec="seconds")
            raise BadgeError("at", f"{_card_text(row['uid'])} has a later change ({row['action']} at {when}):"
                                   " badge history is recorded in order")


def revoke_badge(site: Site, store: Store, uid: str, *, actor: str, reason: str, now_ms: int,
                 at_ms: int | None = None) -> int:
    """A lost or withdrawn badge: taps from `at_ms` (default now) on are rejected (BADGE-UNKNOWN, revoked)."""
    uid = _card_text(uid)
    at = now_ms if at_ms is None else at_ms
    derived = DerivedStore(store)
    owners = _owners(site, derived)
    if uid not in owners:
        raise BadgeError("uid", f"{uid} is not a known badge")
    if owners[uid] is None:
        raise BadgeError("uid", f"{uid} is already revoked")
    _in_order(derived, [uid], at)
    return derived.change_badges([(at, uid, owners[uid], "revoke", actor, reason)],
                                 (now_ms, actor, "badge.revoke", uid,
                                  {"employee_no": owners[uid], "reason": reason, "at": at}))


@dataclass(frozen=True)
class Binding:
    """What binding a card to an agent does. action: replace (a new card; the old ones revoked),
    upgrade (a stronger form of a card the agent holds: the weaker forms are superseded, nothing
    revoked) or already (the agent holds this card in this or a stronger form: nothing written)."""

    action: str
    employee_no: str
    card: str  # the form the registry keeps for this card
    revoked: tuple[str, ...] = ()
    superseded: tuple[str, ...] = ()
    changes: tuple[tuple, ...] = ()  # badge_changes rows to write
    audit: tuple | None = None


def plan_binding(site: Site, derived: DerivedStore, employee_no: str, card: CardForm, *, actor: str, now_ms: int,
                 old_uid: str | None = None, reason: str = "replaced", field: str = "new_uid") -> Binding:
    """Decide what binding `card` to the agent means, or BadgeError saying why it must not happen.

    The strongest form wins: a form that agrees on every bit both know with a weaker form the agent
    holds (CardForm.agrees) is the same card read more fully, an upgrade; a weaker or equal form of a
    card the agent holds changes nothing. A card some reader of the site cannot tell from another
    known card (active or revoked: a revoked card still exists) is refused, naming the other card's
    agent and the reader."""
    agent = site.agent(employee_no)
    if agent is None:
        raise BadgeError("employee_no", f"unknown employee_no {employee_no!r}")
    new = card.text
    owners = _owners(site, derived)
    superseded = _superseded(derived)
    if new in owners and owners[new] != employee_no:
        raise BadgeError(field, f"{new} belongs to {owners[new]} or was revoked; badges are never reused")
    mine = [parse_card(u) for u, e in owners.items() if e == employee_no and _is_card(u) and u not in superseded]
    same = [c for c in mine if c.agrees(card)]
    if any(c.bits >= card.bits for c in same):
        kept = max(same, key=lambda c: c.bits)
        return Binding("already", employee_no, kept.text)
    readers = site.reader_widths()
    known = [parse_card(u) for u in owners if u != new and _is_card(u) and u not in superseded]
    known = [c for c in known if c not in same]  # the agent's weaker forms of this card are this card
    for k in clashes([card, *known], readers):
        if card in (k.a, k.b):
            other = k.b if k.a == card else k.a
            whose = owners.get(other.text) or "a revoked badge"
            raise BadgeError(field, f"{new} and {whose}'s badge {other} look the same to {readers[k.width]}:"
                                    " it cannot tell them apart")
    if same:
        if old_uid:
            raise BadgeError("old_uid", f"{new} is the full id of {employee_no}'s badge"
                                        f" {', '.join(c.text for c in same)}: an upgrade revokes nothing")
        olds = tuple(c.text for c in same)
        changes = tuple((now_ms, u, employee_no, "supersede", actor, reason) for u in olds)
        changes += ((now_ms, new, employee_no, "assign", actor, reason),)
        return Binding("upgrade", employee_no, new, superseded=olds, changes=changes,
                       audit=(now_ms, actor, "badge.upgrade", employee_no, {"new": new, "superseded": list(olds)}))
    old = [_card_text(old_uid)] if old_uid else [u for u, e in owners.items() if e == employee_no and u != new]
    for u in old:
        if owners.get(u) != employee_no:
            raise BadgeError("old_uid", f"{u} is not a current badge of {employee_no}")
    changes = tuple((now_ms, u, employee_no, "revoke", actor, reason) for u in old)
    changes += ((now_ms, new, employee_no, "assign", actor, reason),)
    return Binding("replace", employee_no, new, revoked=tuple(old), changes=changes,
                   audit=(now_ms, actor, "badge.replace", employee_no, {"new": new, "revoked": old}))


def replace_badge(site: Site, store: Store, employee_no: str, new_uid: str, *, actor: str, now_ms: int,
                  old_uid: str | None = None, reason: str = "replaced", at_ms: int | None = None) -> int:
    """Give an agent a new badge (any printed form: hub.cards) from `at_ms` (default now); the old
    one (or all of the agent's current ones) is revoked then. The full id of a card the agent holds
    in a weaker printed form upgrades it instead (see plan_binding). Returns the audit id."""
    at = now_ms if at_ms is None else at_ms
    derived = DerivedStore(store)
    b = plan_binding(site, derived, employee_no, _card(new_uid, "new_uid"), actor=actor, now_ms=at,
                     old_uid=old_uid, reason=reason)
    if b.audit is None:
        raise BadgeError("new_uid", f"{employee_no} already holds this card as {b.card}")
    _in_order(derived, (b.card, *b.revoked, *b.superseded), at)
    ts, who, action, target, details = b.audit
    return derived.change_badges(list(b.changes), (now_ms, who, action, target, details | {"at": at}))


def _is_card(text: str) -> bool:
    try:
        parse_card(text)
    except ValueError:
        return False
    return True
