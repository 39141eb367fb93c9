"""A real HTTP receiver on 127.0.0.1 for the alert tests and bench/alert_latency.py: a generic
webhook endpoint that checks the HMAC header like a site's own service would, dedupes on each
alert's stable id (hub.alerts.sender.message_id) and counts what arrived and what it accepted.

`hold` makes it keep a request open (the hub's request in flight) until the test releases it:
how the SIGKILL test kills a sender mid-delivery."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuietHandler(BaseHTTPRequestHandler):
    """A robot endpoint's handler: `answer` writes a JSON reply; no access log on the test's output."""

    def answer(self, status: int, body: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the sender died with the request open

    def log_message(self, *args: Any) -> None:
        pass


def serve(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """`handler` on a free port of 127.0.0.1, served from a daemon thread."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class Receiver:
    def __init__(self, secret: str, header: str = "X-Floorwatch-Signature") -> None:
        self.secret = secret
        self.arrivals: list[str] = []  # every alert id in every request that arrived, duplicates too
        self.accepted: list[dict[str, Any]] = []  # each alert once, in the order first seen
        self.times: dict[str, float] = {}  # alert id -> time.time() it first arrived
        self.bad_signatures = 0
        self.down_status: int | None = None  # while set: answer this status, accept nothing (an endpoint down)
        self.refused = 0
        self.hold_at: int | None = None  # hold the request carrying the n-th arrival (1-based)
        self.held = threading.Event()  # set once that request is being held
        self.release = threading.Event()
        self._lock = threading.Lock()
        rx = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                sig = "sha256=" + hmac.new(rx.secret.encode(), body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(self.headers.get(header, ""), sig):
                    rx.bad_signatures += 1
                    return self.answer(401, b"bad signature")
                if rx.down_status is not None:
                    rx.refused += 1
                    return self.answer(rx.down_status, b"down for maintenance")
                rx._take(json.loads(body))
                if rx.hold_at is not None and len(rx.arrivals) >= rx.hold_at and not rx.held.is_set():
                    rx.held.set()
                    rx.release.wait(30)
                self.answer(200, b'{"ok":true}')

        self.server = serve(Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def _take(self, body: dict[str, Any]) -> None:
        now = time.time()
        with self._lock:
            for alert in body.get("digest") or [body]:
                self.arrivals.append(alert["id"])
                if alert["id"] not in self.times:
                    self.times[alert["id"]] = now
                    self.accepted.append(alert)

    def duplicates(self) -> dict[str, int]:
        """Alert ids that arrived more than once (what a receiver without dedupe shows twice)."""
        return {k: n for k, n in Counter(self.arrivals).items() if n > 1}

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
