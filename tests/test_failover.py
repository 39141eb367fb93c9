"""Two hubs on one PostgreSQL database and one broker (issue 16): the hub running the engine is
SIGKILLed while a kiosk keeps being tapped and a floor's spools arrive; the other hub takes the
engine lease and goes on from the shared checkpoint.

Each hub reads every event through a broker session of its own, so the survivor already stored
what the dead one would have; exactly-once storage rests on (device, seq). At the end nothing is
lost or stored twice, every derived table equals `floorwatch hub rebuild` on a copy of the
database, and the kiosk was answered again after the kill (the time it waited is printed).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error

import psycopg
import pytest

from bench.generated_floor import build_floor
from edge import wire
from hub.engine.scenario import read_by
from hub.site import load_site
from hub.store import IncomingEvent, Store
from hub.store.derived import DERIVED_TABLES
from hub.store.lease import lease_holder
from tests.hub_process import ROOT, HubProcess, derived_tables
from tests.mqtt_util import Kiosk, Publisher, badge_event
from tests.waiting import wait_until


def _one(db: str, sql: str) -> int:
    store = Store(db)
    try:
        return store.conn.execute(sql).fetchone()[0]
    finally:
        store.close()


def _stored_once_and_judged_as_a_rebuild(cluster, url: str, site_dir, total: int) -> None:
    """`total` events, each stored and logged once, and every derived table as `floorwatch hub
    rebuild` makes it on a copy of the database (its server's: `cluster`)."""
    assert _one(url, "SELECT count(*) FROM events") == total
    assert _one(url, "SELECT count(DISTINCT event_id) FROM events") == total
    assert _one(url, "SELECT count(*) FROM input_log WHERE kind = 'event'") == total
    live = derived_tables(url)
    assert live["attendance"] and live["violations"], "a floor was judged"
    copy = cluster.create_database("copy_" + os.urandom(4).hex(), template=url.rsplit("/", 1)[1])
    run = subprocess.run([sys.executable, "-m", "hub.cli", "hub", "rebuild", "--site", str(site_dir), "--db", copy],
                         capture_output=True, text=True, timeout=180, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr
    rebuilt = derived_tables(copy)
    for table in DERIVED_TABLES:
        assert rebuilt[table] == live[table], f"{table}: live across the failover != rebuild"


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
        _stored_once_and_judged_as_a_rebuild(pg_cluster, db, floor.site_dir, total)
        text = log.read_text()
        assert "took over site" in text and "engine: checkpoint loaded" in text

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


def test_the_hub_rides_out_its_database_failing_over_to_the_standby(fresh_broker, tmp_path):
    """The reference deployment's database half: a primary with a synchronous streaming standby,
    and a hub whose URL lists both (target_session_attrs=read-write). The primary crashes while a
    floor's day arrives and a kiosk is tapped, the standby is promoted, and the hub goes on there:
    nothing it acknowledged to the broker is lost (synchronous replication: a commit is on the
    standby before the hub acknowledges), nothing is stored twice, and the engine resumes from the
    checkpoint it had replicated, so its tables equal a rebuild."""
    from tests.pg_cluster import USER, PostgresCluster

    # a promoted standby has no standby of its own: it must not wait for one to commit
    primary = PostgresCluster(tmp_path / "primary", settings={"synchronous_standby_names": "*"})
    standby = PostgresCluster(tmp_path / "standby", settings={"synchronous_standby_names": ""})
    hub = kiosk = None
    try:
        primary.start()
        standby.start_standby_of(primary)
        name = "site_" + os.urandom(4).hex()
        primary.create_database(name)  # replicated, as everything after it
        url = (f"postgresql://{USER}@127.0.0.1:{primary.port},127.0.0.1:{standby.port}/{name}"
               "?target_session_attrs=read-write&connect_timeout=3")
        floor = build_floor(tmp_path, seats=12, zones=2, now_ms=int(time.time() * 1000), heartbeat_s=7200,
                            rostered_today=None, seed=7)
        site = load_site(floor.site_dir)
        kiosk_device = next(d for d, c in sorted(site.devices.items()) if c.role == "kiosk")
        hub = HubProcess(floor.site_dir, url, fresh_broker, tmp_path / "hub.log", checkpoint_every=1)
        hub.read_url()
        assert wait_until(lambda: hub.health()["engine"]["role"] == "engine", timeout=30)

        pub = Publisher(fresh_broker.host, fresh_broker.port)
        pub.publish_all(floor.statuses)
        half = len(floor.events) // 2
        pub.publish_all(floor.events[:half])
        kiosk_seq0 = max(wire.decode_event(p).seq for t, p in floor.events if wire.decode_event(p).device == kiosk_device)
        uid = read_by(site, kiosk_device, site.agents[0].badges[0])
        kiosk = Kiosk(fresh_broker, site.id, kiosk_device, uid, kiosk_seq0).start()
        assert wait_until(lambda: _one(url, "SELECT count(*) FROM events") >= half and len(kiosk.answered) >= 4,
                          timeout=60), "the floor's first half was never stored and judged"
        assert wait_until(lambda: _one(url, "SELECT count(*) FROM engine_checkpoint") == 1, timeout=30)

        crashed_at = time.monotonic()
        primary.stop_server()  # a crash (-m immediate): the hub's connections drop mid-whatever
        pub.publish_all(floor.events[half:])  # the broker keeps them: nothing is acknowledged now
        with pytest.raises(urllib.error.HTTPError) as down:  # what a monitor sees meanwhile
            hub.health()
        assert down.value.code == 503 and json.load(down.value)["status"] == "database unreachable"
        time.sleep(1)
        standby.promote()
        promoted_at = time.monotonic()
        assert wait_until(lambda: any(t > promoted_at for t in kiosk.answered.values()), timeout=60), \
            "nobody answered the kiosk on the promoted standby"
        kiosk.stop()
        pub.close()

        total = len(floor.events) + len(kiosk.sent)
        standby_url = standby.url(name)
        assert wait_until(lambda: _one(standby_url, "SELECT count(*) FROM events") >= total, timeout=60), \
            f"{_one(standby_url, 'SELECT count(*) FROM events')} of {total} events on the promoted standby"
        assert wait_until(lambda: hub.health()["engine"]["pending"] == 0, timeout=60)
        assert hub.health()["engine"]["restarts"] == 0, "the engine process died in the outage"
        hub.proc.send_signal(signal.SIGTERM)
        assert hub.proc.wait(60) == 0, (tmp_path / "hub.log").read_text()[-3000:]

        _stored_once_and_judged_as_a_rebuild(standby, standby_url, floor.site_dir, total)

        waits = [kiosk.answered[e] - t for e, t in kiosk.sent.items() if e in kiosk.answered]
        first = min(t for t in kiosk.answered.values() if t > promoted_at) - promoted_at
        print(f"\ndatabase failover ({len(floor.events)} spooled events): promoted {promoted_at - crashed_at:.1f} s"
              f" after the crash; first verdict {first:.2f} s after the promotion; taps {len(kiosk.sent)},"
              f" answered {len(kiosk.answered)}, longest wait {max(waits):.2f} s")
    finally:
        if kiosk is not None:
            kiosk.stop()
            kiosk.close()
        if hub is not None:
            hub.kill()
        standby.close()
        primary.close()
