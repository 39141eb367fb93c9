"""Seat occupancy: PIR motion sensors, pressure mats / chair switches, and the stable state.

A raw input flickers (a mat bounces as someone sits down; a PIR only sees motion, and a person
typing barely moves). `PresenceFilter` turns raw timestamped changes into a stable occupied /
vacant state: a raw state must hold `on_s` before it counts as occupied and `off_s` before it
counts as vacant. Mat: on = off = bounce time. PIR: occupied at the first motion, vacant after
`hold_s` without motion. LD2410 radar (edge.drivers.ld2410): bounce on, hold off.

The ports only report raw changes with times; a timer wakes the filter at its next deadline, so
nothing polls while nothing changes. gpiozero's mock pins store `bounce_time` but never debounce,
so all debouncing is here, in code the tests exercise.
"""

from __future__ import annotations

import threading

from edge.drivers.base import ChangeCallback, EdgeInput, Scheduler, default_scheduler, fire


class PresenceFilter:
    """Pure: raw presence changes at times t (seconds) -> stable state changes."""

    def __init__(self, on_s: float, off_s: float) -> None:
        self.on_s = on_s
        self.off_s = off_s
        self.stable: bool | None = None  # unknown until a raw state has held long enough
        self._raw: bool | None = None
        self._since = 0.0

    def update(self, raw: bool, t: float) -> bool | None:
        """Record a raw sample; returns the new stable state if it changed now."""
        if raw != self._raw:
            self._raw = raw
            self._since = t
        return self.poll(t)

    def poll(self, t: float) -> bool | None:
        if self._raw is None or self._raw == self.stable:
            return None
        if t - self._since >= (self.on_s if self._raw else self.off_s):
            self.stable = self._raw
            return self.stable
        return None

    def deadline(self) -> float | None:
        """When the pending raw state becomes stable (None if nothing is pending)."""
        if self._raw is None or self._raw == self.stable:
            return None
        return self._since + (self.on_s if self._raw else self.off_s)


class FilteredSensor:
    """Shared port logic: raw changes in, `when_changed(occupied)` out at stable changes."""

    def __init__(self, name: str, on_s: float, off_s: float, scheduler: Scheduler | None) -> None:
        self.name = name
        self.filter = PresenceFilter(on_s, off_s)
        self.when_changed: ChangeCallback | None = None
        self.changes = 0
        self._lock = threading.Lock()
        self._scheduler = scheduler or default_scheduler()
        self._armed_for: float | None = None

    @property
    def occupied(self) -> bool | None:
        return self.filter.stable

    def _now(self) -> float:  # pragma: no cover - overridden by each port
        raise NotImplementedError

    def _raw(self, raw: bool, t: float) -> None:
        with self._lock:
            changed = self.filter.update(raw, t)
        self._emit(changed)
        self._arm()

    def _check(self) -> None:
        with self._lock:
            self._armed_for = None
            changed = self.filter.poll(self._now())
        self._emit(changed)
        self._arm()

    def _arm(self) -> None:
        with self._lock:
            due = self.filter.deadline()
            if due is None or self._armed_for == due:
                return
            self._armed_for = due
            delay = max(due - self._now(), 0.0) + 0.005
        self._scheduler.call_later(delay, self._check)

    def _emit(self, changed: bool | None) -> None:
        if changed is not None:
            self.changes += 1
            fire(self.when_changed, changed)


class MatSensor(FilteredSensor):
    """A pressure mat or chair switch on a GPIO input (switch to ground, pull-up on)."""

    def __init__(
        self,
        pin: int | str,
        *,
        name: str = "mat",
        bounce_s: float = 0.2,
        pull_up: bool = True,
        pin_factory=None,
        scheduler: Scheduler | None = None,
    ) -> None:
        super().__init__(name, bounce_s, bounce_s, scheduler)
        self.input = EdgeInput(pin, self._raw, pull_up=pull_up, pin_factory=pin_factory)
        self._raw(self.input.is_active, self.input.now())  # the state at start-up

    def _now(self) -> float:
        return self.input.now()

    def close(self) -> None:
        self.input.close()


class PirSensor(FilteredSensor):
    """A PIR motion sensor through gpiozero's `MotionSensor`: occupied at motion, vacant after
    `hold_s` without motion. MotionSensor samples the pin in its own thread (10 times a second),
    so times come from the pin factory's clock when its events fire."""

    def __init__(
        self,
        pin: int | str,
        *,
        name: str = "pir",
        hold_s: float = 60.0,
        pin_factory=None,
        scheduler: Scheduler | None = None,
    ) -> None:
        from gpiozero import MotionSensor

        super().__init__(name, 0.0, hold_s, scheduler)
        self.device = MotionSensor(pin, pin_factory=pin_factory)
        self.factory = self.device.pin_factory
        self._t0 = self.factory.ticks()
        self.device.when_motion = lambda: self._raw(True, self._now())
        self.device.when_no_motion = lambda: self._raw(False, self._now())
        self._raw(bool(self.device.motion_detected), self._now())

    def _now(self) -> float:
        return self.factory.ticks_diff(self.factory.ticks(), self._t0)

    def close(self) -> None:
        self.device.when_motion = None
        self.device.when_no_motion = None
        self.device.close()
