"""`floorwatch demo`: a private broker, the hub, the web UI and a simulated floor, in one
process tree, on embedded defaults. Prints where everything is; Ctrl-C stops it all."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import tempfile
from pathlib import Path

from hub.broker import AmqttBroker, MosquittoBroker, mosquitto_path
from hub.runner import serve_web, wait_for_signal
from hub.service import HubService
from hub.site import load_site
from hub.sitegen import generate_site
from hub.store import Store

log = logging.getLogger(__name__)


def run_demo(root: Path | None = None, *, web_port: int = 8080, speed: float = 60.0, broker: str = "auto") -> int:
    from edge.clock import ScaledClock
    from edge.sim import SimFloor, first_shift_start_ms

    tmp = None
    if root is None:
        tmp = tempfile.mkdtemp(prefix="floorwatch-demo-")
        root = Path(tmp)
    root.mkdir(parents=True, exist_ok=True)
    use_mosquitto = broker == "mosquitto" or (broker == "auto" and mosquitto_path() is not None)
    mqtt = MosquittoBroker(root / "broker").start() if use_mosquitto else AmqttBroker().start()
    site_dir = generate_site(
        root / "site", roster_date=dt.datetime.now().date(), sim_devices=True, broker_port=mqtt.port
    )
    site = load_site(site_dir)
    db_path = root / "floorwatch.db"
    store = Store(db_path)
    # The simulated floor runs on a scaled clock; the hub judges on the same clock, so a shift
    # plays in minutes and nothing looks skewed.
    # It starts 40 minutes before today's first shift whatever the hour, so every demo opens with
    # agents arriving for roll call.
    first = first_shift_start_ms(site, dt.datetime.now(site.tz).date())
    clock = ScaledClock(first - 40 * 60_000, speed) if first is not None else None
    floor = SimFloor(site, mqtt.host, mqtt.port, spool_dir=root / "spool", speed=speed, clock=clock)
    hub = HubService(site, store, broker_host=mqtt.host, broker_port=mqtt.port, clock=floor.clock).start()
    try:
        server = serve_web(hub, "127.0.0.1", web_port)
    except OSError:
        server = serve_web(hub, "127.0.0.1", 0)  # the port is taken: any free one
    floor.start()
    print(f"web: {server.url}/", flush=True)
    print(f"mqtt: {mqtt.host}:{mqtt.port} ({mqtt.kind})", flush=True)
    print(f"database: {db_path}", flush=True)
    print(f"site: {site_dir}", flush=True)
    from hub.privacy import install_log_masking
    from kiosk_ui.auth import bootstrap_demo_credentials

    install_log_masking(site)
    user, password, token = bootstrap_demo_credentials(store)  # new ones every run
    print(f"login: {user} / {password}  ({server.url}/auth/login)", flush=True)
    print(f"token: {token}", flush=True)
    print("Ctrl-C stops the demo.", flush=True)
    try:
        wait_for_signal()
    finally:
        floor.stop()
        server.stop()
        hub.stop()
        store.close()
        mqtt.stop()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0
