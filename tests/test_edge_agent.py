"""The agent's own logic: a seat's sensors combined into one occupancy, only changes published;
buttons; the equipment inventory reported on change and every period (on the agent's clock); the
clock's sync state carried as evidence, as it was when each event was observed."""

from __future__ import annotations

import json
import os
import threading
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge import wire
from edge.agent import Agent, Inventory
from edge.clock import ScaledClock
from edge.clocksync import ClockSync, FixedClockSync
from edge.config import parse_device_config
from edge.drivers import build_sim_drivers
from hub.broker import free_port
from tests.waiting import wait_until

UNSYNCED = ClockSync(False, None, "adjtimex")  # what a Pi restored from fake-hwclock reports
SYNCED = ClockSync(True, 12, "adjtimex")


class EventTap:
    """A real MQTT client on the site's event topics: what the agent actually published."""

    def __init__(self, broker, site: str) -> None:
        self.events: list[wire.Event] = []
        self.raw: list[dict] = []
        self._lock = threading.Lock()
        ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"tap-{uuid.uuid4().hex[:8]}")
        self.client.on_connect = lambda c, *a: c.subscribe(f"fw/v1/{site}/+/event", qos=1)
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert ready.wait(10), "event tap could not subscribe"

    def _on_message(self, client, userdata, msg) -> None:
        with self._lock:
            self.raw.append(json.loads(msg.payload))
            self.events.append(wire.decode_event(msg.payload, msg.topic))

    def of(self, type_: str) -> list:
        with self._lock:
            return [e for e in self.events if e.type == type_]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def seat_cfg(site: str, device: str, host: str, port: int, tmp_path):
    return parse_device_config({
        "id": device, "site": site, "role": "seat", "seat": "C02",
        "broker": {"host": host, "port": port, "keepalive_s": 5},
        "spool": {"path": str(tmp_path / f"{device}-spool.db")},
        "readers": [{"name": "badge", "kind": "sim"}],
    })


def test_inventory_reports_on_change_and_every_period():
    inv = Inventory(period_ms=60_000)
    assert inv.seen("E1", 0) == ["E1"]  # a first tag: report at once
    assert inv.seen("E1", 1_000) is None  # read again: nothing new
    assert inv.seen("E2", 2_000) == ["E1", "E2"]
    assert inv.due(20_000) is None  # a report went out less than half a period ago
    inv.record("E1", 59_000)
    assert inv.due(62_500) == ["E1"]  # periodic; E2 not read for a period: gone
    assert inv.due(90_000) is None
    assert inv.due(121_000) == []  # nothing read any more


def test_agent_combines_sensors_and_reports_buttons_and_inventory(broker, tmp_path):
    site = "g" + os.urandom(3).hex()
    cfg = parse_device_config({
        "id": "seat-c01", "site": site, "role": "seat", "seat": "C01",
        "broker": {"host": broker.host, "port": broker.port},
        "spool": {"path": str(tmp_path / "spool.db")},
        "readers": [{"name": "badge", "kind": "sim"},
                    {"name": "tags", "kind": "sim", "role": "inventory", "period_s": 60}],
        "sensors": [{"name": "mat", "kind": "sim"}, {"name": "pir", "kind": "sim"}],
    })
    drivers = build_sim_drivers(cfg)
    events = []
    clock = ScaledClock(1_800_000_000_000, speed=600)  # the 60 s inventory period is 0.1 s here
    agent = Agent(cfg, drivers=drivers, clock=clock, heartbeat=False, on_event=events.append).start()
    try:
        mat, pir = drivers.sensors
        mat.set(True)
        pir.set(True)
        mat.set(False)  # the PIR still sees someone
        pir.set(False)
        occ = [(e.occupied, e.sensor) for e in events if e.type == "occupancy"]
        assert occ == [(True, "mat"), (False, "pir")]
        drivers.buttons.press("break")
        assert [e.button for e in events if e.type == "button"] == ["break"]
        tags = drivers.tag_readers[0]
        tags.set_present({"E000B000000", "E000B000001"})
        assert wait_until(lambda: len([e for e in events if e.type == "inventory"]) >= 3)
        inv = [e.tags for e in events if e.type == "inventory"]
        assert inv[-1] == ["E000B000000", "E000B000001"]
        tags.present.discard("E000B000001")  # the mouse is gone
        assert wait_until(lambda: [e.tags for e in events if e.type == "inventory"][-1] == ["E000B000000"])
        assert all(e.ts >= 1_800_000_000_000 and e.clock_ok for e in events)
        assert [e.seq for e in events] == list(range(events[0].seq, events[0].seq + len(events)))
        assert wait_until(lambda: len(agent.spool) == 0)  # all acknowledged by the broker
    finally:
        agent.stop()


def test_unsynced_kernel_clock_is_published_as_evidence(broker, tmp_path):
    """A plausible clock (2027) the kernel calls unsynchronised: clock_ok stays true (plausible),
    clock_sync false goes out on heartbeats and observations alike, with no error bound."""
    site = "k" + os.urandom(3).hex()
    tap = EventTap(broker, site)
    cfg = seat_cfg(site, "seat-c02", broker.host, broker.port, tmp_path)
    drivers = build_sim_drivers(cfg)
    clock = ScaledClock(1_800_000_000_000)
    agent = Agent(cfg, drivers=drivers, clock=clock, clock_sync=FixedClockSync(UNSYNCED)).start()
    try:
        assert wait_until(lambda: tap.of("heartbeat"))  # the heartbeat sent on connect
        drivers.readers[0].tap("000a000007")
        assert wait_until(lambda: tap.of("badge"))
        for e in tap.of("heartbeat") + tap.of("badge"):
            assert (e.clock_ok, e.clock_sync, e.clock_err_ms) == (True, False, None)
        assert all(r["clock_sync"] is False and "clock_err_ms" not in r for r in tap.raw)  # on the wire itself
    finally:
        agent.stop()
        tap.close()


def test_spooled_events_keep_the_sync_state_they_were_observed_with(broker, tmp_path):
    """Taps made while the Pi had no network and no NTP are replayed after it came back, synced:
    they still say unsynced (their timestamps came from that clock); new events say synced."""
    site = "k" + os.urandom(3).hex()
    tap = EventTap(broker, site)
    clock = ScaledClock(1_800_000_000_000)
    offline = seat_cfg(site, "seat-c03", "127.0.0.1", free_port(), tmp_path)  # nothing listens there
    drivers = build_sim_drivers(offline)
    agent = Agent(offline, drivers=drivers, clock=clock, clock_sync=FixedClockSync(UNSYNCED),
                  reconnect_max_s=1.0).start()
    try:
        for i in range(3):
            drivers.readers[0].tap(f"000A00001{i}")
        assert len(agent.spool) == 3
    finally:
        agent.stop()  # a reboot: the spool keeps the three taps
    online = offline.model_copy(update={"broker": offline.broker.model_copy(update={"port": broker.port})})
    drivers = build_sim_drivers(online)
    agent = Agent(online, drivers=drivers, clock=clock, clock_sync=FixedClockSync(SYNCED), heartbeat=False).start()
    try:
        drivers.readers[0].tap("000A000020")
        assert wait_until(lambda: len(tap.of("badge")) == 4)
        got = sorted(tap.of("badge"), key=lambda e: e.seq)
        assert [e.uid for e in got] == ["000A000010", "000A000011", "000A000012", "000A000020"]
        assert [(e.clock_sync, e.clock_err_ms) for e in got] == [(False, None)] * 3 + [(True, 12)]
    finally:
        agent.stop()
        tap.close()
