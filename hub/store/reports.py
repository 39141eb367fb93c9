"""Read-only queries behind exports and the monthly assessment.

Exports can run for minutes over years of data while the hub keeps ingesting, so they never hold
the Store's lock: `ReportReader` opens its own read-only connection to the database (file or
server) and reads inside one transaction (a consistent snapshot: SQLite's WAL, PostgreSQL's
REPEATABLE READ; ingest is never blocked). Rows
come from cursors in batches (`fetchmany`), so memory does not grow with the range. An in-memory
database (tests only) cannot be opened twice; there the reader borrows the Store's connection
and takes the lock for each batch.

The derived tables belong to the rule engine (hub/store/derived.py); a table the engine has not
created yet reads as empty.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import quote

import orjson

from hub.store import Store, backend
from hub.store.cells import Fallbacks

BATCH = 1000
# Evidence is looked up first among events near the violation (the ts index), then anywhere.
EVIDENCE_SLACK_MS = 24 * 3600 * 1000


def json_cell(text: str | None, default: Any) -> Any:
    """A stored JSON cell decoded as the exports read it (`default` for empty or damaged)."""
    if text is None or text == "":
        return default
    if text == "[]":  # most list cells (no violations, nothing excused): skip the parser
        return []
    try:
        return orjson.loads(text)  # the same values as json.loads, a few times faster
    except orjson.JSONDecodeError:
        try:
            return json.loads(text)  # what orjson refuses and json reads (NaN, integers past 64 bits)
        except (TypeError, ValueError):
            return default
    except TypeError:
        return default  # a damaged JSON cell must not stop an export; the raw ids stay in the DB


class ReportReader:
    """A read-only snapshot of the hub database. Use as a context manager; close() releases it."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.dialect = store.dialect
        self._own = store.location is not None
        if self._own and store.url is not None:
            self.conn = backend.connect(store.url)
            self.conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")  # one snapshot for every query
        elif self._own:
            self.conn = sqlite3.connect(f"file:{quote(str(store.path))}?mode=ro", uri=True, check_same_thread=False,
                                        isolation_level=None, timeout=30)
            self.conn.execute("PRAGMA busy_timeout=30000")
            self.conn.execute("BEGIN")  # one snapshot for every query of this export
        else:
            self.conn = store.conn
        self._tables: set[str] | None = None

    def close(self) -> None:
        if self._own:
            with contextlib.suppress(Exception):  # a snapshot that ended already (a dropped connection)
                self.conn.execute("COMMIT")
            self.conn.close()
            self._own = False

    def __enter__(self) -> ReportReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ plumbing

    def has_table(self, name: str) -> bool:
        if self._tables is None:
            if self._own:
                self._tables = self.dialect.tables(self.conn)
            else:
                with self.store.lock:
                    self._tables = self.dialect.tables(self.conn)
        return name in self._tables

    def _fetchall(self, sql: str, args: Sequence[Any]) -> list[tuple]:
        if self._own:
            return self.conn.execute(sql, args).fetchall()
        with self.store.lock:
            return self.conn.execute(sql, args).fetchall()

    def _rows(self, sql: str, args: Sequence[Any]) -> Iterator[dict[str, Any]]:
        """Stream a query as dicts, BATCH rows at a time."""
        if self._own:
            cur = self.conn.execute(sql, args)
            names = [d[0] for d in cur.description]
            while batch := cur.fetchmany(BATCH):
                for r in batch:
                    yield dict(zip(names, r, strict=True))
            return
        offset = 0  # shared in-memory connection: page under the lock, never hold it across yields
        while True:
            with self.store.lock:
                cur = self.conn.execute(f"{sql} LIMIT ? OFFSET ?", [*args, BATCH, offset])
                names = [d[0] for d in cur.description]
                batch = cur.fetchall()
            for r in batch:
                yield dict(zip(names, r, strict=True))
            if len(batch) < BATCH:
                return
            offset += BATCH

    # ------------------------------------------------------------ attendance

    def attendance(
        self, date_from: str, date_to: str, *, team: str | None = None, employees: Iterable[str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Attendance rows by date, shift, employee number; JSON cells decoded."""
        if not self.has_table("attendance"):
            return
        where, args = self._filters("date BETWEEN ? AND ?", [date_from, date_to], team, employees)
        for row in self._rows(f"SELECT * FROM attendance WHERE {where} ORDER BY date, shift, employee_no", args):
            row["seats_used"] = json_cell(row.get("seats_used"), [])
            row["violation_ids"] = json_cell(row.get("violation_ids"), [])
            row["excused"] = json_cell(row.get("excused"), [])
            yield row

    def attendance_cells(
        self, date_from: str, date_to: str, cells: Sequence[str], fallbacks: Fallbacks, *, team: str | None = None,
        employees: Iterable[str] | None = None,
    ) -> Iterator[list[tuple]]:
        """The attendance rows of `attendance()`, in its order, as batches of tuples of `cells`:
        SQL expressions over the stored columns (hub.store.cells) that render each cell in the
        query; `fallbacks` are the Python converters those expressions call for uncommon cells."""
        if not self.has_table("attendance"):
            return
        where, args = self._filters("date BETWEEN ? AND ?", [date_from, date_to], team, employees)
        sql = f"SELECT {', '.join(cells)} FROM attendance WHERE {where} ORDER BY date, shift, employee_no"
        if self._own:
            fallbacks.register(self.conn)
            cur = self.conn.execute(sql, args)
            while batch := cur.fetchmany(BATCH):
                yield batch
            return
        offset = 0  # shared in-memory connection: page under the lock, never hold it across yields
        while True:
            with self.store.lock:
                fallbacks.register(self.conn)
                batch = self.conn.execute(f"{sql} LIMIT ? OFFSET ?", [*args, BATCH, offset]).fetchall()
            if batch:
                yield batch
            if len(batch) < BATCH:
                return
            offset += BATCH

    # ------------------------------------------------------------ violations

    def violations(
        self, date_from: str, date_to: str, *, team: str | None = None, employees: Iterable[str] | None = None,
        agents_only: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """Violations by date and start time; evidence and details decoded."""
        if not self.has_table("violations"):
            return
        where, args = self._filters("date BETWEEN ? AND ?", [date_from, date_to], team, employees)
        if agents_only:
            where += " AND employee_no IS NOT NULL AND employee_no != ''"
        sql = f"SELECT * FROM violations WHERE {where} ORDER BY date, start, id"
        for row in self._rows(sql, args):
            row["evidence"] = json_cell(row.get("evidence"), [])
            row["details"] = json_cell(row.get("details"), {})
            yield row

    def evidence_events(self, event_ids: Sequence[str], near: tuple[int, int] | None = None) -> dict[str, dict[str, Any]]:
        """Event id -> {event_id, ts, device, type, body} for the evidence of some violations.

        Through the partial event_id index first (every type but heartbeats, 99 % of the log);
        a heartbeat cited as evidence with `near` (a UTC ms window) through the ts index; ids
        not found so far in the whole log.
        """
        wanted = list(dict.fromkeys(i for i in event_ids if isinstance(i, str)))
        found: dict[str, dict[str, Any]] = {}
        cols = "SELECT event_id, ts, device, type, body FROM events WHERE"
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            self._collect(found, f"{cols} event_id IN ({','.join('?' * len(chunk))}) AND type <> 'heartbeat'", chunk)
            chunk = [i for i in chunk if i not in found]
            if near is not None and chunk:  # the ts index next
                lo, hi = near
                self._collect(found, f"{cols} ts BETWEEN ? AND ? AND event_id IN ({','.join('?' * len(chunk))})",
                              [lo - EVIDENCE_SLACK_MS, hi + EVIDENCE_SLACK_MS, *chunk])
            missing = [i for i in chunk if i not in found]
            if missing:  # outside the window (or no window): the whole log
                self._collect(found, f"{cols} event_id IN ({','.join('?' * len(missing))})", missing)
        return found

    def _collect(self, found: dict[str, dict[str, Any]], sql: str, args: list[Any]) -> None:
        for eid, ts, device, etype, body in self._fetchall(sql, args):
            found[eid] = {"event_id": eid, "ts": ts, "device": device, "type": etype, "body": json_cell(body, {})}

    def violation(self, violation_id: str) -> dict[str, Any] | None:
        if not self.has_table("violations"):
            return None
        rows = list(self._rows("SELECT * FROM violations WHERE id = ?", [violation_id]))
        if not rows:
            return None
        row = rows[0]
        row["evidence"] = json_cell(row.get("evidence"), [])
        row["details"] = json_cell(row.get("details"), {})
        return row

    # ------------------------------------------------------------ raw tables

    def badge_events(self, from_ms: int, to_ms: int) -> Iterator[dict[str, Any]]:
        """Badge taps from the event log (the source of truth), in device time order."""
        sql = (
            "SELECT id, event_id, device, seq, ts, received, clock_ok, body FROM events"
            " WHERE type = 'badge' AND ts >= ? AND ts < ? ORDER BY ts, id"
        )
        for row in self._rows(sql, [from_ms, to_ms]):
            body = json_cell(row.pop("body"), {})
            row["uid"] = str(body.get("uid", ""))
            row["reader"] = str(body.get("reader", ""))
            row["card_bits"] = body.get("card_bits")  # optional: what a third-party reader sees
            yield row

    def occupancy_intervals(
        self, from_ms: int, to_ms: int, *, seats: Iterable[str] | None = None, occupied_by: Iterable[str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Intervals that overlap [from_ms, to_ms) (an open interval overlaps until now)."""
        if not self.has_table("occupancy_intervals"):
            return
        where = 'start < ? AND ("end" IS NULL OR "end" >= ?)'
        args: list[Any] = [to_ms, from_ms]
        if seats is not None:
            where, args = self._in(where, args, "seat", seats)
        if occupied_by is not None:
            where, args = self._in(where, args, "occupied_by", occupied_by)
        yield from self._rows(f"SELECT * FROM occupancy_intervals WHERE {where} ORDER BY start, seat", args)

    def equipment_incidents(self, from_ms: int, to_ms: int) -> Iterator[dict[str, Any]]:
        """Incidents opened in [from_ms, to_ms); liable shares and evidence decoded."""
        if not self.has_table("equipment_incidents"):
            return
        sql = "SELECT * FROM equipment_incidents WHERE opened >= ? AND opened < ? ORDER BY opened, id"
        for row in self._rows(sql, [from_ms, to_ms]):
            row["liable"] = json_cell(row.get("liable"), [])
            row["evidence"] = json_cell(row.get("evidence"), [])
            yield row

    def audit(self, from_ms: int, to_ms: int) -> Iterator[dict[str, Any]]:
        if not self.has_table("audit"):
            return
        sql = "SELECT * FROM audit WHERE ts >= ? AND ts < ? ORDER BY ts, id"
        for row in self._rows(sql, [from_ms, to_ms]):
            row["details"] = json_cell(row.get("details"), {})
            yield row

    def employees_with_rows(self, date_from: str, date_to: str) -> set[str]:
        """Who has attendance or violations in the range (the assessment's population)."""
        found: set[str] = set()
        for table in ("attendance", "violations"):
            if self.has_table(table):
                rows = self._fetchall(
                    f"SELECT DISTINCT employee_no FROM {table} WHERE date BETWEEN ? AND ? AND employee_no IS NOT NULL",
                    [date_from, date_to],
                )
                found.update(r[0] for r in rows if r[0])
        return found

    def shift_attendance(self, date: str, shift: str) -> list[dict[str, Any]]:
        """Who attended one shift (equipment liability shared by the team on shift)."""
        if not self.has_table("attendance"):
            return []
        rows = self._fetchall(
            "SELECT employee_no, team, rostered_seat, first_arrival, rollcall FROM attendance"
            " WHERE date = ? AND shift = ? ORDER BY employee_no",
            [date, shift],
        )
        return [dict(zip(("employee_no", "team", "rostered_seat", "first_arrival", "rollcall"), r, strict=True)) for r in rows]

    def _in(self, where: str, args: list[Any], column: str, values: Iterable[str]) -> tuple[str, list[Any]]:
        vals = list(values)
        if not vals:
            return where + " AND 1 = 0", args
        if len(vals) > 900:  # SQLite's variable limit; use a JSON array instead of many markers
            return where + f" AND {column} IN (SELECT value FROM {self.dialect.json_values('?')})", [*args, json.dumps(vals)]
        return where + f" AND {column} IN ({','.join('?' * len(vals))})", [*args, *vals]

    def _filters(self, where: str, args: list[Any], team: str | None,
                 employees: Iterable[str] | None) -> tuple[str, list[Any]]:
        if team is not None:
            where += " AND team = ?"
            args = [*args, team]
        if employees is not None:
            where, args = self._in(where, args, "employee_no", employees)
        return where, args
