"""Line-oriented serial readers: USB-serial desk readers and Wiegand-to-serial converters that
print one card number per line (CR, LF or CRLF).

The format is configurable: `number_format` says whether the number is hex or decimal, and an
optional regular expression picks it out of the line (named group `uid`, or the first group, or
the whole match; a converter printing "facility,card" uses groups `facility` and `card`). Every
number is normalised to the canonical UID (upper-case hex, zero-padded to `uid_digits`), so a
decimal desk reader and a hex RDM6300 report the same badge identically.
"""

from __future__ import annotations

import logging
import re
from collections import deque

from edge.drivers.base import (
    DEFAULT_UID_DIGITS,
    CardStreamDecoder,
    SerialBadgeReader,
    normalise_uid,
    uid_from_int,
)

log = logging.getLogger(__name__)

MAX_LINE = 256
DEFAULT_PATTERNS = {"hex": r"[0-9A-Fa-f]{4,20}", "decimal": r"\d{3,20}"}


class LineDecoder(CardStreamDecoder):
    """Pure decoder: `feed(bytes, t)` returns the new taps completed by those bytes."""

    def __init__(
        self,
        pattern: str | None = None,
        number_format: str = "hex",
        *,
        uid_digits: int = DEFAULT_UID_DIGITS,
        hold_off_s: float = 2.0,
    ) -> None:
        if number_format not in ("hex", "decimal"):
            raise ValueError(f"number_format must be hex or decimal, not {number_format!r}")
        self.regex = re.compile(pattern or DEFAULT_PATTERNS[number_format])
        self.number_format = number_format
        self.uid_digits = uid_digits
        super().__init__(hold_off_s)
        self.stats = {"lines": 0, "taps": 0, "bad_lines": 0, "overlong": 0}
        self.rejected: deque[tuple[str, str]] = deque(maxlen=20)  # (line, reason), for diagnostics

    def parse_line(self, line: str) -> str:
        """One line -> canonical UID, or ValueError saying why not."""
        m = self.regex.search(line)
        if not m:
            raise ValueError("no card number in the line")
        groups = m.groupdict()
        if groups.get("facility") is not None and groups.get("card") is not None:
            base = 10 if self.number_format == "decimal" else 16
            facility, card = int(groups["facility"], base), int(groups["card"], base)
            if card > 0xFFFF:
                raise ValueError(f"card number {card} does not fit 16 bits")
            return uid_from_int((facility << 16) | card, self.uid_digits)
        text = groups.get("uid") or (m.group(1) if m.groups() else m.group(0))
        if not text:  # an optional or empty group took part in the match but holds nothing
            raise ValueError("the pattern matched, but its card-number group is empty")
        return normalise_uid(text, self.number_format, self.uid_digits)

    def feed(self, data: bytes, t: float) -> list[str]:
        self._buf.extend(data)
        taps: list[str] = []
        while True:
            cut = next((i for i, b in enumerate(self._buf) if b in (0x0A, 0x0D)), -1)
            if cut < 0:
                if len(self._buf) > MAX_LINE:  # garbage without line ends: drop it
                    self.stats["overlong"] += 1
                    self._reject(self._buf[:40].decode("ascii", "backslashreplace"), "line too long")
                    self._buf.clear()
                break
            raw = bytes(self._buf[:cut])
            del self._buf[: cut + 1]
            if not raw.strip():
                continue
            self.stats["lines"] += 1
            try:
                line = raw.decode("ascii").strip()
                uid = self.parse_line(line)
            except (UnicodeDecodeError, ValueError) as exc:
                self.stats["bad_lines"] += 1
                self._reject(raw.decode("ascii", "backslashreplace"), str(exc))
                continue
            if self.hold.accept(uid, t):
                self.stats["taps"] += 1
                taps.append(uid)
        return taps

    def _reject(self, line: str, reason: str) -> None:
        self.rejected.append((line, reason))
        log.warning("line reader: rejected %r: %s", line, reason)


class LineReader(SerialBadgeReader):
    """A line-oriented reader on a serial port: `when_tap(uid)` once per presented card."""

    def __init__(
        self,
        port: str,
        *,
        name: str = "badge",
        baudrate: int = 9600,
        pattern: str | None = None,
        number_format: str = "hex",
        uid_digits: int = DEFAULT_UID_DIGITS,
        hold_off_s: float = 2.0,
    ) -> None:
        decoder = LineDecoder(pattern, number_format, uid_digits=uid_digits, hold_off_s=hold_off_s)
        super().__init__(port, decoder, name=name, baudrate=baudrate)
