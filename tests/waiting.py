"""Waiting for something that happens on another thread or process: poll, never sleep blind.
Timeouts are generous because the suite shares two cores with brokers, hubs and browsers."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(cond: Callable[[], T], timeout: float = 30.0, interval: float = 0.05) -> T:
    """Poll `cond` until it returns something truthy or `timeout` passes; return its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(interval)
    return cond()
