"""Two hubs on one PostgreSQL database and one broker (issue 16): the hub running the engine is
SIGKILLed while a kiosk keeps being tapped and a floor's spools arrive; the other hub takes the
engine lease and goes on from the shared checkpoint.

Each hub reads every event through a broker session of its own, so the survivor already stored
what the dead one would have; exactly-once storage rests on (device, seq). At the end nothing is
lost or stored twice, every derived table equals `floorwatch hub rebuild` on a copy of the
database, and the kiosk was answered again after the kill (the time it waited is printed).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from bench.generated_floor import build_floor
from edge import wire
from hub.engine.scenario import read_by
from hub.site import load_site
from hub.store import IncomingEvent, Store
from hub.store.derived import DERIVED_TABLES
from hub.store.lease import lease_holder
from tests.hub_process import ROOT, HubProcess, derived_tables
from tests.mqtt_util import Publisher, badge_event
from tests.waiting import wait_until


class Kiosk:
    """A kiosk tapped every `every_s` with fresh device time; records when each tap was answered."""

    def __init__(self, broker, site: str, device: str, uid: str, seq0: int) -> None:
        self.broker, self.site, self.device, self.uid = broker, site, device, uid
        self.sent: dict[str, float] = {}  # event id -> when tapped
        self.answered: dict[str, float] = {}  # event id -> first feedback
        self.feedbacks = 0
        self.seq = seq0
        self.sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"kiosk-{os.urandom(3).hex()}")
        self.sub.on_message = self._on_message
        self.sub.connect(broker.host, broker.port)
        self.sub.subscribe(wire.cmd_topic(site, device), qos=1)
        self.sub.loop_start()
        self.pub = Publisher(broker.host, broker.port)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tap, daemon=True)

    def _on_message(self, client, userdata, msg) -> None:
        cmd = wire.decode_command(msg.payload)
        if cmd.cmd == "feedback" and cmd.re:
            self.feedbacks += 1
            self.answered.setdefault(cmd.re, time.monotonic())

    def _tap(self) -> None:
        while not self._stop.wait(0.25):
            self.seq += 1
            payload = badge_event(self.device, self.seq, uid=self.uid)
            self.sent[wire.decode_event(payload).id] = time.monotonic()
            self.pub.publish(wire.event_topic(self.site, self.device), payload).wait_for_publish(10)

    def start(self) -> Kiosk:
        self._thread.start()
        return self

    def stop(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join(10)
            self.pub.close()

    def close(self) -> None:
        self.sub.loop_stop()
        self.sub.disconnect()


def _one(db: str, sql: str) -> int:
    store = Store(db)
    try:
        return store.conn.execute(sql).fetchone()[0]
    finally:
        store.close()


def test_the_standby_hub_takes_over_the_engine_when_the_engines_hub_is_killed(fresh_broker, pg_cluster, tmp_path):
    db = pg_cluster.create_database("failover_" + os.urandom(4).hex())
    floor = build_floor(tmp_path, seats=12, zones=2, now_ms=int(time.time() * 1000), heartbeat_s=7200, rostered_today=None, seed=5)
    site = load_site(floor.site_dir)
    kiosk_device = next(d for d, c in sorted(site.devices.items()) if c.role == "kiosk")
    log = tmp_path / "hubs.log"
    hubs: list[HubProcess] = []
    kiosk = None
    try:
        hubs.append(HubProcess(floor.site_dir, db, fresh_broker, log, "--hub-id", "a", checkpoint_every=1))
        hubs[-1].read_url()
        store = Store(db)
        assert wait_until(lambda: lease_holder(store, site.id) == "a", timeout=30), "hub a never ran the engine"
        hubs.append(HubProcess(floor.site_dir, db, fresh_broker, log, "--hub-id", "b", checkpoint_every=1))
        hubs[-1].read_url()
        assert wait_until(lambda: hubs[1].health()["engine"]["role"] == "standby", timeout=30)

        pub = Publisher(fresh_broker.host, fresh_broker.port)
        pub.publish_all(floor.statuses)
        kiosk_seq0 = max(wire.decode_event(p).seq for t, p in floor.events if wire.decode_event(p).device == kiosk_device)
        uid = read_by(site, kiosk_device, site.agents[0].badges[0])  # what the kiosk's reader reports
        kiosk = Kiosk(fresh_broker, site.id, kiosk_device, uid, kiosk_seq0).start()

        def publish_spools() -> None:  # the floor's day, in bursts, while the engine's hub dies
            for i in range(0, len(floor.events), 50):
                pub.publish_all(floor.events[i:i + 50])
                time.sleep(6 * 50 / len(floor.events))  # over ~6 s

        spools = threading.Thread(target=publish_spools, daemon=True)
        spools.start()
        assert wait_until(lambda: len(kiosk.answered) >= 8, timeout=30), "the kiosk was never answered"
        assert wait_until(lambda: _one(db, "SELECT count(*) FROM engine_checkpoint") == 1, timeout=30)

        assert spools.is_alive(), "the kill must land while the spools still arrive"
        killed_at = time.monotonic()
        hubs[0].kill()  # the engine's hub: its engine process sees the pipe close and ends too
        assert wait_until(lambda: lease_holder(store, site.id) == "b", timeout=30), "hub b never took the engine"
        took_over = time.monotonic() - killed_at
        assert wait_until(lambda: any(t > killed_at for t in kiosk.answered.values()), timeout=30), \
            "nobody answered the kiosk after the kill"
        spools.join(60)
        assert not spools.is_alive()
        time.sleep(2)
        kiosk.stop()
        pub.close()

        total = len(floor.events) + len(kiosk.sent)
        assert wait_until(lambda: _one(db, "SELECT count(*) FROM events") >= total, timeout=60)
        assert wait_until(lambda: hubs[1].health()["engine"]["pending"] == 0, timeout=60)
        hubs[1].proc.send_signal(signal.SIGTERM)  # a clean stop: the last inputs judged, a last checkpoint
        assert hubs[1].proc.wait(60) == 0
        store.close()

        # nothing lost, nothing stored twice (each hub read every event), each event logged once
        assert _one(db, "SELECT count(*) FROM events") == total
        assert _one(db, "SELECT count(DISTINCT event_id) FROM events") == total
        assert _one(db, "SELECT count(*) FROM input_log WHERE kind = 'event'") == total
        text = log.read_text()
        assert "took over site" in text and "engine: checkpoint loaded" in text

        live = derived_tables(db)
        assert live["attendance"] and live["violations"], "a floor was judged"
        copy = pg_cluster.create_database("failover_copy_" + os.urandom(4).hex(), template=db.rsplit("/", 1)[1])
        run = subprocess.run([sys.executable, "-m", "hub.cli", "hub", "rebuild", "--site", str(floor.site_dir),
                              "--db", copy], capture_output=True, text=True, timeout=180, cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert run.returncode == 0, run.stderr
        rebuilt = derived_tables(copy)
        for table in DERIVED_TABLES:
            assert rebuilt[table] == live[table], f"{table}: live across the failover != rebuild"

        after = sorted(t for t in kiosk.sent.values() if t > killed_at)
        waits = [kiosk.answered[e] - t for e, t in kiosk.sent.items() if e in kiosk.answered]
        gap = min(kiosk.answered[e] for e, t in kiosk.sent.items() if t > killed_at and e in kiosk.answered) - killed_at
        print(f"\nfailover ({len(floor.events)} spooled events): lease taken {took_over:.2f} s after the kill;"
              f" first verdict for a tap after it {gap:.2f} s after the kill;"
              f" taps {len(kiosk.sent)} ({len(after)} after the kill), answered {len(kiosk.answered)},"
              f" longest wait {max(waits):.2f} s, feedback commands {kiosk.feedbacks}")
    finally:
        if kiosk is not None:
            kiosk.stop()
            kiosk.close()
        for h in hubs:
            h.kill()


def test_a_hub_on_an_injected_clock_stands_by_and_takes_the_engine_when_the_holder_loses_it(broker, pg_url, site_dir):
    """The engine in the hub's thread (a simulated clock, as the demo and the soak run it): the
    second hub's engine is a stand-in until the first hub's lease goes (its connection dropped),
    the first then stands by, and takes the engine back when the second stops."""
    from edge.clock import ManualClock
    from hub.errors import EngineError
    from hub.service import HubService, StandbyEngine

    site = load_site(site_dir)
    clock = ManualClock(int(time.time() * 1000))
    # ticks 30 s apart: nothing but the hubs' notifications wakes an engine within this test
    first = HubService(site, Store(pg_url), broker_host=broker.host, broker_port=broker.port, clock=clock,
                       hub_id="a", purge_every_s=None, tick_s=30).start()
    second = HubService(site, Store(pg_url), broker_host=broker.host, broker_port=broker.port, clock=clock,
                        hub_id="b", purge_every_s=None, tick_s=30).start()
    try:
        assert not isinstance(first.engine, StandbyEngine) and isinstance(second.engine, StandbyEngine)
        assert lease_holder(first.store, site.id) == "a"
        with pytest.raises(EngineError):
            second.engine.seats()
        # the engine's verdict on a tap reaches the standby hub's live views too (LISTEN/NOTIFY)
        taps = second.live.subscribe({"tap"})
        kiosk = next(d for d, c in sorted(site.devices.items()) if c.role == "kiosk")
        payload = badge_event(kiosk, 1, uid=read_by(site, kiosk, site.agents[0].badges[0]), ts=clock.now_ms())
        pub = Publisher(broker.host, broker.port)
        pub.publish_all([(wire.event_topic(site.id, kiosk), payload)])
        pub.close()
        heard = next(u for u in second.live.listen(taps, timeout=15))
        assert heard is not None and heard.data["event_id"] == wire.decode_event(payload).id
        # an input another writer logged (another hub's ingest) wakes the engine's hub at once
        other = Store(pg_url)
        other.append_events([IncomingEvent("00000000-0000-4000-8000-00000000aaaa", kiosk, 2, clock.now_ms(),
                                           clock.now_ms(), "heartbeat", True, {"uptime_s": 1, "spooled": 0})])
        logged = other.input_position()[0]
        other.close()
        assert wait_until(lambda: first.engine.seq >= logged, timeout=10)
        # the holder's lease connection drops (a server restart, a network cut): the lock goes with
        # it, the standby takes it, and the old holder stops judging at its next wake
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                          (f"floorwatch-engine {site.id} a",))
        assert wait_until(lambda: not isinstance(second.engine, StandbyEngine), timeout=10)
        assert lease_holder(second.store, site.id) == "b"
        assert wait_until(lambda: second.engine_ready.is_set(), timeout=10)
        assert len(second.engine.seats()) == len(site.info.seats)
        other = Store(pg_url)  # an input: it wakes both engines
        other.append_events([IncomingEvent("00000000-0000-4000-8000-00000000aaab", kiosk, 3, clock.now_ms(),
                                           clock.now_ms(), "heartbeat", True, {"uptime_s": 2, "spooled": 0})])
        other.close()
        assert wait_until(lambda: isinstance(first.engine, StandbyEngine) and not first.engine_ready.is_set(), timeout=10)
        # and when the new holder stops, the first takes the engine back
        second.stop()
        assert wait_until(lambda: not isinstance(first.engine, StandbyEngine), timeout=10)
        assert lease_holder(first.store, site.id) == "a"
        assert wait_until(lambda: first.engine_ready.is_set(), timeout=10)
    finally:
        first.stop()
        second.stop()
        first.store.close()
        second.store.close()
