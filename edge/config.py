"""One device's configuration: `firmware_cfg/sites/<site>/devices/<id>.toml`.

A Pi reads only its own file. Every error names the file, the key and the reason, so an
installer standing at a seat with a laptop knows what to fix.
"""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from msgspec import Meta

from edge.exceptions import ConfigError, SchemaError
from edge.schema import Record, whole
from edge.wire import ID_PATTERN


class _Section(Record, kw_only=True):
    """Strict, and unknown keys are errors: a misspelt key must not be silently ignored."""


class BrokerConfig(_Section, kw_only=True):
    host: str = "127.0.0.1"
    port: Annotated[int, Meta(ge=1, le=65535)] = 1883
    protocol: Literal["3.1.1", "5"] = "3.1.1"
    keepalive_s: Annotated[int, Meta(ge=5, le=3600)] = 30
    tls: bool = False
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    username: str | None = None
    password_file: str | None = None


class ReaderConfig(_Section, kw_only=True):
    """A badge or equipment-tag reader. `kind` picks the driver in edge.drivers."""

    name: Annotated[str, Meta(min_length=1, max_length=64)]
    kind: Literal["rdm6300", "line", "wiegand", "sim"]
    role: Literal["badge", "inventory"] = "badge"
    port: str | None = None  # serial device, e.g. /dev/floorwatch-reader
    baudrate: Annotated[int, Meta(ge=300)] = 9600
    hold_off_s: Annotated[float, Meta(ge=0)] = 2.0
    # line readers: how a card number looks on the wire and how to normalise it
    pattern: str | None = None
    number_format: Literal["hex", "decimal"] = "hex"
    # wiegand: D0 and D1 GPIO pins
    d0_pin: int | None = None
    d1_pin: int | None = None
    bits: Literal[26, 34] | None = None
    frame_gap_ms: Annotated[float, Meta(gt=0, le=1000)] = 25.0  # wiegand: silence that ends a frame
    uid_digits: Annotated[int, Meta(ge=1, le=32)] = 10  # canonical UID width (hex digits)
    # how many low-order bits of a card this reader sees, when its kind does not say (see card_bits)
    card_bits: Annotated[int, Meta(ge=1, le=64)] | None = None
    # inventory readers: how often to report the set of tags seen
    period_s: Annotated[float, Meta(gt=0)] = 60.0

    @property
    def seen_bits(self) -> int | None:
        """How many low-order bits of a badge this reader reports, so the hub matches its taps on
        exactly those: an RDM6300 sees all 40 bits of an EM4100 card, a W34 reader or a desk reader
        printing the decimal number the lower 32, a W26 reader (or a converter printing
        facility,card) the lower 24. `card_bits` overrides; None means the file does not say."""
        if self.card_bits is not None:
            return self.card_bits
        if self.kind == "rdm6300":
            return 40
        if self.kind == "wiegand" and self.bits is not None:
            return self.bits - 2
        if self.kind == "line":
            if self.pattern and "(?P<facility>" in self.pattern:
                return 24
            if self.number_format == "decimal":
                return 32
        return None


class SensorConfig(_Section, kw_only=True):
    """A seat-occupancy sensor."""

    name: Annotated[str, Meta(min_length=1, max_length=64)]
    kind: Literal["pir", "mat", "ld2410", "sim"]
    pin: int | None = None
    port: str | None = None
    baudrate: Annotated[int, Meta(ge=300)] = 256000
    hold_s: Annotated[float, Meta(ge=0)] = 60.0  # PIR, LD2410: occupied until no presence this long
    bounce_s: Annotated[float, Meta(ge=0)] = 0.2  # mat: a state must hold this long to count
    pull_up: bool = True  # mat: switch to ground with the Pi's pull-up (pressed = low)


class ButtonsConfig(_Section, kw_only=True):
    break_pin: int | None = None
    meal_pin: int | None = None
    back_pin: int | None = None
    bounce_s: Annotated[float, Meta(ge=0)] = 0.05


class FeedbackConfig(_Section, kw_only=True):
    green_pin: int | None = None
    red_pin: int | None = None
    buzzer_pin: int | None = None


class RelayConfig(_Section, kw_only=True):
    """A relay output (gpiozero OutputDevice), e.g. the contactor of a zone's air conditioning.
    `initial` is what the relay does from power-up until the hub says otherwise: `on` keeps the
    A/C running when the hub is unreachable (a data gap never switches anyone's A/C off)."""

    name: Annotated[str, Meta(min_length=1, max_length=64)] = "ac"
    pin: Annotated[int, Meta(ge=0, le=27)]
    active_high: bool = True  # False for the common low-triggered relay boards
    initial: Literal["on", "off"] = "on"


