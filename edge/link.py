"""The MQTT link of an edge device: the only paho import on the edge.

- QoS 1, client id = device id, clean session (the spool, not the broker, is the memory).
- On connect: retained `online` status with firmware version and config hash; `offline` is the
  last will, so a device that dies or loses power shows offline at once (its TCP connection
  drops) or after 1.5 keepalives.
- Events are published from the spool (edge.spool) in seq order, at most `window` unacknowledged
  at a time; an event leaves the spool only when its PUBACK arrives (with a success reason
  code: MQTT v5 brokers refuse with code 135 and paho still reports the message as published).
  After every (re)connect, and after a restart, publishing starts again from the oldest
  unacknowledged event: the hub drops the duplicates on (device, seq).
- Reconnects with exponential backoff and full jitter, so a floor of 2,000 Pis does not
  reconnect in lock-step after a broker restart.
- Subscribes to its own `cmd` topic; valid commands go to `on_command`, invalid ones are logged
  with the reason and kept in `rejected`.

`LinkLoop` is one network thread (a selector over every client's socket plus a timer heap)
that can serve one link on a Pi or hundreds of simulated devices in one process: paho's
external-loop API (`loop_read` / `loop_write` / `loop_misc` and the socket callbacks). Every paho
call happens on that thread; other threads only `kick()` a link or schedule with `call_soon` /
`call_later`, which is also the timer service for the agent and its drivers.
"""

from __future__ import annotations

import contextlib
import logging
import random
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from edge import wire
from edge.config import BrokerConfig
from edge.exceptions import WireError
from edge.spool import Spool
from edge.timers import Timer, TimerHeap

log = logging.getLogger(__name__)

MISC_INTERVAL_S = 1.0


class LinkLoop:
    """One thread running the network I/O and timers of any number of links."""

    def __init__(self, name: str = "floorwatch-link") -> None:
        self.name = name
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._lock = threading.Lock()
        self._soon: deque[tuple[Callable[..., Any], tuple]] = deque()
        self._timers = TimerHeap()
        self._links: set[Link] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._woken = False

    # ------------------------------------------------------------ scheduling (any thread)

    def start(self) -> LinkLoop:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)
        self._thread = None
        self._sel.close()
        self._wake_r.close()
        self._wake_w.close()

    @property
    def in_loop(self) -> bool:
        return threading.current_thread() is self._thread

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        with self._lock:
            self._soon.append((fn, args))
        if not self.in_loop:
            self._wake()

    def call_later(self, delay_s: float, fn: Callable[..., Any], *args: Any) -> Timer:
        with self._lock:
            timer = self._timers.add(delay_s, fn, args)
        if not self.in_loop:
            self._wake()
        return timer

    def _wake(self) -> None:
        with self._lock:
            if self._woken:
                return
            self._woken = True
        with contextlib.suppress(BlockingIOError, OSError):
            self._wake_w.send(b"\0")

    # ------------------------------------------------------------ links and their sockets (loop thread)

    def add(self, link: Link) -> None:
        """Give `link` a `tick()` every MISC_INTERVAL_S (paho's keepalive and timeouts)."""
        self._links.add(link)

    def discard(self, link: Link) -> None:
        self._links.discard(link)

    def watch(self, sock: Any, link: Link) -> None:
        """Call `link.handle_io(mask)` when `sock` is readable (paho's on_socket_open)."""
        # paho leaves Nagle on: a tap's PUBLISH would wait for the ACK of the previous small packet
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self._sel.register(sock, selectors.EVENT_READ, link)
        except (KeyError, ValueError):
            self._sel.modify(sock, selectors.EVENT_READ, link)

    def unwatch(self, sock: Any) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._sel.unregister(sock)

    def want_write(self, sock: Any, link: Link, on: bool) -> None:
        """Also watch `sock` for writability while paho has bytes queued (`on`), or stop."""
        with contextlib.suppress(KeyError, ValueError):
            self._sel.modify(sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if on else 0), link)

    # ------------------------------------------------------------ the loop

    def _run(self) -> None:
        next_misc = time.monotonic() + MISC_INTERVAL_S
        while not self._stop.is_set():
            now = time.monotonic()
            with self._lock:
                due = self._timers.next_when()
                timeout = 0.0 if self._soon else min(next_misc - now, due - now if due is not None else 1.0)
            try:
                ready = self._sel.select(max(timeout, 0.0))
            except OSError:  # a socket closed under us; the next round has the new set
                ready = []
            for key, mask in ready:
                if key.data is None:
                    self._drain_wake()
                    continue
                _guard(key.data.handle_io, mask)
            self._run_due()
            now = time.monotonic()
            if now >= next_misc:
                next_misc = now + MISC_INTERVAL_S
                for link in list(self._links):
                    _guard(link.tick)

    def _drain_wake(self) -> None:
        # drain first, then clear the flag: a wake-up after this point sends a new byte, and one
        # before it has already queued its work, which _run_due picks up next
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass
        with self._lock:
            self._woken = False

    def _run_due(self) -> None:
        with self._lock:
            soon = list(self._soon)
            self._soon.clear()
        for fn, args in soon:
            _guard(fn, *args)
        now = time.monotonic()
        while True:
            with self._lock:
                timer = self._timers.pop_due(now)
            if timer is None:
                return
            _guard(timer.fn, *timer.args)


