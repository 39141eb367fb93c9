"""RDM6300 / EM4100 125 kHz serial badge readers (9600 8N1).

Each read is a 14-byte frame: STX 0x02, 10 ASCII hex data characters (version byte + 32-bit
card number), 2 ASCII hex checksum characters (XOR of the 5 data bytes), ETX 0x03. The module
repeats the frame several times a second while a card stays in the field; `HoldOff` turns that
into one tap. Garbage between frames (a reader powering up, line noise) is skipped by
resynchronising on the next STX; frames with a bad checksum are rejected and counted.
"""

from __future__ import annotations

from edge.drivers.base import DEFAULT_UID_DIGITS, CardStreamDecoder, SerialBadgeReader

STX, ETX = 0x02, 0x03
STX_BYTE = bytes([STX])
FRAME_LEN = 14
_HEX = frozenset(b"0123456789ABCDEFabcdef")


def checksum_ok(data_hex: bytes, check_hex: bytes) -> bool:
    """XOR of the five data bytes equals the checksum byte."""
    raw = bytes.fromhex(data_hex.decode("ascii"))
    x = 0
    for b in raw:
        x ^= b
    return x == int(check_hex, 16)


def encode_frame(uid: str) -> bytes:
    """The frame a reader sends for a 10-hex-digit UID (for tests and the simulator)."""
    raw = bytes.fromhex(uid)
    if len(raw) != 5:
        raise ValueError("an EM4100 UID is 5 bytes (10 hex digits)")
    x = 0
    for b in raw:
        x ^= b
    return bytes([STX]) + uid.upper().encode() + f"{x:02X}".encode() + bytes([ETX])


class Rdm6300Decoder(CardStreamDecoder):
    """Pure decoder: `feed(bytes, t)` returns the new taps (canonical UIDs) those bytes end."""

    def __init__(self, hold_off_s: float = 2.0) -> None:
        super().__init__(hold_off_s)
        self.stats.update(frames=0, taps=0, bad_checksum=0)

    def feed(self, data: bytes, t: float) -> list[str]:
        buf = self._buf
        buf.extend(data)
        taps: list[str] = []
        while self.skip_to(STX_BYTE):
            if len(buf) < FRAME_LEN:
                break  # wait for the rest of a split frame
            frame = bytes(buf[:FRAME_LEN])
            body = frame[1:13]
            if frame[13] != ETX or not all(c in _HEX for c in body):
                # not a frame after all: skip this STX and look for the next one
                self.stats["garbage_bytes"] += 1
                del buf[:1]
                continue
            del buf[:FRAME_LEN]
            if not checksum_ok(body[:10], body[10:]):
                self.stats["bad_checksum"] += 1
                continue
            self.stats["frames"] += 1
            uid = body[:10].decode("ascii").upper().rjust(DEFAULT_UID_DIGITS, "0")
            if self.hold.accept(uid, t):
                self.stats["taps"] += 1
                taps.append(uid)
        return taps


class Rdm6300Reader(SerialBadgeReader):
    """An RDM6300 on a serial port: `when_tap(uid)` fires once per presented card."""

    def __init__(self, port: str, *, name: str = "badge", baudrate: int = 9600, hold_off_s: float = 2.0) -> None:
        super().__init__(port, Rdm6300Decoder(hold_off_s), name=name, baudrate=baudrate)
