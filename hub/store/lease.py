"""Which hub runs a site's engine (the engine lease).

Several hubs may share one site's database; exactly one of them runs the rule engine, because
two would write the same derived rows and answer the same taps twice. The lease is a lock that
dies with its holder, so a hub that is killed hands the engine over without anyone deciding it
is dead:

- PostgreSQL: a session advisory lock, keyed by the site, on a connection of its own (named
  `floorwatch-engine <site> <holder>` in pg_stat_activity). The server drops it when that
  connection closes: a SIGKILLed process's socket is closed by the kernel at once.
- SQLite: an exclusive `flock` on `<database>.engine-lock` beside the file (hubs on one file are
  on one host); the kernel releases it when the process dies. An in-memory database has one hub.

The engine that takes the lease resumes from the shared checkpoint and the input log's tail.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import zlib
from pathlib import Path
from typing import Any

from hub.store import Store, backend

log = logging.getLogger(__name__)

LOCK_CLASS = 0x6677  # the first half of the advisory lock's key: floorwatch's engines


def lock_key(site: str) -> int:
    """The second half: the site (several sites may share one database)."""
    return zlib.crc32(site.encode()) & 0x7FFFFFFF


class EngineLease:
    def __init__(self, store: Store, site: str, holder: str) -> None:
        self.site, self.holder = site, holder
        self._url, self._path = store.url, store.path
        self._conn: Any = None
        self._file: Any = None
        self.held = store.location is None  # in memory: this process is the only hub
        self._unreachable = False  # the last try found no database (logged once per outage)

    def try_acquire(self) -> bool:
        """Take the lease if nobody holds it; True while this lease holds it."""
        if self.held:
            return True
        if self._url is not None:
            # A database that does not answer (down, or failing over to its standby) holds no
            # lease for anyone: not taken, tried again at the standby's next try.
            try:
                if self._conn is None:
                    self._conn = backend.Postgres.connect(
                        self._url, application_name=f"floorwatch-engine {self.site} {self.holder}"[:63])
                row = self._conn.execute("SELECT pg_try_advisory_lock(?, ?)",
                                         (LOCK_CLASS, lock_key(self.site))).fetchone()
            except Exception as exc:
                if not self._unreachable:
                    log.warning("engine lease: the database does not answer (%s); trying again",
                                str(exc).splitlines()[0])
                self._unreachable = True
                return False
            self._unreachable = False
            self.held = bool(row[0])
        else:
            if self._file is None:
                self._file = Path(f"{self._path}.engine-lock").open("a")  # noqa: SIM115 (held open: it is the lock)
            try:
                fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self.held = True
            except BlockingIOError:
                self.held = False
        return self.held

    def still_held(self) -> bool:
        """Whether the lease is still this holder's. On PostgreSQL it lives as long as the
        connection that took it: one the server or the network dropped (a reconnect since, or
        none possible) took the lease with it, and another hub's engine may run now."""
        if not self.held or self._conn is None:
            return self.held
        before = self._conn.reconnects
        try:
            self._conn.execute("SELECT 1")
        except Exception:
            self.held = False
            return False
        if self._conn.reconnects != before:
            self.held = False
        return self.held

    def release(self) -> None:
        """Give the lease up (a clean stop): a standby hub takes it at its next try."""
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
        if self._file is not None:
            self._file.close()  # closing the file drops its flock
            self._file = None
        self.held = self._url is None and self._path is None


def lease_holder(store: Store, site: str) -> str | None:
    """Who holds a site's engine lease on PostgreSQL (the holder's name), None if nobody does
    (or on SQLite, where the lock file does not say)."""
    if store.url is None:
        return None
    with store.lock:
        row = store.conn.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND CAST(l.classid AS bigint) = ? AND CAST(l.objid AS bigint) = ?",
            (LOCK_CLASS, lock_key(site))).fetchone()
    return row[0].rsplit(" ", 1)[-1] if row else None
