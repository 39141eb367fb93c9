"""The audit trail: who did what, to which record, when. One table, created with the hub
database (hub.store.Store), and one writer, `write_audit`, that every audited action goes through
(lead actions, roster and badge changes, enrolments, accounts, exports, purges), inside the
action's own transaction when it has one. Rebuilding derived tables never touches it: it is not
derivable from events."""

from __future__ import annotations

import json
from typing import Any


def write_audit(conn: Any, ts: int, actor: str | None, action: str, target: str | None,
                details: dict[str, Any] | None) -> int:
    """One audit row (details as sorted JSON; values JSON cannot hold are written as text);
    returns its id. The caller holds the store's lock (and its transaction, if any)."""
    text = json.dumps(details or {}, ensure_ascii=False, sort_keys=True, default=str)
    row = conn.execute("INSERT INTO audit(ts, actor, action, target, details) VALUES (?,?,?,?,?) RETURNING id",
                       (ts, actor, action, target, text)).fetchone()
    return int(row[0])
