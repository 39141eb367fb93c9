"""Serial drivers: RDM6300, line readers and the LD2410 radar. The pure decoders are fed bytes
with synthetic times; the ports are driven through a pseudo-terminal pair (raw mode on both ends
before anything is written) with real pyserial on the agent's side."""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time

import pytest

from edge.drivers.ld2410 import Ld2410Decoder, Ld2410Sensor, encode_report
from edge.drivers.line_reader import LineDecoder, LineReader
from edge.drivers.rdm6300 import Rdm6300Decoder, Rdm6300Reader, encode_frame
from tests.pty_util import pty_pair


def collect(port) -> queue.Queue:
    q: queue.Queue = queue.Queue()
    port.when_tap = q.put
    return q


def drain(q: queue.Queue, n: int, timeout: float = 20.0) -> list:
    out, deadline = [], time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        with contextlib.suppress(queue.Empty):
            out.append(q.get(timeout=0.1))
    return out


def wait_open(port, timeout: float = 20.0) -> None:
    assert port.is_open.wait(timeout), "the serial port did not open"


# ---------------------------------------------------------------- RDM6300


def test_rdm6300_frames_checksums_garbage_and_split_frames():
    d = Rdm6300Decoder(hold_off_s=2.0)
    a, b = encode_frame("000A000001"), encode_frame("1F00ABCDEF")
    assert a == b"\x02000A0000010B\x03"  # checksum 00^0A^00^00^01 = 0B
    assert d.feed(a, 0.0) == ["000A000001"]
    bad = bytearray(b)
    bad[12] = ord("0") if bad[12] != ord("0") else ord("1")  # corrupt the checksum
    assert d.feed(bytes(bad), 10.0) == []
    assert d.stats["bad_checksum"] == 1
    # garbage, a stray STX with nonsense, then a frame split over three reads
    assert d.feed(b"\xff\x00noise\x02zz\x03" + b[:5], 20.0) == []
    assert d.feed(b[5:9], 20.01) == []
    assert d.feed(b[9:], 20.02) == ["1F00ABCDEF"]
    assert d.stats["garbage_bytes"] > 0 and d.stats["frames"] == 2


def test_rdm6300_held_card_is_one_tap_and_a_later_tap_counts():
    d = Rdm6300Decoder(hold_off_s=2.0)
    frame = encode_frame("000A000002")
    taps = []
    t = 0.0
    for _ in range(50):  # card held 5 s: the module repeats every 100 ms
        taps += d.feed(frame, t)
        t += 0.1
    assert taps == ["000A000002"]
    assert d.repeats == 49
    taps += d.feed(frame, t + 2.5)  # taken away for 2.5 s, presented again: a genuine tap
    assert taps == ["000A000002", "000A000002"]
    assert d.feed(encode_frame("000A000003"), t + 2.6) == ["000A000003"]  # another card at once


def test_rdm6300_through_a_pty_with_real_pyserial():
    with pty_pair() as (master, name):
        reader = Rdm6300Reader(name, hold_off_s=1.0)
        q = collect(reader)
        try:
            wait_open(reader)
            f1, f2 = encode_frame("000A000010"), encode_frame("000A000011")
            bad = f1[:11] + b"00" + f1[13:]  # wrong checksum
            os.write(master, b"\x00\x13garbage" + f1 + f1 + bad + f2[:6])
            time.sleep(0.05)
            os.write(master, f2[6:] + b"\x03\x03\x02")  # 0x03 arrives as data, not Ctrl-C
            assert drain(q, 2) == ["000A000010", "000A000011"]
            time.sleep(0.3)
            assert q.empty()
            assert reader.stats["bad_checksum"] == 1 and reader.stats["repeats"] == 1
        finally:
            reader.close()


# ---------------------------------------------------------------- line readers


def test_line_decoder_formats_and_normalisation():
    hexd = LineDecoder(number_format="hex", hold_off_s=0)
    assert hexd.feed(b"0a000001\r\n", 0) == ["000A000001"]
    assert hexd.feed(b"ID: 1f00abcdef\n", 1) == ["1F00ABCDEF"]
    dec = LineDecoder(number_format="decimal", hold_off_s=0)
    assert dec.feed(b"0167772161\r", 0) == ["000A000001"]  # 0x0A000001 printed in decimal
    assert dec.feed(b"\n\n", 1) == []  # the LF of a CRLF, blank lines
    wg = LineDecoder(r"W26:\s*(?P<facility>\d+),(?P<card>\d+)", "decimal", hold_off_s=0)
    assert wg.feed(b"W26: 10,1\r\n", 0) == ["00000A0001"]  # facility 10, card 1
    assert wg.feed(b"W26: 10,70000\r\n", 1) == []  # card > 16 bits
    assert wg.stats["bad_lines"] == 1 and "16 bits" in wg.rejected[-1][1]
    assert dec.feed(b"hello\n", 2) == [] and dec.stats["bad_lines"] == 1
    assert dec.feed(b"x" * 300, 3) == [] and dec.stats["overlong"] == 1
    assert dec.feed(b"0167772162\n", 4) == ["000A000002"]  # still decoding after the garbage


