"""The hub database's schema, as versioned migrations for both backends (hub.store.backend).

`migrate` brings a database to `SCHEMA_VERSION` in one write transaction: two processes opening a
new database at once (the hub and an export, two hubs on one PostgreSQL) queue for the write lock
instead of racing. A migration, once released, never changes: a new table or column is a new
migration. The DDL is written in SQLite's types; the PostgreSQL connection maps them
(INTEGER -> BIGINT, REAL -> DOUBLE PRECISION, BLOB -> BYTEA, INTEGER PRIMARY KEY -> identity).

Databases made before migrations were versioned (meta 'schema' 1 or 2, tables created by each
module when first used) upgrade like any other: every statement here is IF NOT EXISTS.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hub.errors import StoreError
from hub.roles import ROLES
from hub.store.backend import dialect_of

ROLES_V3 = "'kiosk','facilities','lead','admin'"  # the roles of migration 3 (a released migration never changes)

EVENT_LOG = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, event_id TEXT NOT NULL, device TEXT NOT NULL, seq INTEGER NOT NULL,
    ts INTEGER NOT NULL, received INTEGER NOT NULL, type TEXT NOT NULL, clock_ok INTEGER,
    body TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS events_device_seq ON events(device, seq);
CREATE INDEX IF NOT EXISTS events_type_id ON events(type, id);
CREATE INDEX IF NOT EXISTS events_ts ON events(ts);
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY, received INTEGER, topic TEXT, payload TEXT, reason TEXT);
CREATE TABLE IF NOT EXISTS devices (
    device TEXT PRIMARY KEY, state TEXT, fw TEXT, config TEXT, status_ts INTEGER, last_seen INTEGER,
    last_heartbeat INTEGER, spooled INTEGER, dropped INTEGER, clock_skew_ms INTEGER);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, actor TEXT, action TEXT NOT NULL, target TEXT,
    details TEXT);
CREATE INDEX IF NOT EXISTS audit_ts ON audit(ts);
"""

INPUT_LOG = """
CREATE TABLE IF NOT EXISTS input_log (
    seq INTEGER PRIMARY KEY, received INTEGER NOT NULL, kind TEXT NOT NULL, event INTEGER,
    device TEXT, body TEXT);
CREATE INDEX IF NOT EXISTS input_log_received ON input_log(received);
"""

