"""Alerts inside the running hub: the outbox fed from the engine's updates, the sender's thread.

`Alerts.for_site` is None when the site has no alerts.toml or no enabled channel, so a hub
without alerts does not even create the outbox table.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from edge.clock import Clock
from hub.alerts.outbox import Outbox
from hub.alerts.sender import Post, Sender, http_post
from hub.alerts.summary import DailySummaries
from hub.site import Site
from hub.store import Store
from hub.store.alerts import AlertStore

log = logging.getLogger(__name__)


class Alerts:
    def __init__(self, site: Site, store: Store, clock: Clock, post: Post = http_post, poll_s: float = 1.0,
                 ready: Callable[[], bool] = lambda: True) -> None:
        """`ready()`: the engine has judged the log (daily summaries wait for it)."""
        assert site.alerts is not None
        wake = threading.Event()
        self.store = AlertStore(store)
        self.outbox = Outbox(site, site.alerts, self.store, clock, wake)
        self.summaries = DailySummaries(site, site.alerts, store, self.store, clock, ready)
        self.sender = Sender(site, site.alerts, self.store, clock, post, wake=wake, poll_s=poll_s,
                             before_pass=self.summaries.check)

    @classmethod
    def for_site(cls, site: Site, store: Store, clock: Clock, **kw: Any) -> Alerts | None:
        if site.alerts is None or not site.alerts.live_channels():
            return None
        return cls(site, store, clock, **kw)

    def on_updates(self, updates: list[tuple[str, dict[str, Any]]]) -> None:
        """Called with the engine's updates; an alert problem is logged, never the engine's."""
        try:
            self.outbox.on_updates(updates)
        except Exception:
            log.exception("alerts: could not queue the engine's violations")

    def start(self) -> Alerts:
        self.sender.start()
        return self

    def stop(self) -> None:
        self.sender.stop()
