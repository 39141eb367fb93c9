"""A plain paho publisher for tests: a real MQTT client, as a third-party device would be."""

from __future__ import annotations

import threading
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
