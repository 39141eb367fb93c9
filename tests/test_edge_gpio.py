"""GPIO drivers through gpiozero's mock pin factory: Wiegand bit trains, PIR and mat sensors,
seat buttons. Mock pins store bounce_time but never debounce, so every debounce and hold time
checked here is our own timestamped logic, the code a Pi runs."""

from __future__ import annotations

import contextlib
import queue
import time

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPin

from edge.drivers.buttons import ButtonDebouncer, SeatButtons
from edge.drivers.occupancy import MatSensor, PirSensor, PresenceFilter
from edge.drivers.wiegand import WiegandDecoder, WiegandReader, decode_frame, encode_frame
from edge.exceptions import DecodeError


class StampedPin(MockPin):
    """A mock pin that reports the edge time it is given, as lgpio reports the kernel's edge
    timestamp however late the Python callback runs."""

    def drive_at(self, high: bool, ticks: float) -> None:
        assert self._function == "input"
        if self._state == high:
            return
        self._state = high
        self._last_change = ticks
        if self._when_changed is not None and self._edges in ("both", "rising" if high else "falling"):
            self._call_when_changed()


@pytest.fixture
def stamped_pins():
    Device.pin_factory = MockFactory(pin_class=StampedPin)
    yield Device.pin_factory
    Device.pin_factory.reset()
    Device.pin_factory = None


def drain(q: queue.Queue, n: int, timeout: float = 20.0) -> list:
    out, deadline = [], time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        with contextlib.suppress(queue.Empty):
            out.append(q.get(timeout=0.05))
    return out


# ---------------------------------------------------------------- Wiegand, pure


def test_wiegand_frames_decode_and_parity_is_checked():
    w26 = encode_frame((123 << 16) | 4567, 26)
    card = decode_frame(w26)
    assert (card.bits, card.facility, card.card, card.uid) == (26, 123, 4567, f"{(123 << 16) | 4567:010X}")
    w34 = encode_frame(0x0A000001, 34)
    assert decode_frame(w34).uid == "000A000001"  # the same UID an EM4100 serial reader reports
    for i in (0, 5, 25):
        flipped = list(w26)
        flipped[i] ^= 1
        with pytest.raises(DecodeError, match="parity"):
            decode_frame(flipped)
    with pytest.raises(DecodeError, match="25 bits"):
        decode_frame(w26[:-1])


def test_wiegand_decoder_splits_frames_by_edge_time_and_counts_bad_ones():
    d = WiegandDecoder(26, gap_s=0.025, hold_off_s=0)
    good = encode_frame((1 << 16) | 2, 26)
    bad = list(good)
    bad[3] ^= 1
    trains = [good, bad, good[:20], encode_frame((7 << 16) | 9, 26)]
    taps, t = [], 0.0
    for train in trains:
        for bit in train:
            taps += d.edge(bit, t)
            t += 0.002
        t += 0.05  # gap between frames
    taps += d.poll(t)
    assert taps == [f"{(1 << 16) | 2:010X}", f"{(7 << 16) | 9:010X}"]
    assert d.stats == {"frames": 2, "taps": 2, "bad_parity": 1, "bad_length": 1}
    w34only = WiegandDecoder(34, hold_off_s=0)
    for i, bit in enumerate(good):
        w34only.edge(bit, i * 0.002)
    assert w34only.poll(1.0) == [] and w34only.stats["bad_length"] == 1


# ---------------------------------------------------------------- Wiegand through mock pins


def send_train(pins, bits, start: float, *, bit_s: float = 0.002, pause_after: int | None = None, pause_s: float = 0.0):
    """Pulse D0/D1 for each bit with edge times start + i * bit_s (the real-time delivery may
    pause after bit `pause_after`, as callbacks do behind a busy thread)."""
    d0, d1 = pins
    for i, bit in enumerate(bits):
        pin = d1 if bit else d0
        t = start + i * bit_s
        pin.drive_at(False, t)
        pin.drive_at(True, t + 0.00005)
        if pause_after is not None and i == pause_after:
            time.sleep(pause_s)
    return start + len(bits) * bit_s


def test_wiegand_reader_decodes_by_pin_timestamps_not_callback_time(stamped_pins):
    reader = WiegandReader(14, 15, bits=26, hold_off_s=0)
    taps: queue.Queue = queue.Queue()
    reader.when_tap = taps.put
    pins = (stamped_pins.pin(14), stamped_pins.pin(15))
    try:
        a, b = (3 << 16) | 1001, (3 << 16) | 1002
        # 1. callbacks delayed 80 ms in the middle of a frame whose edges are 2 ms apart: one card
        now = stamped_pins.ticks()
        send_train(pins, encode_frame(a, 26), now, pause_after=9, pause_s=0.08)
        assert drain(taps, 1) == [f"{a:010X}"]
        # 2. two frames 40 ms apart by their edge times, delivered back to back: two cards
        now = stamped_pins.ticks()
        end = send_train(pins, encode_frame(a, 26), now)
        send_train(pins, encode_frame(b, 26), end + 0.04)
        assert drain(taps, 2) == [f"{a:010X}", f"{b:010X}"]
        # 3. a truncated frame and a bad-parity frame give nothing; the reader then still works
        now = stamped_pins.ticks()
        end = send_train(pins, encode_frame(a, 26)[:18], now)
        bad = encode_frame(b, 26)
        bad[7] ^= 1
        end = send_train(pins, bad, end + 0.04)
        send_train(pins, encode_frame(b, 26), end + 0.04)
        assert drain(taps, 1) == [f"{b:010X}"]
        time.sleep(0.4)
        assert taps.empty()
        assert reader.stats["bad_length"] == 1 and reader.stats["bad_parity"] == 1
    finally:
        reader.close()