def _guard(fn: Callable[..., Any], *args: Any) -> None:
    """Run a callback on the loop thread: one failing link must not stop the others."""
    try:
        fn(*args)
    except Exception:
        log.exception("link loop: %r failed", fn)


def backoff_delay(attempt: int, min_s: float, max_s: float, rng: random.Random | None = None) -> float:
    """Seconds before reconnect attempt `attempt` (0-based): exponential, capped at `max_s`, with
    full jitter so devices that lost the broker together do not come back together."""
    cap = min(max_s, min_s * (2 ** min(attempt, 16)))
    return (rng or random).uniform(min(min_s / 2, cap), cap)


def _read_password(path: str | None, base_dir: Path | None) -> str | None:
    if not path:
        return None
    p = Path(path)
    if not p.is_absolute() and base_dir is not None:
        p = base_dir / p
    return p.read_text(encoding="utf-8").strip()


class Link:
    """One device's MQTT connection, publishing from its spool."""

    def __init__(
        self,
        device: str,
        site: str,
        broker: BrokerConfig,
        spool: Spool,
        *,
        loop: LinkLoop,
        fw: str = "",
        config_hash: str = "",
        clock: Callable[[], int] = wire.now_ms,
        on_command: Callable[[wire.Command], None] | None = None,
        on_connected: Callable[[], None] | None = None,
        window: int = 100,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 30.0,
        base_dir: Path | None = None,
        quiet: bool = False,
    ) -> None:
        self.device = device
        self._info = logging.DEBUG if quiet else logging.INFO  # a simulator's hundreds of links log less
        self._warn = logging.DEBUG if quiet else logging.WARNING
        self.site = site
        self.broker = broker
        self.spool = spool
        self.loop = loop
        self.fw = fw
        self.config_hash = config_hash
        self.clock = clock
        self.on_command = on_command
        self.on_connected = on_connected
        self.window = window
        self.reconnect_min_s = reconnect_min_s
        self.reconnect_max_s = reconnect_max_s
        self.base_dir = base_dir
        self.event_topic = wire.event_topic(site, device)
        self.status_topic = wire.status_topic(site, device)
        self.cmd_topic = wire.cmd_topic(site, device)
        self.connected = threading.Event()
        self.stats = {"connects": 0, "published": 0, "acked": 0, "resent": 0, "refused": 0, "commands": 0, "bad_commands": 0}
        self.rejected: deque[tuple[str, str]] = deque(maxlen=20)  # (payload, reason) of bad commands
        self.last_error = ""
        # loop-thread state
        self._client: mqtt.Client | None = None
        self._connecting_since = 0.0
        self._inflight: dict[int, int] = {}  # mid -> seq
        self._last_sent = 0
        self._acked: list[int] = []
        self._attempt = 0
        self._pump_scheduled = False
        self._pump_lock = threading.Lock()  # kick() runs on any thread
        self._running = False
        self._stopped = threading.Event()
        self._finished = threading.Event()
        self._stopping = False
        self._draining = False
        self._drain_s = 0.0
        self._drain_timer: Timer | None = None
        self._offline_mid: int | None = None
        self._reconnect_timer: Timer | None = None

    # ------------------------------------------------------------ control (any thread)

    def start(self) -> Link:
        self._running = True
        self.loop.call_soon(self._start)
        return self

    def _start(self) -> None:
        self.loop.add(self)
        self._connect()

    def kick(self) -> None:
        """New events are in the spool: publish them if connected."""
        with self._pump_lock:
            if self._pump_scheduled:
                return
            self._pump_scheduled = True
        self.loop.call_soon(self._pump)

    def cut(self, reason: str = "cable cut") -> None:
        """Cut the cable, for tests and benches: the connection dies without a DISCONNECT (the
        broker publishes the last will), as a pulled network cable; the link reconnects with its
        usual backoff (point `broker` at a dead port first to keep it down)."""
        self.loop.call_soon(self._cut, reason)

    def _cut(self, reason: str) -> None:
        if self._client is not None:
            self._drop_client(reason)

    def reconnect_now(self) -> None:
        """Connect at once if not connected, without waiting out the backoff (the cable is back)."""
        self.loop.call_soon(self._reconnect_now)

    def _reconnect_now(self) -> None:
        if self._client is not None or not self._running:
            return
        if self._reconnect_timer is not None:
            self._reconnect_timer.cancel()
            self._reconnect_timer = None
        self._attempt = 0
        self._connect()

    def stop(self, timeout: float = 5.0, drain_s: float = 2.0) -> None:
        """Send what the spool holds (for up to `drain_s`), publish `offline` (retained),
        disconnect cleanly, stop reconnecting. Whatever is left stays in the spool for next time."""
        self.begin_stop(drain_s)
        self.finish_stop(timeout)

    def begin_stop(self, drain_s: float = 2.0) -> None:
        """Start stopping without waiting (a simulator stops hundreds of links at once)."""
        if not self._running:
            return
        self._running = False
        self._drain_s = drain_s
        self._stopping = True
        self._stopped.clear()
        self._finished.clear()
        self.loop.call_soon(self._stop)

    def finish_stop(self, timeout: float = 3.0) -> None:
        """Wait for the offline status to be acknowledged (at most `timeout`), then let go."""
        if not self._stopping:
            return
        self._stopping = False
        if self.loop.in_loop:
            self._finish_stop()
            return
        self._stopped.wait(timeout)
        self.loop.call_soon(self._finish_stop)
        self._finished.wait(timeout)

    # ------------------------------------------------------------ connection (loop thread)

    def _new_client(self) -> mqtt.Client:
        b = self.broker
        if b.protocol == "5":
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.device, protocol=mqtt.MQTTv5)
        else:
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.device, protocol=mqtt.MQTTv311,
                                 clean_session=True)
        client.max_inflight_messages_set(self.window)
        client.max_queued_messages_set(0)
        client.connect_timeout = 5.0
        if b.tls:
            client.tls_set(ca_certs=b.ca, certfile=b.cert, keyfile=b.key)
        if b.username:
            client.username_pw_set(b.username, _read_password(b.password_file, self.base_dir))
        offline = wire.Status(v=1, device=self.device, state="offline", ts=self.clock(), fw=self.fw,
                              config=self.config_hash)
        client.will_set(self.status_topic, wire.encode(offline), qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.on_subscribe = None
        client.on_socket_open = lambda c, u, sock: self.loop.watch(sock, self)
        client.on_socket_close = lambda c, u, sock: self.loop.unwatch(sock)
        client.on_socket_register_write = lambda c, u, sock: self.loop.want_write(sock, self, True)
        client.on_socket_unregister_write = lambda c, u, sock: self.loop.want_write(sock, self, False)
        return client

    def _connect(self) -> None:
        self._reconnect_timer = None
        if not self._running or self._client is not None:
            return
        b = self.broker
        client = self._new_client()
        self._client = client
        self._connecting_since = time.monotonic()
        try:
            if b.protocol == "5":
                client.connect(b.host, b.port, keepalive=b.keepalive_s, clean_start=True)
            else:
                client.connect(b.host, b.port, keepalive=b.keepalive_s)
        except (OSError, ValueError) as exc:
            self._drop_client(f"cannot connect to {b.host}:{b.port}: {exc}")

    def _drop_client(self, reason: str) -> None:
        """Forget the current connection (closing its socket) and schedule a reconnect."""
        client, self._client = self._client, None
        self.connected.clear()
        self._inflight.clear()
        if client is not None:
            sock = client.socket()
            if sock is not None:
                self.loop.unwatch(sock)
                with contextlib.suppress(OSError):
                    sock.close()
        if reason and reason != self.last_error:
            log.log(self._warn, "%s: %s", self.device, reason)
        self.last_error = reason
        if self._running:
            self._schedule_reconnect()

    def _schedule_reconnect(self) -> None:
        if self._reconnect_timer is not None:
            return
        delay = backoff_delay(self._attempt, self.reconnect_min_s, self.reconnect_max_s)
        self._attempt += 1
        self._reconnect_timer = self.loop.call_later(delay, self._connect)

    def tick(self) -> None:
        """(loop thread, from LinkLoop) paho's periodic work; gives up a connect with no CONNACK."""
        client = self._client
        if client is None:
            return
        if not self.connected.is_set() and time.monotonic() - self._connecting_since > 2 * self.broker.keepalive_s:
            self._drop_client("no CONNACK from the broker")
            return
        client.loop_misc()

    def handle_io(self, mask: int) -> None:
        """(loop thread, from LinkLoop) the socket is readable and/or writable (selectors mask)."""
        client = self._client
        if client is None:
            return
        if mask & selectors.EVENT_READ:
            rc = client.loop_read()
            if rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_AGAIN) and client is self._client:
                self._drop_client(f"connection lost ({mqtt.error_string(rc)})")
                return
        if mask & selectors.EVENT_WRITE and client is self._client:
            rc = client.loop_write()
            if rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_AGAIN) and client is self._client:
                self._drop_client(f"connection lost ({mqtt.error_string(rc)})")

    # ------------------------------------------------------------ paho callbacks (loop thread)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if client is not self._client:
            return
        if reason_code.is_failure:
            self._attempt = max(self._attempt, 4)  # refused (auth, ACL): don't hammer the broker
            self.last_error = f"broker refused the connection: {reason_code}"
            log.error("%s: %s", self.device, self.last_error)
            return  # paho disconnects; _on_disconnect schedules the retry
        self._attempt = 0
        self.stats["connects"] += 1
        self.last_error = ""
        self._inflight.clear()
        self._last_sent = 0
        # what the broker acknowledged lately, again: it may have restarted without it (edge.spool)
        self.stats["resent"] += self.spool.requeue_sent()
        online = wire.Status(v=1, device=self.device, state="online", ts=self.clock(), fw=self.fw,
                             config=self.config_hash)
        client.publish(self.status_topic, wire.encode(online), qos=1, retain=True)
        client.subscribe(self.cmd_topic, qos=1)
        self.connected.set()
        log.log(self._info, "%s: connected to %s:%s", self.device, self.broker.host, self.broker.port)
        if self.on_connected is not None:
            _guard(self.on_connected)
        self._pump()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if client is not self._client:
            return
        if self._offline_mid is not None or not self._running:
            self._client = None
            self.connected.clear()
            self._stopped.set()
            return
        self._drop_client(f"disconnected ({reason_code})")

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        if client is not self._client:
            return
        if mid == self._offline_mid:
            client.disconnect()
            return
        seq = self._inflight.pop(mid, None)
        if seq is None:
            return  # the online status
        if reason_code.is_failure:
            self.stats["refused"] += 1
            log.error("%s: broker refused event seq %d: %s (kept in the spool)", self.device, seq, reason_code)
        else:
            self.stats["acked"] += 1
            if not self._acked:
                self.loop.call_soon(self._flush_acks)
            self._acked.append(seq)
        if len(self._inflight) <= self.window // 2:  # refill in batches, not one query per ack
            self._pump()

    def _on_message(self, client, userdata, msg) -> None:
        if msg.topic != self.cmd_topic:
            return
        try:
            cmd = wire.decode_command(msg.payload, msg.topic)
            if cmd.device != self.device:
                raise WireError("device", f"{cmd.device!r} is not this device", msg.topic)
        except WireError as exc:
            self.stats["bad_commands"] += 1
            self.rejected.append((msg.payload[:200].decode("utf-8", "backslashreplace"), f"{exc.field}: {exc.reason}"))
            log.warning("%s: rejected command: %s", self.device, exc)
            return
        self.stats["commands"] += 1
        if self.on_command is not None:
            _guard(self.on_command, cmd)

    # ------------------------------------------------------------ publishing (loop thread)

    def _pump(self) -> None:
        with self._pump_lock:
            self._pump_scheduled = False
        client = self._client
        if client is None or not self.connected.is_set() or self._offline_mid is not None:
            return
        room = self.window - len(self._inflight)
        while room > 0:
            rows = self.spool.pending(self._last_sent, room)
            if not rows:
                return
            for seq, payload in rows:
                info = client.publish(self.event_topic, payload, qos=wire.EVENT_QOS)
                if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    return  # connection going away; the next connect replays from the spool
                self._inflight[info.mid] = seq
                self._last_sent = seq
                self.stats["published"] += 1
            room = self.window - len(self._inflight)

    def _flush_acks(self) -> None:
        acked, self._acked = self._acked, []
        self.spool.ack(acked)
        if self._draining and len(self.spool) == 0 and not self._inflight:
            self._send_offline()

    # ------------------------------------------------------------ stopping (loop thread)

    def _stop(self) -> None:
        if self._reconnect_timer is not None:
            self._reconnect_timer.cancel()
            self._reconnect_timer = None
        self._flush_acks()
        client = self._client
        if client is None or not self.connected.is_set():
            self._drop_client("")
            self._stopped.set()
            return
        if len(self.spool) > 0 and self._drain_s > 0:
            self._draining = True
            self._drain_timer = self.loop.call_later(self._drain_s, self._send_offline)
            self._pump()
            return
        self._send_offline()

    def _send_offline(self) -> None:
        self._draining = False
        if self._drain_timer is not None:
            self._drain_timer.cancel()
            self._drain_timer = None
        client = self._client
        if client is None or not self.connected.is_set():
            self._stopped.set()
            return
        if self._offline_mid is not None:
            return
        offline = wire.Status(v=1, device=self.device, state="offline", ts=self.clock(), fw=self.fw,
                              config=self.config_hash)
        info = client.publish(self.status_topic, wire.encode(offline), qos=1, retain=True)
        self._offline_mid = info.mid

    def _finish_stop(self) -> None:
        self._flush_acks()
        if self._client is not None:
            self._drop_client("")
        self._offline_mid = None
        self.loop.discard(self)
        self._finished.set()
