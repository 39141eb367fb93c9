"""Fuzzing the reader and sensor decoders (RDM6300, line readers, Wiegand, LD2410) with
hypothesis: whatever bytes or edges a reader, a loose wire or line noise produces, the decoder
never raises, never invents a card, and counts (or names) every rejection.

Each property checks two things: arbitrary input is survived, and valid frames hidden in
garbage and cut at arbitrary points come out exactly once, in order.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from edge.drivers.ld2410 import HEADER, Ld2410Decoder, encode_report
from edge.drivers.line_reader import LineDecoder
from edge.drivers.rdm6300 import STX, Rdm6300Decoder, encode_frame
from edge.drivers.wiegand import WiegandDecoder, decode_frame
from edge.drivers.wiegand import encode_frame as wiegand_frame
from edge.exceptions import DecodeError
from tests.fuzz_settings import fuzz

FUZZ = fuzz(80)
SLOW = fuzz(40)  # properties that build long streams

uids = st.integers(min_value=0, max_value=(1 << 40) - 1).map(lambda v: f"{v:010X}")


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    """`data` split at the given cut points (any order, duplicates allowed)."""
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:], strict=False)]


# ---------------------------------------------------------------- RDM6300


@FUZZ
@given(data=st.binary(max_size=400), cuts=st.lists(st.integers(0, 400), max_size=20))
def test_rdm6300_survives_any_bytes(data: bytes, cuts: list[int]) -> None:
    d = Rdm6300Decoder(hold_off_s=0)
    taps = []
    for i, chunk in enumerate(chunked(data, cuts)):
        taps += d.feed(chunk, float(i))
    assert all(re.fullmatch(r"[0-9A-F]{10}", t) for t in taps)
    assert d.stats["taps"] == len(taps) <= d.stats["frames"]
    # every byte is accounted for: a frame, garbage, a rejected frame, or still buffered
    assert d.stats["frames"] * 14 + d.stats["bad_checksum"] * 14 + d.stats["garbage_bytes"] + d.buffered == len(data)


@SLOW
@given(
    cards=st.lists(uids, min_size=1, max_size=8),
    noise=st.lists(st.binary(max_size=30).map(lambda b: b.replace(bytes([STX]), b"")), min_size=9, max_size=9),
    cuts=st.lists(st.integers(0, 1000), max_size=30),
)
def test_rdm6300_finds_every_frame_in_noise(cards: list[str], noise: list[bytes], cuts: list[int]) -> None:
    """Noise without a start byte never hides or invents a card, wherever the reads split."""
    stream = noise[0] + b"".join(encode_frame(c) + n for c, n in zip(cards, noise[1:], strict=False))
    d = Rdm6300Decoder(hold_off_s=0)
    taps = []
    for i, chunk in enumerate(chunked(stream, cuts)):
        taps += d.feed(chunk, float(i))
    assert taps == cards


@FUZZ
@given(card=uids, flip=st.integers(1, 12), bit=st.integers(0, 7))
def test_rdm6300_rejects_a_corrupted_frame_and_counts_it(card: str, flip: int, bit: int) -> None:
    frame = bytearray(encode_frame(card))
    frame[flip] ^= 1 << bit
    d = Rdm6300Decoder(hold_off_s=0)
    taps = d.feed(bytes(frame), 0.0)
    if taps:  # a flip inside a hex digit can turn it into another valid digit (A <-> a)
        assert taps[0].upper() == bytes(frame[1:11]).decode().upper()
        assert bytes(frame[1:11]).decode().upper() == card
    else:
        assert d.stats["bad_checksum"] + d.stats["garbage_bytes"] > 0


# ---------------------------------------------------------------- line readers

PATTERNS = [
    None,
    r"ID:(?P<uid>[0-9A-F]+)",
    r"(?P<facility>\d{1,3}),(?P<card>\d{1,5})",
    r"card=(\d+)",
    r"(a)?b",  # an optional group that may take part in no match
    r"(?P<uid>x*)",  # a group that may match the empty string
]


@FUZZ
@given(
    data=st.binary(max_size=600),
    pattern=st.sampled_from(PATTERNS),
    fmt=st.sampled_from(["hex", "decimal"]),
    cuts=st.lists(st.integers(0, 600), max_size=20),
)
def test_line_reader_survives_any_bytes(data: bytes, pattern: str | None, fmt: str, cuts: list[int]) -> None:
    d = LineDecoder(pattern, fmt, hold_off_s=0)
    taps = []
    for i, chunk in enumerate(chunked(data, cuts)):
        taps += d.feed(chunk, float(i))
    assert all(re.fullmatch(r"[0-9A-F]+", t) for t in taps)
    assert d.stats["lines"] == d.stats["taps"] + d.stats["bad_lines"]
    assert d.buffered <= 256 + max((len(c) for c in chunked(data, cuts)), default=0)
    for line, reason in d.rejected:  # every rejection says why
        assert isinstance(line, str) and reason.strip()


@FUZZ
@given(line=st.text(max_size=80), pattern=st.sampled_from(PATTERNS), fmt=st.sampled_from(["hex", "decimal"]))
def test_line_reader_parse_line_raises_only_value_error(line: str, pattern: str | None, fmt: str) -> None:
    d = LineDecoder(pattern, fmt)
    try:
        uid = d.parse_line(line)
    except ValueError as exc:
        assert str(exc).strip()
    else:
        assert re.fullmatch(r"[0-9A-F]+", uid)


@FUZZ
@given(
    numbers=st.lists(st.integers(0, (1 << 40) - 1), min_size=1, max_size=8),
    fmt=st.sampled_from(["hex", "decimal"]),
    ends=st.lists(st.sampled_from([b"\r", b"\n", b"\r\n", b"\n\n"]), min_size=8, max_size=8),
    cuts=st.lists(st.integers(0, 400), max_size=20),
)
def test_line_reader_decodes_every_card_however_split(numbers: list[int], fmt: str, ends: list[bytes],
                                                       cuts: list[int]) -> None:
    text = b"".join((f"{n:X}" if fmt == "hex" else str(n)).encode() + e for n, e in zip(numbers, ends, strict=False))
    d = LineDecoder(None, fmt, hold_off_s=0)
    taps = []
    for i, chunk in enumerate(chunked(text, cuts)):
        taps += d.feed(chunk, float(i))
    expected = [f"{n:010X}" for n in numbers if len(f"{n:X}" if fmt == "hex" else str(n)) >= (4 if fmt == "hex" else 3)]
    assert taps == expected


# ---------------------------------------------------------------- Wiegand


@FUZZ
@given(bits=st.lists(st.integers(0, 1), max_size=70))
def test_wiegand_frame_decodes_or_says_why(bits: list[int]) -> None:
    try:
        card = decode_frame(bits)
    except DecodeError as exc:
        assert str(exc).strip()
        return
    assert len(bits) in (26, 34)
    assert wiegand_frame(card.value, card.bits) == bits  # a frame that decodes is exactly one card


@FUZZ
@given(size=st.sampled_from([26, 34]), data=st.data())
def test_wiegand_roundtrip_and_single_bit_errors(size: int, data) -> None:
    value = data.draw(st.integers(0, (1 << (size - 2)) - 1))
    bits = wiegand_frame(value, size)
    assert decode_frame(bits).value == value
    flipped = list(bits)
    i = data.draw(st.integers(0, size - 1))
    flipped[i] ^= 1
    with pytest.raises(DecodeError, match="parity"):  # one flipped bit always breaks a parity
        decode_frame(flipped)


@FUZZ
@given(
    edges=st.lists(st.tuples(st.integers(0, 1), st.floats(0, 0.2, allow_nan=False)), max_size=200),
    expected_bits=st.sampled_from([None, 26, 34]),
)
def test_wiegand_decoder_survives_any_edges(edges: list[tuple[int, float]], expected_bits: int | None) -> None:
    d = WiegandDecoder(expected_bits, hold_off_s=0)
    t = 0.0
    taps = []
    for bit, dt in edges:
        t += dt
        taps += d.edge(bit, t)
    taps += d.poll(t + 1.0)
    assert not d.pending
    assert d.stats["taps"] == len(taps)
    assert all(re.fullmatch(r"[0-9A-F]{10}", u) for u in taps)


@FUZZ
@given(
    cards=st.lists(st.tuples(st.sampled_from([26, 34]), st.integers(0, (1 << 24) - 1)), min_size=1, max_size=6),
    spacing=st.floats(0.0005, 0.002),
    gaps=st.lists(st.floats(0.03, 2.0), min_size=6, max_size=6),
)
def test_wiegand_decoder_separates_frames_by_timestamps(cards, spacing: float, gaps: list[float]) -> None:
    d = WiegandDecoder(None, gap_s=0.025, hold_off_s=0)
    t = 0.0
    taps = []
    for (size, value), gap in zip(cards, gaps, strict=False):
        for bit in wiegand_frame(value, size):
            taps += d.edge(bit, t)
            t += spacing
        t += gap
    taps += d.poll(t)
    assert taps == [f"{v:010X}" for _, v in cards]


# ---------------------------------------------------------------- LD2410

reports = st.tuples(
    st.integers(0, 3), st.integers(0, 65535), st.integers(0, 65535), st.integers(0, 100), st.integers(0, 100),
    st.booleans(),
)


@FUZZ
@given(data=st.binary(max_size=600), cuts=st.lists(st.integers(0, 600), max_size=20))
def test_ld2410_survives_any_bytes(data: bytes, cuts: list[int]) -> None:
    d = Ld2410Decoder()
    out = []
    for chunk in chunked(data, cuts):
        out += d.feed(chunk)
    assert d.stats["frames"] == len(out)
    assert all(0 <= r.target_state <= 3 for r in out)
    assert d.buffered <= 4 + 2 + 64 + 4  # never more than one pending frame is buffered


@SLOW
@given(
    frames=st.lists(reports, min_size=1, max_size=6),
    noise=st.lists(st.binary(max_size=20).map(lambda b: b.replace(b"\xf4", b"")), min_size=7, max_size=7),
    cuts=st.lists(st.integers(0, 800), max_size=30),
)
def test_ld2410_finds_every_report_in_noise(frames, noise: list[bytes], cuts: list[int]) -> None:
    stream = noise[0] + b"".join(
        encode_report(s, mv, sc, moving_energy=me, static_energy=se, engineering=eng) + n
        for (s, mv, sc, me, se, eng), n in zip(frames, noise[1:], strict=False)
    )
    assume(stream.count(HEADER) == len(frames))
    d = Ld2410Decoder()
    out = []
    for chunk in chunked(stream, cuts):
        out += d.feed(chunk)
    assert [(r.target_state, r.moving_cm, r.static_cm, r.engineering) for r in out] == [
        (s, mv, sc, eng) for s, mv, sc, _, _, eng in frames
    ]


@FUZZ
@given(frame=reports, pos=st.integers(0, 200), byte=st.integers(0, 255))
def test_ld2410_corrupted_report_is_counted_not_misread(frame, pos: int, byte: int) -> None:
    s, mv, sc, me, se, eng = frame
    good = encode_report(s, mv, sc, moving_energy=me, static_energy=se, engineering=eng)
    bad = bytearray(good)
    pos %= len(bad)
    assume(bad[pos] != byte)
    bad[pos] = byte
    d = Ld2410Decoder()
    out = d.feed(bytes(bad)) + d.feed(b"")
    if out:  # the change fell in a field the frame does not protect (distances, energies)
        assert len(out) == 1 and d.stats["bad_frames"] == 0
    else:
        assert d.stats["bad_frames"] + d.stats["garbage_bytes"] > 0 or d.buffered > 0
