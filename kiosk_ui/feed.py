"""The live feed for the browser: Server-Sent Events from the hub's LiveBus.

`GET /live/stream?channels=tap,device&device=kiosk-k1&snapshot=1` streams `event: <channel>`
messages whose data is the engine's update (the contract's JSON), shaped for the viewer
(kiosk_ui.masking: badge UIDs masked for non-admins, a lead's stream only their teams). Options:
  channels  comma-separated, from LIVE_CHANNELS (default: all)
  device    only updates about this device (a kiosk listens to its own reader only)
  snapshot  1: start with the latest state of every seat, zone, equipment tag and device
            (each with `_at`, the hub time it was published), then a `snapshot` event, so a
            page that opens (or reconnects) mid-shift shows the floor at once

Every message carries the bus's update id (`id:`); the latest-state messages keep their
original ids, so a page that gets an update twice (snapshot and stream) keeps the newer one.
A `ping` carrying the hub's clock and whether the hub is connected to the broker goes out every
LIVE_KEEPALIVE_S: pages show hub time (a kiosk Pi may lack a real-time clock), notice a dead
link, and the server notices a vanished browser at its next write. A stream ends after
LIVE_MAX_STREAM_S (the browser reconnects by itself), and at most LIVE_MAX_STREAMS are open.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from edge import wire
from hub.live import Update
from kiosk_ui import state
from kiosk_ui.masking import Viewer

bp = Blueprint("live", __name__, url_prefix="/live")

LIVE_CHANNELS = ("tap", "seat", "violation", "rollcall", "device", "zone", "equipment", "event")
# Channels whose updates are a thing's whole current state, keyed by the field that names it.
STATE_KEYS = {"seat": "seat", "zone": "zone", "equipment": "tag", "device": "device"}
_EXT = "floorwatch.live"


class LatestState:
    """The latest update for each seat, zone, equipment tag and device since the app started.

    It subscribes to the LiveBus as a queue-like sink (the bus only calls `put_nowait`), so it
    costs the hub one dict assignment per update and no thread.
    """

    def __init__(self, clock: Any = None) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._items: dict[tuple[str, str], tuple[Update, int | None]] = {}

    def put_nowait(self, update: Update) -> None:
        key_field = STATE_KEYS.get(update.channel)
        key = update.data.get(key_field) if key_field and isinstance(update.data, dict) else None
        if isinstance(key, str):
            at = self._clock.now_ms() if self._clock is not None else None
            with self._lock:
                self._items[(update.channel, key)] = (update, at)

    def get_nowait(self) -> Update:  # the bus calls it only when put_nowait raised Full
        raise queue.Empty

    def updates(self, channels: frozenset[str]) -> list[tuple[Update, int | None]]:
        """(update, hub time it was published) for every key of `channels`, oldest first."""
        with self._lock:
            items = [v for (ch, _), v in self._items.items() if ch in channels]
        return sorted(items, key=lambda v: v[0].id)

    def get(self, channel: str, key: str) -> Update | None:
        with self._lock:
            item = self._items.get((channel, key))
        return item[0] if item else None


class _Streams:
    """Counts open streams so the cap holds across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.open = 0

    def acquire(self, limit: int) -> bool:
        with self._lock:
            if self.open >= limit:
                return False
            self.open += 1
            return True

    def release(self) -> None:
        with self._lock:
            self.open -= 1


def init_app(app: Flask) -> None:
    app.config.setdefault("LIVE_KEEPALIVE_S", 5.0)
    app.config.setdefault("LIVE_MAX_STREAM_S", 600.0)
    app.config.setdefault("LIVE_MAX_STREAMS", 256)
    hub = app.extensions["floorwatch"]["hub"]
    ext: dict[str, Any] = {"latest": LatestState(getattr(hub, "clock", None)), "streams": _Streams()}
    if hub is not None:
        sub = hub.live.subscribe(set(STATE_KEYS))
        sub.q = ext["latest"]  # type: ignore[assignment]
    app.extensions[_EXT] = ext


def latest() -> LatestState:
    return current_app.extensions[_EXT]["latest"]


def open_streams(app: Flask | None = None) -> int:
    """Live streams open now, of `app` (tests and benches watching from outside a request) or of
    the current app."""
    return (app or current_app).extensions[_EXT]["streams"].open


