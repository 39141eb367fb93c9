"""The engine's live violation updates -> outbox rows: what must be sent, decided once.

  a new violation            one `alert` per routed channel (held in the channel's quiet hours)
  it ends (after an alert)   one `resolved`, if the alert went out while it was still open
  excused or withdrawn       the alert not sent yet: cancelled, nothing goes out;
                             already sent (or being sent): one `correction`
  anything else              the pending alert's text is refreshed, nothing new is queued

The outbox table's unique key (violation, channel, kind) makes every decision idempotent, so
the engine re-announcing a violation (a restart, a re-judgement) sends nothing twice.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from edge.clock import Clock
from hub.alerts.alerts_toml import AlertsConfig, hours_end, in_hours
from hub.alerts.routes import channels_for
from hub.site import Site
from hub.store.alerts import AlertStore, NewAlert


class Outbox:
    def __init__(self, site: Site, cfg: AlertsConfig, store: AlertStore, clock: Clock,
                 wake: threading.Event | None = None) -> None:
        self.site = site
        self.cfg = cfg
        self.store = store
        self.clock = clock
        self.wake = wake or threading.Event()  # set when something is queued (the sender waits on it)
        self._zone_of = {s.id: s.zone for s in site.info.seats}

    def on_updates(self, updates: list[tuple[str, dict[str, Any]]]) -> None:
        """Everything the engine announced in one call; only violations concern alerts."""
        for channel, data in updates:
            if channel == "violation" and isinstance(data, dict) and data.get("id"):
                self.on_violation(data)

    def _new(self, v: dict[str, Any], channel: str, kind: str, now: int, *, open_: bool = False) -> NewAlert:
        quiet = self.cfg.channels[channel].quiet
        local = dt.datetime.fromtimestamp(now / 1000, self.site.tz)
        held = quiet is not None and in_hours(quiet, local)
        due = int(hours_end(quiet, local).timestamp() * 1000) if held and quiet else now
        return NewAlert(v["id"], channel, kind, now, due, held, open_, v)

    def on_violation(self, v: dict[str, Any]) -> None:
        now = self.clock.now_ms()
        rows = self.store.for_violation(v["id"])
        alerts = [r for r in rows if r.kind == "alert" and r.state != "cancelled"]
        new: list[NewAlert] = []
        if v.get("withdrawn") or v.get("excused"):
            for a in alerts:
                if self.store.cancel_pending(a.id):
                    continue  # never went out: nothing to take back
                for r in rows:  # a "resolved" still waiting is moot once corrected
                    if r.channel == a.channel and r.kind == "resolved":
                        self.store.cancel_pending(r.id)
                new.append(self._new({**a.payload, **v}, a.channel, "correction", now))
        elif not rows:
            open_ = v.get("end") is None
            new = [self._new(v, ch, "alert", now, open_=open_)
                   for ch in channels_for(self.cfg, v, self._zone_of, self.site.tz)]
        else:
            self.store.refresh_pending(v["id"], v)
            if v.get("end") is not None:
                new = [self._new(v, a.channel, "resolved", now) for a in alerts if a.open]
        if self.store.enqueue(new):
            self.wake.set()
