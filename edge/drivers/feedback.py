"""Feedback at the reader: green LED, red LED, buzzer (gpiozero LED / Buzzer).

The hub answers every tap on the device's `cmd` topic; the agent shows the answer at once:
  ok    green for 1.5 s, one short beep
  warn  green and red blinking (amber) for 1.5 s, two short beeps (e.g. 点名迟到)
  deny  red for 2 s, three beeps (unknown or revoked badge)
The patterns are data (`PATTERNS`), shown with gpiozero's background blinking, so `show()`
returns immediately.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)

# output -> (on_time, off_time, n) for gpiozero's blink/beep
PATTERNS: dict[str, dict[str, tuple[float, float, int]]] = {
    "ok": {"green": (1.5, 0.0, 1), "buzzer": (0.1, 0.0, 1)},
    "warn": {"green": (0.25, 0.25, 3), "red": (0.25, 0.25, 3), "buzzer": (0.1, 0.1, 2)},
    "deny": {"red": (2.0, 0.0, 1), "buzzer": (0.15, 0.1, 3)},
}


def pattern_for(result: str) -> dict[str, tuple[float, float, int]]:
    """What each output does for a result; an unknown result gets `deny`'s pattern."""
    return PATTERNS.get(result, PATTERNS["deny"])


class Feedback:
    """LEDs and buzzer at a reader; pins may be None (a kiosk with a screen only beeps)."""

    def __init__(
        self,
        *,
        green_pin: int | str | None = None,
        red_pin: int | str | None = None,
        buzzer_pin: int | str | None = None,
        pin_factory=None,
    ) -> None:
        from gpiozero import LED, Buzzer

        self.outputs = {}
        self.shown: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        try:
            if green_pin is not None:
                self.outputs["green"] = LED(green_pin, pin_factory=pin_factory)
            if red_pin is not None:
                self.outputs["red"] = LED(red_pin, pin_factory=pin_factory)
            if buzzer_pin is not None:
                self.outputs["buzzer"] = Buzzer(buzzer_pin, pin_factory=pin_factory)
        except Exception:
            self.close()
            raise

    def show(self, result: str, text: str = "") -> None:
        pattern = pattern_for(result)
        with self._lock:
            self.shown.append((result, text))
            del self.shown[:-20]
            for name, dev in self.outputs.items():
                dev.off()
                if name in pattern:
                    on, off, n = pattern[name]
                    dev.blink(on_time=on, off_time=off, n=n, background=True)
        if text:
            log.info("feedback %s: %s", result, text)

    def close(self) -> None:
        for dev in self.outputs.values():
            dev.close()
        self.outputs.clear()
