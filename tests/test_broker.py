"""The private brokers the demo and tests start: mosquitto with deliberate queue limits, and
the amqtt fallback for machines without mosquitto."""

from __future__ import annotations

import time

from edge import wire
from hub.broker import AmqttBroker, MosquittoBroker
from hub.ingest import Ingest
from tests.mqtt_util import Publisher, badge_event


def test_generated_mosquitto_config_sets_queue_limits_and_persistence(tmp_path):
    b = MosquittoBroker(tmp_path / "b")
    conf = b.conf_path.read_text()
    assert "max_queued_messages 1000000" in conf  # the default 1000 silently drops
    assert "max_inflight_messages 1000" in conf
    assert "persistence true" in conf
    assert f"listener {b.port} 127.0.0.1" in conf
    b.close()


def test_persistent_session_survives_broker_restart(fresh_broker, store, site):
    """Events queued for a hub that is away survive a broker restart (persistence on)."""
    ingest = Ingest(store, site.id, fresh_broker.host, fresh_broker.port).start()
    ingest.stop()
    pub = Publisher(fresh_broker.host, fresh_broker.port)
    pub.publish_all([(wire.event_topic(site.id, "seat-a01"), badge_event("seat-a01", i)) for i in range(1, 101)])
    pub.close()
    fresh_broker.stop()  # SIGTERM: mosquitto writes its persistence file
    fresh_broker.start()
    ingest = Ingest(store, site.id, fresh_broker.host, fresh_broker.port).start()
    deadline = time.monotonic() + 20
    while store.count_events() < 100 and time.monotonic() < deadline:
        time.sleep(0.05)
    ingest.stop()
    assert store.count_events() == 100


def test_amqtt_fallback_carries_events_to_the_hub(store, site):
    with AmqttBroker() as broker:
        ingest = Ingest(store, site.id, broker.host, broker.port).start()
        # Events published before the hub's session subscribed have no session to wait in: a
        # first connect that the loaded CI machine answered late (once, > 10 s) lost them all.
        assert ingest.subscribed.wait(60), "the hub never subscribed on the amqtt broker"
        pub = Publisher(broker.host, broker.port)
        pub.publish_all([(wire.event_topic(site.id, "door-d1"), badge_event("door-d1", i)) for i in (1, 2, 2)])
        deadline = time.monotonic() + 20
        while store.count_events() < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        pub.close()
        ingest.stop()
    assert [e.seq for e in store.recent_events()] == [2, 1]
