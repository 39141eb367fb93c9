"""Evidence about the device clock: is it synchronised, and how wrong can it be?

`clock_ok` (edge.wire) only says a clock is plausible (after 2024), which a Pi that restored its
time from fake-hwclock after a reboot without network also passes. The kernel knows better: NTP
daemons (systemd-timesyncd, chrony, ntpd) tell it through adjtimex(2) when they discipline the
clock, and it keeps an error bound that grows while nobody does. This module reads that state
(read-only: modes = 0 needs no privilege) and hands it to the agent, which puts it on each event
as `clock_sync` / `clock_err_ms`; the hub decides how far to trust the clock.

Kernel facts relied on: adjtimex returns TIME_ERROR (5) while the clock is unsynchronised;
STA_UNSYNC is set by the kernel when `maxerror` passes 16 s (it grows by 500 ppm, 0.5 ms per
second, once updates stop: about 9 hours after the network went away) and by settimeofday (a
clock set by hand); `maxerror` / `esterror` are microseconds.
"""

from __future__ import annotations

import ctypes
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

TIME_ERROR = 5
STA_UNSYNC = 0x0040
CACHE_S = 5.0  # a heartbeat or a burst of taps costs one syscall at most every few seconds


@dataclass(frozen=True)
class ClockSync:
    """What is known about the clock. `synced` None: no evidence either way (not Linux, no
    syscall). `error_ms` is the maximum error bound, only given while synced (an unsynchronised
    clock has no bound)."""

    synced: bool | None
    error_ms: int | None
    source: str


UNKNOWN = ClockSync(None, None, "unknown")
# A simulated device's clock is the simulation's clock, so it is as good as an NTP-disciplined Pi
# on a LAN (a few ms); a simulated clock set wrong by hand says what such a Pi's kernel says.
SIM_SYNCED = ClockSync(True, 5, "sim")
SIM_UNSYNCED = ClockSync(False, None, "sim")


class ClockSyncReader(Protocol):
    def read(self) -> ClockSync: ...


class FixedClockSync:
    """A reader that reports what it is told (the simulator, tests)."""

    def __init__(self, state: ClockSync = UNKNOWN) -> None:
        self.state = state

    def read(self) -> ClockSync:
        return self.state


class _Timex(ctypes.Structure):
    """struct timex as glibc's legacy `adjtimex` symbol takes it (C `long` fields: also right on a
    32-bit Pi, where the 64-bit-time variant is a different symbol)."""

    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("tv_sec", ctypes.c_long),
        ("tv_usec", ctypes.c_long),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_pad", ctypes.c_int * 11),
    ]


def interpret(ret: int, status: int, maxerror_us: int) -> ClockSync:
    """Pure: the adjtimex result as evidence (tested without depending on this machine's NTP)."""
    if ret < 0:
        return ClockSync(None, None, "adjtimex")
    if ret == TIME_ERROR or status & STA_UNSYNC:
        return ClockSync(False, None, "adjtimex")
    return ClockSync(True, max(0, -(-maxerror_us // 1000)), "adjtimex")  # rounded up: a bound


def read_adjtimex() -> ClockSync:
    """One read of the kernel's NTP state; UNKNOWN where there is no adjtimex. Never raises."""
    if not sys.platform.startswith("linux"):
        return UNKNOWN
    try:
        fn = ctypes.CDLL(None, use_errno=True).adjtimex
        tx = _Timex()  # modes = 0: read only
        ret = fn(ctypes.byref(tx))
        return interpret(int(ret), int(tx.status), int(tx.maxerror))
    except Exception:  # no libc symbol, a sandbox refusing the call: no evidence
        return UNKNOWN


class KernelClockSync:
    """The Pi's reader: adjtimex, cached for `cache_s` (of `monotonic`, injectable)."""

    def __init__(self, cache_s: float = CACHE_S, *, read: Callable[[], ClockSync] = read_adjtimex,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.cache_s = cache_s
        self._read = read
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._cached: tuple[float, ClockSync] | None = None

    def read(self) -> ClockSync:
        now = self._monotonic()
        with self._lock:
            if self._cached is not None and 0 <= now - self._cached[0] < self.cache_s:
                return self._cached[1]
            try:
                state = self._read()
            except Exception:
                state = UNKNOWN
            self._cached = (now, state)
            return state
