"""HLK-LD2410 24 GHz mmWave presence radar over serial (default 256000 8N1).

In reporting mode the module streams frames: header F4 F3 F2 F1, 2-byte little-endian length,
data, tail F8 F7 F6 F5. Data: type (0x02 basic, 0x01 engineering), 0xAA, target state
(0 none, 1 moving, 2 stationary, 3 both), moving target distance (cm, 2 bytes), moving energy,
stationary target distance (cm, 2 bytes), stationary energy, detection distance (cm, 2 bytes),
[engineering: per-gate energies], 0x55, 0x00. Presence is target state != 0. Command
acknowledgements (header FD FC FB FA) and garbage are skipped; malformed frames are counted.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass

from edge.drivers.base import Scheduler, SerialPort, StreamDecoder
from edge.drivers.occupancy import FilteredSensor

HEADER = b"\xf4\xf3\xf2\xf1"
TAIL = b"\xf8\xf7\xf6\xf5"
MAX_DATA = 64


@dataclass(frozen=True)
class RadarReport:
    target_state: int
    moving_cm: int
    moving_energy: int
    static_cm: int
    static_energy: int
    detect_cm: int
    engineering: bool

    @property
    def presence(self) -> bool:
        return self.target_state != 0


def encode_report(target_state: int, moving_cm: int = 0, static_cm: int = 0, *, moving_energy: int = 0,
                  static_energy: int = 0, detect_cm: int = 0, engineering: bool = False) -> bytes:
    """A report frame as the module sends it (for tests and the simulator)."""
    body = struct.pack("<BBBHBHBH", 0x01 if engineering else 0x02, 0xAA, target_state, moving_cm,
                       moving_energy, static_cm, static_energy, detect_cm)
    if engineering:
        body += bytes([8, 8]) + bytes(9) + bytes(9)  # max gates + per-gate energies
    body += b"\x55\x00"
    return HEADER + struct.pack("<H", len(body)) + body + TAIL


class Ld2410Decoder(StreamDecoder):
    """Pure decoder: `feed(bytes)` returns the reports those bytes complete."""

    def __init__(self) -> None:
        super().__init__()
        self.stats.update(frames=0, bad_frames=0)

    def feed(self, data: bytes) -> list[RadarReport]:
        buf = self._buf
        buf.extend(data)
        out: list[RadarReport] = []
        while self.skip_to(HEADER):  # a header split across reads waits for its rest
            if len(buf) < 6:
                break
            (length,) = struct.unpack_from("<H", buf, 4)
            if length > MAX_DATA or length < 13:
                self.stats["bad_frames"] += 1
                del buf[:4]
                continue
            end = 6 + length + 4
            if len(buf) < end:
                break
            if bytes(buf[6 + length : end]) != TAIL:
                self.stats["bad_frames"] += 1
                del buf[:4]
                continue
            body = bytes(buf[6 : 6 + length])
            del buf[:end]
            report = self._parse(body)
            if report is None:
                self.stats["bad_frames"] += 1
            else:
                self.stats["frames"] += 1
                out.append(report)
        return out

    @staticmethod
    def _parse(body: bytes) -> RadarReport | None:
        kind = body[0]
        if kind not in (0x01, 0x02) or body[1] != 0xAA or body[-2] != 0x55:
            return None
        state, mv_cm, mv_e, st_cm, st_e, det_cm = struct.unpack_from("<BHBHBH", body, 2)
        if state > 3:
            return None
        return RadarReport(state, mv_cm, mv_e, st_cm, st_e, det_cm, kind == 0x01)


class Ld2410Sensor(FilteredSensor):
    """An LD2410 on a serial port: occupied after presence holds `bounce_s`, vacant after no
    presence for `hold_s`."""

    def __init__(
        self,
        port: str,
        *,
        name: str = "radar",
        baudrate: int = 256000,
        bounce_s: float = 0.5,
        hold_s: float = 10.0,
        scheduler: Scheduler | None = None,
    ) -> None:
        super().__init__(name, bounce_s, hold_s, scheduler)
        self.decoder = Ld2410Decoder()
        self.last_report: RadarReport | None = None
        self._serial = SerialPort(port, baudrate, self._on_bytes, name=name)

    @property
    def stats(self) -> dict[str, int]:
        return {**self.decoder.stats, "port_errors": self._serial.errors}

    @property
    def is_open(self):
        return self._serial.is_open

    def _now(self) -> float:
        return time.monotonic()

    def _on_bytes(self, data: bytes, t: float) -> None:
        for report in self.decoder.feed(data):
            self.last_report = report
            self._raw(report.presence, t)

    def close(self) -> None:
        self._serial.close()
