"""The running hub: store + ingest + rule engine + live bus (+ the web app, served beside it).

`floorwatch hub` and `floorwatch demo` both build one `HubService`. The web app reads the same
store and the live bus, so what the engine decides reaches the kiosk page without a round trip
through the broker.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn

from edge import wire
from edge.clock import Clock, SystemClock
from hub.alerts.pipeline import Alerts
from hub.errors import EngineError, HubError
from hub.ingest import PROBE_EVERY_S, Ingest
from hub.ingest_workers import IngestWorkers
from hub.live import LiveBus
from hub.site import Site
from hub.store import Store, StoredEvent

if TYPE_CHECKING:
    from hub.store.notify import LogWatcher, PeerUpdates

log = logging.getLogger(__name__)



class HubService:
    """Owns the hub's parts and their threads. `start()`, then `stop()`.

    Ingest stores every input in the ordered log and acknowledges it; the engine is a consumer
    of that log in its own process (hub.engine.process; in a thread when the hub runs on an
    injected clock or an in-memory database): after a restart it loads its checkpoint and catches
    up on the tail while ingest already runs, so the broker never holds a backlog for the
    engine's sake; a ticker logs a tick when nothing else arrived, so time passes for the engine too.
    """

    def __init__(self, site: Site, store: Store, *, broker_host: str = "127.0.0.1", broker_port: int = 1883,
                 protocol: str = "3.1.1", clock: Clock | None = None, tick_s: float = 1.0,
                 engine: object | None = None, username: str | None = None,
                 password: str | None = None, purge_every_s: float | None = 6 * 3600,
                 checkpoint_every_s: float | None = None, engine_process: bool | None = None,
                 ingest_workers: int = 1, hub_id: str | None = None) -> None:
        self.site = site
        store.describe_site(site.id, site.info.name, site.info.timezone)  # for headquarters (hub.headquarters)
        # Several hubs on one database (PostgreSQL; `hub --hub-id`): each reads every event through
        # a broker session of its own, so the others already hold what a dead one would have
        # stored, and one of them runs the engine (the lease, hub.store.lease).
        self.hub_id = hub_id
        self.lease = None  # the engine lease, when the engine runs in this process's thread
        self._log_watcher: LogWatcher | None = None
        self.store = store
        self.clock: Clock = clock or SystemClock()
        self.live = LiveBus()
        self.tick_s = tick_s
        self.checkpoint_every_s = checkpoint_every_s  # None: the engine's default (CHECKPOINT_EVERY_S)
        # The engine in its own process (hub.engine.process) unless told otherwise when it can: the
        # hub on the wall clock (a child cannot share an injected clock) and a database on a file or server.
        if engine_process is None:
            engine_process = clock is None and store.location is not None
        self.engine_process = engine_process and engine is None
        self.engine = engine if engine is not None else self._default_engine()
        # Ingest workers (hub.ingest_workers): N > 1 processes share the site's events; this
        # process's ingest then keeps statuses, counts, its probe and ticks.
        # Worker sessions a run with more workers left on the broker (each keeps a share of the
        # stream) are drained and ended by retiring workers (hub.ingest_workers).
        workers = ingest_workers if ingest_workers > 1 else 0
        left = store.ingest_sessions()
        self.workers: IngestWorkers | None = None
        if workers or left > workers:
            if clock is not None or store.location is None:
                raise HubError("ingest workers need the wall clock and the hub database on a file or server")
            store.set_ingest_sessions(max(left, workers))  # until the retired ones are drained
            self.workers = IngestWorkers(site.id, store.location, broker_host, broker_port, workers=workers, hub_id=hub_id,
                                         protocol=protocol, username=username, password=password,
                                         on_events=self._on_events, retire=range(workers, left),
                                         on_retired=lambda: store.set_ingest_sessions(workers))
        self.ingest = Ingest(
            store, site.id, broker_host, broker_port, protocol=protocol, clock=self.clock.now_ms,
            on_events=self._on_events, on_status=self._on_status, on_acd=self._on_acd,
            username=username, password=password, events=not workers,
            client_id=f"floorwatch-hub-{site.id}-{hub_id}" if hub_id else None,
            session=({"session": "hub", "workers": workers} if workers else {}) | ({"hub": hub_id} if hub_id else {}),
        )
        # Retention (hub.privacy): purge what rules.toml [retention] says is too old, on a schedule.
        self.purge_every_s = purge_every_s
        self.retention = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._ticker: threading.Thread | None = None
        self._judge: threading.Thread | None = None
        self.engine_ready = threading.Event()  # the engine has resumed (checkpoint + tail)
        # Alerts (hub.alerts): violations to the site's robots and webhooks; None without alerts.toml.
        self.alerts = Alerts.for_site(site, store, self.clock, ready=self._judged)
        self._stored_watchers: list[Callable[[list[StoredEvent]], None]] = []
        # Several hubs on PostgreSQL: what the engine decides reaches every hub's live views.
        self.peers: PeerUpdates | None = None
        if hub_id and store.url is not None:
            from hub.store.notify import PeerUpdates  # noqa: PLC0415

            self.peers = PeerUpdates(store.url, site.id, hub_id)

    def _judged(self) -> bool:
        """The engine has resumed and is judging the present, not catching up (a busy floor's
        engine is seldom at pending 0, but always within seconds of what ingest stored)."""
        if self.engine is None or not hasattr(self.engine, "progress"):
            return True
        p = self.engine.progress()
        return self.engine_ready.is_set() and (p["pending"] == 0 or p["lag_s"] <= 5)

    def _default_engine(self) -> object | None:
        """The rule engine, when the installed hub has one (hub.engine.Engine); it resumes in its
        own thread once ingest runs."""
        try:
            import hub.engine  # noqa: F401, PLC0415
        except ImportError:
            return None
        if self.engine_process:  # its own core: it does not hold the GIL against ingest
            from hub.engine.process import EngineProcess  # noqa: PLC0415

            return EngineProcess(self.site, self.store, checkpoint_every_s=self.checkpoint_every_s, tick_s=self.tick_s,
                                 holder=self.hub_id or "hub")
        from hub.store.lease import EngineLease  # noqa: PLC0415

        self.lease = EngineLease(self.store, self.site.id, self.hub_id or "hub")
        if not self.lease.try_acquire():
            return StandbyEngine(self.store)  # the engine is built when this hub takes the lease
        return self._build_engine()

    def _build_engine(self) -> object:
        from hub.engine import Engine  # noqa: PLC0415

        every = {} if self.checkpoint_every_s is None else {"checkpoint_every_s": self.checkpoint_every_s}
        return Engine(self.site, self.store, clock=self.clock, warm=False, **every)

    # ------------------------------------------------------------ lifecycle

    def start(self, wait: float = 10.0) -> HubService:
        if self.engine_process:
            self.engine.start(self.dispatch, self.engine_ready)  # before ingest: it judges what ingest logs
        if self.workers is not None:
            self.workers.start()
        self.ingest.start(wait=wait)
        if self.workers is not None and wait and not self.workers.wait_ready(wait):
            log.warning("hub: ingest workers not subscribed yet; they keep trying in the background")
        if self.store.url is not None and not self.engine_process and self.engine is not None:
            # the engine in this thread hears of inputs other hubs log at once (hub.store.notify);
            # an engine process listens itself
            from hub.store.notify import LogWatcher  # noqa: PLC0415

            self._log_watcher = LogWatcher(self.store.url, self._wake.set, self.hub_id or "hub").start()
        if isinstance(self.engine, StandbyEngine) or (self.engine is not None and hasattr(self.engine, "consume")):
            self._judge = threading.Thread(target=self._judge_loop, name="hub-engine", daemon=True)
            self._judge.start()
        elif not self.engine_process:
            self.engine_ready.set()
        self._ticker = threading.Thread(target=self._tick_loop, name="hub-ticker", daemon=True)
        self._ticker.start()
        if self.peers is not None:
            self.peers.listen(self.live.publish)
        if self.alerts is not None:
            self.alerts.start()
        if self.purge_every_s:
            from hub.privacy import PurgeSchedule

            self.retention = PurgeSchedule(self.site, self.store, self.clock, every_s=self.purge_every_s).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self.retention is not None:
            self.retention.stop()
        if self.peers is not None:
            self.peers.close()
        if self._log_watcher is not None:
            self._log_watcher.close()
        if self.alerts is not None:
            self.alerts.stop()
        if self.workers is not None:
            self.workers.stop()
        self.ingest.stop()
        if self._ticker is not None:
            self._ticker.join(5)
        if self.engine_process:
            self.engine.stop()  # it judges what ingest committed, checkpoints and ends
        if self._judge is not None and not isinstance(self.engine, StandbyEngine):
            self._judge.join(30)
            try:
                self.engine.consume()  # what ingest committed while stopping
                self.engine.checkpoint()
            except Exception:
                log.exception("hub: final checkpoint failed")
        if self.lease is not None:
            self.lease.release()

    # ------------------------------------------------------------ hooks from ingest (after commit)

    def watch_stored(self, watcher: Callable[[list[StoredEvent]], None]) -> None:
        """Call `watcher(events)` with each batch of events ingest has committed, at commit (on
        ingest's thread, before the live views hear of them: keep it short). A bench times a tap
        from the hub's receipt with it."""
        self._stored_watchers.append(watcher)

    def _on_events(self, events: list[StoredEvent]) -> None:
        for watcher in self._stored_watchers:
            watcher(events)
        for e in events:
            if e.type != "heartbeat":
                self.live.publish("event", e.to_json())
        self._nudge()

    def _on_status(self, status: wire.Status) -> None:
        self.live.publish("device", status.model_dump())
        self._nudge()

    def _on_acd(self, feed: wire.AcdFeed) -> None:
        self._nudge()

    def _nudge(self) -> None:
        """Something was logged: the engine judges it now (its thread, or its process)."""
        self._wake.set()
        if self.engine_process:
            self.engine.wake()

    # ------------------------------------------------------------ threads

    def _judge_loop(self) -> None:
        """The engine, consuming the input log as it grows while this hub holds the engine lease
        (hub.engine.judging); a stand-in while another hub does."""
        from hub.engine.judging import judge_while_leased  # noqa: PLC0415

        def build() -> object:
            self.engine = self._build_engine()
            return self.engine

        def standby() -> None:
            self.engine_ready.clear()
            self.engine = StandbyEngine(self.store)

        judge_while_leased(self.lease, build, stop=self._stop, wake=self._wake, tick_s=self.tick_s,
                           emit=self.dispatch, on_standby=standby, on_judging=lambda _e: self.engine_ready.set(),
                           engine=None if isinstance(self.engine, StandbyEngine) else self.engine,
                           site=self.site.id, name=self.hub_id or "hub")

    def _tick_loop(self) -> None:
        tick_ms = int(self.tick_s * 1000)
        next_probe = time.monotonic() + PROBE_EVERY_S
        while not self._stop.wait(self.tick_s):
            now = self.clock.now_ms()
            logged = max(self.ingest.last_logged, self.workers.last_logged if self.workers is not None else 0)
            if now - logged >= tick_ms:
                self.ingest.log_tick(now)
            if time.monotonic() >= next_probe and self.ingest.connected.is_set():
                self.ingest.probe()  # is the hub still reading in time? (clock evidence depends on it)
                next_probe = time.monotonic() + PROBE_EVERY_S
            self._nudge()

    def dispatch(self, outcome: object) -> None:
        """Send what the engine decided: commands to devices, updates to the live views."""
        if outcome is None:
            return
        for cmd in getattr(outcome, "commands", ()):
            self.ingest.publish_command(cmd)
        updates = getattr(outcome, "updates", ())
        for channel, data in updates:
            self.live.publish(channel, data)
        if self.peers is not None and updates:
            self.peers.publish(list(updates))
        if self.alerts is not None:  # violations -> the alert outbox (hub.alerts.outbox)
            self.alerts.on_updates(getattr(outcome, "updates", []))


class StandbyEngine:
    """In place of the engine while another hub holds the site's engine lease (hub.store.lease):
    progress says so, and what only the engine knows is refused (the web app answers 503)."""

    standby = True

    def __init__(self, store: Store) -> None:
        self.store = store

    def progress(self) -> dict:
        from hub.engine.core import progress_of  # noqa: PLC0415

        return progress_of(0, 0, *self.store.input_position())

    def _refuse(self) -> NoReturn:
        raise EngineError("another hub runs this site's engine")

    seats = equipment = device_states = refresh = checkpoint = _refuse
