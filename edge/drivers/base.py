"""Pieces every driver shares: the callback interfaces, repeat suppression, UID normalisation,
timers, and the thin pyserial and gpiozero ports that feed the pure decoders.

A driver is a pure decoder (fed bytes or timestamped edges, no I/O, no clock of its own) plus a
thin port that feeds it from real hardware. Tests drive the decoders with synthetic timestamps
and the ports through a pseudo-terminal or gpiozero's mock pins, so the code a Pi runs is the
code the tests exercise.

Interfaces (gpiozero-style attributes, set by the agent):
  badge / tag readers  `name`, `when_tap(uid)`, `stats`, `close()`
  occupancy sensors    `name`, `when_changed(occupied)`, `occupied`, `close()`
  seat buttons         `when_pressed(button)`, `close()`
  feedback             `show(result, text)`, `close()`
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from edge.timers import Timer, TimerHeap

log = logging.getLogger(__name__)

TapCallback = Callable[[str], None]
ChangeCallback = Callable[[bool], None]
PressCallback = Callable[[str], None]

DEFAULT_UID_DIGITS = 10  # EM4100: version byte + 32-bit card number as 10 hex digits


class Scheduler(Protocol):
    """Runs a function after a delay in real seconds (the agent's link loop is one)."""

    def call_later(self, delay_s: float, fn: Callable[..., Any], *args: Any) -> Any: ...


class TimerThread:
    """A minimal Scheduler for ports used on their own (one thread, a heap of deadlines)."""

    def __init__(self, name: str = "floorwatch-timers") -> None:
        self._timers = TimerHeap()
        self._cv = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def call_later(self, delay_s: float, fn: Callable[..., Any], *args: Any) -> Timer:
        with self._cv:
            timer = self._timers.add(delay_s, fn, args)
            self._cv.notify()
        return timer

    def _run(self) -> None:
        while True:
            with self._cv:
                timer = None
                while not self._closed and timer is None:
                    timer = self._timers.pop_due(time.monotonic())
                    if timer is None:
                        due = self._timers.next_when()
                        self._cv.wait(None if due is None else max(due - time.monotonic(), 0.0))
                if self._closed:
                    return
            try:
                timer.fn(*timer.args)
            except Exception:
                log.exception("timer callback %r failed", timer.fn)

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify()
        self._thread.join(2)


_shared_timers: TimerThread | None = None
_shared_lock = threading.Lock()


def default_scheduler() -> TimerThread:
    """One timer thread per process for ports constructed without the agent's loop."""
    global _shared_timers
    with _shared_lock:
        if _shared_timers is None:
            _shared_timers = TimerThread()
        return _shared_timers


class HoldOff:
    """Suppress the repeats a reader sends while a card stays in its field.

    A read of a UID within `hold_off_s` of the previous read of the same UID is a repeat (the
    window slides: a card held for a minute is one tap). A card taken away for longer than the
    hold-off and presented again is a genuine second tap. Times are seconds, any origin.
    """

    def __init__(self, hold_off_s: float = 2.0) -> None:
        self.hold_off_s = hold_off_s
        self._last: dict[str, float] = {}
        self.repeats = 0

    def accept(self, uid: str, t: float) -> bool:
        last = self._last.get(uid)
        self._last[uid] = t
        if len(self._last) > 64:  # forget cards long gone
            self._last = {u: s for u, s in self._last.items() if t - s < self.hold_off_s}
            self._last[uid] = t
        if last is not None and 0 <= t - last < self.hold_off_s:
            self.repeats += 1
            return False
        return True


class StreamDecoder:
    """A decoder fed a byte stream: it holds back the start of a frame until the rest arrives,
    and counts what is not a frame in `stats["garbage_bytes"]`."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.stats: dict[str, int] = {"garbage_bytes": 0}

    def skip_to(self, marker: bytes) -> bool:
        """Drop the bytes before the next `marker` (a frame's first bytes) as garbage; False when
        the buffer holds none yet (keeping only what could be the start of a split marker)."""
        buf = self._buf
        start = buf.find(marker)
        if start < 0:
            drop = max(len(buf) - (len(marker) - 1), 0)
            self.stats["garbage_bytes"] += drop
            del buf[:drop]
            return False
        self.stats["garbage_bytes"] += start
        del buf[:start]
        return True

    @property
    def buffered(self) -> int:
        """Bytes held back waiting for the rest of a frame (bounded: tests and fuzzers check it)."""
        return len(self._buf)


class CardStreamDecoder(StreamDecoder):
    """A serial badge reader's decoder: a card left in the field is one tap (`hold`)."""

    def __init__(self, hold_off_s: float) -> None:
        super().__init__()
        self.hold = HoldOff(hold_off_s)

    @property
    def repeats(self) -> int:
        return self.hold.repeats


def uid_from_int(value: int, digits: int = DEFAULT_UID_DIGITS) -> str:
    """The canonical UID: upper-case hex, zero-padded to `digits` (longer values kept whole)."""
    return f"{value:0{digits}X}"


def normalise_uid(text: str, number_format: str = "hex", digits: int = DEFAULT_UID_DIGITS) -> str:
    """A card number as a reader prints it -> the canonical UID; ValueError if it is not one."""
    text = text.strip()
    if number_format == "decimal":
        if not text.isdigit():
            raise ValueError(f"not a decimal card number: {text!r}")
        return uid_from_int(int(text), digits)
    cleaned = text.replace(":", "").replace(" ", "")
    if cleaned.lower().startswith("0x"):
        cleaned = cleaned[2:]
    if not cleaned or any(c not in "0123456789abcdefABCDEF" for c in cleaned):
        raise ValueError(f"not a hex card number: {text!r}")
    return cleaned.upper().rjust(digits, "0")


def fire(callback: Callable[..., Any] | None, *args: Any) -> None:
    """Call a user callback; a failing callback is logged, never kills a reader thread."""
    if callback is None:
        return
    try:
        callback(*args)
    except Exception:
        log.exception("driver callback %r failed", callback)


# ---------------------------------------------------------------- thin ports


class SerialPort:
    """Reads a serial device in a thread and hands each chunk, with its arrival time
    (time.monotonic seconds), to `on_bytes`. Reopens the device after it disappears (a USB
    reader unplugged), logging once per outage."""

    def __init__(
        self,
        port: str,
        baudrate: int,
        on_bytes: Callable[[bytes, float], None],
        *,
        name: str = "serial",
        retry_s: float = 2.0,
    ) -> None:
        self.port = port
        self.baudrate = baudrate
        self.on_bytes = on_bytes
        self.name = name
        self.retry_s = retry_s
        self.is_open = threading.Event()
        self.errors = 0
        self._stop = threading.Event()
        self._serial = None
        self._thread = threading.Thread(target=self._run, name=f"serial-{name}", daemon=True)
        self._thread.start()

    def _open(self):
        import serial  # pyserial

        return serial.Serial(self.port, self.baudrate, bytesize=8, parity="N", stopbits=1, timeout=0.5)

    def _run(self) -> None:
        import serial

        reported = False
        while not self._stop.is_set():
            try:
                ser = self._open()
            except (serial.SerialException, OSError) as exc:
                self.errors += 1
                if not reported:
                    log.error("%s: cannot open %s: %s; retrying every %.0f s", self.name, self.port, exc, self.retry_s)
                    reported = True
                self._stop.wait(self.retry_s)
                continue
            if reported:
                log.info("%s: %s is back", self.name, self.port)
            reported = False
            self._serial = ser
            self.is_open.set()
            try:
                while not self._stop.is_set():
                    data = ser.read(ser.in_waiting or 1)
                    if data:
                        fire(self.on_bytes, data, time.monotonic())
            except (serial.SerialException, OSError, TypeError) as exc:
                if not self._stop.is_set():
                    self.errors += 1
                    log.error("%s: %s failed: %s; reopening", self.name, self.port, exc)
            finally:
                self.is_open.clear()
                self._serial = None
                with contextlib.suppress(Exception):
                    ser.close()

    def close(self) -> None:
        self._stop.set()
        ser = self._serial
        if ser is not None:
            with contextlib.suppress(Exception):
                ser.cancel_read()
        self._thread.join(3)


class SerialBadgeReader:
    """The thin port of every serial badge reader: bytes from a `SerialPort` go to a pure
    decoder (anything with `feed(data, t) -> list[uid]`, `stats` and `repeats`), and each uid it
    returns fires `when_tap(uid)`. A new serial reader type only writes its decoder."""

    def __init__(self, port: str, decoder: Any, *, name: str = "badge", baudrate: int = 9600) -> None:
        self.name = name
        self.decoder = decoder
        self.when_tap: TapCallback | None = None
        self._serial = SerialPort(port, baudrate, self._on_bytes, name=name)

    @property
    def stats(self) -> dict[str, int]:
        return {**self.decoder.stats, "repeats": self.decoder.repeats, "port_errors": self._serial.errors}

    @property
    def is_open(self) -> bool:
        return self._serial.is_open

    def _on_bytes(self, data: bytes, t: float) -> None:
        for uid in self.decoder.feed(data, t):
            fire(self.when_tap, uid)

    def close(self) -> None:
        self._serial.close()


class EdgeInput:
    """A GPIO input whose edges arrive with the timestamp the pin factory reports.

    gpiozero's `when_activated` does not pass the time of the edge, and Python callback time
    under load is late and jittery (which corrupts Wiegand reads). So a `DigitalInputDevice`
    owns the pin (reservation, pull-up), and we take the pin's own `when_changed(ticks, state)`
    callback, converting ticks to seconds since this input was created with the factory's
    `ticks_diff`. With lgpio the ticks come from the kernel's edge timestamps.
    """

    def __init__(
        self,
        pin: int | str,
        on_edge: Callable[[bool, float], None],
        *,
        pull_up: bool = True,
        pin_factory: Any = None,
        origin: Any = None,
    ) -> None:
        """`origin`: the ticks this input's time base counts from, another input's `origin` to
        share its base (a Wiegand reader's D0 and D1); default now."""
        from gpiozero import DigitalInputDevice

        self.on_edge = on_edge
        self.device = DigitalInputDevice(pin, pull_up=pull_up, bounce_time=None, pin_factory=pin_factory)
        self.factory = self.device.pin_factory
        self.active_low = pull_up
        self.origin = self.factory.ticks() if origin is None else origin
        self.device.pin.when_changed = self._changed

    def now(self) -> float:
        """Seconds on this input's time base (the same base as edge times)."""
        return self.factory.ticks_diff(self.factory.ticks(), self.origin)

    @property
    def is_active(self) -> bool:
        return bool(self.device.pin.state) != self.active_low

    def _changed(self, ticks: Any, state: int) -> None:
        active = bool(state) != self.active_low
        fire(self.on_edge, active, self.factory.ticks_diff(ticks, self.origin))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.device.pin.when_changed = None
        self.device.close()
