"""A relay output: the contactor of a zone's air conditioning (FAC-ZONE-EMPTY), a gpiozero
`OutputDevice`.

The hub decides (a zone empty past the limit: off; occupied again, or a rostered shift about to
start: on) and sends `cmd: "relay"`; this driver only switches and remembers why. Setting the
state the relay already has changes nothing and reports nothing, so a command the hub repeats
(after a restart, say) never flips the A/C.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

RelayCallback = Callable[[str, str], None]  # (state "on"/"off", reason)


class Relay:
    """One relay on a GPIO pin. `active_high=False` for low-triggered relay boards; `initial` is
    the state from power-up until the hub says otherwise."""

    def __init__(self, pin: int | str, *, name: str = "ac", active_high: bool = True, initial: str = "on",
                 pin_factory=None) -> None:
        from gpiozero import OutputDevice

        if initial not in ("on", "off"):
            raise ValueError(f"relay initial state must be on or off, not {initial!r}")
        self.name = name
        self.reason = "initial"
        self.when_switched: RelayCallback | None = None
        self._lock = threading.Lock()
        self.device = OutputDevice(pin, active_high=active_high, initial_value=initial == "on", pin_factory=pin_factory)

    @property
    def state(self) -> str:
        return "on" if self.device.value else "off"

    def set(self, state: str, reason: str = "") -> bool:
        """Switch to `state`; True when the relay changed (then `when_switched` is told)."""
        if state not in ("on", "off"):
            raise ValueError(f"relay state must be on or off, not {state!r}")
        with self._lock:
            if state == self.state:
                return False
            if state == "on":
                self.device.on()
            else:
                self.device.off()
            self.reason = reason
        if self.when_switched is not None:
            self.when_switched(state, reason)
        return True

    def close(self) -> None:
        self.device.close()
