"""MQTT ingest: subscribe, validate, de-duplicate, append to the event log. The only paho
import on the hub.

Every input the rule engine consumes goes into the store's ordered input log in the transaction
that acknowledges it: events, device statuses, contact-center counts, and the hub's own session
marks (`connected`, `disconnected`, and `caught_up` each time a probe the hub publishes to itself,
on connecting and then periodically, comes back: everything the broker had queued before it has
arrived, and the probe's round trip says how far behind the hub's receipt runs).

Nothing is lost: the hub acknowledges a QoS 1 message (manual ack) only after the batch that
holds it is committed, and it keeps a persistent broker session (3.1.1
`clean_session=False`, or v5 `clean_start=False` with a session expiry), so a hub killed with
SIGKILL gets every unacknowledged message again when it comes back. Nothing is counted twice:
the log is unique on (device, seq). No payload kills it: whatever fails validation is
quarantined with topic, payload and reason.

paho runs `on_message` on its network thread; slow work there would delay keepalives and acks,
so messages are handed to a writer thread that commits in batches (one fsync per batch).

A tap made just now does not wait behind a backlog (issue 13): while the writer has more than a
batch queued, a badge event whose device time is within FRESH_TAP_MS of its receipt is also put
in a lane the writer commits first (nothing acknowledged there). When its turn in the queue
comes, it is a duplicate of what is stored and is acknowledged then, so acks keep the order the
broker sent the messages in, and a hub killed in between gets it again (stored once). A tap
still at the broker behind a backlog reaches that lane through the live lane: a second, clean
session subscribed at QoS 0 from each (re)connect until its first probe comes back.

Committed to the store: SQLite by default, or PostgreSQL (hub.store.backend).
"""

from __future__ import annotations

import collections
import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge import wire
from edge.exceptions import WireError
from hub.store import REUSED_SEQ, IncomingEvent, Store, StoredEvent

log = logging.getLogger(__name__)

SESSION_EXPIRY_S = 7 * 24 * 3600
PROBE_EVERY_S = 10.0  # real seconds between a hub's (or ingest worker's) probes to itself
CLAIM_PROBES = 3.5  # a caught_up mark holds this many probe intervals unless the next one renews it
FRESH_TAP_MS = 30_000  # a tap whose device time is this close to its receipt: a person at the reader now


