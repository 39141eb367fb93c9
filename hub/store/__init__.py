"""The hub's database: all SQL lives in this package.

`Store` wraps one connection (injected, or opened from a SQLite path or a PostgreSQL URL: the
differences live in hub.store.backend, the schema's migrations in hub.store.migrations). The
`events` table is the append-only source of truth, unique on (device, seq) so replays and QoS 1
duplicates are stored once; `quarantine` keeps whatever failed validation, with the reason;
`devices` is the latest status of each device. Derived tables (attendance, violations, seat
state...) live in sibling modules of this package and are rebuilt from `events`.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from hub.store import backend, migrations

SCHEMA_VERSION = migrations.SCHEMA_VERSION
REUSED_SEQ = "reused seq"  # the quarantine reason's prefix for a device reusing a stored seq

# What the input log holds besides events: a device's status, the contact center's idle count,
# the hub's own session marks (connected, disconnected, caught_up) and idle ticks.
INPUT_KINDS = ("event", "status", "acd", "mark", "tick")


@dataclass(frozen=True)
class StoredEvent:
    """One row of the event log as the engine and API see it."""

    id: int  # the log's own order (receipt order)
    event_id: str
    device: str
    seq: int
    ts: int  # device time, UTC ms
    received: int  # hub receipt time, UTC ms
    type: str
    clock_ok: bool
    body: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event_id": self.event_id,
            "device": self.device,
            "seq": self.seq,
            "ts": self.ts,
            "received": self.received,
            "type": self.type,
            "clock_ok": self.clock_ok,
            "body": self.body,
        }


@dataclass(frozen=True)
class IncomingEvent:
    """A validated event on its way into the log."""

    event_id: str
    device: str
    seq: int
    ts: int
    received: int
    type: str
    clock_ok: bool
    body: dict[str, Any]


@dataclass(frozen=True)
class LoggedInput:
    """One row of the ordered input log: what the engine consumes, in `seq` order."""

    seq: int
    kind: str  # one of INPUT_KINDS
    received: int  # hub receipt time, UTC ms: the engine's time once this input is consumed
    event: StoredEvent | None  # kind "event" (None if the event was purged since)
    body: dict[str, Any] | None  # every other kind


_EVENT_COLUMNS = "id, event_id, device, seq, ts, received, type, clock_ok, body"
# Store.count_events' counter, moved in the transaction that appends or purges events.
COUNT_EVENTS_ADDED = "UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key = 'events_stored'"

# A device's receipt of events (Store.append_inputs' `seen`): last seen, its last heartbeat's time,
# spool and drop counts, clock skew.
def _touch_device_sql(dialect: backend.Dialect) -> str:
    return (
        "INSERT INTO devices(device, state, last_seen, last_heartbeat, spooled, dropped, clock_skew_ms)"
        " VALUES (?, 'online', ?, ?, ?, ?, ?) ON CONFLICT(device) DO UPDATE SET"
        f" last_seen={dialect.greatest('coalesce(devices.last_seen, 0)', 'excluded.last_seen')},"
        " last_heartbeat=coalesce(excluded.last_heartbeat, devices.last_heartbeat),"
        " spooled=coalesce(excluded.spooled, devices.spooled),"
        " dropped=coalesce(excluded.dropped, devices.dropped),"
        " clock_skew_ms=excluded.clock_skew_ms"
    )


def _dumps(value: Any) -> str:
    """Compact JSON text for the log (orjson; json for what it refuses, e.g. integers past 64 bits)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _text(value: bytes | str) -> str:
    """Whatever a message carried, as text either backend stores: bytes that are not UTF-8 and NUL
    characters (which PostgreSQL's text refuses: the batch holding such a message failed to
    commit its quarantine row and was never acknowledged) as backslash escapes."""
    text = value if isinstance(value, str) else value.decode("utf-8", errors="backslashreplace")
    return text.replace("\x00", "\\x00") if "\x00" in text else text


def _row_to_event(row: Sequence[Any]) -> StoredEvent:
    return StoredEvent(row[0], row[1], row[2], row[3], row[4], row[5], row[6], bool(row[7]), json.loads(row[8]))


