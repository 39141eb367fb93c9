"""Run the hub in the foreground until SIGINT/SIGTERM: `floorwatch hub`."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

from edge.clock import Clock
from hub.service import HubService
from hub.site import load_site
from hub.store import Store

log = logging.getLogger(__name__)


def serve_web(hub: HubService, host: str, port: int):
    """Start the web UI inside the hub process; returns the running server."""
    from kiosk_ui import create_app
    from kiosk_ui.server import WebServer

    app = create_app(hub=hub)
    return WebServer(app, host, port).start()


def wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM."""
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    while not done.wait(1):
        pass


def run_hub(site_dir: Path, db_path: Path, host: str, port: int, *, protocol: str = "3.1.1",
            web: tuple[str, int] | None = ("127.0.0.1", 8080), username: str | None = None,
            password: str | None = None, checkpoint_every_s: float | None = None,
            clock: Clock | None = None, ingest_workers: int = 1, hub_id: str | None = None) -> int:
    """`clock`: None for the wall clock, else a simulated one (--clock): the engine then ticks at
    least every simulated minute (at most 5 times a second), as the demo's floor needs."""
    from hub.privacy import install_log_masking

    site = load_site(site_dir)
    install_log_masking(site)  # badge UIDs never reach the hub's logs in clear
    store = Store(db_path)
    speed = getattr(clock, "speed", 1.0)
    hub = HubService(site, store, broker_host=host, broker_port=port, protocol=protocol, clock=clock,
                     tick_s=min(1.0, max(0.2, 60.0 / speed)), username=username, password=password,
                     checkpoint_every_s=checkpoint_every_s, ingest_workers=ingest_workers,
                     hub_id=hub_id).start(wait=0)
    server = serve_web(hub, *web) if web else None
    simulated = f", simulated clock x{speed:g}" if clock is not None else ""
    named = f", hub {hub_id}" if hub_id else ""
    print(f"hub: site {site.id}{named}, broker {host}:{port}, database {db_path}{simulated}", flush=True)
    if server:
        print(f"web: {server.url}/", flush=True)
    try:
        wait_for_signal()
    finally:
        if server:
            server.stop()
        hub.stop()
        store.close()
    return 0
