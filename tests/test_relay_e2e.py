"""FAC-ZONE-EMPTY's A/C relay end to end through a real mosquitto: a seat agent reports its
occupancy, the hub's engine judges zone A empty past the limit and commands zone A's relay
device, whose agent switches a gpiozero OutputDevice on a mock pin; someone sits and it goes on
again. Each switch comes back to the hub as a `relay` event."""

from __future__ import annotations

import datetime as dt
import os
import time

from edge.agent import Agent
from edge.clock import ManualClock
from edge.config import BrokerConfig, SpoolConfig, load_device_config, parse_device_config
from edge.drivers import build_sim_drivers
from hub.engine.site_time import local_ms
from hub.service import HubService
from hub.site import load_site
from hub.sitegen import generate_site
from hub.store import Store
from tests.mqtt_util import Publisher
from tests.waiting import wait_until

DAY = dt.date(2026, 3, 10)


def test_zone_empties_relay_goes_off_someone_sits_it_goes_on(broker, tmp_path, mock_pins):
    from edge import wire

    site_id = "ac" + os.urandom(3).hex()
    root = generate_site(tmp_path / "site", site=site_id, seats=8, zones=2, roster_date=DAY, sim_devices=True,
                         broker_port=broker.port)
    toml = root / "site.toml"
    toml.write_text(toml.read_text().replace('id = "A"\n', 'id = "A"\nac_relay_device = "zone-a"\n', 1))
    rules = root / "rules.toml"  # the roster's 08:30 shifts play no part here (no precool)
    rules.write_text(rules.read_text().replace("[thresholds]\n", "[thresholds]\nac_precool_min = 0\n", 1))
    (root / "devices" / "zone-a.toml").write_text(
        f'id = "zone-a"\nsite = "{site_id}"\nrole = "zone"\nzone = "A"\n[relay]\npin = 22\ninitial = "on"\n')
    site = load_site(root)
    store = Store(tmp_path / "hub.db")
    clock = ManualClock(local_ms(DAY, dt.time(8, 0), site.tz))
    hub = HubService(site, store, broker_host=broker.host, broker_port=broker.port, clock=clock, tick_s=0.05,
                     purge_every_s=None).start()

    def agent_for(dev: str, **kw) -> Agent:
        cfg, _ = load_device_config(root / "devices" / f"{dev}.toml")
        cfg = cfg.model_copy(update={"broker": BrokerConfig(host=broker.host, port=broker.port, keepalive_s=5),
                                     "spool": SpoolConfig(path=str(tmp_path / f"{dev}.db"), sync="normal")})
        return Agent(parse_device_config(cfg.model_dump()), clock=clock, heartbeat=False, quiet=True, **kw).start()

    seat_cfg, _ = load_device_config(root / "devices" / "seat-a01.toml")
    seat_drivers = build_sim_drivers(seat_cfg)
    seat = agent_for("seat-a01", drivers=seat_drivers)
    zone = agent_for("zone-a")  # builds its relay on the mock pin factory
    pin = mock_pins.pin(22)
    others = ["seat-a02", "seat-a03", "seat-a04"]  # the rest of zone A: reporting, nobody there
    seq = dict.fromkeys(others, 0)
    pub = Publisher(broker.host, broker.port)

    def minute() -> None:
        """One minute of floor time: every device in zone A reports; the hub catches up."""
        for d in others:
            seq[d] += 1
            hb = wire.HeartbeatEvent(v=1, id=wire.new_event_id(), device=d, seq=seq[d], ts=clock.now_ms(),
                                     type="heartbeat", uptime_s=seq[d] * 60, spooled=0)
            pub.publish_all([(wire.event_topic(site_id, d), wire.encode(hb))])
        seat.heartbeat()
        zone.heartbeat()
        assert wait_until(lambda: len(seat.spool) == 0 and len(zone.spool) == 0, timeout=20)
        assert hub.ingest.wait_idle(30)
        clock.advance(60)
        time.sleep(0.08)  # a tick or so on the hub's ticker thread

    def relay_events() -> list[tuple[str, str]]:
        return [(e.body["state"], e.body["reason"])
                for e in reversed(store.recent_events(device="zone-a", type="relay", limit=100))]

    try:
        assert seat.link.connected.wait(20) and zone.link.connected.wait(20)
        sensor = seat_drivers.sensors[0]
        sensor.set(True)  # 08:00 someone sits at A01
        for _ in range(5):
            minute()
        assert pin.state is True
        sensor.set(False)  # 08:05 the zone empties
        for _ in range(15):  # up to 08:20: 15 minutes, not more
            minute()
        assert pin.state is True and relay_events() == [("on", "initial")]
        minute()  # 08:21: empty past the limit
        assert wait_until(lambda: pin.state is False, timeout=20), "the relay did not go off"
        for _ in range(3):
            minute()
        assert pin.state is False
        sensor.set(True)  # 08:24 someone sits
        assert wait_until(lambda: pin.state is True, timeout=20), "the relay did not go on"
        minute()
        assert wait_until(lambda: len(relay_events()) == 3)
        assert relay_events() == [("on", "initial"), ("off", "zone_empty"), ("on", "occupied")]
        assert zone.stats["commands"] == 3  # on (its first judgement, no switch), off, on
        beats = store.recent_events(device="zone-a", type="heartbeat", limit=1)
        assert beats[0].body["relay"] == "on"
    finally:
        pub.close()
        seat.stop()
        zone.stop()
        hub.stop()
        store.close()
