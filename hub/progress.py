"""A progress line on the terminal for long CLI runs (exports, `hub rebuild`).

A few lines by hand rather than tqdm or rich: one carriage-returned line on stderr, at most ten
updates a second, and nothing at all unless stderr is a terminal, so pipes, logs, cron mails and
tests see exactly what they saw before.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """`update(done)` as work advances, `close()` at the end; a no-op off a terminal."""

    def __init__(self, label: str, total: int | None = None, *, unit: str = "rows", stream: TextIO | None = None,
                 interval_s: float = 0.1) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.label, self.total, self.unit = label, total, unit
        self.interval_s = interval_s
        self.started = time.monotonic()
        self._last = 0.0
        self._shown = False
        self.done = 0

    def update(self, done: int) -> None:
        self.done = done
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last >= self.interval_s:
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = now - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        if self.total:
            frac = min(1.0, self.done / self.total)
            bar = "#" * int(frac * 24)
            text = f"{self.label} [{bar:<24}] {self.done:,}/{self.total:,} {self.unit} {frac:4.0%} {rate:,.0f}/s {elapsed:.0f}s"
        else:
            text = f"{self.label} {self.done:,} {self.unit} {rate:,.0f}/s {elapsed:.0f}s"
        self.stream.write("\r" + text + "\x1b[K")
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        """Draw the final count and end the line (only if anything was drawn)."""
        if self.enabled:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()