# The engine's tables, the plans it judges against (hub.store.derived)
ENGINE = """
CREATE TABLE IF NOT EXISTS violations (
    id TEXT PRIMARY KEY, rule TEXT NOT NULL, kind TEXT NOT NULL, employee_no TEXT, team TEXT,
    seat TEXT, zone TEXT, device TEXT, shift TEXT, date TEXT NOT NULL, start INTEGER NOT NULL,
    "end" INTEGER, evidence TEXT NOT NULL DEFAULT '[]', details TEXT NOT NULL DEFAULT '{}',
    amount REAL, excused INTEGER NOT NULL DEFAULT 0, excuse_reason TEXT, excused_by TEXT,
    excused_at INTEGER, unit TEXT);
CREATE INDEX IF NOT EXISTS violations_date ON violations(date, start);
CREATE INDEX IF NOT EXISTS violations_employee ON violations(employee_no, date);
CREATE INDEX IF NOT EXISTS violations_unit ON violations(unit);
CREATE TABLE IF NOT EXISTS attendance (
    date TEXT NOT NULL, shift TEXT NOT NULL, employee_no TEXT NOT NULL, name TEXT, team TEXT,
    rostered_seat TEXT, seats_used TEXT NOT NULL DEFAULT '[]', first_arrival INTEGER,
    arrival_minutes_before REAL, rollcall TEXT NOT NULL, seat_signin INTEGER, signout INTEGER,
    minutes_worked REAL NOT NULL DEFAULT 0, breaks_count INTEGER NOT NULL DEFAULT 0,
    breaks_minutes REAL NOT NULL DEFAULT 0, meal_minutes REAL NOT NULL DEFAULT 0,
    violation_ids TEXT NOT NULL DEFAULT '[]', leave TEXT, excused TEXT NOT NULL DEFAULT '[]',
    unrostered INTEGER NOT NULL DEFAULT 0, unit TEXT,
    PRIMARY KEY (date, shift, employee_no));
CREATE INDEX IF NOT EXISTS attendance_unit ON attendance(unit);
CREATE TABLE IF NOT EXISTS away_periods (
    id TEXT PRIMARY KEY, employee_no TEXT, seat TEXT, shift TEXT, kind TEXT NOT NULL,
    start INTEGER NOT NULL, "end" INTEGER, evidence TEXT NOT NULL DEFAULT '[]', unit TEXT);
CREATE INDEX IF NOT EXISTS away_unit ON away_periods(unit);
CREATE INDEX IF NOT EXISTS away_start ON away_periods(start);
CREATE TABLE IF NOT EXISTS occupancy_intervals (
    id TEXT PRIMARY KEY, seat TEXT NOT NULL, device TEXT, start INTEGER NOT NULL, "end" INTEGER,
    occupied_by TEXT, unit TEXT);
CREATE INDEX IF NOT EXISTS occupancy_unit ON occupancy_intervals(unit);
CREATE INDEX IF NOT EXISTS occupancy_start ON occupancy_intervals(start, seat);
CREATE TABLE IF NOT EXISTS equipment_incidents (
    id TEXT PRIMARY KEY, tag TEXT NOT NULL, kind TEXT, home_seat TEXT, rule TEXT NOT NULL,
    opened INTEGER NOT NULL, closed INTEGER, last_seen INTEGER, last_seen_device TEXT, price REAL,
    liable TEXT NOT NULL DEFAULT '[]', evidence TEXT NOT NULL DEFAULT '[]', unit TEXT);
CREATE INDEX IF NOT EXISTS incidents_unit ON equipment_incidents(unit);
CREATE INDEX IF NOT EXISTS incidents_opened ON equipment_incidents(opened);
CREATE TABLE IF NOT EXISTS seat_state (
    seat TEXT PRIMARY KEY, zone TEXT, state TEXT NOT NULL, agent TEXT, since INTEGER,
    used_before_s REAL NOT NULL DEFAULT 0, unit TEXT);
CREATE TABLE IF NOT EXISTS equipment_state (
    tag TEXT PRIMARY KEY, kind TEXT, home_seat TEXT, seen_at TEXT, seen_device TEXT,
    last_seen INTEGER, state TEXT NOT NULL, since INTEGER, unit TEXT);

CREATE TABLE IF NOT EXISTS roster (
    date TEXT NOT NULL, employee_no TEXT NOT NULL, shift TEXT NOT NULL, seat TEXT NOT NULL,
    meal_start TEXT, source TEXT, PRIMARY KEY (date, employee_no, shift));
CREATE INDEX IF NOT EXISTS roster_seat ON roster(date, seat);
CREATE TABLE IF NOT EXISTS leave (
    date TEXT NOT NULL, employee_no TEXT NOT NULL, kind TEXT NOT NULL, reason TEXT,
    granted_by TEXT, at INTEGER, PRIMARY KEY (date, employee_no));
CREATE TABLE IF NOT EXISTS swaps (
    date TEXT NOT NULL, shift TEXT NOT NULL, seat TEXT, from_employee_no TEXT NOT NULL,
    to_employee_no TEXT NOT NULL, approved_by TEXT, at INTEGER,
    PRIMARY KEY (date, shift, from_employee_no));
CREATE TABLE IF NOT EXISTS seat_assignments (
    date TEXT NOT NULL, shift TEXT NOT NULL, employee_no TEXT NOT NULL, seat TEXT NOT NULL,
    "by" TEXT, at INTEGER, PRIMARY KEY (date, shift, employee_no));
CREATE TABLE IF NOT EXISTS equipment_assignments (
    tag TEXT PRIMARY KEY, home_seat TEXT NOT NULL, "by" TEXT, at INTEGER);
CREATE TABLE IF NOT EXISTS badge_changes (
    id INTEGER PRIMARY KEY, at INTEGER NOT NULL, uid TEXT NOT NULL, employee_no TEXT,
    action TEXT NOT NULL, "by" TEXT, reason TEXT);
CREATE TABLE IF NOT EXISTS enrolments (
    id INTEGER PRIMARY KEY, device TEXT NOT NULL, employee_no TEXT NOT NULL, "by" TEXT,
    opened_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, state TEXT NOT NULL DEFAULT 'open',
    event_id TEXT, card TEXT, reason TEXT, closed_at INTEGER);
CREATE INDEX IF NOT EXISTS enrolments_device ON enrolments(device, state);
CREATE TABLE IF NOT EXISTS excuses (
    violation_id TEXT PRIMARY KEY, reason TEXT NOT NULL, "by" TEXT, at INTEGER);
CREATE TABLE IF NOT EXISTS engine_checkpoint (
    id INTEGER PRIMARY KEY CHECK (id = 1), format INTEGER NOT NULL, seq INTEGER NOT NULL,
    watermark INTEGER NOT NULL, saved_at INTEGER NOT NULL, state BLOB NOT NULL);
"""

