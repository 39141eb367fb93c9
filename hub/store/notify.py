"""Hubs sharing one PostgreSQL database tell each other what happened (LISTEN/NOTIFY).

The input log grew (`LogWatcher`): every transaction that appends to it notifies at commit
(Store.append_inputs), and the engine, wherever it runs, wakes at once, whichever hub stored the
inputs (the others' events reach the engine's hub as duplicates, stored by nobody there).

Live updates (`PeerUpdates`):
Only the hub holding the engine lease hears what the engine decides (tap verdicts, seat states,
violations); the web app on every other hub would show a stale floor. The engine's hub sends each
update as a notification on the site's channel, and every hub listens and hands the others'
updates to its own live bus, so a kiosk page or floor map works on whichever hub serves it.

A notification carries at most ~8,000 bytes: a larger update is not sent (logged); pages load the
full picture from the database anyway and only miss that one change until their next reload.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from hub.store import backend

log = logging.getLogger(__name__)

MAX_PAYLOAD = 7900  # PostgreSQL refuses notifications of 8,000 bytes or more


def channel(site: str) -> str:
    return f"floorwatch_live_{site}"[:63]


class PeerUpdates:
    """Send this hub's live updates to the other hubs of a site; hear theirs."""

    def __init__(self, url: str, site: str, hub_id: str) -> None:
        self.url, self.site, self.hub_id = url, site, hub_id
        self._send: Any = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def publish(self, updates: list[tuple[str, dict[str, Any]]]) -> None:
        payloads = []
        for name, data in updates:
            text = json.dumps({"hub": self.hub_id, "channel": name, "data": data}, ensure_ascii=False,
                              separators=(",", ":"), default=str)
            if len(text.encode()) > MAX_PAYLOAD:
                log.warning("live: a %s update of %d bytes is too large to send to the other hubs", name, len(text))
                continue
            payloads.append(text)
        if not payloads:
            return
        with self._lock:
            try:
                if self._send is None:
                    self._send = backend.Postgres.connect(self.url, application_name=f"floorwatch-live {self.hub_id}")
                self._send.executemany("SELECT pg_notify(?, ?)", [(channel(self.site), p) for p in payloads])
            except Exception:  # the other hubs' pages miss these updates; ours and the engine go on
                log.exception("live: could not send updates to the other hubs")
                self._send = None

    def listen(self, deliver: Callable[[str, dict[str, Any]], None]) -> PeerUpdates:
        """Hand every other hub's updates to `deliver(channel, data)`, from a thread of its own."""
        self._thread = threading.Thread(target=self._listen, args=(deliver,), name="hub-peer-updates", daemon=True)
        self._thread.start()
        return self

    def _listen(self, deliver: Callable[[str, dict[str, Any]], None]) -> None:
        while not self._stop.is_set():
            try:
                conn = backend.Postgres.connect(self.url, application_name=f"floorwatch-listen {self.hub_id}").raw
                with conn:
                    conn.execute(f'LISTEN "{channel(self.site)}"')
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            msg = json.loads(note.payload)
                            if msg.get("hub") != self.hub_id:
                                deliver(msg["channel"], msg["data"])
            except Exception:
                log.exception("live: listening to the other hubs failed; again in 1 s")
                self._stop.wait(1.0)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        with self._lock:
            if self._send is not None:
                self._send.close()
                self._send = None


class LogWatcher:
    """Call `wake()` whenever a transaction appends to the database's input log, any process's."""

    def __init__(self, url: str, wake: Callable[[], None], name: str = "engine") -> None:
        self.url, self.wake, self.name = url, wake, name
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="hub-log-watcher", daemon=True)

    def start(self) -> LogWatcher:
        self._thread.start()
        return self

    def _listen(self) -> None:
        failing = False  # logged once per outage, not every second of it
        while not self._stop.is_set():
            try:
                pg = backend.Postgres.connect(self.url, application_name=f"floorwatch-log {self.name}")
                with pg.raw as conn:
                    conn.execute(f'LISTEN "{pg.log_channel}"')
                    failing = False
                    self.wake()  # what was appended before LISTEN took effect
                    while not self._stop.is_set():
                        if any(True for _ in conn.notifies(timeout=0.5)):
                            self.wake()
            except Exception as exc:
                if not failing:
                    log.warning("log watcher: listening for the input log failed (%s); trying every second",
                                str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
                failing = True
                self._stop.wait(1.0)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
