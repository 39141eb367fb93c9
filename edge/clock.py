"""Injected time. Every time-dependent decision, on the edge and in the hub, asks a Clock, so
tests play a whole shift in milliseconds and the demo's simulated floor can run faster than real
time with the hub on the same simulated clock. Times are UTC epoch milliseconds.

How far a device clock can be trusted (the kernel's NTP state) is edge.clocksync's job."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int: ...


class SystemClock:
    """Wall-clock time (what a Pi and the production hub use)."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class ScaledClock:
    """Time that starts at `start_ms` and runs `speed` times faster than real time.

    With `wall_s` (Unix seconds) the clock reads `start_ms` at that wall time instead of at its
    creation: separate processes, and a restarted one, given the same three numbers agree on
    "now" (`floorwatch hub --clock WHEN@WALL`, the soak's hub and agents).

    `held`: the clock reads `start_ms` until `run()`, so what starts on it (the demo's hub, web
    app and floor) takes no simulated time to start: at 300x a 7-s start under load would eat
    35 minutes of the morning the demo means to show."""

    def __init__(self, start_ms: int, speed: float = 1.0, wall_s: float | None = None, *, held: bool = False) -> None:
        self.start_ms = start_ms
        self.speed = speed
        self.wall_s = wall_s
        self._t0 = time.monotonic()
        self._held = held and wall_s is None

    def run(self) -> None:
        """Let a held clock run from `start_ms`, now."""
        if self._held:
            self._t0 = time.monotonic()
            self._held = False

    def now_ms(self) -> int:
        if self._held:
            return self.start_ms
        if self.wall_s is not None:
            return self.start_ms + int((time.time() - self.wall_s) * 1000 * self.speed)
        return self.start_ms + int((time.monotonic() - self._t0) * 1000 * self.speed)

    def sleep(self, seconds: float) -> None:
        """Sleep `seconds` of this clock's time."""
        time.sleep(seconds / self.speed)


class ManualClock:
    """A clock tests move by hand."""

    def __init__(self, start_ms: int = 0) -> None:
        self._now = start_ms
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        with self._lock:
            return self._now

    def set(self, ms: int) -> None:
        with self._lock:
            self._now = ms

    def advance(self, seconds: float) -> int:
        with self._lock:
            self._now += int(seconds * 1000)
            return self._now

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)
