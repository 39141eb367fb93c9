"""In-process fan-out of live updates (seat changes, tap results, violations) to the web UI's
Server-Sent-Event streams. Each subscriber gets a bounded queue; a subscriber that stops
reading loses its oldest updates, never blocks the hub."""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Update:
    id: int
    channel: str  # "seat", "tap", "violation", "device", "rollcall", ...
    data: dict[str, Any]


@dataclass(eq=False)
class Subscription:
    channels: frozenset[str] | None
    q: queue.Queue[Update] = field(default_factory=lambda: queue.Queue(maxsize=1000))
    dropped: int = 0


class LiveBus:
    def __init__(self) -> None:
        self._subs: set[Subscription] = set()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def publish(self, channel: str, data: dict[str, Any]) -> Update:
        update = Update(next(self._ids), channel, data)
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            if sub.channels is not None and channel not in sub.channels:
                continue
            try:
                sub.q.put_nowait(update)
            except queue.Full:
                sub.dropped += 1
                try:
                    sub.q.get_nowait()
                    sub.q.put_nowait(update)
                except (queue.Empty, queue.Full):
                    pass
        return update

    def subscribe(self, channels: set[str] | None = None) -> Subscription:
        sub = Subscription(frozenset(channels) if channels else None)
        with self._lock:
            self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.discard(sub)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subs)

    def listen(self, sub: Subscription, timeout: float) -> Iterator[Update | None]:
        """Yield updates; yield None after `timeout` seconds of silence (time for a keepalive)."""
        while True:
            try:
                yield sub.q.get(timeout=timeout)
            except queue.Empty:
                yield None
