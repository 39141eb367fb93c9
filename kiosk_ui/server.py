"""Serving the web app: a thread per connection, so Server-Sent-Event streams (one per open
kiosk, map or console) never starve the API and the kiosk of worker threads the way a fixed
pool does (waitress's 4 threads, held 15-30 s by each vanished browser). Streams send a
keepalive every few seconds, so a dead client is noticed quickly and its thread ends."""

from __future__ import annotations

import logging
import threading

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server


class WebServer:
    def __init__(self, app: Flask, host: str = "127.0.0.1", port: int = 0) -> None:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.server: BaseWSGIServer = make_server(host, port, app, threaded=True)
        self.server.daemon_threads = True  # type: ignore[attr-defined]
        self.host = host
        self.port = self.server.server_port
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> WebServer:
        self._thread = threading.Thread(target=self.server.serve_forever, name="web", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(5)
