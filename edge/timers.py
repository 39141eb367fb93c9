"""Timers in monotonic seconds, earliest first: the one heap behind the link loop's
`call_later` (edge.link) and the drivers' own timer thread (edge.drivers.base).

Not locked: its owner holds its own lock around every call (each has other state to guard with
it: the loop's soon-queue, the thread's condition)."""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable
from typing import Any


class Timer:
    """A callback due at `when`; `cancel()` before then and it never runs."""

    __slots__ = ("when", "fn", "args", "cancelled")

    def __init__(self, when: float, fn: Callable[..., Any], args: tuple) -> None:
        self.when = when
        self.fn = fn
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class TimerHeap:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Timer]] = []
        self._ids = itertools.count()  # ties run in the order they were set, and Timers never compare

    def add(self, delay_s: float, fn: Callable[..., Any], args: tuple = ()) -> Timer:
        timer = Timer(time.monotonic() + max(delay_s, 0.0), fn, args)
        heapq.heappush(self._heap, (timer.when, next(self._ids), timer))
        return timer

    def next_when(self) -> float | None:
        """When the earliest timer is due (a cancelled one included: waking for it is harmless)."""
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> Timer | None:
        """The earliest timer due at `now` that was not cancelled, taken off the heap; None when
        none is due."""
        while self._heap and self._heap[0][0] <= now:
            timer = heapq.heappop(self._heap)[2]
            if not timer.cancelled:
                return timer
        return None