def hub_connected(hub: Any) -> bool:
    """Whether the hub's ingest is connected to the broker (no hub: nothing to say, so yes)."""
    ingest = getattr(hub, "ingest", None)
    connected = getattr(ingest, "connected", None)
    return bool(connected.is_set()) if connected is not None else True


def _sse(event: str, data: Any, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


def _about_device(update: Update, device: str) -> bool:
    data = update.data
    return isinstance(data, dict) and data.get("device") == device


def _parse_channels(raw: str | None) -> frozenset[str] | str:
    if not raw:
        return frozenset(LIVE_CHANNELS)
    names = frozenset(c.strip() for c in raw.split(",") if c.strip())
    unknown = sorted(names - set(LIVE_CHANNELS))
    if unknown or not names:
        return f"unknown channel(s) {', '.join(unknown) or '(none)'}; known: {', '.join(LIVE_CHANNELS)}"
    return names


@bp.get("/stream")
def stream():
    """The event stream (text/event-stream); 400 names a bad parameter, 503 means too many."""
    channels = _parse_channels(request.args.get("channels"))
    if isinstance(channels, str):
        return jsonify({"error": "bad parameter", "parameter": "channels", "reason": channels}), 400
    device = request.args.get("device") or None
    if device is not None and not wire.is_valid_id(device):
        return jsonify({"error": "bad parameter", "parameter": "device", "reason": "not a valid id"}), 400
    hub = state.hub()
    if hub is None:
        return jsonify({"error": "no live updates", "reason": "the web app runs without a hub"}), 503
    cfg = current_app.config
    streams: _Streams = current_app.extensions[_EXT]["streams"]
    if not streams.acquire(int(cfg["LIVE_MAX_STREAMS"])):
        return Response("too many live streams\n", status=503, headers={"Retry-After": "10"},
                        mimetype="text/plain")
    snapshot = request.args.get("snapshot") == "1"
    sub = hub.live.subscribe(set(channels))
    first = latest().updates(channels & set(STATE_KEYS)) if snapshot else []
    keepalive = float(cfg["LIVE_KEEPALIVE_S"])
    ends_at = time.monotonic() + float(cfg["LIVE_MAX_STREAM_S"])
    site_id = state.site().id
    viewer = Viewer.current(updates=True)  # UIDs masked and (a lead) other teams left out, as each update is written

    def beat(event: str) -> str:
        """hello / ping: the hub's clock and whether the hub hears the devices."""
        return _sse(event, {"site": site_id, "now": hub.clock.now_ms(), "mqtt": hub_connected(hub)})

    closed = threading.Event()

    def cleanup() -> None:
        """Once, whether the stream ended, failed a write or never started."""
        if not closed.is_set():
            closed.set()
            hub.live.unsubscribe(sub)
            streams.release()

    def generate() -> Iterator[str]:
        try:
            yield "retry: 2000\n\n" + beat("hello")
            if snapshot:
                for u, at in first:
                    if (device is None or _about_device(u, device)) and viewer.sees(u.data):
                        # `_at`: when it was published, so a page can tell how old a state is
                        yield _sse(u.channel, viewer.shown({**u.data, "_at": at}), u.id)
                yield _sse("snapshot", {"count": len(first)})
            next_ping = time.monotonic() + keepalive
            while True:
                now = time.monotonic()
                if now >= ends_at:
                    return
                if now >= next_ping:
                    yield beat("ping")
                    next_ping = now + keepalive
                try:
                    u = sub.q.get(timeout=max(0.0, min(next_ping, ends_at) - now))
                except queue.Empty:
                    continue
                if (device is None or _about_device(u, device)) and viewer.sees(u.data):
                    yield _sse(u.channel, viewer.shown(u.data), u.id)
        finally:
            cleanup()

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    resp = Response(generate(), mimetype="text/event-stream", headers=headers)
    resp.call_on_close(cleanup)
    return resp


@bp.get("/status")
def status():
    """How the live side is doing: open streams and bus subscribers (for monitoring)."""
    hub = state.hub()
    return jsonify(
        {
            "streams": open_streams(),
            "subscribers": hub.live.subscribers if hub is not None else 0,
            "mqtt": hub_connected(hub),
        }
    )
