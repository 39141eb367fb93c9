"""Hub ingest against a real mosquitto: duplicates stored once, bad payloads quarantined with
a reason, and a hub killed with SIGKILL mid-stream loses nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from edge import wire
from hub.ingest import Ingest
from hub.store import Store
from tests.mqtt_util import Publisher, badge_event, heartbeat_event
from tests.waiting import wait_until


def test_duplicates_stored_once_and_bad_payloads_quarantined(broker, store, site):
    ingest = Ingest(store, site.id, broker.host, broker.port, client_id=f"hub-{site.id}").start()
    pub = Publisher(broker.host, broker.port)
    try:
        topic = wire.event_topic(site.id, "seat-a01")
        good = badge_event("seat-a01", 1)
        pub.publish_all([(topic, good), (topic, good)])  # a QoS 1 redelivery, as a replaying device sends
        other = json.loads(badge_event("seat-a01", 2))
        bad = [
            (topic, b"{not json"),
            (topic, json.dumps({**other, "seq": "2"})),  # wrong type
            (wire.event_topic(site.id, "seat-a02"), json.dumps(other)),  # device does not match topic
            (topic, json.dumps({**other, "type": "teleport"})),
        ]
        pub.publish_all(bad)
        pub.publish_all([(topic, badge_event("seat-a01", 3))])  # and the hub is still alive
        assert wait_until(lambda: store.count_events() == 2 and store.count_quarantined() == 4)
        reasons = sorted(q["reason"] for q in store.quarantined())
        assert any(r.startswith("payload: not JSON") for r in reasons)
        assert any(r.startswith("seq:") for r in reasons)
        assert any(r.startswith("device:") and "does not match" in r for r in reasons)
        assert any(r.startswith("type: unknown event type") for r in reasons)
        assert [e.seq for e in store.recent_events(device="seat-a01")] == [3, 1]
        assert ingest.stats["duplicates"] == 1
    finally:
        pub.close()
        ingest.stop()


def test_a_payload_with_nul_bytes_is_quarantined_on_both_backends_and_its_batch_acknowledged(broker, store, site):
    """PostgreSQL's text refuses NUL: found by the soak on PostgreSQL, where such a payload's
    quarantine row failed, so its whole batch went unacknowledged (and the payload unrecorded)."""
    ingest = Ingest(store, site.id, broker.host, broker.port, client_id=f"hub-{site.id}").start()
    pub = Publisher(broker.host, broker.port)
    try:
        topic = wire.event_topic(site.id, "seat-a01")
        pub.publish_all([(topic, b"\x00\xff not json soakbad-0"), (topic, badge_event("seat-a01", 1))])
        assert wait_until(lambda: store.count_events() == 1 and store.count_quarantined() == 1)
        (row,) = store.quarantined()
        assert row["payload"] == "\\x00\\xff not json soakbad-0"  # both as backslash escapes
        assert wait_until(lambda: ingest.idle() and ingest.stats["quarantined"] == 1)
    finally:
        pub.close()
        ingest.stop()


def test_status_updates_devices_and_last_will_marks_offline(broker, store, site):
    ingest = Ingest(store, site.id, broker.host, broker.port, client_id=f"hub-{site.id}").start()
    pub = Publisher(broker.host, broker.port)
    try:
        for dev, state in (("seat-a01", "online"), ("seat-a02", "online"), ("seat-a02", "offline")):
            st = wire.Status(v=1, device=dev, state=state, ts=wire.now_ms(), fw="0.1.0", config="abc")
            pub.publish_all([(wire.status_topic(site.id, dev), wire.encode(st))])
        assert wait_until(lambda: store.device_counts() == {"online": 1, "offline": 1})
        # a status whose firmware label holds a NUL (PostgreSQL's text cannot): quarantined, and
        # the statuses after it still arrive
        bad = json.dumps({"v": 1, "device": "seat-a03", "state": "online", "ts": wire.now_ms(), "fw": "0.1\u0000"})
        after = wire.Status(v=1, device="seat-a04", state="online", ts=wire.now_ms(), fw="0.1.0")
        pub.publish_all([(wire.status_topic(site.id, "seat-a03"), bad),
                         (wire.status_topic(site.id, "seat-a04"), wire.encode(after))])
        assert wait_until(lambda: store.device_counts() == {"online": 2, "offline": 1})
        assert [q["reason"][:3] for q in store.quarantined()] == ["fw:"]
    finally:
        pub.close()
        ingest.stop()


@pytest.fixture
def start_hub(tmp_path):
    """Start `floorwatch hub` processes; whatever a failing test leaves running is killed."""
    procs: list[subprocess.Popen] = []

    def start(site_dir, db, broker) -> subprocess.Popen:
        with open(tmp_path / "hub.log", "a") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "hub.cli", "hub", "--site", str(site_dir), "--db", str(db),
                 "--broker", broker.address, "--web", "off"],
                stdout=subprocess.PIPE, stderr=log, text=True,
            )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def test_hub_killed_mid_stream_loses_nothing(fresh_broker, site_dir, site, tmp_path, start_hub):
    """5,000 QoS 1 events; the hub is SIGKILLed partway and restarted: exactly 5,000 stored.

    Heartbeats, because the point is the log: 5,000 badge taps at four seats in a few seconds
    would measure the rule engine's worst case instead (see bench/rules.py)."""
    db = tmp_path / "hub.db"
    hub = start_hub(site_dir, db, fresh_broker)
    assert hub.stdout.readline().startswith("hub:")
    time.sleep(0.5)  # let it subscribe, so the broker holds its session
    total = 5000
    pub = Publisher(fresh_broker.host, fresh_broker.port)
    devices = [f"seat-a{i:02d}" for i in range(1, 5)]
    messages = [(wire.event_topic(site.id, devices[i % 4]), heartbeat_event(devices[i % 4], i // 4 + 1)) for i in range(total)]
    infos = [pub.publish(t, p) for t, p in messages[: total // 2]]
    store = Store(db)
    assert wait_until(lambda: store.count_events() > 200, timeout=30)
    os.kill(hub.pid, signal.SIGKILL)
    hub.wait()
    killed_at = store.count_events()
    infos += [pub.publish(t, p) for t, p in messages[total // 2:]]
    for info in infos:
        info.wait_for_publish(60)
    pub.close()
    hub = start_hub(site_dir, db, fresh_broker)
    try:
        assert wait_until(lambda: store.count_events() >= total, timeout=60)
        time.sleep(0.5)  # anything extra would show up now
        assert killed_at < total
        assert store.count_events() == total
        rows = store.conn.execute("SELECT device, count(*), count(DISTINCT seq), max(seq) FROM events GROUP BY device").fetchall()
        assert sorted(rows) == [(d, total // 4, total // 4, total // 4) for d in devices]
    finally:
        hub.send_signal(signal.SIGTERM)
        hub.wait(15)
        store.close()


def test_evidence_is_found_by_id_near_its_violation_or_anywhere_without_the_write_lock(app, client):
    """The console's evidence (ReportReader.evidence_events): taps through the event-id index,
    even one whose untrusted clock stamped it a year off; heartbeats (left out of that index)
    near the violation or, failing that, anywhere in the log. The read takes its own
    connection, so it completes while ingest holds the store's write lock (the console used to
    read evidence under that lock, scanning the whole log)."""
    import threading

    from hub.store import IncomingEvent
    from hub.store.reports import ReportReader
    from kiosk_ui import state

    with app.app_context():
        store = state.store()
    now = wire.now_ms()
    tap, hb = {"uid": "000A000001", "reader": "badge"}, {"uptime_s": 1, "spooled": 0, "dropped": 0}
    events = [IncomingEvent(f"00000000-0000-4000-8000-{i:012x}", "seat-a01", i + 1, ts, now, kind, ok, body)
              for i, (ts, ok, kind, body) in enumerate([
                  (now - 60_000, True, "badge", tap), (now - 365 * 86_400_000, False, "badge", tap),
                  (now - 30_000, True, "heartbeat", hb), (now - 30 * 86_400_000, True, "heartbeat", hb),
                  (now, True, "badge", tap)])]
    store.append_events(events)
    ids = [e.event_id for e in events[:4]]
    found: dict = {}

    def lead_opens_evidence() -> None:
        with ReportReader(store) as reader:
            found.update(reader.evidence_events(ids, (now - 120_000, now)))

    with store.lock:  # ingest committing a batch
        reader = threading.Thread(target=lead_opens_evidence)
        reader.start()
        reader.join(10)
        assert not reader.is_alive(), "the evidence lookup waited for the store's write lock"
    assert set(found) == set(ids)
    r = client.get("/console/evidence", query_string={"ids": ",".join(ids), "near": f"{now - 120_000},{now}"})
    assert r.status_code == 200 and [e["event_id"] for e in r.get_json()] == [ids[1], ids[3], ids[0], ids[2]]
    r = client.get("/console/evidence", query_string={"ids": ids[0], "near": "yesterday"})
    assert r.status_code == 400 and r.get_json()["parameter"] == "near"


def test_a_tap_made_while_the_hub_drains_a_backlog_comes_through_the_live_lane(fresh_broker, store, site):
    """After an outage the broker hands the hub its backlog first; a person tapping now would wait
    behind it. The live lane (a clean session, open from the connect until the first probe comes
    back) brings the tap at once; it is stored once, its persistent copy acknowledged in its turn,
    and once caught up the lane is closed (a later tap comes the ordinary way only)."""
    cid = f"hub-{site.id}-lane"
    first = Ingest(store, site.id, fresh_broker.host, fresh_broker.port, client_id=cid).start()
    assert wait_until(lambda: first.caught_up.is_set())
    first.stop()  # its persistent session keeps what comes next
    pub = Publisher(fresh_broker.host, fresh_broker.port)
    backlog = [(wire.event_topic(site.id, f"seat-{i % 50:03d}"), heartbeat_event(f"seat-{i % 50:03d}", i // 50 + 1))
               for i in range(30_000)]
    pub.publish_all(backlog)
    kiosk = wire.event_topic(site.id, "kiosk-k1")
    ingest = Ingest(store, site.id, fresh_broker.host, fresh_broker.port, client_id=cid).start()
    try:
        assert wait_until(lambda: ingest.live_open.is_set(), timeout=10)
        pub.publish_all([(kiosk, badge_event("kiosk-k1", 1))])  # made during the catch-up
        assert wait_until(lambda: store.count_events() == 30_001, timeout=120)
        assert wait_until(lambda: ingest.caught_up.is_set() and ingest.idle(), timeout=30)
        assert ingest.stats["live"] == 1 and ingest.stats["ahead"] == 1 and ingest.stats["duplicates"] == 0
        pub.publish_all([(kiosk, badge_event("kiosk-k1", 2))])  # after the catch-up: the lane is closed
        assert wait_until(lambda: store.count_events() == 30_002)
        assert ingest.stats["live"] == 1 and store.count_quarantined() == 0
        assert [e.seq for e in store.recent_events(device="kiosk-k1")] == [2, 1]
    finally:
        pub.close()
        ingest.stop()


def test_a_message_the_store_refuses_is_quarantined_and_its_batch_stored(broker, store, site):
    """A value the database itself refuses (here a trigger stands for any such constraint) must
    not hold back the messages batched with it, nor come back unacknowledged for ever."""
    if store.dialect.name == "sqlite":
        store.conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.device = 'seat-a02'"
                           " BEGIN SELECT RAISE(ABORT, 'refused by the database'); END")
    else:
        store.conn.execute("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.device ="
                           " 'seat-a02' THEN RAISE EXCEPTION 'refused by the database'; END IF; RETURN NEW; END $$")
        store.conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse()")
    ingest = Ingest(store, site.id, broker.host, broker.port, client_id=f"hub-{site.id}-refuse").start()
    pub = Publisher(broker.host, broker.port)
    try:
        pub.publish_all([(wire.event_topic(site.id, d), badge_event(d, s))
                         for d, s in (("seat-a01", 1), ("seat-a02", 1), ("seat-a01", 2))])
        assert wait_until(lambda: store.count_events() == 2 and store.count_quarantined() == 1)
        (q,) = store.quarantined()
        assert q["topic"] == wire.event_topic(site.id, "seat-a02") and "refused by the database" in q["reason"]
        assert q["reason"].startswith("store: ")
        assert wait_until(lambda: ingest.idle())
        pub.publish_all([(wire.event_topic(site.id, "seat-a01"), badge_event("seat-a01", 3))])  # and it goes on
        assert wait_until(lambda: store.count_events() == 3)
        assert ingest.stats["quarantined"] == 1
    finally:
        pub.close()
        ingest.stop()


def test_an_installer_reads_what_was_quarantined_by_api_and_cli(app_store, client, facilities_client, capsys):
    """A misconfigured device's messages are kept, not dropped: the admin reads them, with the
    reason and the copies two hubs brought, at /api/quarantine and with `floorwatch quarantine`."""
    from hub.cli import main

    topic = "fw/v1/site/seat-a07/event"
    for received in (1_764_000_000_000, 1_764_000_000_004):  # hub a's copy, then hub b's
        app_store.quarantine(received, topic, b'{"v": 1, "type": "badge"', "payload: not a JSON object")
    app_store.quarantine(1_764_000_060_000, "fw/v1/site/NOT A DEVICE/event", b"{}", "topic: bad device id")
    r = client.get("/api/quarantine", query_string={"limit": 10})
    assert r.status_code == 200
    assert [(q["topic"], q["copies"], q["reason"]) for q in r.get_json()] == [
        ("fw/v1/site/NOT A DEVICE/event", 1, "topic: bad device id"), (topic, 2, "payload: not a JSON object")]
    assert facilities_client.get("/api/quarantine").status_code == 403  # payloads may hold badge UIDs
    assert client.get("/api/quarantine", query_string={"limit": 0}).get_json()["parameter"] == "limit"

    assert main(["quarantine", "--db", str(app_store.path), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(q["topic"], q["copies"], q["last_received"]) for q in rows] == [
        ("fw/v1/site/NOT A DEVICE/event", 1, None), (topic, 2, 1_764_000_000_004)]
    assert main(["quarantine", "--db", str(app_store.path), "--limit", "1"]) == 0
    out = capsys.readouterr().out
    assert "NOT A DEVICE" in out and "reason:  topic: bad device id" in out and topic not in out