def connect(target: str | Path) -> Any:
    """Open the hub database the way every part of the hub expects it (a SQLite file or a
    PostgreSQL URL: hub.store.backend)."""
    return backend.connect(target)


class Store:
    """The hub database. Thread-safe: one lock serialises use of the single connection.

    `target` is a connection (sqlite3's, or hub.store.backend's PostgreSQL one), a SQLite file
    path, ":memory:", or a `postgresql://` URL."""

    def __init__(self, target: Any) -> None:
        if isinstance(target, (sqlite3.Connection, backend.PgConnection)):
            self.conn = target
        else:
            self.conn = connect(target)
        self.dialect = backend.dialect_of(self.conn)
        self._touch_device = _touch_device_sql(self.dialect)
        self.lock = threading.RLock()
        with self.lock:
            migrations.migrate(self.conn)
        # The engine reads the input log on a connection of its own (a file database in WAL mode,
        # or PostgreSQL: readers see committed rows and never wait for ingest's writes or the lock
        # around them).
        if backend.is_url(target):
            self.url: str | None = str(target)
            self.path: Path | None = None
        else:
            self.url = None
            path = None if isinstance(target, sqlite3.Connection) else str(target)
            self.path = Path(path) if path not in (None, ":memory:") else None  # None: not a file others can open
        # Opened at the first read of the log: most stores never read it (a web page's, /hq's one
        # per site, an export's), and on PostgreSQL each connection is a server process.
        self._log_opened: Any = None if self.location is not None else self.conn
        self._log_lock = threading.RLock() if self.location is not None else self.lock

    @property
    def _log_conn(self) -> Any:
        """The input log's reading connection (callers hold _log_lock)."""
        if self._log_opened is None:
            self._log_opened = connect(self.location)
        return self._log_opened

    @property
    def location(self) -> str | None:
        """What another process opens to reach this database (None: in memory, this one only)."""
        return self.url if self.url is not None else (str(self.path) if self.path is not None else None)

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows as dicts (column name -> value)."""
        with self.lock:
            cur = self.conn.execute(sql, list(args))
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def close(self) -> None:
        with self._log_lock:
            if self._log_opened is not None and self._log_opened is not self.conn:
                self._log_opened.close()
                self._log_opened = None
        with self.lock:
            self.conn.close()

    # ------------------------------------------------------------ event log

    def append_events(
        self, events: Iterable[IncomingEvent], reused: list[tuple[IncomingEvent, str]] | None = None
    ) -> list[StoredEvent]:
        """Append in one transaction; returns the events that were new (duplicates are skipped)."""
        return self.append_inputs([("event", e.received, e) for e in events], reused)

    def append_inputs(
        self, inputs: Iterable[tuple[str, int, Any]], reused: list[tuple[IncomingEvent, str]] | None = None,
        seen: dict[str, tuple[int, int | None, int | None, int | None, int]] | None = None,
    ) -> list[StoredEvent]:
        """Append inputs in the order given, in one transaction: ("event", received, IncomingEvent)
        goes to the event log (once: a duplicate (device, seq) is skipped) and to the input log;
        ("status" | "acd" | "mark" | "tick", received, dict) goes to the input log alone. Returns
        the events that were new.

        A skipped event whose (device, seq) is stored under a *different* event id is not a
        redelivery but a device reusing a seq (a third-party reader after a reboot): with
        `reused`, each such event is appended to it with the stored event's id, for quarantine.

        `seen` records the receipt of events per device in the same transaction (device ->
        (received, heartbeat ts, spooled, dropped, skew ms)): one commit per ingest batch, not two."""
        items = list(inputs)
        stored: list[StoredEvent] = []
        rows: list[tuple] = []
        for kind, _received, item in items:
            if kind == "event":
                e = item
                rows.append((e.event_id, e.device, e.seq, e.ts, e.received, e.type, int(e.clock_ok), _dumps(e.body)))
            elif kind not in INPUT_KINDS:
                raise ValueError(f"unknown input kind {kind!r}")
        with self.lock:
            cur = self.conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                new: dict[tuple[str, int], int] = {}
                if rows:
                    # One executemany for the batch; the rows it added are the ids past the old
                    # maximum (the write lock is held), read back in one query.
                    before = cur.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
                    cur.executemany(
                        "INSERT INTO events(event_id, device, seq, ts, received, type, clock_ok, body)"
                        " VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(device, seq) DO NOTHING",
                        rows,
                    )
                    new = {(d, q): i for i, d, q in cur.execute("SELECT id, device, seq FROM events WHERE id > ?", (before,))}
                logged: list[tuple] = []
                for kind, received, item in items:
                    if kind != "event":
                        body = _dumps(item) if item is not None else None
                        device = item.get("device") if isinstance(item, dict) else None
                        logged.append((received, kind, None, device, body))
                        continue
                    e = item
                    rowid = new.pop((e.device, e.seq), None)  # pop: a second copy in the batch is a duplicate
                    if rowid is not None:
                        stored.append(StoredEvent(rowid, e.event_id, e.device, e.seq, e.ts, e.received, e.type, e.clock_ok, e.body))
                        logged.append((e.received, "event", rowid, e.device, None))
                    elif reused is not None:
                        row = cur.execute("SELECT event_id FROM events WHERE device = ? AND seq = ?", (e.device, e.seq)).fetchone()
                        if row is not None and row[0] != e.event_id:
                            reused.append((e, row[0]))
                if logged:
                    cur.executemany("INSERT INTO input_log(received, kind, event, device, body) VALUES (?,?,?,?,?)", logged)
                if seen:
                    cur.executemany(self._touch_device, [(d, *v) for d, v in seen.items()])
                if stored:
                    cur.execute(COUNT_EVENTS_ADDED, (len(stored),))
                if items:
                    self.dialect.announce_inputs(self.conn)  # at commit: another hub's engine wakes (hub.store.notify)
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        return stored

    def log_input(self, kind: str, received: int, body: dict[str, Any] | None = None) -> None:
        """One input that is not an event (a status, a session mark, a tick)."""
        self.append_inputs([(kind, received, body)])

    def read_inputs(self, *, after_seq: int = 0, limit: int = 5000, since_received: int | None = None) -> list[LoggedInput]:
        """The input log in order from after `after_seq` (or from the first input received at or
        after `since_received`), at most `limit` rows."""
        where, args = "l.seq > ?", [after_seq]
        if since_received is not None:
            where += " AND l.received >= ?"
            args.append(since_received)
        sql = (f"SELECT l.seq, l.kind, l.received, l.body, {', '.join('e.' + c.strip() for c in _EVENT_COLUMNS.split(','))}"
               f" FROM input_log l LEFT JOIN events e ON e.id = l.event WHERE {where} ORDER BY l.seq LIMIT ?")
        with self._log_lock:
            rows = self._log_conn.execute(sql, [*args, limit]).fetchall()
        out = []
        for r in rows:
            event = _row_to_event(r[4:]) if r[1] == "event" and r[4] is not None else None
            out.append(LoggedInput(r[0], r[1], r[2], event, json.loads(r[3]) if r[3] else None))
        return out

    def fresh_taps(self, *, after_seq: int, upto_seq: int, since_received: int, within_ms: int) -> list[LoggedInput]:
        """Badge events logged in (after_seq, upto_seq], received at or after `since_received`, whose
        device time is within `within_ms` of their receipt: a person at the reader now (the engine
        answers them ahead of a backlog it is still judging)."""
        sql = (f"SELECT l.seq, l.kind, l.received, l.body, {', '.join('e.' + c.strip() for c in _EVENT_COLUMNS.split(','))}"
               " FROM input_log l JOIN events e ON e.id = l.event WHERE l.seq > ? AND l.seq <= ? AND l.kind = 'event'"
               " AND l.received >= ? AND e.type = 'badge' AND e.ts >= l.received - ? AND e.ts <= l.received + ?"
               " ORDER BY l.seq")
        with self._log_lock:
            rows = self._log_conn.execute(sql, (after_seq, upto_seq, since_received, within_ms, within_ms)).fetchall()
        return [LoggedInput(r[0], r[1], r[2], _row_to_event(r[4:]), None) for r in rows]

    def input_position(self) -> tuple[int, int]:
        """(seq, received) of the newest input logged, (0, 0) when the log is empty."""
        with self._log_lock:
            row = self._log_conn.execute("SELECT seq, received FROM input_log ORDER BY seq DESC LIMIT 1").fetchone()
        return (row[0], row[1]) if row else (0, 0)

    def first_input_seq_received_since(self, received: int) -> int | None:
        """The seq of the first input received at or after a hub time (a start without checkpoint)."""
        with self.lock:
            row = self.conn.execute("SELECT min(seq) FROM input_log WHERE received >= ?", (received,)).fetchone()
        return row[0]

    def quarantine(self, received: int, topic: str, payload: bytes | str, reason: str) -> None:
        self.quarantine_many([(received, topic, payload, reason)])

    def quarantine_many(self, rows: Iterable[tuple[int, str, bytes | str, str]]) -> None:
        """Keep messages that failed validation, with the reason. A message already kept (the same
        topic and payload: another hub's copy, a redelivery) is counted on its row, not added."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                for received, topic, payload, reason in rows:
                    topic_t, payload_t = _text(topic), _text(payload)
                    digest = hashlib.sha256(f"{topic_t}\0{payload_t}".encode()).hexdigest()
                    self.conn.execute(
                        "INSERT INTO quarantine(received, topic, payload, reason, digest) VALUES (?,?,?,?,?)"
                        " ON CONFLICT(digest) DO UPDATE SET copies = quarantine.copies + 1,"
                        " last_received = excluded.received",
                        (received, topic_t, payload_t, _text(reason), digest),
                    )
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise

    def quarantined(self, limit: int = 100) -> list[dict[str, Any]]:
        """Newest first: received (first copy), topic, payload, reason, copies, last_received."""
        return self.query("SELECT id, received, topic, payload, reason, copies, last_received FROM quarantine"
                          " ORDER BY id DESC LIMIT ?", [limit])

    def reused_seq_counts(self) -> dict[str, int]:
        """Events quarantined for reusing a stored (device, seq), per device (topic's device)."""
        with self.lock:
            rows = self.conn.execute(
                "SELECT topic, count(*) FROM quarantine WHERE reason LIKE ? GROUP BY topic", (REUSED_SEQ + "%",)
            ).fetchall()
        out: dict[str, int] = {}
        for topic, n in rows:
            parts = topic.split("/")
            device = parts[3] if len(parts) == 5 else topic
            out[device] = out.get(device, 0) + n
        return out

    def count_events(self) -> int:
        """Events in the log: a counter kept with every append and purge (count(*) walks the
        whole log under the write lock, and /api/health is polled by monitoring)."""
        with self.lock:
            return int(self.conn.execute("SELECT value FROM meta WHERE key = 'events_stored'").fetchone()[0])

    def ingest_sessions(self) -> int:
        """How many ingest-worker broker sessions the hub may have left on the broker (0: none)."""
        with self.lock:
            row = self.conn.execute("SELECT value FROM meta WHERE key = 'ingest_sessions'").fetchone()
        return int(row[0]) if row else 0

    def set_ingest_sessions(self, n: int) -> None:
        with self.lock:
            self.conn.execute("INSERT INTO meta(key, value) VALUES ('ingest_sessions', ?)"
                              " ON CONFLICT(key) DO UPDATE SET value = excluded.value", (str(n),))

    def describe_site(self, site: str, name: str, tz: str) -> None:
        """Which site this database (or schema) holds: headquarters lists sites by it (hub.headquarters)."""
        text = json.dumps({"id": site, "name": name, "tz": tz}, ensure_ascii=False, sort_keys=True)
        with self.lock:
            self.conn.execute("INSERT INTO meta(key, value) VALUES ('site', ?)"
                              " ON CONFLICT(key) DO UPDATE SET value = excluded.value", (text,))

    def site_description(self) -> dict[str, str] | None:
        with self.lock:
            row = self.conn.execute("SELECT value FROM meta WHERE key = 'site'").fetchone()
        return json.loads(row[0]) if row else None

    def site_locations(self) -> list[str]:
        """Where each site of this database is opened: its schema's URL on PostgreSQL (a database
        may hold several), this database itself on SQLite (a file holds one)."""
        if self.url is None:
            return [self.location] if self.location is not None else []
        with self.lock:
            schemas = backend.Postgres.site_schemas(self.conn)
        return [backend.schema_url(self.url, s) for s in schemas]

    def ping(self) -> bool:
        """Whether the database answers (a refused write: the data or the database?)."""
        try:
            with self.lock:
                self.conn.execute("SELECT 1").fetchone()
            return True
        except Exception:
            return False

    def count_quarantined(self) -> int:
        with self.lock:
            return self.conn.execute("SELECT count(*) FROM quarantine").fetchone()[0]

    def recent_events(
        self, *, device: str | None = None, type: str | None = None, limit: int = 100
    ) -> list[StoredEvent]:
        """Newest first: in receipt order, or for one device (and no type) in its own order
        (seq), which its index gives without sorting the device's whole history (the floor map's
        inspector asks on every click)."""
        where, args = [], []
        if device:
            where.append("device = ?")
            args.append(device)
        if type:
            where.append("type = ?")
            args.append(type)
        sql = f"SELECT {_EVENT_COLUMNS} FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq DESC LIMIT ?" if device and not type else " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        with self.lock:
            rows = self.conn.execute(sql, args).fetchall()
        return [_row_to_event(r) for r in rows]

    def iter_events(self, *, after_id: int = 0, batch: int = 5000) -> Iterator[StoredEvent]:
        """The whole log in receipt order, streamed in batches (for rebuilds)."""
        last = after_id
        while True:
            with self.lock:
                rows = self.conn.execute(
                    f"SELECT {_EVENT_COLUMNS} FROM events WHERE id > ? ORDER BY id LIMIT ?", (last, batch)
                ).fetchall()
            if not rows:
                return
            for r in rows:
                yield _row_to_event(r)
            last = rows[-1][0]

    def events_by_ids(self, ids: Sequence[str]) -> list[StoredEvent]:
        """Events by their event ids, oldest first (the web UI reads evidence through
        ReportReader.evidence_events, on a connection of its own)."""
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        with self.lock:
            rows = self.conn.execute(
                f"SELECT {_EVENT_COLUMNS} FROM events WHERE event_id IN ({marks}) ORDER BY ts", list(ids)
            ).fetchall()
        return [_row_to_event(r) for r in rows]

    # ------------------------------------------------------------ devices

    def update_device_status(self, device: str, state: str, fw: str, config: str, status_ts: int, seen: int) -> None:
        with self.lock:
            self.conn.execute(
                "INSERT INTO devices(device, state, fw, config, status_ts, last_seen) VALUES (?,?,?,?,?,?)"
                " ON CONFLICT(device) DO UPDATE SET state=excluded.state, fw=excluded.fw,"
                " config=excluded.config, status_ts=excluded.status_ts,"
                f" last_seen={self.dialect.greatest('coalesce(devices.last_seen, 0)', 'excluded.last_seen')}",
                (device, state, fw, config, status_ts, seen),
            )

    def devices(self) -> list[dict[str, Any]]:
        with self.lock:
            return self.query("SELECT * FROM devices ORDER BY device")

    def device_counts(self) -> dict[str, int]:
        with self.lock:
            rows = self.conn.execute("SELECT state, count(*) FROM devices GROUP BY state").fetchall()
        counts = {"online": 0, "offline": 0}
        for state, n in rows:
            counts[state] = counts.get(state, 0) + n
        return counts

    def distinct_event_devices(self) -> int:
        with self.lock:
            return self.conn.execute("SELECT count(DISTINCT device) FROM events").fetchone()[0]
