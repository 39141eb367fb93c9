"""The agent and its link against a real mosquitto: status and last will, hub answers driving
LEDs, and the acceptance tests of issue 3: taps made while the broker is down, and an agent
killed with SIGKILL mid-burst, all reach the hub exactly once and in order.

"Restarted a minute later" is shortened to a few seconds here: what matters is that the taps are
made while the broker is away and the agent has gone through failed reconnects."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge import wire
from edge.agent import Agent
from edge.clock import ManualClock
from edge.config import parse_device_config
from edge.drivers import build_sim_drivers
from edge.link import backoff_delay
from edge.timers import TimerHeap
from hub.ingest import Ingest
from hub.store import Store
from tests.mqtt_util import Publisher
from tests.pty_util import pty_pair
from tests.waiting import wait_until


def site_id() -> str:
    return "e" + os.urandom(3).hex()


def device_cfg(site: str, device: str, broker, tmp_path, **extra):
    data = {
        "id": device, "site": site, "role": "seat", "seat": "A01",
        "broker": {"host": broker.host, "port": broker.port, "keepalive_s": 5},
        "spool": {"path": str(tmp_path / f"{device}-spool.db")},
        "readers": [{"name": "badge", "kind": "sim"}],
    }
    data.update(extra)
    return parse_device_config(data)


def badges(store: Store, device: str):
    return list(reversed(store.recent_events(device=device, type="badge", limit=5000)))


@pytest.fixture
def hub(request, tmp_path):
    """A hub (ingest + store) for one site on a given broker: hub(broker, site)."""
    made = []

    def make(broker, site):
        store = Store(tmp_path / f"hub-{site}.db")
        ingest = Ingest(store, site, broker.host, broker.port, client_id=f"hub-{site}").start()
        made.append((ingest, store))
        return ingest, store

    yield make
    for ingest, store in made:
        ingest.stop()
        store.close()


def retained_status(broker, site, device) -> dict | None:
    """Read the retained status the broker holds for a device, as a new subscriber sees it."""
    got: list[bytes] = []
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"peek-{os.urandom(3).hex()}")
    c.on_connect = lambda cl, *a: cl.subscribe(wire.status_topic(site, device), qos=1)
    c.on_message = lambda cl, u, m: got.append(m.payload)
    c.connect(broker.host, broker.port)
    c.loop_start()
    wait_until(lambda: got, timeout=20)
    c.disconnect()
    c.loop_stop()
    return json.loads(got[-1]) if got else None


def test_backoff_is_exponential_capped_and_jittered():
    rng = random.Random(7)
    delays = [[backoff_delay(a, 0.5, 30, rng) for a in range(10)] for _ in range(200)]
    assert all(0.25 <= d <= 30 for row in delays for d in row)
    assert max(row[0] for row in delays) <= 0.5 and max(row[9] for row in delays) > 20
    assert len({round(row[6], 3) for row in delays}) > 150  # devices do not come back in lock-step


def test_status_heartbeat_feedback_and_clean_stop(broker, hub, tmp_path, mock_pins):
    site = site_id()
    ingest, store = hub(broker, site)
    cfg = device_cfg(site, "seat-a01", broker, tmp_path, feedback={"green_pin": 23, "red_pin": 24, "buzzer_pin": 25})
    agent = Agent(cfg, config_hash="cafe01234567").start()
    try:
        assert agent.link.connected.wait(20)
        status = retained_status(broker, site, "seat-a01")
        assert status["state"] == "online" and status["config"] == "cafe01234567" and status["fw"]
        assert wait_until(lambda: store.recent_events(device="seat-a01", type="heartbeat"))  # first heartbeat at once
        tap = agent.emit("badge", uid="000A000001", reader="badge")
        assert wait_until(lambda: badges(store, "seat-a01"))
        green, red, buzzer = (mock_pins.pin(n) for n in (23, 24, 25))
        ingest.publish_command(wire.Command(v=1, device="seat-a01", ts=wire.now_ms(), cmd="feedback",
                                            result="ok", text="王伟 A01 on time", re=tap.id))
        assert wait_until(lambda: green.state, timeout=20)
        assert not red.state and any(s.state for s in buzzer.states)
        ingest.publish_command(wire.Command(v=1, device="seat-a01", ts=wire.now_ms(), cmd="feedback",
                                            result="deny", text="unknown badge"))
        assert wait_until(lambda: red.state and not green.state, timeout=20)
        # a malformed command is rejected with its reason and the agent carries on
        pub = Publisher(broker.host, broker.port)
        pub.publish_all([(wire.cmd_topic(site, "seat-a01"), b'{"v":1,"device":"seat-a01","ts":"x","cmd":"feedback"}')])
        pub.close()
        assert wait_until(lambda: agent.link.stats["bad_commands"] == 1)
        assert agent.link.rejected[-1][1].startswith("ts:")
        assert agent.drivers.feedback.shown[-1][0] == "deny"
    finally:
        agent.stop()
    assert retained_status(broker, site, "seat-a01")["state"] == "offline"


def test_invalid_device_clock_marks_events(broker, hub, tmp_path):
    site = site_id()
    ingest, store = hub(broker, site)
    clock = ManualClock(start_ms=3_600_000)  # 1970-01-01 01:00: a Pi without NTP or RTC
    agent = Agent(device_cfg(site, "seat-a02", broker, tmp_path), clock=clock, heartbeat=False).start()
    try:
        agent.emit("badge", uid="000A000002", reader="badge")
        clock.set(1_767_225_600_000)  # NTP arrives (2026-01-01)
        agent.emit("badge", uid="000A000002", reader="badge")
        assert wait_until(lambda: len(badges(store, "seat-a02")) == 2)
        first, second = badges(store, "seat-a02")
        assert (first.seq, first.clock_ok, first.ts) == (1, False, 3_600_000)
        assert (second.seq, second.clock_ok) == (2, True)
    finally:
        agent.stop()


def test_spool_overflow_is_reported_in_heartbeats(fresh_broker, hub, tmp_path):
    site = site_id()
    ingest, store = hub(fresh_broker, site)
    cfg = device_cfg(site, "seat-a03", fresh_broker, tmp_path, heartbeat_s=1.0,
                     spool={"path": str(tmp_path / "s.db"), "max_events": 20})
    drivers = build_sim_drivers(cfg)
    agent = Agent(cfg, drivers=drivers, reconnect_max_s=1.0).start()
    try:
        assert agent.link.connected.wait(20)
        fresh_broker.stop()
        assert wait_until(lambda: not agent.link.connected.is_set())
        for i in range(50):
            drivers.readers[0].tap(f"{0x0E000000 + i:010X}")
        fresh_broker.start()
        assert wait_until(lambda: len(badges(store, "seat-a03")) == 20)
        assert [e.body["uid"] for e in badges(store, "seat-a03")] == [f"{0x0E000000 + i:010X}" for i in range(30, 50)]
        # 30 taps (and a heartbeat spooled in the instant before the outage was noticed, if any) went
        assert agent.spool.dropped in (30, 31)
        assert wait_until(lambda: any(h.body.get("dropped") == agent.spool.dropped
                                      for h in store.recent_events(device="seat-a03", type="heartbeat")))
    finally:
        agent.stop()


def test_broker_down_while_1000_taps_are_made(fresh_broker, hub, tmp_path):
    """Taps come through a real line reader on a pty while the broker is stopped; the broker
    comes back a few seconds later; the hub ends with exactly the 1,000 taps, in order."""
    site = site_id()
    ingest, store = hub(fresh_broker, site)
    with pty_pair() as (master, port):
        cfg = device_cfg(site, "door-d1", fresh_broker, tmp_path, role="door", door="D1", seat=None,
                         readers=[{"name": "badge", "kind": "line", "port": port, "hold_off_s": 2.0}])
        agent = Agent(cfg, reconnect_max_s=2.0).start()
        try:
            assert agent.link.connected.wait(20)
            assert agent.drivers.readers[0].is_open.wait(20)
            fresh_broker.stop()
            assert wait_until(lambda: not agent.link.connected.is_set())
            uids = [f"{0x0C000000 + i:010X}" for i in range(1000)]
            for i in range(0, 1000, 50):
                os.write(master, "".join(f"{u}\r\n" for u in uids[i : i + 50]).encode())
            assert wait_until(lambda: agent.stats["taps"] == 1000)
            time.sleep(3)  # reconnect attempts fail meanwhile
            assert not agent.link.connected.is_set() and len(agent.spool) >= 1000
            fresh_broker.start()
            assert wait_until(lambda: len(badges(store, "door-d1")) >= 1000, timeout=60)
            assert wait_until(lambda: len(agent.spool) == 0)
            time.sleep(0.5)
            got = badges(store, "door-d1")
            assert [e.body["uid"] for e in got] == uids  # exactly these, once each, in order
            assert [e.seq for e in got] == sorted(e.seq for e in got)
            assert agent.link.stats["connects"] >= 2
        finally:
            agent.stop()


BURST_AGENT = """
import sys, time
from edge.agent import Agent
from edge.config import load_device_config
from edge.drivers import build_sim_drivers
cfg, digest = load_device_config(sys.argv[1])
total = int(sys.argv[2])
drivers = build_sim_drivers(cfg)
agent = Agent(cfg, config_hash=digest, drivers=drivers, heartbeat=False, reconnect_max_s=1.0).start()
done = agent.spool.last_seq - agent.spool.base_seq  # taps this device has already recorded
print("resume", done, flush=True)
for i in range(done, total):
    drivers.readers[0].tap(f"{0x0D000000 + i:010X}")
    time.sleep(0.003)
