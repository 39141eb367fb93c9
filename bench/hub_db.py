"""What the soak (bench/soak.py) and its checker (bench/checker.py) read from the hub database, in
one place: plain SELECTs through hub.store.Store's connection, so they run on either backend the
hub does (a SQLite file path or a `postgresql://` URL; hub.store.backend).

Only the connection comes from the hub; what is read, and how the checker judges it, stays the
bench's own. The connection is opened once and kept: the soak polls it several times a second.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hub.store import Store
from hub.store.lease import lease_holder


class HubDb:
    def __init__(self, location: str | Path) -> None:
        self.location = str(location)
        self.store = Store(self.location)

    def close(self) -> None:
        self.store.close()

    def _one(self, sql: str, args: tuple = ()) -> Any:
        with self.store.lock:
            row = self.store.conn.execute(sql, args).fetchone()
        return row[0] if row else None

    # ------------------------------------------------------------ the soak, while the world runs

    def events_stored(self) -> int:
        """Events in the log, from the counter the hub keeps with each append (cheap, for the
        throughput samples; not max(id): on PostgreSQL a second hub's insert of an event already
        stored uses up an id too)."""
        return int(self._one("SELECT value FROM meta WHERE key = 'events_stored'") or 0)

    def count_events(self, but_device: str) -> int:
        return self._one("SELECT count(*) FROM events WHERE device != ?", (but_device,))

    def has_event(self, device: str, seq: int) -> bool:
        return self._one("SELECT 1 FROM events WHERE device = ? AND seq = ?", (device, seq)) is not None

    def hub_caught_up(self, hub: str) -> bool:
        """A hub (`--hub-id`) logged a `caught_up` mark: its own probe came back through its broker
        session, so it is subscribed and the broker queues everything for it from then on."""
        return self._one("SELECT 1 FROM input_log WHERE kind = 'mark' AND body LIKE ? LIMIT 1",
                         (f'%"caught_up"%"hub":"{hub}"%',)) is not None

    def engine_holder(self, site: str) -> str | None:
        """The hub holding the site's engine lease (PostgreSQL; None on SQLite, where one hub runs)."""
        with self.store.lock:
            return lease_holder(self.store, site)

    # ------------------------------------------------------------ the checker, after the run

    def events(self) -> list[tuple[str, int, str, int, int]]:
        """(device, seq, event id, received, ts) of every event in the log."""
        with self.store.lock:
            return [tuple(r) for r in self.store.conn.execute("SELECT device, seq, event_id, received, ts FROM events")]

    def quarantine(self) -> list[tuple[str, str, str]]:
        with self.store.lock:
            return [tuple(r) for r in self.store.conn.execute("SELECT topic, payload, reason FROM quarantine")]

    def violations(self) -> list[dict[str, Any]]:
        return self.store.query("SELECT * FROM violations")
