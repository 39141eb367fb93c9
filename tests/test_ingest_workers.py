"""Ingest workers (hub.ingest_workers) against a real mosquitto: two processes sharing the site's
events through a shared subscription store each event once, quarantine what is bad, feed the
engine and the live views; a worker SIGKILLed mid-stream loses nothing."""

from __future__ import annotations

import json
import os
import queue
import signal

from edge import wire
from hub.service import HubService
from hub.store import Store
from tests.mqtt_util import Publisher, badge_event, heartbeat_event
from tests.waiting import wait_until


def _hub(site, db, broker) -> HubService:
    return HubService(site, Store(db), broker_host=broker.host, broker_port=broker.port, tick_s=0.2,
                      purge_every_s=None, ingest_workers=2).start()


def _drain(sub) -> list:
    out = []
    while True:
        try:
            out.append(sub.q.get_nowait())
        except queue.Empty:
            return out


def test_two_workers_store_each_event_once_and_the_engine_judges_them(fresh_broker, site, tmp_path):
    hub = _hub(site, tmp_path / "hub.db", fresh_broker)
    live = hub.live.subscribe({"tap", "event"})
    pub = Publisher(fresh_broker.host, fresh_broker.port)
    try:
        devices = sorted(site.devices)
        messages = [(wire.event_topic(site.id, d), heartbeat_event(d, seq)) for seq in range(1, 11) for d in devices]
        dupes = messages[::7]  # QoS 1 redeliveries and replays: the same event again
        bad = (wire.event_topic(site.id, devices[0]), b'{"v": 1, "device": "not json')
        tap = badge_event("kiosk-k1", 1_000, uid="DEADBEEF77")  # device time now: a person at the kiosk
        tap_id = json.loads(tap)["id"]
        pub.publish_all([*messages, *dupes, bad, (wire.event_topic(site.id, "kiosk-k1"), tap)])
        total = len(messages) + 1
        store = hub.store
        assert wait_until(lambda: store.count_events() >= total and store.count_quarantined() >= 1, timeout=60)
        # every message counted, including batches that stored nothing (only duplicates, say)
        assert wait_until(lambda: hub.workers.stats.get("duplicates", 0) >= len(dupes), timeout=30), hub.workers.stats
        assert hub.workers.stats["received"] >= len(messages) + len(dupes) + 2  # and the workers' probes
        per_worker = hub.workers.per_worker()
        assert len(per_worker) == 2 and all(s.get("stored", 0) > 0 for s in per_worker.values()), per_worker
        # the engine judged the tap (stored by a worker, not by this process) and the kiosk feed saw it
        updates = []
        assert wait_until(lambda: updates.extend(_drain(live)) or any(
            u.channel == "tap" and u.data.get("event_id") == tap_id for u in updates), timeout=60), updates
        assert any(u.channel == "event" and u.data["event_id"] == tap_id for u in updates)
        assert store.count_events() == total
        rows = store.conn.execute("SELECT count(*), count(DISTINCT device || '/' || seq) FROM events").fetchone()
        assert rows == (total, total)
        assert [q["topic"] for q in store.quarantined()] == [bad[0]]
        assert hub.workers.stats["duplicates"] == len(dupes)
    finally:
        pub.close()
        hub.stop()
        hub.store.close()


