"""Several ingest processes sharing the site's event stream (`floorwatch hub --ingest-workers N`).

One process cannot read faster than paho parses packets in Python, and its network and writer
threads share one GIL (bench/RESULTS.md). Here each worker is a process of its own with its own
paho client and its own connection to the same SQLite database (WAL; BEGIN IMMEDIATE and a busy
timeout queue the writers), subscribed to the site's events through one MQTT shared subscription
(`$share/<group>/fw/v1/<site>/+/event`): the broker gives each message to one worker. Exactly-once
storage still rests on the log's (device, seq) uniqueness, whichever worker a redelivery reaches.
The hub process keeps statuses, counts, its probe and ticks (hub.ingest with events=False).

What the broker does with the group (mosquitto 2.0.11, MQTT 3.1.1 and 5, measured): it spreads
messages round robin over the group's sessions, offline persistent sessions included, and a
message given to a session stays in that session until the same client id takes it back. So each
worker has a stable client id per index with a persistent session (a restarted hub finds each
worker's share of the backlog), and a worker that dies is started again with its index at once:
its unacknowledged messages, and the half of the stream the broker keeps giving its session, wait
for it, not for the other workers. A hub started with fewer workers than the last run (the store
remembers how many sessions may be left) starts a retiring worker for each extra index: it takes
that session's share, unsubscribes, takes what was queued before its next probe, commits, and ends
the session with a clean connect.

The hub learns what a worker stored over the worker's pipe (the events other than heartbeats, the
newest receipt time, its counters), right after each commit: the live views (kiosk feed) see them
as with one ingest, and the engine is woken at once (it also reads the log on every tick, so it
judges whatever was committed even if a notice is lost with a dying worker).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from hub.errors import HubError
from hub.store import StoredEvent

log = logging.getLogger(__name__)

RESTART_DELAY_S = 0.5  # a worker that died is started again after this (its session waits for it)


def client_id(site: str, index: int, hub_id: str | None = None) -> str:
    """The worker's MQTT client id: stable per index (and hub, when several share the site), so
    its persistent session is found again."""
    return f"floorwatch-hub-{site}{'-' + hub_id if hub_id else ''}-ingest-{index}"


def _worker(site: str, db_path: str, host: str, port: int, protocol: str, index: int, workers: int,
            group: str, username: str | None, password: str | None, log_level: int, conn: Any,
            retire: bool = False, hub_id: str | None = None) -> None:
    from hub.ingest import PROBE_EVERY_S, Ingest  # noqa: PLC0415
    from hub.store import Store  # noqa: PLC0415

    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    store = Store(db_path)
    send_lock = threading.Lock()

    def send(msg: tuple) -> None:
        with send_lock, contextlib.suppress(OSError, ValueError):
            conn.send(msg)

    def stored(events: list[StoredEvent]) -> None:  # what the hub's live views hear of (writer thread)
        send(("stored", [e for e in events if e.type != "heartbeat"]))

    def batch(stats: dict[str, int]) -> None:  # after every committed batch, even one that stored nothing
        send(("batch", stats, ingest.last_logged))

    ingest = Ingest(store, site, host, port, protocol=protocol, client_id=client_id(site, index, hub_id),
                    on_events=stored, on_batch=batch, username=username, password=password, share=group,
                    session={"session": f"w{index}", "workers": workers} | ({"hub": hub_id} if hub_id else {}))
    ingest.start(wait=0)

    def ready() -> None:  # subscribed (not caught up: its probe queues behind its share of a backlog)
        if ingest.subscribed.wait(3600):
            send(("ready",))

    threading.Thread(target=ready, name="ingest-ready", daemon=True).start()
    if retire:  # a session a hub with more workers left: take its share, end the session, exit
        left = ingest.leave_share()
        ingest.wait_idle(60)
        ingest.stop()
        if left:
            ingest.forget_session()
            send(("retired", dict(ingest.stats)))
        store.close()
        return
    while True:
        try:
            if conn.poll(PROBE_EVERY_S):
                msg = conn.recv()
                if msg[0] == "stop":
                    break
            elif ingest.connected.is_set():
                ingest.probe()
        except (EOFError, OSError):
            break  # the hub is gone
    ingest.stop()  # drain and commit what was received, then acknowledge it
    send(("stopped", dict(ingest.stats)))
    store.close()


class IngestWorkers:
    """The hub's handle on N ingest worker processes: starts them, starts a dead one again with its
    index, passes what they stored to `on_events`, stops them (each commits what it received)."""

    def __init__(self, site: str, db_path: Path, host: str, port: int, *, workers: int, protocol: str = "3.1.1",
                 group: str | None = None, username: str | None = None, password: str | None = None,
                 on_events: Callable[[list[StoredEvent]], None] | None = None, retire: Iterable[int] = (),
                 on_retired: Callable[[], None] | None = None, hub_id: str | None = None) -> None:
        """`retire`: indices of worker sessions a hub with more workers left on the broker; each is
        drained of its share by a worker that then ends the session (`on_retired` once all are)."""
        self.retire = sorted(set(retire) - set(range(workers)))
        if workers < 0 or (workers == 0 and not self.retire):
            raise HubError("ingest workers: at least 1")
        self.on_retired = on_retired
        self._retired: set[int] = set()
        self.site, self.db_path, self.host, self.port = site, db_path, host, port
        self.workers, self.protocol = workers, protocol
        self.hub_id = hub_id
        self.group = group or f"floorwatch-{site}{'-' + hub_id if hub_id else ''}"
        self.username, self.password = username, password
        self.on_events = on_events
        self.last_logged = 0  # newest receipt time any worker logged
        self.restarts = 0
        self._stats: dict[int, dict[str, int]] = {}
        self._base: dict[str, int] = {}  # counters of worker processes that have ended
        slots = max([workers - 1, *self.retire]) + 1
        self._procs: list[Any] = [None] * slots
        self._conns: list[Any] = [None] * slots
        self._ready: set[int] = set()
        self._all_ready = threading.Event()
        if workers == 0:
            self._all_ready.set()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._supervisor: threading.Thread | None = None

    def start(self) -> IngestWorkers:
        for i in [*range(self.workers), *self.retire]:
            self._spawn(i)
        self._supervisor = threading.Thread(target=self._supervise, name="hub-ingest-workers", daemon=True)
        self._supervisor.start()
        return self

    def _spawn(self, index: int) -> None:
        ctx = mp.get_context("spawn")
        mine, theirs = ctx.Pipe()
        proc = ctx.Process(target=_worker, name=f"hub-ingest-{index}", daemon=True,
                           args=(self.site, str(self.db_path), self.host, self.port, self.protocol, index,
                                 self.workers, self.group, self.username, self.password,
                                 logging.getLogger().getEffectiveLevel(), theirs, index in self.retire, self.hub_id))
        proc.start()
        theirs.close()
        with self._lock:
            self._procs[index], self._conns[index] = proc, mine
        threading.Thread(target=self._read, args=(index, mine), name=f"hub-ingest-{index}-pipe", daemon=True).start()

    @property
    def pids(self) -> list[int | None]:
        return [p.pid if p is not None else None for p in self._procs]

    def _read(self, index: int, conn: Any) -> None:
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                break
            if msg[0] == "stored":
                if self.on_events is not None:
                    try:
                        self.on_events(msg[1])
                    except Exception:
                        log.exception("hub: on_events for ingest worker %d failed", index)
            elif msg[0] == "batch":
                _, self._stats[index], last_logged = msg
                self.last_logged = max(self.last_logged, last_logged)
            elif msg[0] == "ready" and index < self.workers:
                self._ready.add(index)
                if len(self._ready) == self.workers:
                    self._all_ready.set()
            elif msg[0] == "retired":
                self._stats[index] = msg[1]
                self._retired.add(index)
                log.info("hub: ingest worker session %d drained and ended", index)
                if len(self._retired) == len(self.retire) and self.on_retired is not None:
                    self.on_retired()
            elif msg[0] == "stopped":
                self._stats[index] = msg[1]
        with self._lock:  # this process is over: keep its counters
            for k, v in self._stats.pop(index, {}).items():
                self._base[k] = self._base.get(k, 0) + v

    def _supervise(self) -> None:
        while not self._stopping.wait(RESTART_DELAY_S):
            for i, proc in enumerate(list(self._procs)):
                if (proc is not None and not proc.is_alive() and not self._stopping.is_set()
                        and i not in self._retired and not (i in self.retire and proc.exitcode == 0)):
                    log.warning("hub: ingest worker %d ended (exit %s); starting it again", i, proc.exitcode)
                    proc.join(1)
                    if self._conns[i] is not None:
                        self._conns[i].close()
                    self.restarts += 1
                    self._spawn(i)

    def wait_ready(self, timeout: float) -> bool:
        """True once the broker has acknowledged every worker's subscription at least once."""
        return self._all_ready.wait(timeout)

    def per_worker(self) -> dict[int, dict[str, int]]:
        """Each running worker's counters (received, stored, duplicates, quarantined...)."""
        with self._lock:
            return {i: dict(s) for i, s in self._stats.items()}

    @property
    def stats(self) -> dict[str, int]:
        """The workers' counters summed (received, stored, duplicates, quarantined...)."""
        with self._lock:
            out = dict(self._base)
            for s in self._stats.values():
                for k, v in s.items():
                    out[k] = out.get(k, 0) + v
        return out

    def stop(self, timeout: float = 30.0) -> None:
        """Each worker disconnects, commits and acknowledges what it received, and ends."""
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join(5)
        for conn in self._conns:
            if conn is not None:
                with contextlib.suppress(OSError, ValueError):
                    conn.send(("stop",))
        deadline = time.monotonic() + timeout
        for i, proc in enumerate(self._procs):
            if proc is None:
                continue
            if i in self.retire and proc.is_alive():  # still draining: what it did not ack waits in its session
                proc.kill()
            proc.join(max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                log.warning("hub: ingest worker %d did not stop in time; killed", i)
                proc.kill()
                proc.join(5)
        for conn in self._conns:
            if conn is not None:
                conn.close()

