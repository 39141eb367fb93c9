"""MQTT ingest: subscribe, validate, de-duplicate, append to the event log. The only paho
import on the hub.

Nothing is lost: the hub acknowledges a QoS 1 message (manual ack) only after the batch that
holds it is committed to SQLite, and it keeps a persistent broker session (3.1.1
`clean_session=False`, or v5 `clean_start=False` with a session expiry), so a hub killed with
SIGKILL gets every unacknowledged message again when it comes back. Nothing is counted twice:
the log is unique on (device, seq). No payload kills it: whatever fails validation is
quarantined with topic, payload and reason.

paho runs `on_message` on its network thread; slow work there would delay keepalives and acks,
so messages are handed to a writer thread that commits in batches (one fsync per batch).
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge import wire
from edge.exceptions import WireError
from hub.store import REUSED_SEQ, IncomingEvent, Store, StoredEvent

log = logging.getLogger(__name__)

SESSION_EXPIRY_S = 7 * 24 * 3600


@dataclass
class _Received:
    mid: int
    qos: int
    topic: str
    payload: bytes
    received: int  # hub clock, UTC ms


EventsCallback = Callable[[list[StoredEvent]], None]
StatusCallback = Callable[[wire.Status], None]
AcdCallback = Callable[[wire.AcdFeed], None]


class Ingest:
    """Subscribes to one site's topics and feeds the event log; publishes hub commands."""

    def __init__(
        self,
        store: Store,
        site: str,
        host: str = "127.0.0.1",
        port: int = 1883,
        *,
        protocol: str = "3.1.1",
        client_id: str | None = None,
        on_events: EventsCallback | None = None,
        on_status: StatusCallback | None = None,
        on_acd: AcdCallback | None = None,
        batch_size: int = 1000,
        batch_wait_s: float = 0.02,
        clock: Callable[[], int] = wire.now_ms,
        tls: dict | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.store = store
        self.site = site
        self.host, self.port = host, port
        self.protocol = protocol
        self.on_events = on_events
        self.on_status = on_status
        self.on_acd = on_acd
        self.batch_size = batch_size
        self.batch_wait_s = batch_wait_s
        self.clock = clock
        self.connected = threading.Event()
        self.stats = {"received": 0, "stored": 0, "duplicates": 0, "quarantined": 0}
        self._queue: queue.Queue[_Received | None] = queue.Queue()
        self._stop = threading.Event()
        self._writer: threading.Thread | None = None
        client_id = client_id or f"floorwatch-hub-{site}"
        if protocol == "5":
            self.client = mqtt.Client(
                CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, manual_ack=True
            )
        else:
            self.client = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=client_id,
                protocol=mqtt.MQTTv311,
                clean_session=False,
                manual_ack=True,
            )
        if tls:
            self.client.tls_set(ca_certs=tls.get("ca"), certfile=tls.get("cert"), keyfile=tls.get("key"))
        if username:
            self.client.username_pw_set(username, password)
        self.client.reconnect_delay_set(min_delay=1, max_delay=10)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    # ------------------------------------------------------------ lifecycle

    def start(self, wait: float = 10.0) -> Ingest:
        self._writer = threading.Thread(target=self._write_loop, name="hub-ingest-writer", daemon=True)
        self._writer.start()
        if self.protocol == "5":
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = SESSION_EXPIRY_S
            props.ReceiveMaximum = 1000
            self.client.connect_async(self.host, self.port, keepalive=30, clean_start=False, properties=props)
        else:
            self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()
        if wait and not self.connected.wait(wait):
            log.warning("hub ingest: broker %s:%s not reachable yet; retrying in the background", self.host, self.port)
        return self

    def stop(self) -> None:
        """Disconnect, then drain and commit everything already received."""
        self._stop.set()
        self.client.disconnect()
        self.client.loop_stop()
        self._queue.put(None)
        if self._writer is not None:
            self._writer.join(30)

    def idle(self) -> bool:
        """True when everything received so far is committed (used by tests and benches)."""
        return self._queue.unfinished_tasks == 0

    def wait_idle(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.idle():
                return True
            time.sleep(0.01)
        return self.idle()

    # ------------------------------------------------------------ paho callbacks (network thread)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("hub ingest: broker refused the connection: %s", reason_code)
            return
        sock = client.socket()
        if sock is not None and hasattr(sock, "setsockopt"):  # tap feedback must not wait for Nagle
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.subscribe([(t, wire.EVENT_QOS) for t in wire.hub_subscriptions(self.site)])
        self.connected.set()
        log.info("hub ingest: connected to %s:%s (session present: %s)", self.host, self.port, flags.session_present)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        if not self._stop.is_set():
            log.warning("hub ingest: disconnected (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        self._queue.put(_Received(msg.mid, msg.qos, msg.topic, msg.payload, self.clock()))

    # ------------------------------------------------------------ writer thread

    def _next_batch(self) -> list[_Received] | None:
        first = self._queue.get()
        if first is None:
            self._queue.task_done()
            return None
        batch = [first]
        deadline = time.monotonic() + self.batch_wait_s
        while len(batch) < self.batch_size:
            timeout = deadline - time.monotonic()
            try:
                item = self._queue.get(timeout=max(timeout, 0)) if timeout > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self._queue.task_done()
                self._queue.put(None)
                break
            batch.append(item)
        return batch

    def _write_loop(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            try:
                self._process(batch)
            except Exception:  # the store failed: nothing acked, the broker will redeliver
                log.exception("hub ingest: batch of %d failed; not acknowledged", len(batch))
            finally:
                for _ in batch:
                    self._queue.task_done()

    def _process(self, batch: list[_Received]) -> None:
        events: list[IncomingEvent] = []
        bad: list[tuple[int, str, bytes, str]] = []
        statuses: list[tuple[wire.Status, int]] = []
        feeds: list[wire.AcdFeed] = []
        seen: dict[str, tuple[int, int | None, int | None, int | None, int]] = {}
        order: list[tuple[str, object]] = []  # what reaches the engine, in receipt order
        payloads: dict[tuple[str, int, str], bytes] = {}  # for quarantining a reused seq as received
        for m in batch:
            try:
                topic = wire.parse_topic(m.topic)
                if topic.site != self.site:
                    raise WireError("topic", f"site {topic.site!r} is not this hub's ({self.site!r})", m.topic)
                if topic.kind == "event":
                    e = wire.decode_event(m.payload, m.topic)
                    body = e.model_dump(exclude={"v", "id", "device", "seq", "ts", "clock_ok", "type"})
                    events.append(IncomingEvent(e.id, e.device, e.seq, e.ts, m.received, e.type, e.clock_ok, body))
                    payloads[(e.device, e.seq, e.id)] = m.payload
                    order.append(("event", (e.device, e.seq)))
                    prev = seen.get(e.device)
                    hb = (e.ts, e.spooled, e.dropped) if e.type == "heartbeat" else (None, None, None)
                    if prev is not None and hb[0] is None:
                        hb = prev[1:4]
                    skew = (m.received - e.ts) if e.clock_ok else 0
                    seen[e.device] = (m.received, *hb, skew)
                elif topic.kind == "status":
                    if not m.payload:  # a cleared retained status
                        continue
                    statuses.append((wire.decode_status(m.payload, m.topic), m.received))
                    order.append(("status", statuses[-1][0]))
                elif topic.kind == "acd":
                    feeds.append(wire.decode_acd(m.payload, m.topic))
                    order.append(("acd", feeds[-1]))
                else:
                    raise WireError("topic", "the hub does not accept cmd topics", m.topic)
            except WireError as exc:
                bad.append((m.received, m.topic, m.payload, f"{exc.field}: {exc.reason}"))
        reused: list[tuple[IncomingEvent, str]] = []
        stored = self.store.append_events(events, reused) if events else []
        bad += [_reused_row(e, stored_id, self.site, payloads[(e.device, e.seq, e.event_id)]) for e, stored_id in reused]
        if bad:
            self.store.quarantine_many(bad)
            for _, topic, _, reason in bad:
                log.warning("quarantined message on %s: %s", topic, reason)
        for status, received in statuses:
            self.store.update_device_status(status.device, status.state, status.fw, status.config, status.ts, received)
        if seen:
            self.store.touch_devices(seen)
        # Committed: now the broker may forget these messages.
        for m in batch:
            if m.qos > 0:
                self.client.ack(m.mid, m.qos)
        self.stats["received"] += len(batch)
        self.stats["stored"] += len(stored)
        self.stats["duplicates"] += len(events) - len(stored) - len(reused)
        self.stats["quarantined"] += len(bad)
        self.stats["reused_seq"] = self.stats.get("reused_seq", 0) + len(reused)
        # Hand everything on in the order it was received: a device's status after its replayed
        # events (or before them) means something different to the engine (DEV-CLOCK, gaps).
        new = {(e.device, e.seq): e for e in stored}
        run: list[StoredEvent] = []
        for kind, item in order:
            if kind == "event":
                e = new.pop(item, None)  # type: ignore[arg-type]
                if e is not None:
                    run.append(e)
                continue
            if run and self.on_events is not None:
                self._safely(self.on_events, run)
            run = []
            cb = self.on_status if kind == "status" else self.on_acd
            if cb is not None:
                self._safely(cb, item)
        if run and self.on_events is not None:
            self._safely(self.on_events, run)

    @staticmethod
    def _safely(cb: Callable, arg: object) -> None:
        try:
            cb(arg)
        except Exception:
            log.exception("hub: callback %s failed", getattr(cb, "__qualname__", cb))

    # ------------------------------------------------------------ hub -> device

    def publish_command(self, cmd: wire.Command, site: str | None = None) -> None:
        """Tap feedback or a reload for one device (QoS 1, never retained)."""
        self.client.publish(wire.cmd_topic(site or self.site, cmd.device), wire.encode(cmd), qos=1, retain=False)


def _reused_row(e: IncomingEvent, stored_id: str, site: str, payload: bytes) -> tuple[int, str, bytes, str]:
    """A quarantine row for an event that reuses a stored (device, seq) under another id: kept,
    not silently dropped as a duplicate (a third-party device restarting its seq after a reboot)."""
    reason = f"{REUSED_SEQ}: {e.device} seq {e.seq} is already stored as event {stored_id}; this is event {e.event_id}"
    return (e.received, wire.event_topic(site, e.device), payload, reason)
