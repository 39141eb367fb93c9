"""Seat buttons: break, meal, back (momentary switches to ground, pull-ups on).

A press is the falling edge; presses within `bounce_s` of the previous edge on the same button
are contact bounce and ignored. Timestamps come from the pin factory (edge.drivers.base.EdgeInput).
"""

from __future__ import annotations

from edge.drivers.base import EdgeInput, PressCallback, fire

BUTTONS = ("break", "meal", "back")


class ButtonDebouncer:
    """Pure: `edge(button, pressed, t)` -> True when this edge is a genuine press."""

    def __init__(self, bounce_s: float = 0.05) -> None:
        self.bounce_s = bounce_s
        self._last_edge: dict[str, float] = {}
        self.bounces = 0

    def edge(self, button: str, pressed: bool, t: float) -> bool:
        last = self._last_edge.get(button)
        self._last_edge[button] = t
        if last is not None and t - last < self.bounce_s:
            if pressed:
                self.bounces += 1
            return False
        return pressed


class SeatButtons:
    """The seat's buttons: `when_pressed(name)` with name in break / meal / back."""

    def __init__(
        self,
        *,
        break_pin: int | str | None = None,
        meal_pin: int | str | None = None,
        back_pin: int | str | None = None,
        bounce_s: float = 0.05,
        pin_factory=None,
    ) -> None:
        self.debouncer = ButtonDebouncer(bounce_s)
        self.when_pressed: PressCallback | None = None
        self.presses = 0
        self.inputs: dict[str, EdgeInput] = {}
        try:
            for name, pin in zip(BUTTONS, (break_pin, meal_pin, back_pin), strict=True):
                if pin is not None:
                    self.inputs[name] = EdgeInput(
                        pin, lambda active, t, n=name: self._edge(n, active, t), pull_up=True, pin_factory=pin_factory
                    )
        except Exception:
            self.close()
            raise

    def _edge(self, name: str, pressed: bool, t: float) -> None:
        if self.debouncer.edge(name, pressed, t):
            self.presses += 1
            fire(self.when_pressed, name)

    def close(self) -> None:
        for inp in self.inputs.values():
            inp.close()
        self.inputs.clear()
