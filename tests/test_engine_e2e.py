"""End to end through a real mosquitto: events published over MQTT reach HubService's ingest,
the engine judges them on the hub's clock, tap feedback goes back to the device's command topic,
violations land in the database and come out of /api/violations, /api/rollcall and /api/seats."""

from __future__ import annotations

import datetime as dt
import json
import os
import queue
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge import wire
from edge.clock import ManualClock
from hub.engine.scenario import badge_of, read_by
from hub.engine.site_time import local_ms
from hub.service import HubService
from hub.site import load_site
from hub.sitegen import generate_site
from hub.store import Store
from hub.store.derived import DerivedStore
from tests.conftest import issue_test_token
from tests.mqtt_util import Publisher
from tests.waiting import wait_until

DAY = dt.date(2026, 3, 10)



class CommandListener:
    """A device's view: what the hub sends on fw/v1/{site}/+/cmd."""

    def __init__(self, host: str, port: int, site: str) -> None:
        self.messages: queue.Queue[tuple[str, dict]] = queue.Queue()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"cmd-{os.urandom(3).hex()}")
        subscribed = threading.Event()
        self.client.on_connect = lambda c, *a: c.subscribe(f"fw/v1/{site}/+/cmd", qos=1)
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, json.loads(m.payload)))
        self.client.connect(host, port)
        self.client.loop_start()
        assert subscribed.wait(30), "the command listener never subscribed"

    def all(self) -> list[tuple[str, dict]]:
        out = []
        while True:
            try:
                out.append(self.messages.get_nowait())
            except queue.Empty:
                return out

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_mqtt_events_become_violations_in_the_db_and_the_api(broker, tmp_path):
    site_id = "e2e" + os.urandom(3).hex()
    site_dir = generate_site(tmp_path / "site", site=site_id, seats=8, zones=2, roster_date=DAY, sim_devices=True)
    site = load_site(site_dir)
    store = Store(tmp_path / "hub.db")
    clock = ManualClock(local_ms(DAY, dt.time(8, 0), site.tz))
    hub = HubService(site, store, broker_host=broker.host, broker_port=broker.port, clock=clock, tick_s=0.05,
                     purge_every_s=None).start()
    live = hub.live.subscribe({"tap", "violation", "rollcall"})
    devices = ["kiosk-k1", "door-d1", "seat-a01", "seat-a02"]
    seq = dict.fromkeys(devices, 0)
    pub = Publisher(broker.host, broker.port)
    cmds = CommandListener(broker.host, broker.port, site_id)

    def send(device: str, etype: str, **body) -> str:
        seq[device] += 1
        model = {"badge": wire.BadgeEvent, "heartbeat": wire.HeartbeatEvent}[etype]
        eid = wire.new_event_id()
        msg = model(v=1, id=eid, device=device, seq=seq[device], ts=clock.now_ms(), type=etype, **body)
        pub.publish_all([(wire.event_topic(site_id, device), wire.encode(msg))])
        return eid

    try:
        ids = {}
        for minute in range(66):  # 08:00 .. 09:05, each device reporting every minute
            for d in devices:
                send(d, "heartbeat", uptime_s=minute * 60, spooled=0)
            if minute == 15:
                ids["kiosk"] = send("kiosk-k1", "badge", uid=read_by(site, "kiosk-k1", badge_of("10001")), reader="badge")
            if minute == 20:
                ids["unknown"] = send("kiosk-k1", "badge", uid="DEADBEEF77", reader="badge")
            if minute == 25:
                ids["wrong"] = send("seat-a02", "badge", uid=read_by(site, "seat-a02", badge_of("10001")), reader="badge")
            # stored (the broker may still be handing them over when ingest looks idle), then
            # judged before the next minute: a tap gets feedback only while it is fresh (within
            # FRESH_TAP_MS of the log's newest input), and a minute here passes in 60 ms
            assert hub.ingest.drain(30)
            assert wait_until(lambda: hub.engine.progress()["pending"] == 0, timeout=30)
            clock.advance(60)
            time.sleep(0.06)  # a tick or so on the hub's ticker thread
        derived = DerivedStore(store)

        def rules() -> dict[str, int]:
            out: dict[str, int] = {}
            for v in derived.violations():
                out[v["rule"]] = out.get(v["rule"], 0) + 1
            return out

        assert wait_until(lambda: rules().get("ROLL-ABSENT") == 7, timeout=30), rules()
        assert rules() == {"BADGE-UNKNOWN": 1, "BADGE-WRONG-SEAT": 1, "ROLL-ABSENT": 7}

        # tap feedback went back to the devices over MQTT
        assert wait_until(lambda: cmds.messages.qsize() >= 3)
        got = {m["re"]: (topic, m) for topic, m in cmds.all()}
        assert got[ids["kiosk"]][0] == wire.cmd_topic(site_id, "kiosk-k1") and got[ids["kiosk"]][1]["result"] == "ok"
        assert got[ids["unknown"]][1]["result"] == "deny" and got[ids["wrong"]][1]["result"] == "warn"
        assert wire.decode_command(json.dumps(got[ids["wrong"]][1])).cmd == "feedback"

        # and the live bus saw the verdicts and the violations
        updates = []
        while not live.q.empty():
            u = live.q.get_nowait()
            updates.append((u.channel, u.data))
        verdicts = {d["event_id"]: d["verdict"] for ch, d in updates if ch == "tap"}
        assert verdicts == {ids["kiosk"]: "on_time", ids["unknown"]: "unknown_badge", ids["wrong"]: "wrong_seat"}
        assert sum(1 for ch, d in updates if ch == "violation" and d.get("rule") == "ROLL-ABSENT") == 7

        # the HTTP API, on the hub's own engine
        from kiosk_ui import create_app

        app = create_app({"TESTING": True}, hub=hub)
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {issue_test_token(app, 'admin')}"
        r = client.get(f"/api/violations?from={DAY}&to={DAY}")
        assert r.status_code == 200
        by_rule = {}
        for v in r.get_json():
            by_rule.setdefault(v["rule"], []).append(v)
        (unknown,) = by_rule["BADGE-UNKNOWN"]
        assert unknown["evidence"] == [ids["unknown"]] and unknown["kind"] == "unknown_badge"
        (wrong,) = by_rule["BADGE-WRONG-SEAT"]
        assert (wrong["agent"], wrong["seat"], wrong["evidence"]) == ("10001", "A02", [ids["wrong"]])
        r = client.get(f"/api/violations?from={DAY}&to={DAY}&rule=ROLL-ABSENT&team=T1")
        assert sorted(v["agent"] for v in r.get_json()) == ["10002"]
        r = client.get(f"/api/rollcall?date={DAY}&shift=day")
        board = {row["employee_no"]: row["status"] for row in r.get_json()}
        assert board["10001"] == "on_time" and list(board.values()).count("absent") == 7
        seats = {s["seat"]: s for s in client.get("/api/seats").get_json()}
        assert (seats["A02"]["state"], seats["A02"]["agent"]) == ("signed_in", "10001")
        assert seats["B01"]["state"] == "no_data"  # its device never reported
        bad = client.get("/api/violations?rule=NOPE")
        assert bad.status_code == 400
    finally:
        cmds.close()
        pub.close()
        hub.stop()
        store.close()