# Web access: users, sessions, API tokens (hub.store.access)
ACCESS = f"""
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ({ROLES_V3})),
    password_hash TEXT,
    teams TEXT NOT NULL DEFAULT '[]',
    device TEXT,
    place TEXT,
    employee_no TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    expires INTEGER NOT NULL,
    ip TEXT
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user_id);
CREATE TABLE IF NOT EXISTS api_tokens (
    id INTEGER PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    scope TEXT,
    created INTEGER NOT NULL,
    last_used INTEGER,
    expires INTEGER,
    revoked INTEGER NOT NULL DEFAULT 0
);
"""

# The alert outbox (hub.store.alerts)
ALERTS = """
CREATE TABLE IF NOT EXISTS alert_outbox (
    id INTEGER PRIMARY KEY, violation TEXT NOT NULL, channel TEXT NOT NULL, kind TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending', created INTEGER NOT NULL, due INTEGER NOT NULL,
    held INTEGER NOT NULL DEFAULT 0, open INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, last_attempt INTEGER, sent_at INTEGER,
    request INTEGER, payload TEXT NOT NULL,
    UNIQUE (violation, channel, kind));
CREATE INDEX IF NOT EXISTS alert_outbox_queue ON alert_outbox(channel, state, id);
CREATE INDEX IF NOT EXISTS alert_outbox_sent ON alert_outbox(channel, sent_at);
"""

# The month roster (hub.store.rosters)
ROSTERS = """
CREATE TABLE IF NOT EXISTS roster_cells (
    date TEXT NOT NULL, employee_no TEXT NOT NULL, shift TEXT NOT NULL, seat TEXT NOT NULL,
    meal_start TEXT, month TEXT NOT NULL, PRIMARY KEY (date, employee_no));
CREATE INDEX IF NOT EXISTS roster_cells_month ON roster_cells(month);
CREATE TABLE IF NOT EXISTS roster_published (
    date TEXT PRIMARY KEY, month TEXT NOT NULL, at INTEGER NOT NULL, "by" TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS roster_overrides (
    id INTEGER PRIMARY KEY, date TEXT NOT NULL, employee_no TEXT NOT NULL, kind TEXT NOT NULL,
    shift TEXT, seat TEXT, reason TEXT, "by" TEXT, at INTEGER);
CREATE INDEX IF NOT EXISTS roster_overrides_date ON roster_overrides(date);
CREATE TABLE IF NOT EXISTS swap_forms (
    id INTEGER PRIMARY KEY, date TEXT NOT NULL, shift TEXT NOT NULL, from_employee_no TEXT NOT NULL,
    sha256 TEXT NOT NULL, media_type TEXT NOT NULL, size INTEGER NOT NULL, data BLOB NOT NULL,
    "by" TEXT NOT NULL, at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS swap_forms_swap ON swap_forms(date, shift, from_employee_no);
CREATE INDEX IF NOT EXISTS swap_forms_sha ON swap_forms(sha256);
CREATE TABLE IF NOT EXISTS roster_phases (
    month TEXT NOT NULL, employee_no TEXT NOT NULL, pattern TEXT NOT NULL, phase INTEGER NOT NULL,
    seat TEXT NOT NULL, PRIMARY KEY (month, employee_no));
"""

