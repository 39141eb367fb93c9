"""Hardware drivers, one module per family; each a pure decoder plus a thin port.

  rdm6300      RDM6300 / EM4100 125 kHz serial readers        (pyserial)
  line_reader  readers and Wiegand converters printing lines    (pyserial)
  wiegand      Wiegand 26 / 34 on two GPIO inputs               (gpiozero)
  ld2410       HLK-LD2410 mmWave presence radar                 (pyserial)
  occupancy    PIR and pressure mat, the stable-state filter    (gpiozero)
  buttons      break / meal / back seat buttons                 (gpiozero)
  feedback     green LED, red LED, buzzer                       (gpiozero)
  relay        a relay output, e.g. a zone's A/C contactor      (gpiozero)
  sim          simulated drivers behind the same interfaces     (the floor simulator)

A new reader type goes in a new module here and one branch of `build_drivers`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from edge.config import DeviceConfig, ReaderConfig, SensorConfig
from edge.drivers.base import Scheduler
from edge.exceptions import ConfigError


@dataclass
class Drivers:
    """Everything the agent reads from and writes to at one device."""

    readers: list[Any] = field(default_factory=list)  # badge readers (role badge)
    tag_readers: list[Any] = field(default_factory=list)  # equipment-tag readers (role inventory)
    sensors: list[Any] = field(default_factory=list)
    buttons: Any = None
    feedback: Any = None
    relay: Any = None

    def all(self) -> list[Any]:
        return [*self.readers, *self.tag_readers, *self.sensors,
                *(d for d in (self.buttons, self.feedback, self.relay) if d)]

    def close(self) -> None:
        for d in self.all():
            with contextlib.suppress(Exception):
                d.close()


def _need(value: Any, cfg_path: str, key: str, why: str) -> Any:
    if value is None:
        raise ConfigError(cfg_path, key, why)
    return value


def build_reader(rc: ReaderConfig, *, index: int, cfg_path: str, pin_factory=None, scheduler: Scheduler | None = None):
    """One reader from its config section. Inventory readers get no hold-off (every read counts)."""
    key = f"readers.{index}"
    hold = rc.hold_off_s if rc.role == "badge" else 0.0
    if rc.kind == "rdm6300":
        from edge.drivers.rdm6300 import Rdm6300Reader

        port = _need(rc.port, cfg_path, f"{key}.port", "an rdm6300 reader needs a serial port")
        return Rdm6300Reader(port, name=rc.name, baudrate=rc.baudrate, hold_off_s=hold)
    if rc.kind == "line":
        from edge.drivers.line_reader import LineReader

        port = _need(rc.port, cfg_path, f"{key}.port", "a line reader needs a serial port")
        try:
            return LineReader(port, name=rc.name, baudrate=rc.baudrate, pattern=rc.pattern,
                              number_format=rc.number_format, uid_digits=rc.uid_digits, hold_off_s=hold)
        except Exception as exc:  # re.error: a bad pattern
            raise ConfigError(cfg_path, f"{key}.pattern", f"not a valid regular expression: {exc}") from None
    if rc.kind == "wiegand":
        from edge.drivers.wiegand import WiegandReader

        d0 = _need(rc.d0_pin, cfg_path, f"{key}.d0_pin", "a wiegand reader needs d0_pin")
        d1 = _need(rc.d1_pin, cfg_path, f"{key}.d1_pin", "a wiegand reader needs d1_pin")
        return WiegandReader(d0, d1, name=rc.name, bits=rc.bits, gap_s=rc.frame_gap_ms / 1000,
                             hold_off_s=hold, pin_factory=pin_factory, scheduler=scheduler)
    if rc.kind == "sim":
        from edge.drivers.sim import SimReader

        return SimReader(rc.name, rc.seen_bits if rc.role == "badge" else None)
    raise ConfigError(cfg_path, f"{key}.kind", f"no driver for {rc.kind!r}")  # pragma: no cover


def build_sensor(sc: SensorConfig, *, index: int, cfg_path: str, pin_factory=None, scheduler: Scheduler | None = None):
    key = f"sensors.{index}"
    if sc.kind == "pir":
        from edge.drivers.occupancy import PirSensor

        pin = _need(sc.pin, cfg_path, f"{key}.pin", "a pir sensor needs a pin")
        return PirSensor(pin, name=sc.name, hold_s=sc.hold_s, pin_factory=pin_factory, scheduler=scheduler)
    if sc.kind == "mat":
        from edge.drivers.occupancy import MatSensor

        pin = _need(sc.pin, cfg_path, f"{key}.pin", "a mat sensor needs a pin")
        return MatSensor(pin, name=sc.name, bounce_s=sc.bounce_s, pull_up=sc.pull_up,
                         pin_factory=pin_factory, scheduler=scheduler)
    if sc.kind == "ld2410":
        from edge.drivers.ld2410 import Ld2410Sensor

        port = _need(sc.port, cfg_path, f"{key}.port", "an ld2410 radar needs a serial port")
        return Ld2410Sensor(port, name=sc.name, baudrate=sc.baudrate, bounce_s=sc.bounce_s, hold_s=sc.hold_s,
                            scheduler=scheduler)
    if sc.kind == "sim":
        from edge.drivers.sim import SimSensor

        return SimSensor(sc.name)
    raise ConfigError(cfg_path, f"{key}.kind", f"no driver for {sc.kind!r}")  # pragma: no cover


def build_drivers(cfg: DeviceConfig, *, cfg_path: str = "<device>", pin_factory=None,
                  scheduler: Scheduler | None = None) -> Drivers:
    """The drivers a device config names. Closes what it opened if one of them fails."""
    drivers = Drivers()
    try:
        for i, rc in enumerate(cfg.readers):
            reader = build_reader(rc, index=i, cfg_path=cfg_path, pin_factory=pin_factory, scheduler=scheduler)
            (drivers.readers if rc.role == "badge" else drivers.tag_readers).append(reader)
        for i, sc in enumerate(cfg.sensors):
            drivers.sensors.append(build_sensor(sc, index=i, cfg_path=cfg_path, pin_factory=pin_factory, scheduler=scheduler))
        b = cfg.buttons
        if any(p is not None for p in (b.break_pin, b.meal_pin, b.back_pin)):
            from edge.drivers.buttons import SeatButtons

            drivers.buttons = SeatButtons(break_pin=b.break_pin, meal_pin=b.meal_pin, back_pin=b.back_pin,
                                          bounce_s=b.bounce_s, pin_factory=pin_factory)
        f = cfg.feedback
        if any(p is not None for p in (f.green_pin, f.red_pin, f.buzzer_pin)):
            from edge.drivers.feedback import Feedback

            drivers.feedback = Feedback(green_pin=f.green_pin, red_pin=f.red_pin, buzzer_pin=f.buzzer_pin,
                                        pin_factory=pin_factory)
        if cfg.relay is not None:
            from edge.drivers.relay import Relay

            r = cfg.relay
            drivers.relay = Relay(r.pin, name=r.name, active_high=r.active_high, initial=r.initial, pin_factory=pin_factory)
    except BaseException:
        drivers.close()
        raise
    return drivers


def build_sim_drivers(cfg: DeviceConfig) -> Drivers:
    """Simulated drivers mirroring a device config (same reader and sensor names and roles),
    whatever hardware the config names: what the floor simulator runs every agent with."""
    from edge.drivers.sim import SimButtons, SimFeedback, SimReader, SimRelay, SimSensor

    drivers = Drivers()
    for rc in cfg.readers:
        reader = SimReader(rc.name, rc.seen_bits) if rc.role == "badge" else SimReader(rc.name)
        (drivers.readers if rc.role == "badge" else drivers.tag_readers).append(reader)
    drivers.sensors = [SimSensor(sc.name) for sc in cfg.sensors]
    if cfg.role == "seat":
        drivers.buttons = SimButtons()
    drivers.feedback = SimFeedback()
    if cfg.relay is not None:
        drivers.relay = SimRelay(cfg.relay.name, cfg.relay.initial)
    return drivers
