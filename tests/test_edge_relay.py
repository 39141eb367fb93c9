"""The A/C relay of a zone device (FAC-ZONE-EMPTY): the gpiozero OutputDevice driver on mock
pins (active-high and low-triggered boards, power-up state, repeats that change nothing), its
device-file section, and an agent applying the hub's relay commands through a real mosquitto
and reporting each switch as an event and the state in its heartbeat."""

from __future__ import annotations

import os

import pytest

from edge import wire
from edge.agent import Agent
from edge.config import parse_device_config
from edge.drivers.relay import Relay
from edge.exceptions import ConfigError, WireError
from hub.ingest import Ingest
from hub.store import Store
from tests.waiting import wait_until


def test_relay_drives_its_pin_and_repeats_change_nothing(mock_pins):
    switched = []
    relay = Relay(22, initial="on")
    relay.when_switched = lambda state, reason: switched.append((state, reason))
    pin = mock_pins.pin(22)
    try:
        assert (relay.state, pin.state) == ("on", True)
        assert relay.set("off", "zone_empty") is True
        assert (relay.state, pin.state, relay.reason) == ("off", False, "zone_empty")
        assert relay.set("off", "zone_empty") is False  # a repeated command: no flip, no report
        assert relay.set("on", "occupied") is True and pin.state is True
        assert switched == [("off", "zone_empty"), ("on", "occupied")]
        with pytest.raises(ValueError, match="on or off"):
            relay.set("auto")
    finally:
        relay.close()


def test_low_triggered_board_and_power_up_off(mock_pins):
    relay = Relay(26, active_high=False, initial="off")
    pin = mock_pins.pin(26)
    try:
        assert (relay.state, pin.state) == ("off", True)  # low-triggered: off is a high pin
        relay.set("on", "precool")
        assert pin.state is False
    finally:
        relay.close()


def test_relay_section_in_the_device_file_is_validated():
    base = {"id": "zone-a", "site": "s1", "role": "zone", "zone": "A"}
    cfg = parse_device_config({**base, "relay": {"pin": 22, "active_high": False, "initial": "on"}})
    assert (cfg.place, cfg.relay.pin, cfg.relay.active_high, cfg.relay.name) == ("A", 22, False, "ac")
    with pytest.raises(ConfigError, match=r"relay\.pin"):
        parse_device_config({**base, "relay": {"pin": 40}})
    with pytest.raises(ConfigError, match=r"relay\.initial"):
        parse_device_config({**base, "relay": {"pin": 22, "initial": "auto"}})
    with pytest.raises(ConfigError, match="relay.pin.*GPIO 23 is already used by feedback.green_pin"):
        parse_device_config({**base, "feedback": {"green_pin": 23}, "relay": {"pin": 23}})
    with pytest.raises(ConfigError, match="a zone device must name its zone"):
        parse_device_config({"id": "zone-a", "site": "s1", "role": "zone"})


def test_relay_command_on_the_wire():
    cmd = wire.Command(v=1, device="zone-a", ts=1, cmd="relay", state="off", reason="zone_empty", since=0)
    back = wire.decode_command(wire.encode(cmd))
    assert (back.cmd, back.state, back.reason, back.since) == ("relay", "off", "zone_empty", 0)
    with pytest.raises(WireError, match="needs a state"):
        wire.decode_command(b'{"v":1,"device":"zone-a","ts":1,"cmd":"relay"}')
    with pytest.raises(WireError, match="state"):
        wire.decode_command(b'{"v":1,"device":"zone-a","ts":1,"cmd":"relay","state":"dim"}')


def test_agent_applies_relay_commands_and_reports_the_state(broker, tmp_path, mock_pins):
    site = "r" + os.urandom(3).hex()
    store = Store(tmp_path / "hub.db")
    ingest = Ingest(store, site, broker.host, broker.port, client_id=f"hub-{site}").start()
    cfg = parse_device_config({
        "id": "zone-a", "site": site, "role": "zone", "zone": "A",
        "broker": {"host": broker.host, "port": broker.port, "keepalive_s": 5},
        "spool": {"path": str(tmp_path / "spool.db")}, "relay": {"pin": 22},
    })
    agent = Agent(cfg).start()
    pin = mock_pins.pin(22)

    def relay_events():
        return [(e.body["state"], e.body["reason"])
                for e in reversed(store.recent_events(device="zone-a", type="relay", limit=100))]

    try:
        assert agent.link.connected.wait(20)
        assert wait_until(lambda: relay_events() == [("on", "initial")])
        hb = wait_until(lambda: store.recent_events(device="zone-a", type="heartbeat"))
        assert hb[0].body["relay"] == "on"
        for state in ("off", "off", "on"):  # the repeated off is applied once
            ingest.publish_command(wire.Command(v=1, device="zone-a", ts=wire.now_ms(), cmd="relay", state=state,
                                                reason="zone_empty" if state == "off" else "occupied"))
        assert wait_until(lambda: len(relay_events()) == 3), relay_events()
        assert relay_events() == [("on", "initial"), ("off", "zone_empty"), ("on", "occupied")]
        assert pin.state is True and agent.stats["commands"] == 3
        agent.drivers.relay.set("off", "zone_empty")
        agent.heartbeat()
        assert wait_until(lambda: store.recent_events(device="zone-a", type="heartbeat", limit=1)[0].body["relay"] == "off")
    finally:
        agent.stop()
        ingest.stop()
        store.close()
