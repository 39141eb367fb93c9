"""Each reader driver end to end (issue 17): from its own bytes or pin edges to the hub's
attribution, through a real mosquitto.

The example site's own hardware mix, each device a real edge Agent built from its shipped device
file: door-d1's Wiegand 26 reader pulsed on gpiozero mock pins, kiosk-k1's desk reader fed decimal
lines and seat-a01's RDM6300 fed frames, both through pseudo-terminals with real pyserial. A
HubService on a manual clock consumes what they publish. One card must be one agent at all three
(arrival at the door, kiosk verdict, seat sign-in); a card nobody holds stays unknown at all three.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import queue
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from edge.agent import Agent
from edge.clock import ManualClock
from edge.clocksync import ClockSync, FixedClockSync
from edge.config import DeviceConfig, load_device_config
from edge.drivers import rdm6300, wiegand
from hub.cards import CardForm, parse_card
from hub.engine.site_time import local_ms
from hub.service import HubService
from hub.site import Site, example_site_dir, load_site
from hub.store import Store
from hub.store.derived import DerivedStore
from tests.pty_util import pty_pair

DAY = dt.date(2026, 3, 10)
DEVICES = ("door-d1", "kiosk-k1", "seat-a01")


@dataclass
class ReaderFloor:
    """Three real agents on the example site's readers and the hub they publish to."""

    site: Site
    clock: ManualClock
    hub: HubService
    taps: queue.Queue
    ports: dict[str, int]  # device -> pty master the reader's bytes are written to
    pins: MockFactory  # door-d1's mock pins

    def present(self, device: str, card: str) -> dict:
        """Hold `card` to `device`'s reader as its hardware would report it; the hub's verdict."""
        value = parse_card(card).value
        if device == "door-d1":  # Wiegand 26: the lower 24 bits as D0/D1 pulses
            d0, d1 = self.pins.pin(14), self.pins.pin(15)
            for bit in wiegand.encode_frame(value & 0xFFFFFF, 26):
                pin = d1 if bit else d0
                pin.drive_low()
                pin.drive_high()
        elif device == "kiosk-k1":  # a desk reader printing the card's 10-digit number
            os.write(self.ports[device], f"{value & 0xFFFFFFFF:010d}\r\n".encode())
        else:  # RDM6300: the full 40-bit id in an STX..ETX frame
            os.write(self.ports[device], rdm6300.encode_frame(f"{value:010X}"))
        tap = self.taps.get(timeout=15)
        assert tap["device"] == device, tap
        return tap


def _own_site(tmp_path: Path) -> Path:
    """The example site under a site id of this test's own (the session broker is shared)."""
    root = Path(shutil.copytree(example_site_dir(), tmp_path / "site"))
    (root / "roster.csv").unlink()
    site_id = "rd" + os.urandom(3).hex()
    for path in [root / "site.toml", *(root / "devices").glob("*.toml")]:
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace('id = "example"', f'id = "{site_id}"', 1)
                        .replace('site = "example"', f'site = "{site_id}"', 1), encoding="utf-8")
    return root


def _device(root: Path, device: str, broker, spool: Path, port: str | None) -> DeviceConfig:
    """The shipped device file, pointed at the test broker, with its badge reader only (its port
    the pty) and its LEDs: the part under test."""
    cfg, _ = load_device_config(root / "devices" / f"{device}.toml")
    readers = [r.model_copy(update={"port": port} if port else {}) for r in cfg.readers if r.role == "badge"]
    return cfg.model_copy(update={
        "broker": cfg.broker.model_copy(update={"host": broker.host, "port": broker.port}),
        "spool": cfg.spool.model_copy(update={"path": str(spool)}),
        "readers": readers, "sensors": [],
    })


