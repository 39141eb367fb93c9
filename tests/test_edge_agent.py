"""The agent's own logic: a seat's sensors combined into one occupancy, only changes published;
buttons; the equipment inventory reported on change and every period (on the agent's clock)."""

from __future__ import annotations

import os

from edge.agent import Agent, Inventory
from edge.clock import ScaledClock
from edge.config import parse_device_config
from edge.drivers import build_sim_drivers
from tests.waiting import wait_until


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
