"""The durable outbox: every event is in SQLite before it is published, and leaves the outbox only
when the broker has acknowledged it.

An acknowledgement says the broker has the event in memory, not on disk: mosquitto writes its
queues to disk every `autosave_interval` (60 s as floorwatch provisions it), so a broker that is
SIGKILLed or loses power forgets what it acknowledged since, if it had not passed it on to the hub
yet (all of it while the hub is away). So an acknowledged event is kept `keep_sent_s` longer (the
`sent` table), and a link that connects again sends those again first (`requeue_sent`): the
broker that came back gets them again, and the hub stores each once by (device, seq).

paho keeps its outgoing queue in memory only, so a Pi that loses power or is killed loses
whatever had not reached the broker. Here each event gets its `seq` and its row in one
transaction (WAL; `synchronous=FULL` by default, so a committed event survives power loss), and
`last_seq` lives in the same database, so the sequence never goes backwards, even after SIGKILL
and even when the outbox is empty. The outbox is bounded: on overflow the oldest events go and
are counted (`dropped`, reported in heartbeats).

A brand-new spool starts its sequence at `seq_floor` (the agent passes the device clock in ms
when the clock is valid): a Pi whose SD card was replaced then never reuses a number the hub has
already stored (the hub drops a (device, seq) it has seen as a duplicate). A spool file that
cannot be read is moved aside (kept, named in the log) and a new one started.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from edge.exceptions import SpoolError

log = logging.getLogger(__name__)


class Spool:
    def __init__(
        self,
        path: str | Path,
        max_events: int = 100_000,
        *,
        sync: str = "full",
        seq_floor: int = 0,
        keep_sent_s: float = 180.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.max_events = max_events
        self.keep_sent_ms = int(keep_sent_s * 1000)  # 0: forget an event once the broker acknowledged it
        self._clock = clock  # wall seconds: a kept event outlives a restart of this process
        self._lock = threading.Lock()
        self._overflow_logged = -1e9
        self._closed = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SpoolError(f"{self.path}: cannot create the folder: {exc.strerror}") from None
        try:
            self._conn = self._open(sync, seq_floor)
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "unable to open" in str(exc):
                raise SpoolError(f"{self.path}: cannot open: {exc}") from None
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            log.error("spool %s is unreadable (%s); kept as %s, starting a new one", self.path, exc, aside)
            self.path.rename(aside)
            for suffix in ("-wal", "-shm"):
                side = Path(str(self.path) + suffix)
                if side.exists():
                    side.rename(Path(str(aside) + suffix))
            self._conn = self._open(sync, seq_floor)

    def _open(self, sync: str, seq_floor: int) -> sqlite3.Connection:
        conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=10)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={'FULL' if sync == 'full' else 'NORMAL'}")
            conn.execute("PRAGMA cache_size=-256")  # 256 KiB: a Pi Zero has 512 MB for everything
            conn.execute("PRAGMA wal_autocheckpoint=256")
            conn.execute("CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, payload BLOB NOT NULL)")
            conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)")
            conn.execute("CREATE TABLE IF NOT EXISTS sent (seq INTEGER PRIMARY KEY, payload BLOB NOT NULL,"
                         " acked_at INTEGER NOT NULL)")
            conn.execute("BEGIN IMMEDIATE")
            floor = max(int(seq_floor), 0)
            conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('base_seq', ?)", (floor,))
            conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('last_seq', ?)", (floor,))
            conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('dropped', 0)")
            conn.execute("COMMIT")
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            self._last_seq = int(meta["last_seq"])
            self.base_seq = int(meta["base_seq"])
            self._dropped = int(meta["dropped"])
            self._count = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
            top = conn.execute("SELECT max(seq) FROM outbox").fetchone()[0]
            if top is not None and top > self._last_seq:  # cannot happen; never go backwards anyway
                self._last_seq = top
        except BaseException:
            conn.close()
            raise
        return conn

    # ------------------------------------------------------------ state

    @property
    def last_seq(self) -> int:
        """The highest sequence number ever given out (0 before the first event of a floor-0 spool)."""
        with self._lock:
            return self._last_seq

    @property
    def dropped(self) -> int:
        """Events lost to overflow since this spool was created."""
        with self._lock:
            return self._dropped

    def __len__(self) -> int:
        with self._lock:
            return self._count

    # ------------------------------------------------------------ writing

    def append(self, build: Callable[[int], bytes], *, if_room: bool = False) -> int | None:
        """Give out the next seq, store `build(seq)` under it, commit; returns the seq.

        If `build` raises, nothing is stored and the seq is not used. With `if_room` (heartbeats)
        a full outbox refuses the event (returns None) rather than dropping an observation for it.
        """
        with self._lock:
            if self._closed:
                raise SpoolError(f"{self.path}: closed")
            if if_room and self._count >= self.max_events:
                return None
            seq = self._last_seq + 1
            payload = build(seq)
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("INSERT INTO outbox(seq, payload) VALUES (?, ?)", (seq, payload))
                conn.execute("UPDATE meta SET value = ? WHERE key = 'last_seq'", (seq,))
                over = self._count + 1 - self.max_events
                if over > 0:
                    conn.execute(
                        "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?)", (over,)
                    )
                    conn.execute("UPDATE meta SET value = value + ? WHERE key = 'dropped'", (over,))
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise SpoolError(f"{self.path}: cannot store event {seq}: {exc}") from None
            self._last_seq = seq
            if over > 0:
                self._dropped += over
                self._count = self.max_events
                now = time.monotonic()
                if now - self._overflow_logged > 60:  # once a minute, not once per event
                    self._overflow_logged = now
                    log.warning("spool %s full (%d events): dropping the oldest; %d dropped so far",
                                self.path, self.max_events, self._dropped)
            else:
                self._count += 1
            return seq

    def ack(self, seqs: Iterable[int]) -> int:
        """Take events the broker has acknowledged out of the outbox (kept `keep_sent_s` longer in
        `sent`, for a broker that forgets them); returns how many left the outbox."""
        seqs = list(seqs)
        if not seqs:
            return 0
        with self._lock:
            if self._closed:  # acknowledged after shutdown: they are sent again next time
                return 0
            now = int(self._clock() * 1000)
            try:
                with self._transaction() as conn:
                    if self.keep_sent_ms > 0:
                        conn.executemany("INSERT OR REPLACE INTO sent(seq, payload, acked_at)"
                                         " SELECT seq, payload, ? FROM outbox WHERE seq = ?", [(now, s) for s in seqs])
                        # kept long enough (or stamped by a clock that has since gone back)
                        conn.execute("DELETE FROM sent WHERE acked_at < ? OR acked_at > ?",
                                     (now - self.keep_sent_ms, now + self.keep_sent_ms))
                    gone = conn.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs]).rowcount
            except sqlite3.Error as exc:
                log.error("spool %s: cannot remove acknowledged events: %s (they will be sent again)", self.path, exc)
                return 0
            self._count -= gone
            return gone

    def requeue_sent(self) -> int:
        """Put the events kept after their acknowledgement back in the outbox, to be sent again
        (a link connecting again: its broker may have restarted without them); returns how many."""
        with self._lock:
            if self._closed:
                return 0
            try:
                with self._transaction() as conn:
                    back = conn.execute("INSERT OR IGNORE INTO outbox(seq, payload) SELECT seq, payload FROM sent").rowcount
                    conn.execute("DELETE FROM sent")
            except sqlite3.Error as exc:
                log.error("spool %s: cannot requeue the events kept after sending: %s", self.path, exc)
                return 0
            self._count += back
            return back

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (callers hold the lock); rolled back if anything in it fails."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    # ------------------------------------------------------------ reading

    def pending(self, after_seq: int = 0, limit: int = 100) -> list[tuple[int, bytes]]:
        """Unacknowledged events with seq > after_seq, oldest first."""
        return self._rows("outbox", after_seq, limit)

    def kept(self, after_seq: int = 0, limit: int = 100) -> list[tuple[int, bytes]]:
        """Events the broker acknowledged, kept in case it forgets them, seq > after_seq, oldest first."""
        return self._rows("sent", after_seq, limit)

    def _rows(self, table: str, after_seq: int, limit: int) -> list[tuple[int, bytes]]:
        with self._lock:
            if self._closed:
                return []
            return self._conn.execute(
                f"SELECT seq, payload FROM {table} WHERE seq > ? ORDER BY seq LIMIT ?", (after_seq, limit)
            ).fetchall()

    def close(self) -> None:
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._closed = True
            self._conn.close()