# Evidence by event id (the console): partial, so the heartbeats (99 % of the log) do not pay a
# random-UUID index write each; evidence is taps, sensors, buttons, inventories.
EVIDENCE_INDEX = "CREATE INDEX IF NOT EXISTS events_event_id ON events(event_id) WHERE type <> 'heartbeat'"


QUARANTINE_COPIES = {"digest": "TEXT", "copies": "INTEGER NOT NULL DEFAULT 1", "last_received": "INTEGER"}


def _quarantine_copies(conn: Any) -> None:
    """One quarantine row per message, however many hubs (each reading every event) or
    redeliveries bring it: `digest` names topic and payload, `copies` counts the receptions.
    Rows kept before have no digest and stay as they are."""
    have = dialect_of(conn).columns(conn, "quarantine")
    for name, decl in QUARANTINE_COPIES.items():
        if name not in have:  # (a database taken back to an older version in a test has them)
            conn.execute(f"ALTER TABLE quarantine ADD COLUMN {name} {decl}")
    conn.execute("CREATE UNIQUE INDEX IF NOT EXISTS quarantine_digest ON quarantine(digest)")


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def _run(*scripts: str) -> Callable[[Any], None]:
    def step(conn: Any) -> None:
        for script in scripts:
            for sql in _statements(script):
                conn.execute(sql)
    return step


def _backfill_input_log(conn: Any) -> None:
    """Put the events, statuses and ACD counts a schema-1 database stored into the input log,
    merged by receipt time (events in their log order), as the engine used to replay them."""
    _run(INPUT_LOG)(conn)
    tables = dialect_of(conn).tables(conn)
    rows: list[tuple] = [(r[1], 1, r[0], "event", r[0], r[2], None)
                         for r in conn.execute("SELECT id, received, device FROM events ORDER BY id")]
    if "status_log" in tables:
        for rid, received, device, state, ts, fw, config in conn.execute(
                "SELECT id, received, device, state, ts, fw, config FROM status_log ORDER BY received, id"):
            body = {"v": 1, "device": device, "state": state, "ts": ts or 0, "fw": fw or "", "config": config or ""}
            rows.append((received, 0, rid, "status", None, device, json.dumps(body)))
    if "acd_log" in tables:
        for rid, received, ts, idle in conn.execute("SELECT id, received, ts, idle FROM acd_log ORDER BY received, id"):
            rows.append((received, 0, rid, "acd", None, None, json.dumps({"v": 1, "ts": ts, "idle": idle})))
    # events keep their relative order; statuses and counts go in by receipt time, ahead of
    # events received at the same millisecond (as the old replay merged them)
    events = [r for r in rows if r[3] == "event"]
    others = sorted((r for r in rows if r[3] != "event"), key=lambda r: (r[0], r[2]))
    merged: list[tuple] = []
    j = 0
    for e in events:
        while j < len(others) and others[j][0] <= e[0]:
            merged.append(others[j])
            j += 1
        merged.append(e)
    merged.extend(others[j:])
    conn.executemany("INSERT INTO input_log(received, kind, event, device, body) VALUES (?,?,?,?,?)",
                     [(r[0], r[3], r[4], r[5], r[6]) for r in merged])