@pytest.fixture
def reader_floor(broker, tmp_path) -> Iterator[ReaderFloor]:
    root = _own_site(tmp_path)
    site = load_site(root)
    store = Store(tmp_path / "hub.db")
    DerivedStore(store).insert_roster([{"date": DAY.isoformat(), "employee_no": "10001", "shift": "day",
                                        "seat": "A01", "meal_start": None}])
    clock = ManualClock(local_ms(DAY, dt.time(7, 50), site.tz))
    hub = HubService(site, store, broker_host=broker.host, broker_port=broker.port, clock=clock, tick_s=0.05,
                     purge_every_s=None).start()
    sub = hub.live.subscribe({"tap"})
    taps: queue.Queue = queue.Queue()
    agents: list[Agent] = []
    with contextlib.ExitStack() as stack:
        ports = {d: stack.enter_context(pty_pair()) for d in ("kiosk-k1", "seat-a01")}
        door_pins = MockFactory()
        try:
            for device in DEVICES:
                port = ports[device][1] if device in ports else None
                cfg = _device(root, device, broker, tmp_path / f"{device}.db", port)
                pins = door_pins if device == "door-d1" else MockFactory()
                agents.append(Agent(cfg, clock=clock, clock_sync=FixedClockSync(ClockSync(True, 5, "test")),
                                    pin_factory=pins, heartbeat=False).start())
            for a in agents:
                assert a.link.connected.wait(10), f"{a.device} did not connect"
                for reader in a.drivers.readers:
                    if hasattr(reader, "is_open"):
                        assert reader.is_open.wait(10), f"{a.device}: the serial port did not open"

            def relay() -> None:  # the hub's live tap verdicts, in order
                while True:
                    u = sub.q.get()
                    if u is None:
                        return
                    taps.put(u.data)

            threading.Thread(target=relay, daemon=True).start()
            yield ReaderFloor(site, clock, hub, taps, {d: m for d, (m, _) in ports.items()}, door_pins)
        finally:
            for a in agents:
                a.stop()
            sub.q.put(None)
            hub.stop()
            store.close()
            door_pins.reset()


def card_of(site: Site, emp: str) -> str:
    [card] = next(a for a in site.agents if a.employee_no == emp).badges
    return card


def test_one_card_is_one_agent_at_the_w26_door_the_desk_kiosk_and_the_rdm6300_seat(reader_floor):
    f = reader_floor
    card = card_of(f.site, "10001")
    assert parse_card(card).value >> 32 != 0  # a customer byte: the three readers really report differently
    seen = []
    for device, at in (("door-d1", "08:00"), ("kiosk-k1", "08:05"), ("seat-a01", "08:20")):
        f.clock.set(local_ms(DAY, dt.time.fromisoformat(at), f.site.tz))
        tap = f.present(device, card)
        seen.append((device, tap["verdict"], (tap["agent"] or {}).get("employee_no")))
    assert seen == [("door-d1", "on_time", "10001"), ("kiosk-k1", "on_time", "10001"),
                    ("seat-a01", "signed_in", "10001")]
    f.hub.engine.refresh()
    [row] = DerivedStore(f.hub.store).attendance(DAY.isoformat(), "day")
    assert (row["employee_no"], row["first_arrival"], row["rollcall"]) == (
        "10001", local_ms(DAY, dt.time(8, 0), f.site.tz), "on_time")  # the door tap is the arrival


def test_a_card_nobody_holds_stays_unknown_at_every_reader(reader_floor):
    f = reader_floor
    index = f.site.card_index()
    stranger = next(c for c in (f"{b:02X}5A3C{b:02X}{b:02X}" for b in range(1, 255))
                    if all(index.match(CardForm(w, parse_card(c).low(w))).status == "unknown" for w in (24, 32, 40)))
    seen = []
    for device, at in (("door-d1", "08:00"), ("kiosk-k1", "08:05"), ("seat-a01", "08:20")):
        f.clock.set(local_ms(DAY, dt.time.fromisoformat(at), f.site.tz))
        tap = f.present(device, stranger)
        seen.append((device, tap["verdict"], tap["agent"]))
    assert seen == [(d, "unknown_badge", None) for d in DEVICES]
    time.sleep(0.1)
    assert f.taps.empty()