print("done", flush=True)
time.sleep(3600)
"""


def test_agent_sigkilled_mid_burst_and_restarted(broker, hub, tmp_path):
    site = site_id()
    ingest, store = hub(broker, site)
    cfg_path = tmp_path / "seat-b07.toml"
    cfg_path.write_text(
        f'id = "seat-b07"\nsite = "{site}"\nrole = "seat"\nseat = "B07"\n'
        f'[broker]\nhost = "{broker.host}"\nport = {broker.port}\nkeepalive_s = 5\n'
        f'[spool]\npath = "{tmp_path / "spool.db"}"\n'
        '[[readers]]\nname = "badge"\nkind = "sim"\n'
    )
    env = {**os.environ, "PYTHONPATH": os.getcwd()}

    def run():
        p = subprocess.Popen([sys.executable, "-c", BURST_AGENT, str(cfg_path), "1000"], stdout=subprocess.PIPE,
                             text=True, env=env)
        line = p.stdout.readline().split()
        assert line[0] == "resume"
        return p, int(line[1])

    first, resumed = run()
    try:
        assert resumed == 0
        assert wait_until(lambda: len(badges(store, "seat-b07")) >= 250)
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        first.stdout.close()
    # the broker publishes the last will as soon as the dead process's connection drops
    assert wait_until(lambda: any(d["device"] == "seat-b07" and d["state"] == "offline" for d in store.devices()))
    second, resumed = run()
    try:
        assert 250 <= resumed < 1000, "the kill came after the burst: nothing was tested"
        assert wait_until(lambda: len(badges(store, "seat-b07")) >= 1000, timeout=60)
        time.sleep(0.5)
        got = badges(store, "seat-b07")
        assert [e.body["uid"] for e in got] == [f"{0x0D000000 + i:010X}" for i in range(1000)]
        assert [e.seq for e in got] == sorted({e.seq for e in got})
        assert any(d["device"] == "seat-b07" and d["state"] == "online" for d in store.devices())
    finally:
        second.kill()
        second.wait(10)
        second.stdout.close()


def test_the_timer_heap_runs_due_timers_earliest_first_and_skips_cancelled_ones():
    heap = TimerHeap()
    late = heap.add(5, print, ("late",))
    first, cancelled, second = (heap.add(1, print, (n,)) for n in ("first", "cancelled", "second"))
    cancelled.cancel()
    assert heap.pop_due(first.when - 0.001) is None  # nothing due yet
    assert heap.next_when() == first.when
    assert [heap.pop_due(late.when) for _ in range(4)] == [first, second, late, None]
    assert heap.next_when() is None


def test_a_broker_that_crashes_while_the_hub_is_away_loses_no_acknowledged_tap(tmp_path):
    """mosquitto acknowledges an event once it is in memory and writes its queues to disk every
    autosave_interval: SIGKILLed (or its host losing power) before that, it comes back without
    what it held for a hub that was away. The agent keeps what was acknowledged lately and sends
    it again when it connects to the broker that came back; the hub stores each tap once."""
    from hub.broker import MosquittoBroker

    site = site_id()
    broker = MosquittoBroker(tmp_path / "broker", autosave_s=3600).start()  # no save in this test's time
    store = Store(tmp_path / "hub.db")
    try:
        ingest = Ingest(store, site, broker.host, broker.port, client_id=f"hub-{site}").start()
        assert wait_until(lambda: ingest.caught_up.is_set())
        ingest.stop()  # the hub goes away; its session stays at the broker
        broker.stop()  # SIGTERM: the session is saved (as an autosave long ago would have)
        broker.start()
        cfg = device_cfg(site, "door-d1", broker, tmp_path, role="door", door="D1", seat=None)
        agent = Agent(cfg, drivers=build_sim_drivers(cfg), heartbeat=False, reconnect_max_s=1.0).start()
        try:
            assert agent.link.connected.wait(20)
            uids = [f"{0x0E000000 + i:010X}" for i in range(200)]
            for u in uids:
                agent.drivers.readers[0].tap(u)
            assert wait_until(lambda: agent.stats["taps"] == 200 and len(agent.spool) == 0)  # all acknowledged
            assert len(agent.spool.kept(0, 1000)) == 200
            broker.stop(kill=True)  # the broker dies with the hub's 200 queued taps in memory only
            broker.start()
            assert wait_until(lambda: agent.link.stats["connects"] >= 2 and len(agent.spool) == 0, timeout=30)
            assert agent.link.stats["resent"] == 200  # the kept ones, sent again to the broker that came back
            ingest = Ingest(store, site, broker.host, broker.port, client_id=f"hub-{site}").start()
            assert wait_until(lambda: len(badges(store, "door-d1")) >= 200, timeout=30), len(badges(store, "door-d1"))
            assert wait_until(lambda: ingest.caught_up.is_set() and ingest.idle())
            ingest.stop()
            assert [e.body["uid"] for e in badges(store, "door-d1")] == uids  # each once, in order
        finally:
            agent.stop()
    finally:
        broker.close()
        store.close()
