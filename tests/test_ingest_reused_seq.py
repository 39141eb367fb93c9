"""A device reusing a stored seq (a third-party reader after a reboot) through a real mosquitto:
the different event is quarantined with its reason and both ids and counted on the device; the
identical redelivery is still stored once and not quarantined."""

from __future__ import annotations

import json

from edge import wire
from hub.ingest import Ingest
from tests.mqtt_util import Publisher, badge_event
from tests.waiting import wait_until


def test_reused_seq_is_quarantined_and_counted_redelivery_is_not(broker, store, site):
    ingest = Ingest(store, site.id, broker.host, broker.port, client_id=f"hub-reuse-{site.id}").start()
    pub = Publisher(broker.host, broker.port)
    try:
        topic = wire.event_topic(site.id, "door-d1")
        first = badge_event("door-d1", 7, uid="0000A34B7C")
        pub.publish_all([(topic, first)])
        assert wait_until(lambda: store.count_events() == 1)
        again = badge_event("door-d1", 7, uid="0000123456")  # a new tap, another id, the same seq
        pub.publish_all([(topic, first), (topic, again)])  # the redelivery, then the reuse
        assert wait_until(lambda: store.count_quarantined() == 1)
        pub.publish_all([(topic, badge_event("door-d1", 8))])
        assert wait_until(lambda: store.count_events() == 2)

        first_id, again_id = json.loads(first)["id"], json.loads(again)["id"]
        [q] = store.quarantined()
        assert q["topic"] == topic and json.loads(q["payload"])["id"] == again_id
        assert q["reason"].startswith("reused seq: door-d1 seq 7")
        assert first_id in q["reason"] and again_id in q["reason"]
        assert [(e.seq, e.event_id) for e in store.recent_events(device="door-d1")][-1] == (7, first_id)
        assert store.reused_seq_counts() == {"door-d1": 1}
        assert ingest.stats["duplicates"] == 1 and ingest.stats["reused_seq"] == 1
    finally:
        pub.close()
        ingest.stop()


def test_console_device_rows_show_reused_seq(app, client, tmp_path):
    from hub.store import Store

    store = Store(tmp_path / "hub.db")  # the app's database, written as the hub would
    store.update_device_status("door-d1", "online", "1.0", "abc", 1, 1)
    store.quarantine(1, "fw/v1/example/door-d1/event", "{}", "reused seq: door-d1 seq 1 is already stored as event a")
    store.quarantine(1, "fw/v1/example/door-d1/event", "{", "payload: not JSON")
    store.close()
    rows = {d["device"]: d for d in client.get("/console/devices.json").get_json()["devices"]}
    assert rows["door-d1"]["reused_seq"] == 1
