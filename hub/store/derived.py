"""SQL for everything the rule engine derives, the plans it judges against, and the audit trail.

Three kinds of tables live here:

- derived (recomputed from the event log by `floorwatch hub rebuild`, never edited by hand):
  violations, attendance, away_periods, occupancy_intervals, equipment_incidents, seat_state,
  equipment_state. Each row carries the engine `unit` that computed it, so a unit's new result
  replaces exactly its old one (rows the unit no longer produces are deleted).
- plans and decisions (inputs, kept by a rebuild): roster, leave, swaps, seat_assignments,
  equipment_assignments, badge_changes, excuses, and the audit trail of every lead action.
- the engine's checkpoint: its state keyed to a position in the ordered input log (the input log
  itself, events, statuses, contact-center counts, marks and ticks, is in hub.store).

Times are UTC ms integers, dates site-local ISO dates, shift keys "<date>/<shift id>".
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

from hub.store import Store
from hub.store.audit import write_audit

DERIVED_TABLES = (
    "violations", "attendance", "away_periods", "occupancy_intervals", "equipment_incidents",
    "seat_state", "equipment_state",
)  # fmt: skip

# Column lists per derived table (the order rows are written in).
COLUMNS: dict[str, tuple[str, ...]] = {
    "violations": ("id", "rule", "kind", "employee_no", "team", "seat", "zone", "device", "shift", "date",
                   "start", "end", "evidence", "details", "amount", "excused", "excuse_reason",
                   "excused_by", "excused_at", "unit"),
    "attendance": ("date", "shift", "employee_no", "name", "team", "rostered_seat", "seats_used",
                   "first_arrival", "arrival_minutes_before", "rollcall", "seat_signin", "signout",
                   "minutes_worked", "breaks_count", "breaks_minutes", "meal_minutes", "violation_ids",
                   "leave", "excused", "unrostered", "unit"),
    "away_periods": ("id", "employee_no", "seat", "shift", "kind", "start", "end", "evidence", "unit"),
    "occupancy_intervals": ("id", "seat", "device", "start", "end", "occupied_by", "unit"),
    "equipment_incidents": ("id", "tag", "kind", "home_seat", "rule", "opened", "closed", "last_seen",
                            "last_seen_device", "price", "liable", "evidence", "unit"),
    "seat_state": ("seat", "zone", "state", "agent", "since", "used_before_s", "unit"),
    "equipment_state": ("tag", "kind", "home_seat", "seen_at", "seen_device", "last_seen", "state", "since", "unit"),
}  # fmt: skip
KEYS: dict[str, tuple[str, ...]] = {
    "violations": ("id",), "attendance": ("date", "shift", "employee_no"), "away_periods": ("id",),
    "occupancy_intervals": ("id",), "equipment_incidents": ("id",), "seat_state": ("seat",),
    "equipment_state": ("tag",),
}  # fmt: skip
JSON_COLUMNS = {"evidence", "details", "seats_used", "violation_ids", "excused", "liable"}
PLANS_VERSION_KEY = "plans_version"


def _q(col: str) -> str:
    return f'"{col}"'


def _upsert_sql(table: str) -> str:
    cols = COLUMNS[table]
    keys = KEYS[table]
    sets = ", ".join(f"{_q(c)}=excluded.{_q(c)}" for c in cols if c not in keys)
    return (
        f"INSERT INTO {table}({', '.join(_q(c) for c in cols)}) VALUES ({', '.join('?' * len(cols))})"
        f" ON CONFLICT({', '.join(_q(k) for k in keys)}) DO UPDATE SET {sets}"
    )


_UPSERT = {t: _upsert_sql(t) for t in COLUMNS}


def encode_row(table: str, row: dict[str, Any]) -> tuple:
    """A record as the tuple its table stores (JSON cells serialised)."""
    out = []
    for c in COLUMNS[table]:
        v = row.get(c)
        if c in JSON_COLUMNS and v is not None and not isinstance(v, str):
            v = json.dumps(v, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        elif isinstance(v, bool):
            v = int(v)
        out.append(v)
    return tuple(out)


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    for c in JSON_COLUMNS:
        if c in row and isinstance(row[c], str):
            with contextlib.suppress(ValueError):
                row[c] = json.loads(row[c])
    return row


class DerivedStore:
    """The engine's tables on the hub's Store (same connection, same lock)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # ------------------------------------------------------------ plumbing

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return self.store.query(sql, args)

    def _exec(self, sql: str, args: Sequence[Any] = ()) -> int:
        with self.store.lock:
            return self.store.conn.execute(sql, list(args)).rowcount

    def _transaction(self, fn) -> Any:
        with self.store.lock:
            conn = self.store.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return result

    # ------------------------------------------------------------ engine output

    def apply(
        self,
        upserts: dict[str, list[tuple]],
        deletes: dict[str, list[tuple]],
        scope_deletes: dict[str, list[tuple[str, list[tuple]]]] | None = None,
        checkpoint: tuple[int, int, int, int, bytes] | None = None,
    ) -> None:
        """Write one flush of the engine in one transaction.

        upserts: table -> encoded rows; deletes: table -> key tuples; scope_deletes: table ->
        [(unit, keys kept)]: delete the unit's rows except those keys (a unit's first result after
        a restart, when the engine does not know what it wrote before); checkpoint: (format, seq,
        watermark, saved_at, state): the engine's state once these rows are written.
        """
        if not upserts and not deletes and not scope_deletes and checkpoint is None:
            return

        def write(conn) -> None:
            for table, keys in (scope_deletes or {}).items():
                kcols = KEYS[table]
                for unit, kept in keys:
                    existing = conn.execute(
                        f"SELECT {', '.join(_q(k) for k in kcols)} FROM {table} WHERE unit = ?", (unit,)
                    ).fetchall()
                    keep = set(kept)
                    where = " AND ".join(f"{_q(k)} = ?" for k in kcols)
                    conn.executemany(f"DELETE FROM {table} WHERE {where}", [tuple(r) for r in existing if tuple(r) not in keep])
            for table, keys in deletes.items():
                where = " AND ".join(f"{_q(k)} = ?" for k in KEYS[table])
                conn.executemany(f"DELETE FROM {table} WHERE {where}", keys)
            for table, rows in upserts.items():
                conn.executemany(_UPSERT[table], rows)
            if checkpoint is not None:
                conn.execute(
                    "INSERT INTO engine_checkpoint(id, format, seq, watermark, saved_at, state) VALUES (1,?,?,?,?,?)"
                    " ON CONFLICT(id) DO UPDATE SET format=excluded.format, seq=excluded.seq,"
                    " watermark=excluded.watermark, saved_at=excluded.saved_at, state=excluded.state",
                    checkpoint,
                )

        self._transaction(write)

    def checkpoint(self) -> dict[str, Any] | None:
        """The engine's last checkpoint: format, seq, watermark, saved_at, state (None: none yet)."""
        rows = self._rows("SELECT format, seq, watermark, saved_at, state FROM engine_checkpoint WHERE id = 1")
        return rows[0] if rows else None

    def drop_checkpoint(self) -> None:
        self._exec("DELETE FROM engine_checkpoint")

    def units_with_rows(self) -> set[str]:
        """Every engine unit that owns rows in some derived table."""
        out: set[str] = set()
        for table in DERIVED_TABLES:
            out.update(r["unit"] for r in self._rows(f"SELECT DISTINCT unit FROM {table}") if r["unit"])
        return out

    def clear_derived(self) -> dict[str, int]:
        """Empty every derived table (before a rebuild); returns the rows removed per table."""

        def clear(conn) -> dict[str, int]:
            conn.execute("DELETE FROM engine_checkpoint")  # it describes the tables being emptied
            return {t: conn.execute(f"DELETE FROM {t}").rowcount for t in DERIVED_TABLES}

        return self._transaction(clear)

    def snapshot(self, table: str) -> list[dict[str, Any]]:
        """Every row of a derived table without its engine bookkeeping (tests, rebuild checks)."""
        cols = [c for c in COLUMNS[table] if c != "unit"]
        order = ", ".join(_q(k) for k in KEYS[table])
        return [_decode(r) for r in self._rows(f"SELECT {', '.join(_q(c) for c in cols)} FROM {table} ORDER BY {order}")]

    # ------------------------------------------------------------ plans

    def plans_version(self) -> int:
        rows = self._rows("SELECT value FROM meta WHERE key = ?", [PLANS_VERSION_KEY])
        return int(rows[0]["value"]) if rows else 0

    def bump_plans_version(self, conn=None) -> None:
        sql = (
            "INSERT INTO meta(key, value) VALUES (?, '1') ON CONFLICT(key) DO UPDATE SET"
            " value = CAST(CAST(meta.value AS INTEGER) + 1 AS TEXT)"
        )
        if conn is not None:
            conn.execute(sql, [PLANS_VERSION_KEY])
        else:
            self._exec(sql, [PLANS_VERSION_KEY])

    def roster_dates(self) -> set[str]:
        """Dates with a roster from a file or a lead (rows the roster model wrote do not count)."""
        return {r["date"] for r in self._rows(
            "SELECT DISTINCT date FROM roster WHERE coalesce(source, '') NOT IN ('pattern', 'plan', 'extra')")}

    def _materialise(self, dates: list[str]) -> None:
        """Let the site's roster model (hub.roster.effective, when installed) write the rows of
        these dates first: rotations and published months reach the engine through this table."""
        source = getattr(self.store, "roster_source", None)
        if source is not None and dates:
            source(dates)

    def roster_for(self, dates: Iterable[str]) -> list[dict[str, Any]]:
        ds = sorted(set(dates))
        if not ds:
            return []
        self._materialise(ds)
        marks = ",".join("?" * len(ds))
        return self._rows(f"SELECT * FROM roster WHERE date IN ({marks}) ORDER BY date, shift, employee_no", ds)

    def plans_for(self, dates: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """Roster, leave, swaps and seat assignments for some local dates."""
        ds = sorted(set(dates))
        out: dict[str, list[dict[str, Any]]] = {"roster": [], "leave": [], "swaps": [], "seat_assignments": []}
        if not ds:
            return out
        self._materialise(ds)
        marks = ",".join("?" * len(ds))
        for table in out:
            out[table] = self._rows(f"SELECT * FROM {table} WHERE date IN ({marks})", ds)
        return out

    def insert_roster(self, rows: Iterable[dict[str, Any]], *, replace_dates: bool = False, conn=None) -> int:
        rows = list(rows)

        def write(c) -> int:
            if replace_dates:
                for d in sorted({r["date"] for r in rows}):
                    c.execute("DELETE FROM roster WHERE date = ?", (d,))
            c.executemany(
                "INSERT INTO roster(date, employee_no, shift, seat, meal_start, source) VALUES (?,?,?,?,?,?)"
                " ON CONFLICT(date, employee_no, shift) DO UPDATE SET seat=excluded.seat,"
                " meal_start=excluded.meal_start, source=excluded.source",
                [(r["date"], r["employee_no"], r["shift"], r["seat"], r.get("meal_start"), r.get("source", "import")) for r in rows],
            )
            self.bump_plans_version(c)
            return len(rows)

        if conn is not None:
            return write(conn)
        return self._transaction(write)

    def seed_roster(self, rows: list[dict[str, Any]]) -> int:
        """Load the site's roster.csv rows for dates the table has nothing for yet."""
        have = self.roster_dates()
        fresh = [r for r in rows if r["date"] not in have]
        return self.insert_roster(fresh) if fresh else 0

    def equipment_assignments(self) -> dict[str, str]:
        return {r["tag"]: r["home_seat"] for r in self._rows("SELECT tag, home_seat FROM equipment_assignments")}

    def badge_changes(self) -> list[dict[str, Any]]:
        return self._rows('SELECT id, at, uid, employee_no, action, "by", reason FROM badge_changes ORDER BY at, id')

    def change_badges(self, changes: list[tuple[int, str, str | None, str, str, str]],
                      audit: tuple[int, str, str, str, dict[str, Any]], conn: Any = None) -> int:
        """Record badge changes (at, card, employee_no, action assign|revoke|supersede, by, reason)
        with their audit row, as one lead action; returns the audit id. With `conn`, inside the
        caller's transaction (an enrolment closes in the same one)."""
        sql = 'INSERT INTO badge_changes(at, uid, employee_no, action, "by", reason) VALUES (?,?,?,?,?,?)'
        if conn is None:
            return self.lead_write([(sql, c) for c in changes], audit)
        for c in changes:
            conn.execute(sql, list(c))
        audit_id = write_audit(conn, *audit)
        self.bump_plans_version(conn)
        return audit_id

    # ------------------------------------------------------------ enrolment by tapping (hub.enrolment)

    def open_enrolment(self, device: str, employee_no: str, *, by: str, opened_at: int, expires_at: int) -> int:
        """A reader in enrolment mode for one agent until expires_at, audited; returns its id.
        Bumps the plans version, so the engine learns that the device is enrolling."""
        def write(conn) -> int:
            enrolment_id = conn.execute('INSERT INTO enrolments(device, employee_no, "by", opened_at, expires_at)'
                                        " VALUES (?,?,?,?,?) RETURNING id",
                                        (device, employee_no, by, opened_at, expires_at)).fetchone()[0]
            write_audit(conn, opened_at, by, "badge.enrol_open", employee_no,
                        {"device": device, "enrolment": enrolment_id, "expires_at": expires_at})
            self.bump_plans_version(conn)
            return enrolment_id

        return self._transaction(write)

    def enrolment(self, enrolment_id: int) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM enrolments WHERE id = ?", [enrolment_id])
        return rows[0] if rows else None

    def open_enrolment_at(self, device: str, t: int) -> dict[str, Any] | None:
        """The device's open enrolment covering moment t (the latest opened), if any."""
        rows = self._rows("SELECT * FROM enrolments WHERE device = ? AND state = 'open' AND opened_at <= ?"
                          " AND expires_at > ? ORDER BY opened_at DESC, id DESC LIMIT 1", [device, t, t])
        return rows[0] if rows else None

    def enrolling_devices(self, now: int) -> dict[str, int]:
        """Devices with an enrolment still open at or after `now` -> when the last one expires."""
        rows = self._rows("SELECT device, MAX(expires_at) AS until FROM enrolments WHERE state = 'open'"
                          " AND expires_at > ? GROUP BY device", [now])
        return {r["device"]: r["until"] for r in rows}

    def enrolment_taps(self) -> dict[str, dict[str, Any]]:
        """Closed enrolments by the tap that closed them: how the reader answered that tap."""
        rows = self._rows("SELECT * FROM enrolments WHERE event_id IS NOT NULL")
        return {r["event_id"]: r for r in rows}

    def close_enrolment(self, enrolment_id: int, *, state: str, event_id: str, at: int, card: str | None,
                        reason: str | None, conn: Any) -> None:
        """Close an enrolment with the tap that answered it, inside the caller's transaction."""
        conn.execute("UPDATE enrolments SET state = ?, event_id = ?, closed_at = ?, card = ?, reason = ?"
                     " WHERE id = ? AND state = 'open'", (state, event_id, at, card, reason, enrolment_id))

    def transaction(self, fn) -> Any:
        """Run fn(conn) in one write transaction (for callers composing several writes here)."""
        return self._transaction(fn)

    def excuses(self) -> dict[str, dict[str, Any]]:
        return {r["violation_id"]: r for r in self._rows('SELECT violation_id, reason, "by", at FROM excuses')}

    # ------------------------------------------------------------ lead actions (one transaction each, audited)

    def lead_write(self, statements: list[tuple[str, Sequence[Any]]], audit: tuple[int, str, str, str, dict[str, Any]]) -> int:
        """Run a lead action's statements and its audit row together; returns the audit id."""

        def write(conn) -> int:
            for sql, args in statements:
                conn.execute(sql, list(args))
            audit_id = write_audit(conn, *audit)
            self.bump_plans_version(conn)
            return audit_id

        return self._transaction(write)

    def audit(self, ts: int, actor: str, action: str, target: str | None, details: dict[str, Any] | None) -> int:
        with self.store.lock:
            return write_audit(self.store.conn, ts, actor, action, target, details)

    def audit_rows(self, limit: int = 100) -> list[dict[str, Any]]:
        return [_decode(r) for r in self._rows("SELECT * FROM audit ORDER BY id DESC LIMIT ?", [limit])]

    # ------------------------------------------------------------ reads for the API

    def violation(self, violation_id: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM violations WHERE id = ?", [violation_id])
        return _decode(rows[0]) if rows else None

    def violations(
        self, *, date_from: str | None = None, date_to: str | None = None, agent: str | None = None,
        team: str | None = None, rule: str | None = None, start_from: int | None = None,
        start_to: int | None = None, limit: int = 5000,
    ) -> list[dict[str, Any]]:
        where, args = ["1 = 1"], []
        for cond, val in (("date >= ?", date_from), ("date <= ?", date_to), ("employee_no = ?", agent),
                          ("team = ?", team), ("rule = ?", rule), ("start >= ?", start_from),
                          ("start <= ?", start_to)):
            if val is not None:
                where.append(cond)
                args.append(val)
        sql = f"SELECT * FROM violations WHERE {' AND '.join(where)} ORDER BY start, id LIMIT ?"
        return [_decode(r) for r in self._rows(sql, [*args, limit])]

    def attendance(self, date: str, shift: str | None = None) -> list[dict[str, Any]]:
        if shift is None:
            rows = self._rows("SELECT * FROM attendance WHERE date = ? ORDER BY shift, employee_no", [date])
        else:
            rows = self._rows("SELECT * FROM attendance WHERE date = ? AND shift = ? ORDER BY employee_no", [date, shift])
        return [_decode(r) for r in rows]

    def seat_states(self) -> list[dict[str, Any]]:
        return self._rows("SELECT seat, zone, state, agent, since, used_before_s FROM seat_state ORDER BY seat")

    def equipment_states(self) -> list[dict[str, Any]]:
        return self._rows(
            "SELECT tag, kind, home_seat, seen_at, seen_device, last_seen, state, since FROM equipment_state ORDER BY tag"
        )

    def open_incidents(self) -> list[dict[str, Any]]:
        rows = self._rows("SELECT * FROM equipment_incidents WHERE closed IS NULL ORDER BY opened, id")
        return [_decode(r) for r in rows]

    def count(self, table: str) -> int:
        if table not in COLUMNS and table not in ("audit", "roster", "leave", "swaps", "seat_assignments", "excuses"):
            raise ValueError(f"unknown table {table!r}")
        return self._rows(f"SELECT count(*) AS n FROM {table}")[0]["n"]
