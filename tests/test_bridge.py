"""A site broker bridged to a central broker (hub.broker.bridge_conf), two real mosquittos: a hub
on the central broker stores the site's events once, its tap feedback reaches the kiosk on the
site broker (a site without a hub of its own), and a central outage (with the site broker
restarted during it) loses nothing."""

from __future__ import annotations

import json
import threading

import pytest

from edge import wire
from hub.broker import BrokerError, MosquittoBroker, bridge_conf
from hub.service import HubService
from hub.store import Store
from tests.mqtt_util import Publisher, badge_event, heartbeat_event
from tests.waiting import wait_until


class Device(Publisher):
    """A device on the site broker: publishes events, receives its commands."""

    def __init__(self, broker: MosquittoBroker, site: str, device: str) -> None:
        super().__init__(broker.host, broker.port, client_id=f"dev-{device}")
        self.commands: list[dict] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.subscribe(wire.cmd_topic(site, device), qos=1)
        assert self._subscribed.wait(10)

    def _on_message(self, client, userdata, msg) -> None:
        with self._lock:
            self.commands.append(json.loads(msg.payload))


def test_a_hub_on_the_central_broker_gets_every_event_once_across_an_outage(site, tmp_path):
    central = MosquittoBroker(tmp_path / "central").start()
    # a site served by the central hub alone: its devices' commands come in over the bridge
    site_broker = MosquittoBroker(tmp_path / "site-broker",
                                  extra_conf=bridge_conf(site.id, central.address, commands=True)).start()
    hub = HubService(site, Store(tmp_path / "hub.db"), broker_host=central.host, broker_port=central.port,
                     tick_s=0.2, purge_every_s=None).start()
    kiosk = Device(site_broker, site.id, "kiosk-k1")
    devices = sorted(d for d in site.devices if d != "kiosk-k1")
    seq = dict.fromkeys(devices, 0)

    def heartbeats(n: int) -> list[tuple[str, bytes]]:
        out = []
        for k in range(n):
            d = devices[k % len(devices)]
            seq[d] += 1
            out.append((wire.event_topic(site.id, d), heartbeat_event(d, seq[d])))
        return out

    store = hub.store
    try:
        # the bridge is up once a message published at the site reaches the hub (the same event
        # again until then: a redelivery, stored once)
        first = heartbeat_event("kiosk-k1", 1)
        assert wait_until(lambda: kiosk.publish(wire.event_topic(site.id, "kiosk-k1"), first)
                          and store.count_events() >= 1, timeout=30, interval=1.0)
        kiosk.publish_all(heartbeats(200))
        tap = badge_event("kiosk-k1", 2, uid="DEADBEEF77")  # a person at the kiosk now
        kiosk.publish_all([(wire.event_topic(site.id, "kiosk-k1"), tap)])
        assert wait_until(lambda: store.count_events() == 202, timeout=30), store.count_events()
        # the verdict travels back: central hub -> central broker -> bridge (in) -> the kiosk
        tap_id = json.loads(tap)["id"]
        assert wait_until(lambda: any(c.get("re") == tap_id for c in kiosk.commands), timeout=30), kiosk.commands
        (fb,) = [c for c in kiosk.commands if c.get("re") == tap_id]
        assert fb["cmd"] == "feedback" and fb["result"] in ("ok", "warn", "deny")

        # the central broker goes away (a WAN cut, as the site sees it); the floor goes on
        central.stop()
        kiosk.publish_all(heartbeats(300))
        # ...and the site broker restarts during the outage: its bridge queue is persistent
        kiosk.close()
        site_broker.stop()
        site_broker.start()
        kiosk = Device(site_broker, site.id, "kiosk-k1")
        kiosk.publish_all(heartbeats(300))
        assert store.count_events() == 202  # nothing can have arrived yet
        central.start()
        assert wait_until(lambda: store.count_events() >= 802, timeout=90), store.count_events()
        assert wait_until(lambda: hub.ingest.caught_up.is_set(), timeout=30)
        rows = store.conn.execute("SELECT count(*), count(DISTINCT device || '/' || seq) FROM events").fetchone()
        assert rows == (802, 802)
        assert store.count_quarantined() == 0
    finally:
        kiosk.close()
        hub.stop()
        hub.store.close()
        site_broker.close()
        central.close()


def test_a_bridge_address_must_be_host_and_port(site):
    with pytest.raises(BrokerError, match="host:port"):
        bridge_conf(site.id, "central.example.com")
    conf = bridge_conf(site.id, "hq.example.com:8883",
                       tls=("/etc/floorwatch/hq-ca.crt", "/etc/floorwatch/bridge.crt", "/etc/floorwatch/bridge.key"))
    assert f"topic fw/v1/{site.id}/+/event out 1" in conf
    assert "cmd" not in conf  # a site with its own hub: one answer per tap, from it
    assert f"topic fw/v1/{site.id}/+/cmd in 1" in bridge_conf(site.id, "hq.example.com:8883", commands=True)
    assert "bridge_certfile /etc/floorwatch/bridge.crt" in conf and "cleansession false" in conf
