"""SQL of the alert outbox (hub.alerts): one row per (violation, channel, kind), kept until sent.

A row is written in the engine's thread when a violation is routed, and only its state moves
after that: pending -> sending -> sent, or back to pending with one more attempt, the error and
the time of the next try; a pending alert whose violation is excused or withdrawn before it went
out is cancelled. The unique key is the de-duplication: one alert, one "resolved" and one
"correction" per violation and channel, whatever the engine re-announces after a restart.

  kind      alert | resolved | correction | summary (a team's daily summary, hub.alerts.summary:
            its "violation" is summary:<team>:<date>)
  held      1: created in the channel's quiet hours (due when they end, sent as a digest)
  open      1: the violation had not ended when the alert was written (so it gets a "resolved")
  request   the row whose request carried this one (a digest carries many): rate limits count
            requests, not rows
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hub.store import Store

_COLUMNS = ("id", "violation", "channel", "kind", "state", "created", "due", "held", "open", "attempts",
            "last_error", "last_attempt", "sent_at", "request", "payload")
_SELECT = "SELECT " + ", ".join(f'"{c}"' for c in _COLUMNS) + " FROM alert_outbox"


@dataclass(frozen=True)
class OutboxRow:
    id: int
    violation: str
    channel: str
    kind: str
    state: str
    created: int
    due: int
    held: bool
    open: bool
    attempts: int
    last_error: str | None
    last_attempt: int | None
    sent_at: int | None
    request: int | None
    payload: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {c: getattr(self, c) for c in _COLUMNS}


@dataclass(frozen=True)
class NewAlert:
    violation: str
    channel: str
    kind: str
    created: int
    due: int
    held: bool
    open: bool
    payload: dict[str, Any]


def _row(r: tuple) -> OutboxRow:
    return OutboxRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]), bool(r[8]), r[9], r[10], r[11], r[12],
                     r[13], json.loads(r[14]))


class AlertStore:
    """The outbox on the hub's Store (same connection, same lock)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _query(self, sql: str, args: Iterable[Any] = ()) -> list[OutboxRow]:
        with self.store.lock:
            return [_row(r) for r in self.store.conn.execute(sql, list(args)).fetchall()]

    def _write(self, sql: str, args: Iterable[Any] = ()) -> int:
        with self.store.lock:
            return self.store.conn.execute(sql, list(args)).rowcount

    # ------------------------------------------------------------ the engine's side

    def for_violation(self, violation: str) -> list[OutboxRow]:
        return self._query(_SELECT + " WHERE violation = ? ORDER BY id", [violation])

    def enqueue(self, alerts: Iterable[NewAlert]) -> int:
        """Add rows; one already there for (violation, channel, kind) is kept as it is. Returns how many were new."""
        rows = [(a.violation, a.channel, a.kind, a.created, a.due, int(a.held), int(a.open),
                 json.dumps(a.payload, ensure_ascii=False)) for a in alerts]
        if not rows:
            return 0
        with self.store.lock:  # a row kept as it was is no change: rowcount counts the new ones
            return self.store.conn.executemany(
                "INSERT INTO alert_outbox(violation, channel, kind, created, due, held, open, payload)"
                " VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(violation, channel, kind) DO NOTHING", rows).rowcount

    def refresh_pending(self, violation: str, payload: dict[str, Any]) -> None:
        """A pending alert goes out with what the engine knows last (e.g. the minutes so far)."""
        self._write("UPDATE alert_outbox SET payload = ? WHERE violation = ? AND kind = 'alert' AND state = 'pending'",
                    [json.dumps(payload, ensure_ascii=False), violation])

    def cancel_pending(self, row_id: int) -> bool:
        """Cancel a row not yet handed to the sender; False if it is sending or sent already."""
        return self._write("UPDATE alert_outbox SET state = 'cancelled' WHERE id = ? AND state = 'pending'", [row_id]) == 1

    # ------------------------------------------------------------ the sender's side

    def recover(self) -> int:
        """Rows left 'sending' by a hub that died mid-request go back to the queue (sent again:
        at least once, never lost)."""
        return self._write("UPDATE alert_outbox SET state = 'pending' WHERE state = 'sending'")

    def queued_channels(self) -> list[str]:
        with self.store.lock:
            rows = self.store.conn.execute("SELECT DISTINCT channel FROM alert_outbox WHERE state = 'pending'").fetchall()
        return sorted(r[0] for r in rows)

    def queue(self, channel: str, limit: int) -> list[OutboxRow]:
        """A channel's pending rows, oldest first."""
        return self._query(_SELECT + " WHERE channel = ? AND state = 'pending' ORDER BY id LIMIT ?", [channel, limit])

    def mark_sending(self, ids: list[int], now: int) -> list[int]:
        """Claim rows for one request; returns those still pending (a cancelled one stays out)."""
        claimed = []
        with self.store.lock:
            for i in ids:
                if self.store.conn.execute("UPDATE alert_outbox SET state = 'sending', last_attempt = ?"
                                           " WHERE id = ? AND state = 'pending'", (now, i)).rowcount:
                    claimed.append(i)
        return claimed

    def mark_sent(self, ids: list[int], now: int) -> None:
        marks = ",".join("?" * len(ids))
        self._write(f"UPDATE alert_outbox SET state = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL,"
                    f" request = ? WHERE id IN ({marks})", [now, min(ids), *ids])

    def mark_failed(self, ids: list[int], now: int, error: str, due: int) -> None:
        marks = ",".join("?" * len(ids))
        self._write(f"UPDATE alert_outbox SET state = 'pending', attempts = attempts + 1, last_error = ?, due = ?"
                    f" WHERE id IN ({marks})", [error[:500], due, *ids])

    def requests_since(self, channel: str, since: int) -> int:
        """Requests (a digest is one) sent on a channel since a time: what its rate limit counts."""
        with self.store.lock:
            return self.store.conn.execute(
                "SELECT count(DISTINCT request) FROM alert_outbox WHERE channel = ? AND state = 'sent' AND sent_at >= ?",
                (channel, since)).fetchone()[0]

    # ------------------------------------------------------------ the console's side

    def recent(self, limit: int = 100, state: str | None = None) -> list[OutboxRow]:
        if state is None:
            return self._query(_SELECT + " ORDER BY id DESC LIMIT ?", [limit])
        return self._query(_SELECT + " WHERE state = ? ORDER BY id DESC LIMIT ?", [state, limit])

    def counts(self) -> dict[str, dict[str, int]]:
        """channel -> state -> rows."""
        with self.store.lock:
            rows = self.store.conn.execute("SELECT channel, state, count(*) FROM alert_outbox GROUP BY channel, state").fetchall()
        out: dict[str, dict[str, int]] = {}
        for channel, st, n in rows:
            out.setdefault(channel, {})[st] = n
        return out