class SpoolConfig(_Section, kw_only=True):
    path: str = "/var/lib/floorwatch/spool.db"
    max_events: Annotated[int, Meta(ge=10)] = 100_000
    # full: fsync every event (survives power loss); normal: survives a crashed process only
    sync: Literal["full", "normal"] = "full"
    # how long an event the broker acknowledged is kept and sent again after a reconnect: longer
    # than the broker's autosave_interval (60 s), or a broker crash can lose what it had in memory
    keep_sent_s: Annotated[float, Meta(ge=0)] = 180.0


class DeviceConfig(_Section, kw_only=True):
    id: Annotated[str, whole(ID_PATTERN)]
    site: Annotated[str, whole(ID_PATTERN)]
    role: Literal["seat", "door", "kiosk", "zone"]
    seat: str | None = None  # role seat: the seat id in site.toml
    door: str | None = None  # role door: the door id in site.toml
    kiosk: str | None = None  # role kiosk: the kiosk id in site.toml
    zone: str | None = None  # role zone: a zone controller (e.g. its A/C relay), the zone id
    heartbeat_s: Annotated[float, Meta(gt=0)] = 30.0
    broker: BrokerConfig = BrokerConfig()
    spool: SpoolConfig = SpoolConfig()
    readers: list[ReaderConfig] = []  # msgspec copies an empty list default per instance
    sensors: list[SensorConfig] = []
    buttons: ButtonsConfig = ButtonsConfig()
    feedback: FeedbackConfig = FeedbackConfig()
    relay: RelayConfig | None = None

    @property
    def place(self) -> str | None:
        """The seat, door, kiosk or zone this device stands at."""
        return {"seat": self.seat, "door": self.door, "kiosk": self.kiosk, "zone": self.zone}[self.role]

    def pins(self) -> list[tuple[str, int]]:
        """(key, GPIO pin) of every pin the file assigns, to catch two uses of one pin."""
        out: list[tuple[str, int]] = []
        for i, r in enumerate(self.readers):
            out += [(f"readers.{i}.{k}", p) for k, p in (("d0_pin", r.d0_pin), ("d1_pin", r.d1_pin)) if p is not None]
        out += [(f"sensors.{i}.pin", s.pin) for i, s in enumerate(self.sensors) if s.pin is not None]
        for section, obj in (("buttons", self.buttons), ("feedback", self.feedback), ("relay", self.relay)):
            if obj is None:
                continue
            for k in obj.__struct_fields__:
                p = getattr(obj, k)
                if k.endswith("pin") and isinstance(p, int):
                    out.append((f"{section}.{k}", p))
        return out


def config_hash(data: bytes) -> str:
    """Short content hash reported in the device's `online` status."""
    return hashlib.sha256(data).hexdigest()[:12]


def load_toml(path: Path) -> tuple[dict, bytes]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), "-", f"cannot read: {exc.strerror}") from None
    try:
        return tomllib.loads(raw.decode("utf-8")), raw
    except UnicodeDecodeError:
        raise ConfigError(str(path), "-", "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "-", f"not valid TOML: {exc}") from None


def validation_to_config_error(path: Path | str, exc: Any) -> ConfigError:
    """The first error of a pydantic ValidationError (the hub's site files) as a ConfigError."""
    err = exc.errors(include_url=False)[0]
    key = ".".join(str(p) for p in err["loc"]) or "-"
    return ConfigError(str(path), key, err["msg"])


def parse_device_config(data: dict, path: Path | str = "<device>") -> DeviceConfig:
    try:
        cfg = DeviceConfig.validate(data)
    except SchemaError as exc:
        raise ConfigError(str(path), exc.loc or "-", exc.reason) from None
    if cfg.place is None:
        raise ConfigError(str(path), cfg.role, f"a {cfg.role} device must name its {cfg.role}")
    used: dict[int, str] = {}
    for key, pin in cfg.pins():
        if pin in used:
            raise ConfigError(str(path), key, f"GPIO {pin} is already used by {used[pin]}")
        used[pin] = key
    return cfg


def load_device_config(path: str | Path) -> tuple[DeviceConfig, str]:
    """Load and validate a device file; returns the config and its hash."""
    path = Path(path)
    data, raw = load_toml(path)
    return parse_device_config(data, path), config_hash(raw)
