"""Serving under load: open event streams and vanished browsers never hang the API or the kiosk
page, dead streams are released, caps answer 503 rather than exhausting the host; and what
the stream itself promises (channels, device filter, snapshot, hub clock in pings)."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import struct
import threading
import time
import urllib.request

from kiosk_ui import feed
from kiosk_ui.server import WebServer

pytest_plugins = ["tests.ui_harness"]  # fixtures: browser, floor_hub, hub_factory


class StreamReader(threading.Thread):
    """A browser's EventSource, as a raw HTTP client that reads and parses the stream."""

    def __init__(self, port: int, path: str, token: str) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.sock.sendall(_request(path, token))
        self.resp = http.client.HTTPResponse(self.sock)
        self.resp.begin()
        self.status = self.resp.status
        self.events: list[tuple[str, dict, str | None]] = []
        self.closed = threading.Event()
        self.start()

    def run(self) -> None:
        event, data, eid = "message", [], None
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    return
                line = line.decode().rstrip("\n")
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data.append(line[6:])
                elif line.startswith("id: "):
                    eid = line[4:]
                elif line == "" and data:
                    self.events.append((event, json.loads("\n".join(data)), eid))
                    event, data, eid = "message", [], None
        except (OSError, http.client.HTTPException):
            return
        finally:
            self.closed.set()

    def of(self, channel: str) -> list[dict]:
        return [d for e, d, _ in list(self.events) if e == channel]

    def close(self) -> None:
        """The browser tab is closed: the connection ends."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


def _request(path: str, token: str) -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n"
            f"Authorization: Bearer {token}\r\n\r\n").encode()


def raw_stream(port: int, path: str, token: str, rcvbuf: int | None = None) -> socket.socket:
    """A stream request on a bare socket whose owner may then vanish or stop reading."""
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(("127.0.0.1", port))
    s.sendall(_request(path, token))
    return s


def vanish(s: socket.socket) -> None:
    """Gone without a goodbye: the kernel answers the server's next write with a reset."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def timed_get(url: str, token: str) -> tuple[int, float]:
    t = time.monotonic()
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()
        return resp.status, time.monotonic() - t


def test_fifty_streams_and_vanished_browsers_leave_api_and_kiosk_responsive(floor_hub):
    app, token = floor_hub.app, floor_hub.token("facilities")
    server = WebServer(app, io_timeout_s=3).start()  # a stalled reader is dropped after 3 s
    try:
        port, live = server.port, floor_hub.hub.live
        kiosk_token = floor_hub.token("kiosk")
        readers = [StreamReader(port, "/live/stream?channels=seat,tap,device", token) for _ in range(50)]
        gone = [raw_stream(port, "/live/stream?channels=seat", token) for _ in range(5)]
        stalled = [raw_stream(port, "/live/stream?channels=seat", token, rcvbuf=4096) for _ in range(5)]
        floor_hub.wait_until(lambda: feed.open_streams(app) == 60, what="60 open streams")
        for s in gone:
            vanish(s)

        # the API and the kiosk page answer while 60 streams (10 of them dead or stuck) are open
        for _ in range(10):
            assert timed_get(f"{server.url}/api/health", token)[0] == 200
            assert timed_get(f"{server.url}/kiosk/kiosk-k1", kiosk_token)[0] == 200

        # a burst of updates reaches every live reader; the stuck readers' buffers fill up
        blob = "x" * 8000
        for i in range(300):
            live.publish("seat", {"seat": f"S{i % 50}", "zone": "A", "state": "vacant", "agent": None, "since": i, "note": blob})
        floor_hub.wait_until(lambda: all(any(d.get("note") and d["since"] == 299 for d in r.of("seat")) for r in readers),
                   what="the last update at all 50 readers")
        assert timed_get(f"{server.url}/api/health", token)[0] == 200

        # vanished and stuck streams give back their threads and bus subscriptions
        floor_hub.wait_until(lambda: feed.open_streams(app) == 50, what="dead streams released")
        floor_hub.wait_until(lambda: live.subscribers == 51, what="bus subscriptions released")  # + the latest-state sink
        for r in readers:
            r.close()
        floor_hub.wait_until(lambda: feed.open_streams(app) == 0, what="all streams released")
        for s in stalled:
            s.close()
    finally:
        server.stop()