def test_line_reader_through_a_pty_with_hold_off():
    with pty_pair() as (master, name):
        reader = LineReader(name, number_format="decimal", hold_off_s=0.5)
        q = collect(reader)
        try:
            wait_open(reader)
            os.write(master, b"0167772161\r\n0167772161\r\n")  # the same card twice at once
            os.write(master, b"junk!\r\n0167772")
            time.sleep(0.05)
            os.write(master, b"162\r\n")
            assert drain(q, 2) == ["000A000001", "000A000002"]
            time.sleep(0.8)
            os.write(master, b"0167772161\r\n")  # later: a genuine second tap
            assert drain(q, 1) == ["000A000001"]
            assert reader.stats["bad_lines"] == 1 and reader.stats["repeats"] == 1
        finally:
            reader.close()


# ---------------------------------------------------------------- LD2410


def test_ld2410_frames_engineering_mode_and_garbage():
    d = Ld2410Decoder()
    f_present = encode_report(2, static_cm=85, static_energy=60, detect_cm=90)
    assert f_present[:4] == b"\xf4\xf3\xf2\xf1" and f_present[4:6] == b"\x0d\x00"
    reports = d.feed(b"\x00\xfd\xfc\xfb\xfa\x02\x00\x01\x00\x04\x03\x02\x01" + f_present[:7])
    assert reports == []  # an ACK frame is skipped; the report is split
    reports = d.feed(f_present[7:] + encode_report(0, engineering=True))
    assert [(r.target_state, r.static_cm, r.engineering, r.presence) for r in reports] == [
        (2, 85, False, True), (0, 0, True, False)]
    broken = bytearray(encode_report(1, moving_cm=120))
    broken[-1] = 0  # bad tail
    assert d.feed(bytes(broken) + encode_report(3)) != [] and d.stats["bad_frames"] == 1
    assert d.stats["frames"] == 3


def test_a_frame_start_split_across_reads_is_kept_and_the_garbage_before_it_counted():
    """Both serial decoders sync on their frame's first bytes the same way (StreamDecoder.skip_to)."""
    radar, frame = Ld2410Decoder(), encode_report(2, static_cm=85)
    assert radar.feed(b"noise" + frame[:2]) == [] and radar.buffered == 3  # what may be a header waits
    assert radar.feed(frame[2:]) != [] and radar.stats["garbage_bytes"] == 5 and radar.buffered == 0
    card = Rdm6300Decoder()
    assert card.feed(b"xyz", 0) == [] and card.buffered == 0 and card.stats["garbage_bytes"] == 3
    assert card.feed(b"ab" + encode_frame("0012345678"), 0) == ["0012345678"]
    assert card.stats["garbage_bytes"] == 5


def test_ld2410_sensor_through_a_pty_debounces_presence():
    with pty_pair() as (master, name):
        sensor = Ld2410Sensor(name, bounce_s=0.2, hold_s=0.6)
        changes: queue.Queue = queue.Queue()
        sensor.when_changed = changes.put
        stop = threading.Event()

        def stream(state: int, seconds: float) -> None:
            end = time.monotonic() + seconds
            while time.monotonic() < end and not stop.is_set():
                os.write(master, encode_report(state, static_cm=70))
                time.sleep(0.02)

        try:
            wait_open(sensor)
            stream(0, 0.8)  # nobody: vacant after the hold
            assert drain(changes, 1) == [False]
            stream(2, 0.05)  # 50 ms of presence is not enough
            stream(0, 0.2)
            assert changes.empty()
            stream(2, 0.5)  # someone sits down
            assert drain(changes, 1) == [True]
            stream(0, 0.2)  # radar drop-out shorter than the hold: still occupied
            stream(2, 0.1)
            assert changes.empty()
            stream(0, 1.0)
            assert drain(changes, 1) == [False]
            assert sensor.last_report is not None and sensor.stats["bad_frames"] == 0
        finally:
            stop.set()
            sensor.close()


@pytest.mark.parametrize("uid", ["00000000", "ABCDEF012"])
def test_rdm6300_encode_rejects_wrong_lengths(uid):
    with pytest.raises(ValueError):
        encode_frame(uid)
