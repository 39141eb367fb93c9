"""The running hub: store + ingest + rule engine + live bus (+ the web app, served beside it).

`floorwatch hub` and `floorwatch demo` both build one `HubService`. The web app reads the same
store and the live bus, so what the engine decides reaches the kiosk page without a round trip
through the broker.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from edge import wire
from edge.clock import Clock, SystemClock
from hub.ingest import Ingest
from hub.live import LiveBus
from hub.site import Site
from hub.store import Store, StoredEvent

log = logging.getLogger(__name__)


@dataclass
class HubConfig:
    site_dir: Path
    db_path: Path
    broker_host: str = "127.0.0.1"
    broker_port: int = 1883
    protocol: str = "3.1.1"
    tick_s: float = 1.0  # how often time-based rules are evaluated
    extra: dict = field(default_factory=dict)


class HubService:
    """Owns the hub's parts and their threads. `start()`, then `stop()`."""

    def __init__(self, site: Site, store: Store, *, broker_host: str = "127.0.0.1", broker_port: int = 1883,
                 protocol: str = "3.1.1", clock: Clock | None = None, tick_s: float = 1.0,
                 engine: object | None = None, username: str | None = None,
                 password: str | None = None, purge_every_s: float | None = 6 * 3600) -> None:
        self.site = site
        self.store = store
        self.clock: Clock = clock or SystemClock()
        self.live = LiveBus()
        self.tick_s = tick_s
        self.engine = engine if engine is not None else self._default_engine()
        self.ingest = Ingest(
            store, site.id, broker_host, broker_port, protocol=protocol, clock=self.clock.now_ms,
            on_events=self._on_events, on_status=self._on_status, on_acd=self._on_acd,
            username=username, password=password,
        )
        # Retention (hub.privacy): purge what rules.toml [retention] says is too old, on a schedule.
        self.purge_every_s = purge_every_s
        self.retention = None
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def _default_engine(self) -> object | None:
        """The rule engine, when the installed hub has one (hub.engine.Engine)."""
        try:
            from hub.engine import Engine  # noqa: PLC0415
        except ImportError:
            return None
        return Engine(self.site, self.store, clock=self.clock)

    # ------------------------------------------------------------ lifecycle

    def start(self, wait: float = 10.0) -> HubService:
        self.ingest.start(wait=wait)
        self._ticker = threading.Thread(target=self._tick_loop, name="hub-ticker", daemon=True)
        self._ticker.start()
        if self.purge_every_s:
            from hub.privacy import PurgeSchedule

            self.retention = PurgeSchedule(self.site, self.store, self.clock, every_s=self.purge_every_s).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self.retention is not None:
            self.retention.stop()
        self.ingest.stop()
        if self._ticker is not None:
            self._ticker.join(5)

    # ------------------------------------------------------------ hooks from ingest

    def _on_events(self, events: list[StoredEvent]) -> None:
        for e in events:
            if e.type != "heartbeat":
                self.live.publish("event", e.to_json())
        if self.engine is not None:
            outcome = self.engine.process(events)
            self._dispatch(outcome)

    def _on_status(self, status: wire.Status) -> None:
        self.live.publish("device", status.model_dump())
        if self.engine is not None and hasattr(self.engine, "on_status"):
            self._dispatch(self.engine.on_status(status))

    def _on_acd(self, feed: wire.AcdFeed) -> None:
        if self.engine is not None and hasattr(self.engine, "on_acd"):
            self._dispatch(self.engine.on_acd(feed))

    def _tick_loop(self) -> None:
        while not self._stop.wait(self.tick_s):
            if self.engine is None or not hasattr(self.engine, "tick"):
                continue
            try:
                self._dispatch(self.engine.tick(self.clock.now_ms()))
            except Exception:
                log.exception("hub: engine tick failed")

    def _dispatch(self, outcome: object) -> None:
        """Send what the engine decided: commands to devices, updates to the live views."""
        if outcome is None:
            return
        for cmd in getattr(outcome, "commands", ()):
            self.ingest.publish_command(cmd)
        for channel, data in getattr(outcome, "updates", ()):
            self.live.publish(channel, data)