def test_caps_answer_busy_instead_of_piling_up(floor_hub):
    app, token = floor_hub.app, floor_hub.token("facilities")
    app.config["LIVE_MAX_STREAMS"] = 3
    readers = [StreamReader(floor_hub.server.port, "/live/stream?channels=tap", token) for _ in range(3)]
    try:
        status, body = floor_hub.get("/live/status")
        assert status == 200 and json.loads(body)["streams"] == 3
        refused = http.client.HTTPConnection("127.0.0.1", floor_hub.server.port, timeout=10)
        refused.request("GET", "/live/stream?channels=tap", headers={"Authorization": f"Bearer {token}"})
        resp = refused.getresponse()
        assert resp.status == 503 and resp.getheader("Retry-After") == "10"
        assert timed_get(f"{floor_hub.url}/api/health", token)[0] == 200  # streams capped, the API is not
    finally:
        for r in readers:
            r.close()

    small = WebServer(app, max_connections=4, io_timeout_s=2).start()
    idle = [socket.create_connection(("127.0.0.1", small.port)) for _ in range(4)]  # connect, say nothing
    try:
        floor_hub.wait_until(lambda: small.connections == 4, what="4 idle connections")
        busy = http.client.HTTPConnection("127.0.0.1", small.port, timeout=10)
        busy.request("GET", "/api/health")
        assert busy.getresponse().status == 503
        assert small.refused == 1
        floor_hub.wait_until(lambda: small.connections == 0, what="silent connections timed out")
        assert timed_get(f"{small.url}/api/health", token)[0] == 200
    finally:
        for s in idle:
            s.close()
        small.stop()


def test_stream_channels_device_filter_snapshot_and_hub_clock(floor_hub):
    live, port, token = floor_hub.hub.live, floor_hub.server.port, floor_hub.token("admin")
    floor_hub.settle()
    live.publish("seat", {"seat": "A01", "zone": "A", "state": "break", "agent": None, "since": 1})
    live.publish("seat", {"seat": "A01", "zone": "A", "state": "signed_in", "agent": None, "since": 2})
    live.publish("device", {"device": "kiosk-k1", "state": "offline"})

    floor = StreamReader(port, "/live/stream?channels=seat,device&snapshot=1", token)
    kiosk = StreamReader(port, "/live/stream?channels=tap,device&device=kiosk-k1", token)
    floor_hub.wait_until(lambda: floor.of("seat") and floor.of("device") and kiosk.of("hello"), what="snapshots and hellos")
    assert [d["state"] for d in floor.of("seat") if d["seat"] == "A01"] == ["signed_in"]  # the latest only
    assert kiosk.of("device") == []  # no snapshot asked for
    assert floor.of("hello")[0]["now"] == floor_hub.clock.now_ms()

    live.publish("tap", {"device": "door-d1", "event_id": "a", "verdict": "on_time"})
    live.publish("tap", {"device": "kiosk-k1", "event_id": "b", "verdict": "late"})
    live.publish("violation", {"id": "v", "rule": "ROLL-EARLY"})
    floor_hub.wait_until(lambda: kiosk.of("tap"), what="the kiosk's tap")
    assert [d["event_id"] for d in kiosk.of("tap")] == ["b"]
    floor_hub.clock.advance(3600)
    floor_hub.wait_until(lambda: any(p["now"] == floor_hub.clock.now_ms() for p in kiosk.of("ping")), what="a ping with hub time")
    assert kiosk.of("ping")[-1]["mqtt"] is True
    assert all(e != "violation" for e, _, _ in floor.events + kiosk.events)
    floor.close()
    kiosk.close()

    for query, param in (("channels=seat,bogus", "channels"), ("device=Not%20Valid", "device")):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", f"/live/stream?{query}", headers={"Authorization": f"Bearer {token}"})
        resp = conn.getresponse()
        assert resp.status == 400 and json.loads(resp.read())["parameter"] == param