def test_a_worker_killed_mid_stream_loses_nothing(fresh_broker, site, tmp_path):
    """Its unacknowledged messages stay in its broker session (mosquitto gives a shared group's
    message to one session for good): the hub starts it again with its index and it stores them."""
    hub = _hub(site, tmp_path / "hub.db", fresh_broker)
    store = Store(tmp_path / "hub.db")
    pub = Publisher(fresh_broker.host, fresh_broker.port)
    try:
        devices = [f"seat-k{i:02d}" for i in range(40)]
        total = 4000
        messages = [(wire.event_topic(site.id, devices[i % 40]), heartbeat_event(devices[i % 40], i // 40 + 1))
                    for i in range(total)]
        infos = [pub.publish(t, p) for t, p in messages[: total // 2]]
        assert wait_until(lambda: store.count_events() > 100, timeout=60)
        victim = hub.workers.pids[0]
        os.kill(victim, signal.SIGKILL)
        killed_at = store.count_events()
        infos += [pub.publish(t, p) for t, p in messages[total // 2:]]
        for info in infos:
            info.wait_for_publish(60)
        assert wait_until(lambda: store.count_events() >= total, timeout=90), store.count_events()
        assert killed_at < total
        assert hub.workers.restarts >= 1 and hub.workers.pids[0] != victim
        rows = store.conn.execute("SELECT device, count(*), count(DISTINCT seq), max(seq) FROM events GROUP BY device").fetchall()
        assert sorted(rows) == [(d, total // 40, total // 40, total // 40) for d in devices]
    finally:
        pub.close()
        hub.stop()
        hub.store.close()
        store.close()


def test_with_workers_the_hub_is_caught_up_only_once_every_session_is(floor):
    """A backlog queued while the hub was down is spread over the workers' sessions: until each has
    drained its share, a late heartbeat may be late by queueing, not by a clock behind."""
    t = floor.at("10:30")

    def mark(session: str, mark: str) -> bool:
        floor.store.log_input("mark", t, {"mark": mark, "session": session, "workers": 2, "delay_ms": 0})
        floor.engine.consume()
        return floor.engine.caught_up

    for session in ("hub", "w0", "w1"):
        assert mark(session, "connected") is False
    assert mark("hub", "caught_up") is False  # statuses and counts drained, the events not yet
    assert mark("w0", "caught_up") is False
    assert mark("w1", "caught_up") is True
    assert mark("w0", "disconnected") is False


def test_a_hub_started_with_fewer_workers_drains_the_sessions_left_behind(fresh_broker, site, tmp_path):
    """The broker keeps a shared group's messages in the session it gave them to: a hub that goes
    back to one ingest must fetch what the two worker sessions hold, and end them."""
    db = tmp_path / "hub.db"
    hub = _hub(site, db, fresh_broker)
    hub.stop()
    hub.store.close()
    devices = [f"seat-r{i:02d}" for i in range(20)]
    messages = [(wire.event_topic(site.id, d), heartbeat_event(d, seq)) for seq in range(1, 51) for d in devices]
    pub = Publisher(fresh_broker.host, fresh_broker.port)
    pub.publish_all(messages)  # queued for the two worker sessions while the hub is down
    hub = HubService(site, Store(db), broker_host=fresh_broker.host, broker_port=fresh_broker.port, tick_s=0.2,
                     purge_every_s=None, ingest_workers=1).start()
    store = hub.store
    try:
        assert wait_until(lambda: store.count_events() >= len(messages) and store.ingest_sessions() == 0, timeout=90)
        later = [(wire.event_topic(site.id, d), heartbeat_event(d, 51)) for d in devices]
        pub.publish_all(later)
        assert wait_until(lambda: store.count_events() >= len(messages) + len(later), timeout=30)
        rows = store.conn.execute("SELECT count(*), count(DISTINCT device || '/' || seq) FROM events").fetchone()
        assert rows == (len(messages) + len(later),) * 2
    finally:
        pub.close()
        hub.stop()
        store.close()


def test_two_hubs_each_with_workers_store_each_event_once_and_one_engine_answers(fresh_broker, site, pg_url):
    """Several hubs (--hub-id) and ingest workers together: each hub's workers share a group of the
    hub's own, so each hub reads every event; (device, seq) keeps each once; one engine (the lease
    holder's) answers the tap; the engine counts events in time once a hub's every session is."""
    from hub.store.lease import lease_holder

    hubs = [HubService(site, Store(pg_url), broker_host=fresh_broker.host, broker_port=fresh_broker.port,
                       tick_s=0.2, purge_every_s=None, ingest_workers=2, hub_id=name).start() for name in ("a", "b")]
    pub = Publisher(fresh_broker.host, fresh_broker.port)
    try:
        engine, standby = hubs[0], hubs[1]  # with workers the engine runs in a process of its own
        assert wait_until(lambda: standby.engine.standby and not engine.engine.standby, timeout=30)
        assert lease_holder(engine.store, site.id) == "a"
        answered = engine.live.subscribe({"tap"})
        devices = sorted(site.devices)
        messages = [(wire.event_topic(site.id, d), heartbeat_event(d, seq)) for seq in range(1, 21) for d in devices]
        tap = badge_event("kiosk-k1", 1_000, uid="DEADBEEF77")
        bad = (wire.event_topic(site.id, devices[0]), b'{"v": 1, "device": "not json')
        pub.publish_all([*messages, bad, (wire.event_topic(site.id, "kiosk-k1"), tap)])
        total = len(messages) + 1
        store = engine.store
        assert wait_until(lambda: store.count_events() >= total, timeout=60)
        # both hubs quarantined the bad message: one row, its two copies counted
        assert wait_until(lambda: [q["copies"] for q in store.quarantined()] == [2], timeout=30), store.quarantined()
        # each hub read every event: what one stored first, the other found stored
        for h in hubs:
            assert wait_until(lambda h=h: sum(h.workers.stats.get(k, 0) for k in ("stored", "duplicates")) >= total,
                              timeout=60), (h.hub_id, h.workers.stats)
        assert sum(h.workers.stats["stored"] for h in hubs) == total
        rows = store.conn.execute("SELECT count(*), count(DISTINCT device || '/' || seq) FROM events").fetchone()
        assert tuple(rows) == (total, total)
        heard = next(u for u in engine.live.listen(answered, timeout=30))
        assert heard is not None and heard.data["event_id"] == json.loads(tap)["id"]
        # six sessions (a hub's own and two workers, per hub) each said it was caught up
        def said_caught_up() -> set[tuple[str, str]]:
            marks = store.query("SELECT body FROM input_log WHERE kind = 'mark' AND body LIKE '%caught_up%'")
            return {(b["hub"], b["session"]) for b in (json.loads(m["body"]) for m in marks)}

        every = {(h, s) for h in ("a", "b") for s in ("hub", "w0", "w1")}
        assert wait_until(lambda: said_caught_up() == every, timeout=30), said_caught_up()
        # each claim holds 3.5 probe intervals of the hub's clock (here real time) unless renewed
        claims = [json.loads(m["body"])["valid_ms"] for m in store.query(
            "SELECT body FROM input_log WHERE kind = 'mark' AND body LIKE '%caught_up%'")]
        assert claims and all(35_000 <= v < 36_000 for v in claims), claims
    finally:
        pub.close()
        for h in hubs:
            h.stop()
            h.store.close()
