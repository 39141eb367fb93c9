"""The audit trail: who did what, to which record, when. One table, created with the hub
database (hub.store.Store), and one writer, `write_audit`, that every audited action goes through
(lead actions, roster and badge changes, enrolments, accounts, exports, purges), inside the
action's own transaction when it has one. Rebuilding derived tables never touches it: it is not
derivable from events."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, actor TEXT,"
    " action TEXT NOT NULL, target TEXT, details TEXT)",
    "CREATE INDEX IF NOT EXISTS audit_ts ON audit(ts)",
)


def create_audit_table(conn: sqlite3.Connection) -> None:
    """Statement by statement, so it runs inside the caller's transaction."""
    for sql in _SCHEMA:
        conn.execute(sql)


def write_audit(conn: sqlite3.Connection, ts: int, actor: str | None, action: str, target: str | None,
                details: dict[str, Any] | None) -> int:
    """One audit row (details as sorted JSON; values JSON cannot hold are written as text);
    returns its id. The caller holds the store's lock (and its transaction, if any)."""
    text = json.dumps(details or {}, ensure_ascii=False, sort_keys=True, default=str)
    cur = conn.execute("INSERT INTO audit(ts, actor, action, target, details) VALUES (?,?,?,?,?)",
                       (ts, actor, action, target, text))
    return int(cur.lastrowid)