def _roles(conn: Any) -> None:
    """The users table's role CHECK, to hub.roles' list (5: headquarters' `manager`). SQLite
    cannot alter a CHECK: the table is rebuilt, the way SQLite documents (foreign keys are off
    while `migrate` runs on SQLite, so sessions and tokens keep pointing at their users)."""
    check = ",".join(f"'{r}'" for r in ROLES)  # constants of hub.roles, not input
    if dialect_of(conn).name == "postgresql":
        conn.execute("ALTER TABLE users DROP CONSTRAINT IF EXISTS users_role_check")
        conn.execute(f"ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ({check}))")
        return
    users = _statements(ACCESS)[0]
    assert users.startswith("CREATE TABLE IF NOT EXISTS users (")
    conn.execute(users.replace("users (", "users_new (", 1).replace(ROLES_V3, check))
    cols = "id, username, role, password_hash, teams, device, place, employee_no, active, created"
    conn.execute(f"INSERT INTO users_new ({cols}) SELECT {cols} FROM users")
    conn.execute("DROP TABLE users")
    conn.execute("ALTER TABLE users_new RENAME TO users")


def _count_events(conn: Any) -> None:
    """Store.count_events' counter, counted once (it is kept with every append and purge after)."""
    conn.execute("INSERT INTO meta(key, value) SELECT 'events_stored', CAST(count(*) AS TEXT) FROM events WHERE 1 = 1"
                 " ON CONFLICT(key) DO NOTHING")  # WHERE: SQLite parses ON after a bare FROM as a join


@dataclass(frozen=True)
class Migration:
    version: int
    what: str
    apply: Callable[[Any], None]


MIGRATIONS = (
    Migration(1, "the event log: events, quarantine, devices, meta, audit", _run(EVENT_LOG)),
    Migration(2, "the ordered input log, filled from what schema 1 stored", _backfill_input_log),
    Migration(3, "the engine's tables, plans, accounts, alerts and month rosters", _run(ENGINE, ACCESS, ALERTS, ROSTERS)),
    Migration(4, "evidence by event id; the log's event counter", lambda c: (_run(EVIDENCE_INDEX)(c), _count_events(c))),
    Migration(5, "the manager role (headquarters' view of every site)", _roles),
    Migration(6, "quarantine: one row per message, its copies counted", _quarantine_copies),
)
SCHEMA_VERSION = MIGRATIONS[-1].version


def version(conn: Any) -> int:
    """The schema version of a database (0: empty; 1: made before versions were recorded)."""
    tables = dialect_of(conn).tables(conn)
    if "meta" in tables:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if row is not None:
            return int(row[0])
    return 1 if "events" in tables else 0


def migrate(conn: Any) -> int:
    """Apply what a database lacks, in one write transaction; returns the version it had. A
    database already up to date is only read (every process that opens it, each /hq page's site)."""
    if version(conn) == SCHEMA_VERSION:  # (a PostgreSQL schema not created yet reads as 0)
        return SCHEMA_VERSION
    sqlite = dialect_of(conn).name == "sqlite"
    if sqlite:  # a table rebuilt must not cascade to the rows that refer to it (checked below)
        conn.execute("PRAGMA foreign_keys=OFF")
    try:
        return _migrate(conn, sqlite)
    finally:
        if sqlite:
            conn.execute("PRAGMA foreign_keys=ON")


def _migrate(conn: Any, sqlite: bool) -> int:
    conn.execute("BEGIN IMMEDIATE")
    try:
        dialect_of(conn).ensure_schema(conn)
        had = version(conn)
        if had > SCHEMA_VERSION:
            raise StoreError(f"database schema {had} is newer than this hub ({SCHEMA_VERSION})")
        for m in MIGRATIONS:
            if m.version > had:
                m.apply(conn)
        if had < SCHEMA_VERSION:
            conn.execute("INSERT INTO meta(key, value) VALUES ('schema', ?) ON CONFLICT(key) DO UPDATE"
                         " SET value = excluded.value", (str(SCHEMA_VERSION),))
        if sqlite and had < SCHEMA_VERSION and (bad := conn.execute("PRAGMA foreign_key_check").fetchall()):
            raise StoreError(f"the upgrade left rows pointing at nothing: {bad[:5]}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return had
