"""A plain paho publisher for tests: a real MQTT client, as a third-party device would be; and a
kiosk tapped on a timer that records when each tap was answered."""

from __future__ import annotations

import os
import threading
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge import wire


class Publisher:
    def __init__(self, host: str, port: int, client_id: str | None = None) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"test-{uuid.uuid4().hex[:8]}")
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self._connected = threading.Event()
        self.client.on_connect = lambda *a: self._connected.set()
        self.client.connect(host, port)
        self.client.loop_start()
        assert self._connected.wait(10), "publisher could not connect"

    def publish(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False):
        return self.client.publish(topic, payload, qos=qos, retain=retain)

    def publish_all(self, messages, qos: int = 1, timeout: float = 60) -> None:
        infos = [self.client.publish(t, p, qos=qos) for t, p in messages]
        for info in infos:
            info.wait_for_publish(timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def badge_event(device: str, seq: int, uid: str = "000A000000", ts: int | None = None) -> bytes:
    return wire.encode(
        wire.BadgeEvent(v=1, id=wire.new_event_id(), device=device, seq=seq, ts=ts or wire.now_ms(),
                        type="badge", uid=uid, reader="badge")
    )


def heartbeat_event(device: str, seq: int, ts: int | None = None) -> bytes:
    return wire.encode(
        wire.HeartbeatEvent(v=1, id=wire.new_event_id(), device=device, seq=seq, ts=ts or wire.now_ms(),
                            type="heartbeat", uptime_s=seq, spooled=0)
    )


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
