"""Wiegand 26 and 34 readers on two GPIO inputs (D0, D1).

Both lines idle high; the reader pulls D0 low for a 0 bit and D1 low for a 1 bit (pulses of
about 50 µs, 1-2 ms apart). A frame ends when no bit arrives for the inter-bit timeout. The
decoder works on the edge timestamps the pin factory reports, never on when a Python callback
happens to run: under load callbacks arrive late and bunched, and deciding frame ends by callback
time splits or merges frames.

W26: even parity over bits 1-12, facility code bits 1-8, card number bits 9-24, odd parity over
bits 13-24. W34: even parity over bits 1-16, facility bits 1-16, card bits 17-32, odd parity
over bits 17-32. The UID is the data bits (24 or 32) as canonical hex: the lower 24 or 32 bits
of an EM4100 card, not its whole 40-bit id, so it equals an RDM6300's UID only when the card's
customer byte (and for W26 the number's top byte) is 0. The hub matches it on those bits (the
device file's `bits` tells it the width; hub.cards). A Wiegand-to-serial converter (see
docs/edge.md) is the robust alternative; it goes through the line reader.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from edge.drivers.base import (
    DEFAULT_UID_DIGITS,
    EdgeInput,
    HoldOff,
    Scheduler,
    TapCallback,
    default_scheduler,
    fire,
    uid_from_int,
)
from edge.exceptions import DecodeError

DEFAULT_GAP_S = 0.025  # 25 ms without a bit ends a frame (bits are at most a few ms apart)


@dataclass(frozen=True)
class WiegandCard:
    bits: int
    facility: int
    card: int
    value: int  # the data bits without parity

    @property
    def uid(self) -> str:
        return uid_from_int(self.value, DEFAULT_UID_DIGITS)


def _parity_even(bits: list[int]) -> bool:
    return sum(bits) % 2 == 0


def decode_frame(bits: list[int]) -> WiegandCard:
    """A complete bit train -> card; DecodeError for a wrong length or parity."""
    n = len(bits)
    if n not in (26, 34):
        raise DecodeError(f"{n} bits: not a Wiegand 26 or 34 frame")
    half = (n - 2) // 2
    if not _parity_even(bits[: 1 + half]):
        raise DecodeError(f"W{n}: leading even parity wrong")
    if _parity_even(bits[1 + half :]):
        raise DecodeError(f"W{n}: trailing odd parity wrong")
    data = bits[1 : n - 1]
    value = 0
    for b in data:
        value = (value << 1) | b
    card_bits = 16
    return WiegandCard(n, value >> card_bits, value & 0xFFFF, value)


def encode_frame(value: int, bits: int = 26) -> list[int]:
    """Bits of a valid frame for a data value (for tests and the simulator)."""
    if bits not in (26, 34):
        raise ValueError("bits must be 26 or 34")
    width = bits - 2
    if value >> width:
        raise ValueError(f"value does not fit {width} bits")
    data = [(value >> (width - 1 - i)) & 1 for i in range(width)]
    half = width // 2
    lead = sum(data[:half]) % 2  # makes the first half even
    trail = 1 - sum(data[half:]) % 2  # makes the second half odd
    return [lead, *data, trail]


class WiegandDecoder:
    """Pure decoder fed `(bit, t)` edges (t in seconds on any one time base).

    `edge()` returns taps completed by a gap before this edge; `poll(t)` returns taps whose frame
    has been silent for the gap by time t. `bits` (26 or 34) restricts accepted frame lengths.
    """

    def __init__(self, bits: int | None = None, *, gap_s: float = DEFAULT_GAP_S, hold_off_s: float = 2.0) -> None:
        self.expected = bits
        self.gap_s = gap_s
        self.hold = HoldOff(hold_off_s)
        self._bits: list[int] = []
        self._last_t: float | None = None
        self.last_card: WiegandCard | None = None
        self.stats = {"frames": 0, "taps": 0, "bad_parity": 0, "bad_length": 0}

    @property
    def repeats(self) -> int:
        return self.hold.repeats

    @property
    def pending(self) -> bool:
        return bool(self._bits)

    def edge(self, bit: int, t: float) -> list[str]:
        out: list[str] = []
        if self._bits and self._last_t is not None and t - self._last_t > self.gap_s:
            out = self._finish()
        self._bits.append(1 if bit else 0)
        self._last_t = t
        if len(self._bits) > 64:  # noise: no Wiegand frame is this long
            out += self._finish()
        return out

    def poll(self, t: float, quiet_s: float | None = None) -> list[str]:
        """End the pending frame if no edge came within `quiet_s` (default the gap) before t."""
        quiet = self.gap_s if quiet_s is None else quiet_s
        if self._bits and self._last_t is not None and t - self._last_t > quiet:
            return self._finish()
        return []

    def _finish(self) -> list[str]:
        bits, self._bits = self._bits, []
        if self.expected is not None and len(bits) != self.expected:
            self.stats["bad_length"] += 1
            return []
        try:
            card = decode_frame(bits)
        except DecodeError as exc:
            self.stats["bad_parity" if "parity" in str(exc) else "bad_length"] += 1
            return []
        self.stats["frames"] += 1
        self.last_card = card
        if self.hold.accept(card.uid, self._last_t or 0.0):
            self.stats["taps"] += 1
            return [card.uid]
        return []


class WiegandReader:
    """A Wiegand reader on D0/D1 through gpiozero: `when_tap(uid)` once per presented card.

    Frames split at gaps between edge timestamps. Only the last frame of a burst needs a timer;
    it waits `settle_s` of wall time, well above the gap, because edge callbacks may still be
    queued behind a busy Python thread (their timestamps are right, their arrival is late).
    """

    def __init__(
        self,
        d0_pin: int | str,
        d1_pin: int | str,
        *,
        name: str = "badge",
        bits: int | None = None,
        gap_s: float = DEFAULT_GAP_S,
        hold_off_s: float = 2.0,
        pin_factory=None,
        scheduler: Scheduler | None = None,
    ) -> None:
        self.name = name
        self.decoder = WiegandDecoder(bits, gap_s=gap_s, hold_off_s=hold_off_s)
        self.when_tap: TapCallback | None = None
        self._lock = threading.Lock()
        self._scheduler = scheduler or default_scheduler()
        self._armed = False
        self.settle_s = max(gap_s * 4, 0.15)
        self._d0 = EdgeInput(d0_pin, lambda active, t: self._edge(0, active, t), pull_up=True, pin_factory=pin_factory)
        try:
            # both inputs must share one time base: D1 counts from D0's origin
            self._d1 = EdgeInput(d1_pin, lambda active, t: self._edge(1, active, t), pull_up=True,
                                 pin_factory=pin_factory, origin=self._d0.origin)
        except Exception:
            self._d0.close()
            raise

    @property
    def stats(self) -> dict[str, int]:
        return {**self.decoder.stats, "repeats": self.decoder.repeats}

    def _edge(self, bit: int, active: bool, t: float) -> None:
        if not active:  # the end of a pulse carries no information
            return
        with self._lock:
            taps = self.decoder.edge(bit, t)
            arm = not self._armed
            self._armed = True
        for uid in taps:
            fire(self.when_tap, uid)
        if arm:
            self._scheduler.call_later(self.settle_s, self._check)

    def _check(self) -> None:
        with self._lock:
            taps = self.decoder.poll(self._d0.now(), self.settle_s)
            self._armed = self.decoder.pending
        for uid in taps:
            fire(self.when_tap, uid)
        if self._armed:
            self._scheduler.call_later(self.settle_s / 2, self._check)

    def close(self) -> None:
        self._d0.close()
        self._d1.close()
