"""Serving the web app so that open event streams can never starve the API or the kiosk.

Every kiosk, floor map and console keeps one Server-Sent-Events stream open for as long as it
is shown, and a browser that vanishes (a Pi unplugged, a laptop lid shut) keeps its stream until
the server notices. A fixed worker pool is exhausted by as many streams as it has threads.
Measured with `bench/sse_load.py` (2 cores; 50 streams reading 20 updates/s, 5 reset, 5 not
reading; GET /api/health and /kiosk/<device>):
  this server   idle p50 3.8 ms, p99 17 ms; loaded p50 3.2 ms, p99 45 ms, none hung; the reset
                streams released within 2 s
  waitress (4)  idle p50 2.2 ms; loaded: every request hung past 5 s, 4 of 50 streams served
So:

- one thread per connection (werkzeug's threaded server): a stream blocks only itself;
- a cap on connections (`max_connections`): past it a client gets an immediate 503 instead of
  the host running out of threads; the live blueprint caps streams well below it, so streams
  alone can never take the last connections the API and the kiosk page need;
- `TCP_USER_TIMEOUT`: a stream whose keepalive stays unacknowledged (peer gone without a FIN)
  fails its write after `dead_peer_s` rather than after the kernel's ~15 minutes of retries;
- a socket timeout (`io_timeout_s`): a client that connects and sends nothing, or stops
  reading until its buffers fill, is dropped;
- streams send a keepalive every few seconds and end after a maximum lifetime (the browser's
  EventSource reconnects by itself), see kiosk_ui/feed.py.

A reverse proxy in front (nginx with `proxy_buffering off` for /live/) changes none of this.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading

from flask import Flask
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

log = logging.getLogger(__name__)

_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 12\r\nConnection: close\r\n\r\nserver busy\n"
)


class _Handler(WSGIRequestHandler):
    """Werkzeug's handler with a socket timeout; quiet unless something fails."""

    timeout: float | None = 60.0  # socketserver applies it to the connection in setup()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if str(code)[:1] == "5":
            super().log_request(code, size)


class _Server(ThreadedWSGIServer):
    """A thread per connection, at most `max_connections` at once."""

    def __init__(self, host: str, port: int, app: Flask, handler: type[_Handler], max_connections: int,
                 dead_peer_s: float) -> None:
        super().__init__(host, port, app, handler=handler)
        self._slots = threading.BoundedSemaphore(max_connections)
        self._dead_peer_ms = int(dead_peer_s * 1000)
        self.refused = 0
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    @property
    def connections(self) -> int:
        with self._open_lock:
            return len(self._open)

    def close_connections(self) -> None:
        """End every open connection (streams included): a stopped server leaves none behind."""
        with self._open_lock:
            conns = list(self._open)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def process_request(self, request, client_address) -> None:  # type: ignore[override]
        if not self._slots.acquire(blocking=False):
            self.refused += 1
            with contextlib.suppress(OSError):
                request.sendall(_BUSY)
            self.shutdown_request(request)
            return
        if hasattr(socket, "TCP_USER_TIMEOUT"):
            with contextlib.suppress(OSError):  # not every platform honours it
                request.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, self._dead_peer_ms)
        with self._open_lock:
            self._open.add(request)
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._forget(request)
            raise

    def process_request_thread(self, request, client_address) -> None:  # type: ignore[override]
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._forget(request)

    def _forget(self, request: socket.socket) -> None:
        with self._open_lock:
            self._open.discard(request)
        self._slots.release()


class WebServer:
    """The web app on host:port, served from a background thread: `start()`, then `stop()`."""

    def __init__(self, app: Flask, host: str = "127.0.0.1", port: int = 0, *, max_connections: int = 1024,
                 io_timeout_s: float = 60.0, dead_peer_s: float = 30.0) -> None:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        handler = type("FloorwatchHandler", (_Handler,), {"timeout": io_timeout_s})
        self.server = _Server(host, port, app, handler, max_connections, dead_peer_s)
        self.host = host
        self.port = self.server.server_port
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def refused(self) -> int:
        """Connections turned away with 503 because `max_connections` were open."""
        return self.server.refused

    def start(self) -> WebServer:
        self._thread = threading.Thread(target=self.server.serve_forever, name="web", daemon=True)
        self._thread.start()
        return self

    @property
    def connections(self) -> int:
        """Connections open now (each holds one thread)."""
        return self.server.connections

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.server.close_connections()
        if self._thread is not None:
            self._thread.join(5)