@dataclass(slots=True)
class _Received:
    mid: int
    qos: int
    topic: str
    payload: bytes
    received: int  # hub clock, UTC ms
    mark: str | None = None  # a session mark for the input log instead of a message


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
        on_batch: Callable[[dict[str, int]], None] | None = None,
        batch_size: int = 1000,
        batch_wait_s: float = 0.02,
        clock: Callable[[], int] = wire.now_ms,
        tls: dict | None = None,
        username: str | None = None,
        password: str | None = None,
        events: bool = True,
        share: str | None = None,
        session: dict | None = None,
        live_lane: bool = True,
    ) -> None:
        self.store = store
        self.site = site
        self.host, self.port = host, port
        self.protocol = protocol
        self.on_events = on_events
        self.on_status = on_status
        self.on_acd = on_acd
        self.on_batch = on_batch  # the counters after every committed batch, even one that stored nothing
        self.batch_size = batch_size
        self.batch_wait_s = batch_wait_s
        self.clock = clock
        # One ingest reads everything (events=True, share=None). With ingest workers
        # (hub.ingest_workers), each worker reads only events, through the shared group `share`,
        # and the hub beside them everything else (events=False); `session` names the broker
        # session in every session mark ({"session": "w0", "workers": 2}) for the engine.
        self.events, self.share = events, share
        self.session = session or {}
        self.connected = threading.Event()
        self.subscribed = threading.Event()  # the broker acknowledged this connection's subscriptions
        self.caught_up = threading.Event()
        self.last_logged = 0  # receipt time of the newest input logged (the hub logs ticks when idle)
        self._probe = ""  # this connection's probe payload
        self._began = (time.monotonic(), clock())  # how fast the hub's clock runs (_claim_ms)
        self._connects = 0
        self.stats = {"received": 0, "stored": 0, "duplicates": 0, "quarantined": 0}
        self._queue: queue.Queue[_Received | None] = queue.Queue()
        self._ahead: collections.deque[_Received] = collections.deque()  # fresh taps, committed first
        self._stored_ahead: set[tuple[str, int]] = set()  # (device, seq) committed ahead, not acked yet
        self._stop = threading.Event()
        self._recovering = threading.Event()  # waiting for the store to answer again (_one_by_one)
        self._writer: threading.Thread | None = None
        client_id = client_id or f"floorwatch-hub-{site}"
        self.client_id = client_id
        self._auth = (tls, username, password)
        self.client = _new_client(client_id, protocol, *self._auth, persistent=True)
        self.client.reconnect_delay_set(min_delay=1, max_delay=10)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        # The live lane: after a (re)connect the persistent session first drains what the broker
        # kept, and a person tapping now would wait behind it at the broker. A second, clean session
        # subscribed to the site's events at QoS 0 until this connection's first probe comes back
        # sees new taps at once; fresh ones are stored ahead (_store_ahead), and their persistent
        # copy, arriving in its turn, is acknowledged as stored. Only for an ingest reading events.
        self._live = _new_client(f"{client_id}-live", protocol, *self._auth, persistent=False) \
            if live_lane and events and share is None else None
        self._live_wanted = False
        self._live_lock = threading.Lock()
        self.live_open = threading.Event()  # the broker acknowledged the live lane's subscription
        if self._live is not None:
            self._live.reconnect_delay_set(min_delay=1, max_delay=10)
            self._live.on_connect = lambda *_: self._live_subscription(self._live_wanted, force=True)
            self._live.on_subscribe = self._on_live_subscribe
            self._live.on_message = self._on_live_message

    # ------------------------------------------------------------ lifecycle

    def start(self, wait: float = 10.0) -> Ingest:
        self._writer = threading.Thread(target=self._write_loop, name="hub-ingest-writer", daemon=True)
        self._writer.start()
        if self.protocol == "5":
            props = _connect_props(SESSION_EXPIRY_S)
            props.ReceiveMaximum = 1000
            self.client.connect_async(self.host, self.port, keepalive=30, clean_start=False, properties=props)
        else:
            self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()
        if self._live is not None:
            self._live.connect_async(self.host, self.port, keepalive=30)
            self._live.loop_start()
        if wait and not self.connected.wait(wait):
            log.warning("hub ingest: broker %s:%s not reachable yet; retrying in the background", self.host, self.port)
        return self

    def stop(self) -> None:
        """Disconnect, then drain and commit everything already received."""
        self._stop.set()
        if self._live is not None:
            self._live.disconnect()
            self._live.loop_stop()
        self.client.disconnect()
        self.client.loop_stop()
        self._queue.put(None)
        if self._writer is not None:
            self._writer.join(30)

    def leave_share(self, timeout: float = 600.0) -> bool:
        """A retired ingest worker: take the rest of this session's share of the events and no
        more. Unsubscribe from the shared events, then wait until a probe published after that
        comes back: everything the broker queued for this session before it has arrived."""
        if not self.caught_up.wait(timeout):
            return False
        self.caught_up.clear()
        self.client.unsubscribe(wire.shared_event_filter(self.site, self.share or ""))
        self.probe()
        return self.caught_up.wait(timeout)

    def forget_session(self) -> None:
        """After stop(): end this client id's session on the broker (a clean connect), so it no
        longer takes a share of the stream (a retired ingest worker, hub.ingest_workers)."""
        client = _new_client(self.client_id, self.protocol, *self._auth, persistent=False)
        done = threading.Event()
        client.on_connect = lambda *_: done.set()
        if self.protocol == "5":
            client.connect(self.host, self.port, keepalive=30, clean_start=True, properties=_connect_props(0))
        else:
            client.connect(self.host, self.port, keepalive=30)
        client.loop_start()
        if not done.wait(10):
            log.warning("hub ingest: no answer from the broker while ending session %s", self.client_id)
        client.disconnect()
        client.loop_stop()

    def idle(self) -> bool:
        """True when everything received so far is committed (used by tests and benches)."""
        return self._queue.unfinished_tasks == 0

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until everything the broker held for this hub when called has been received and
        committed: a probe published now comes back behind it (tests and benches: a message the
        broker acknowledged may still be on its way to the hub when ingest looks idle)."""
        self.caught_up.clear()
        self.probe()
        return self.caught_up.wait(timeout) and self.wait_idle(timeout)

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
        self.caught_up.clear()
        self._connects += 1
        # unique to this connection: a probe a previous ingest left queued (a restart in the same
        # process, a reused pid) must not say this one is caught up
        self._probe = f"{self.client_id}/{os.getpid()}/{self._connects}/{os.urandom(4).hex()}"
        self._queue.put(_Received(0, 0, "", b"", self.clock(), mark="connected"))
        if not self.events:  # a session kept from a run without workers still holds the events
            client.unsubscribe(wire.event_filter(self.site))
        subs = wire.hub_subscriptions(self.site, events=self.events, others=self.share is None, share=self.share)
        client.subscribe([(t, wire.EVENT_QOS) for t in subs])
        # published after subscribing: it queues behind whatever the broker holds for this session
        self.probe()
        self._live_subscription(True)  # until that probe comes back
        self.connected.set()
        log.info("hub ingest: connected to %s:%s (session present: %s)", self.host, self.port, flags.session_present)

    def _live_subscription(self, on: bool, force: bool = False) -> None:
        """Subscribe the live lane (on) or not; `force` after the lane's own reconnect."""
        if self._live is None:
            return
        with self._live_lock:
            if on == self._live_wanted and not force:
                return
            self._live_wanted = on
            self.live_open.clear()
            if on:
                self._live.subscribe(wire.event_filter(self.site), qos=0)
            else:
                self._live.unsubscribe(wire.event_filter(self.site))

    def _on_live_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if self._live_wanted:
            self.live_open.set()

    def _on_live_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        m = _Received(0, 0, msg.topic, msg.payload, self.clock())
        if self._live_wanted and _fresh_tap(m):
            self.stats["live"] = self.stats.get("live", 0) + 1
            self._put_ahead(m)

    def _put_ahead(self, m: _Received) -> None:
        """A fresh tap into the lane the writer commits first (see the module's docstring)."""
        self._ahead.append(m)
        self._queue.put(_Received(0, 0, "", b"", m.received, mark="ahead"))  # wakes the writer

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        self.subscribed.set()

    def probe(self) -> None:
        """Publish a probe to ourselves, stamped with the hub clock: its round trip says how far
        behind the hub's receipt is (a backlog at the broker, or a hub too busy to read)."""
        if self._probe:
            payload = f"{self._probe}/{self.clock()}".encode()
            self.client.publish(wire.probe_topic(self.site), payload, qos=1)

    def _claim_ms(self) -> int:
        """How long a caught_up mark holds unless the next probe renews it: CLAIM_PROBES probe
        intervals in the hub's clock (a simulated one runs faster than the real seconds the probes
        are sent by; an injected one that jumps only makes the claim longer)."""
        real_s = time.monotonic() - self._began[0]
        rate = (self.clock() - self._began[1]) / (real_s * 1000) if real_s >= 1 else 1.0
        return int(CLAIM_PROBES * PROBE_EVERY_S * 1000 * max(1.0, rate))

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        self.subscribed.clear()
        self.caught_up.clear()
        self._queue.put(_Received(0, 0, "", b"", self.clock(), mark="disconnected"))
        if not self._stop.is_set():
            log.warning("hub ingest: disconnected (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        m = _Received(msg.mid, msg.qos, msg.topic, msg.payload, self.clock())
        self._queue.put(m)
        if self._queue.qsize() > self.batch_size and _fresh_tap(m):
            self._put_ahead(m)


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
            if self._ahead:
                self._store_ahead()
            batch = self._next_batch()
            if batch is None:
                return
            try:
                self._process(batch)
            except Exception:
                log.exception("hub ingest: batch of %d failed; message by message now", len(batch))
                self._one_by_one(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    def _one_by_one(self, batch: list[_Received]) -> None:
        """A batch the store refused, each message on its own: one the store cannot take (a value
        it refuses) is quarantined with the store's reason instead of holding the others back
        (and, unacknowledged, coming back for ever); while the store itself is down nothing is
        acknowledged and the broker delivers it all again."""
        for m in batch:
            try:
                self._process([m])
            except Exception as exc:
                if not self.store.ping():
                    log.error("hub ingest: the store is unavailable; %d messages left unacknowledged", len(batch))
                    self._reconnect_when_the_store_answers()
                    return
                if m.mark is not None:  # the hub's own mark: nothing to keep
                    log.error("hub ingest: a %s mark was not logged: %s", m.mark, exc)
                    continue
                reason = f"store: {type(exc).__name__}: {exc}"[:500]
                try:
                    self.store.quarantine(m.received, m.topic, m.payload, reason)
                except Exception:
                    log.exception("hub ingest: could not quarantine a message on %s", m.topic)
                    continue
                log.warning("quarantined message on %s: %s", m.topic, reason)
                self.stats["quarantined"] += 1
                if m.qos > 0:
                    self.client.ack(m.mid, m.qos)

    def _reconnect_when_the_store_answers(self) -> None:
        """The broker sends unacknowledged messages again only on a new connection of the session
        (PostgreSQL restarting, say, while the broker and the hub ran on): once the store answers
        again, reconnect, and what it refused comes back."""
        if self._recovering.is_set():
            return
        self._recovering.set()

        def wait() -> None:
            try:
                while not self._stop.is_set() and not self.store.ping():
                    self._stop.wait(1.0)
                if not self._stop.is_set():
                    log.warning("hub ingest: the store answers again; reconnecting for what it refused")
                    self.client.reconnect()
            except Exception:
                log.exception("hub ingest: reconnecting after the store's outage failed; paho retries")
            finally:
                self._recovering.clear()

        threading.Thread(target=wait, name="hub-ingest-recover", daemon=True).start()

    def _store_ahead(self) -> None:
        """Commit the fresh taps of the lane (valid events only: the queue's copy quarantines or
        acknowledges them in their turn)."""
        items = []
        while self._ahead:
            items.append(self._ahead.popleft())
        inputs: list[tuple[str, int, object]] = []
        for m in items:
            try:
                e = wire.decode_event_record(m.payload, m.topic)
                if wire.parse_topic(m.topic).site != self.site:
                    continue
            except WireError:
                continue
            inputs.append(("event", m.received,
                           IncomingEvent(e.id, e.device, e.seq, e.ts, m.received, e.type, e.clock_ok, e.body)))
        try:
            stored = self.store.append_inputs(inputs) if inputs else []
        except Exception:  # the queue's copy is stored in its turn
            log.exception("hub ingest: fresh taps not stored ahead")
            return
        self._stored_ahead.update((e.device, e.seq) for e in stored)
        self.stats["ahead"] = self.stats.get("ahead", 0) + len(stored)
        if inputs:
            self.last_logged = max(self.last_logged, max(i[1] for i in inputs))
        if stored and self.on_events is not None:
            self._safely(self.on_events, stored)

    def _process(self, batch: list[_Received]) -> None:
        inputs: list[tuple[str, int, object]] = []  # for the input log, in receipt order
        bad: list[tuple[int, str, bytes, str]] = []
        statuses: list[tuple[wire.Status, int]] = []
        feeds: list[wire.AcdFeed] = []
        seen: dict[str, tuple[int, int | None, int | None, int | None, int]] = {}
        payloads: dict[tuple[str, int, str], bytes] = {}  # for quarantining a reused seq as received
        for m in batch:
            if m.mark == "tick":
                inputs.append(("tick", m.received, None))
                continue
            if m.mark == "ahead":
                continue
            if m.mark is not None:
                inputs.append(("mark", m.received, {"mark": m.mark, **self.session}))
                continue
            try:
                topic = wire.parse_topic(m.topic)
                if topic.site != self.site:
                    raise WireError("topic", f"site {topic.site!r} is not this hub's ({self.site!r})", m.topic)
                if topic.kind == "event":
                    e = wire.decode_event_record(m.payload, m.topic)  # the pydantic models' verdicts, faster
                    body = e.body
                    inputs.append(("event", m.received,
                                   IncomingEvent(e.id, e.device, e.seq, e.ts, m.received, e.type, e.clock_ok, body)))
                    payloads[(e.device, e.seq, e.id)] = m.payload
                    prev = seen.get(e.device)
                    hb = (e.ts, body["spooled"], body["dropped"]) if e.type == "heartbeat" else (None, None, None)
                    if prev is not None and hb[0] is None:
                        hb = prev[1:4]
                    skew = (m.received - e.ts) if e.clock_ok else 0
                    seen[e.device] = (m.received, *hb, skew)
                elif topic.kind == "status":
                    if not m.payload:  # a cleared retained status
                        continue
                    statuses.append((wire.decode_status(m.payload, m.topic), m.received))
                    inputs.append(("status", m.received, statuses[-1][0].model_dump(mode="json")))
                elif topic.kind == "acd":
                    feeds.append(wire.decode_acd(m.payload, m.topic))
                    inputs.append(("acd", m.received, feeds[-1].model_dump(mode="json")))
                elif topic.kind == "probe":
                    token, _, sent = m.payload.decode(errors="replace").rpartition("/")
                    if token == self._probe and sent.isdigit():  # ours, this connection
                        delay = max(0, m.received - int(sent))
                        inputs.append(("mark", m.received, {"mark": "caught_up", "delay_ms": delay,
                                                            "valid_ms": self._claim_ms(), **self.session}))
                        self.caught_up.set()
                        self._live_subscription(False)  # what arrives now is not behind a backlog
                else:
                    raise WireError("topic", "the hub does not accept cmd topics", m.topic)
            except WireError as exc:
                bad.append((m.received, m.topic, m.payload, f"{exc.field}: {exc.reason}"))
        reused: list[tuple[IncomingEvent, str]] = []
        stored = self.store.append_inputs(inputs, reused, seen) if inputs else []
        bad += [_reused_row(e, stored_id, self.site, payloads[(e.device, e.seq, e.event_id)]) for e, stored_id in reused]
        if inputs:
            self.last_logged = max(self.last_logged, max(i[1] for i in inputs))
        if bad:
            self.store.quarantine_many(bad)
            for _, topic, _, reason in bad:
                log.warning("quarantined message on %s: %s", topic, reason)
        for status, received in statuses:
            self.store.update_device_status(status.device, status.state, status.fw, status.config, status.ts, received)
        # Committed: now the broker may forget these messages.
        for m in batch:
            if m.mark is None and m.qos > 0:
                self.client.ack(m.mid, m.qos)
        messages = sum(1 for m in batch if m.mark is None)
        events = sum(1 for i in inputs if i[0] == "event")
        if self._stored_ahead:  # their turn: stored ahead, not duplicates
            for i in inputs:
                if i[0] == "event" and (i[2].device, i[2].seq) in self._stored_ahead:
                    self._stored_ahead.discard((i[2].device, i[2].seq))
                    events -= 1
        self.stats["received"] += messages
        self.stats["stored"] += len(stored)
        self.stats["duplicates"] += events - len(stored) - len(reused)
        self.stats["quarantined"] += len(bad)
        self.stats["reused_seq"] = self.stats.get("reused_seq", 0) + len(reused)
        # The engine reads the input log itself; these only tell the live views (and wake it).
        if stored and self.on_events is not None:
            self._safely(self.on_events, stored)
        for status, _ in statuses:
            if self.on_status is not None:
                self._safely(self.on_status, status)
        for feed in feeds:
            if self.on_acd is not None:
                self._safely(self.on_acd, feed)
        if self.on_batch is not None:
            self._safely(self.on_batch, dict(self.stats))

    @staticmethod
    def _safely(cb: Callable, arg: object) -> None:
        try:
            cb(arg)
        except Exception:
            log.exception("hub: callback %s failed", getattr(cb, "__qualname__", cb))

    def log_tick(self, now: int) -> None:
        """Time passes with nothing received: a tick in the input log moves the engine's time."""
        self._queue.put(_Received(0, 0, "", b"", now, mark="tick"))

    # ------------------------------------------------------------ hub -> device

    def publish_command(self, cmd: wire.Command, site: str | None = None) -> None:
        """Tap feedback or a reload for one device (QoS 1, never retained)."""
        self.client.publish(wire.cmd_topic(site or self.site, cmd.device), wire.encode(cmd), qos=1, retain=False)


def _new_client(client_id: str, protocol: str, tls: dict | None, username: str | None, password: str | None,
                *, persistent: bool) -> mqtt.Client:
    """A paho client for the hub: `persistent`, the session the broker keeps while the hub is down
    (acknowledged by hand after commit); otherwise a clean one (ending such a session)."""
    if protocol == "5":
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5,
                             manual_ack=persistent)
    else:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311,
                             clean_session=not persistent, manual_ack=persistent)
    if tls:
        client.tls_set(ca_certs=tls.get("ca"), certfile=tls.get("cert"), keyfile=tls.get("key"))
    if username:
        client.username_pw_set(username, password)
    return client


def _connect_props(session_expiry_s: int) -> Properties:
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = session_expiry_s
    return props


def _fresh_tap(m: _Received) -> bool:
    """A badge event made within FRESH_TAP_MS of its receipt (a cheap look, validated later)."""
    if b"badge" not in m.payload or not m.topic.endswith("/event"):
        return False
    try:
        d = orjson.loads(m.payload)
    except orjson.JSONDecodeError:
        return False
    ts = d.get("ts") if isinstance(d, dict) else None
    return d.get("type") == "badge" and type(ts) is int and abs(m.received - ts) <= FRESH_TAP_MS


def _reused_row(e: IncomingEvent, stored_id: str, site: str, payload: bytes) -> tuple[int, str, bytes, str]:
    """A quarantine row for an event that reuses a stored (device, seq) under another id: kept,
    not silently dropped as a duplicate (a third-party device restarting its seq after a reboot)."""
    reason = f"{REUSED_SEQ}: {e.device} seq {e.seq} is already stored as event {stored_id}; this is event {e.event_id}"
    return (e.received, wire.event_topic(site, e.device), payload, reason)
