"""Simulated drivers: the same interfaces as the hardware drivers, driven by the floor
simulator (hub.simfloor) or a test instead of by bytes and edges. The agent cannot tell them apart.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from edge.drivers.base import ChangeCallback, PressCallback, TapCallback, fire


class SimReader:
    """A badge reader (role badge) or an equipment-tag reader (role inventory).

    With `bits` it reads like the hardware it stands for: a card (its full id in hex) presented
    to it is reported as the lower `bits` bits, as the floorwatch driver of a W26 door (24), a
    decimal desk reader (32) or an RDM6300 (40) would report it."""

    def __init__(self, name: str = "badge", bits: int | None = None) -> None:
        self.name = name
        self.bits = bits
        self.when_tap: TapCallback | None = None
        self.present: set[str] = set()  # tags an inventory reader currently sees
        self.stats = {"taps": 0}

    def tap(self, uid: str) -> None:
        """A card presented once."""
        self.stats["taps"] += 1
        if self.bits is not None:
            uid = f"{int(uid, 16) & ((1 << self.bits) - 1):010X}"
        fire(self.when_tap, uid)

    def set_present(self, tags: Iterable[str]) -> None:
        """The tags in this reader's field from now on (inventory)."""
        self.present = set(tags)
        self.refresh()

    def refresh(self) -> None:
        """Read every tag in the field once (the agent calls this before each inventory)."""
        for tag in sorted(self.present):
            fire(self.when_tap, tag)

    def close(self) -> None:
        self.when_tap = None


class SimSensor:
    """An occupancy sensor whose stable state the simulator sets."""

    def __init__(self, name: str = "seat") -> None:
        self.name = name
        self.when_changed: ChangeCallback | None = None
        self.occupied: bool | None = None

    def set(self, occupied: bool) -> None:
        if occupied != self.occupied:
            self.occupied = occupied
            fire(self.when_changed, occupied)

    def close(self) -> None:
        self.when_changed = None


class SimButtons:
    def __init__(self) -> None:
        self.when_pressed: PressCallback | None = None
        self.presses = 0

    def press(self, button: str) -> None:
        self.presses += 1
        fire(self.when_pressed, button)

    def close(self) -> None:
        self.when_pressed = None


class SimFeedback:
    """Remembers what it was asked to show (the last 20 answers)."""

    def __init__(self) -> None:
        self.shown: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self.event = threading.Event()

    def show(self, result: str, text: str = "") -> None:
        with self._lock:
            self.shown.append((result, text))
            del self.shown[:-20]
        self.event.set()

    def close(self) -> None:
        pass


class SimRelay:
    """A relay that only remembers its state (edge.drivers.relay.Relay's interface)."""

    def __init__(self, name: str = "ac", initial: str = "on") -> None:
        self.name = name
        self.state = initial
        self.reason = "initial"
        self.when_switched = None

    def set(self, state: str, reason: str = "") -> bool:
        if state == self.state:
            return False
        self.state, self.reason = state, reason
        if self.when_switched is not None:
            self.when_switched(state, reason)
        return True

    def close(self) -> None:
        pass