def test_wiegand_reader_with_plain_mock_pins_in_real_time(mock_pins):
    reader = WiegandReader(14, 15, bits=34, hold_off_s=2.0)
    taps: queue.Queue = queue.Queue()
    reader.when_tap = taps.put
    d0, d1 = mock_pins.pin(14), mock_pins.pin(15)
    try:
        for _ in range(2):  # the reader sends the card twice while it is held: one tap
            for bit in encode_frame(0x0A00002A, 34):
                pin = d1 if bit else d0
                pin.drive_low()
                pin.drive_high()
            time.sleep(0.2)
        assert drain(taps, 1) == ["000A00002A"]
        time.sleep(0.3)
        assert taps.empty() and reader.stats["repeats"] == 1
    finally:
        reader.close()


# ---------------------------------------------------------------- occupancy


def test_presence_filter_bounce_and_hold():
    mat = PresenceFilter(on_s=0.2, off_s=0.2)
    assert mat.update(False, 0.0) is None and mat.poll(0.25) is False  # initial state, once stable
    assert [mat.update(v, t) for v, t in [(True, 1.0), (False, 1.01), (True, 1.02)]] == [None] * 3
    assert mat.deadline() == pytest.approx(1.22)
    assert mat.poll(1.21) is None and mat.poll(1.23) is True
    assert mat.update(False, 2.0) is None and mat.update(True, 2.1) is None  # a 100 ms lift
    assert mat.poll(5.0) is None and mat.stable is True
    pir = PresenceFilter(on_s=0.0, off_s=60.0)
    assert pir.update(True, 0.0) is True  # motion: occupied at once
    assert pir.update(False, 3.0) is None and pir.poll(62.9) is None
    assert pir.update(True, 50.0) is None and pir.update(False, 52.0) is None  # typing, still there
    assert pir.poll(111.9) is None and pir.poll(112.0) is False


def test_mat_sensor_debounces_on_the_pin(mock_pins):
    changes: queue.Queue = queue.Queue()
    mat = MatSensor(17, bounce_s=0.3)
    mat.when_changed = changes.put
    pin = mock_pins.pin(17)  # pull-up: high = nobody sitting
    try:
        assert drain(changes, 1) == [False]  # the state at start-up, once stable
        for _ in range(3):  # sitting down: the switch bounces
            pin.drive_low()
            pin.drive_high()
        pin.drive_low()
        assert drain(changes, 1) == [True]
        pin.drive_high()  # shifting weight: a 20 ms lift
        time.sleep(0.02)
        pin.drive_low()
        time.sleep(0.6)
        assert changes.empty() and mat.occupied is True
        pin.drive_high()
        assert drain(changes, 1) == [False]
        assert mat.changes == 3
    finally:
        mat.close()


def test_pir_sensor_holds_occupancy_between_motions(mock_pins):
    changes: queue.Queue = queue.Queue()
    pir = PirSensor(27, hold_s=0.6)
    pir.when_changed = changes.put
    pin = mock_pins.pin(27)
    try:
        time.sleep(0.3)  # MotionSensor's sampling thread starts ~0.1 s after construction
        assert drain(changes, 1) == [False]  # no motion at start-up: vacant after the hold
        pin.drive_high()
        assert drain(changes, 1, timeout=5) == [True]
        pin.drive_low()
        time.sleep(0.3)
        pin.drive_high()  # motion again within the hold: no change
        time.sleep(0.3)
        pin.drive_low()
        time.sleep(0.3)
        assert changes.empty()
        assert drain(changes, 1) == [False]
    finally:
        pir.close()


# ---------------------------------------------------------------- buttons


def test_button_debouncer_pure():
    d = ButtonDebouncer(0.05)
    edges = [(True, 0.0), (False, 0.002), (True, 0.004), (False, 0.3), (True, 0.6)]
    assert [d.edge("break", p, t) for p, t in edges] == [True, False, False, False, True]
    assert d.bounces == 1


def test_seat_buttons_on_mock_pins(mock_pins):
    buttons = SeatButtons(break_pin=5, meal_pin=6, back_pin=13, bounce_s=0.05)
    presses: queue.Queue = queue.Queue()
    buttons.when_pressed = presses.put
    try:
        brk, meal = mock_pins.pin(5), mock_pins.pin(6)
        for _ in range(3):  # one bouncy press
            brk.drive_low()
            brk.drive_high()
        time.sleep(0.15)
        meal.drive_low()
        time.sleep(0.1)
        meal.drive_high()
        assert drain(presses, 2) == ["break", "meal"]
        time.sleep(0.2)
        assert presses.empty() and buttons.debouncer.bounces >= 1
    finally:
        buttons.close()
