"""`floorwatch demo`: a private broker, the hub, the web UI and a simulated floor, in one
process tree, on embedded defaults. Prints where everything is; Ctrl-C stops it all.

The floor plays the site's day in the site's time zone, never the host's: the demo's site is
rostered for the site-local day the demo opens on and the days around it, so whatever the
date, weekday, hour or host zone, a tap at the kiosk gets a verdict and roll call judges.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from hub.broker import AmqttBroker, MosquittoBroker, mosquitto_path
from hub.runner import serve_web, wait_for_signal
from hub.service import HubService
from hub.site import load_site
from hub.sitegen import days_around, generate_site, site_today
from hub.store import Store

log = logging.getLogger(__name__)

DEMO_TZ = "Asia/Shanghai"  # the demo site's zone (generate_site's default)
OPENS_BEFORE_MIN = 40  # the floor opens this long before the day's first shift: agents arriving
DEMO_TRANSIT_S = 0.25  # real seconds a message may take from a simulated device to the engine


@dataclass(frozen=True)
class Opening:
    """When the demo's floor opens: a site-local day, and either an exact instant (UTC ms) or
    None for "40 minutes before that day's first shift"."""

    day: dt.date
    at_ms: int | None = None


def parse_start(text: str, tz: str | ZoneInfo = DEMO_TZ) -> Opening:
    """`--start`: a date (YYYY-MM-DD) opens the floor before that day's first shift; a date-time
    is the exact instant, in the site's zone unless it carries an offset (or Z)."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    text = text.strip()
    try:
        return Opening(dt.date.fromisoformat(text))
    except ValueError:
        pass
    try:
        at = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO date or date-time (e.g. 2027-02-07 or 2027-02-07T08:00): {text!r}") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=zone)
    return Opening(at.astimezone(zone).date(), int(at.timestamp() * 1000))


def opening_now(now_ms: int, tz: str | ZoneInfo = DEMO_TZ) -> Opening:
    """No --start: the site's today at `now_ms` (whatever the host's date is)."""
    return Opening(site_today(tz, now_ms))


def demo_skew_limit_s(speed: float) -> float:
    """DEV-CLOCK's limit in simulated seconds: the site's 5 s, or what DEMO_TRANSIT_S of real
    delivery time becomes at `speed` (at 300x a 50 ms hop is 15 simulated seconds, which must not
    read as a clock behind)."""
    return max(5.0, round(DEMO_TRANSIT_S * speed, 1))


def run_demo(root: Path | None = None, *, web_port: int = 8080, speed: float = 60.0, broker: str = "auto",
             start: Opening | None = None) -> int:
    from edge import wire
    from edge.clock import ScaledClock
    from hub.simfloor import SimFloor, first_shift_start_ms

    tmp = None
    if root is None:
        tmp = tempfile.mkdtemp(prefix="floorwatch-demo-")
        root = Path(tmp)
    root.mkdir(parents=True, exist_ok=True)
    use_mosquitto = broker == "mosquitto" or (broker == "auto" and mosquitto_path() is not None)
    mqtt = MosquittoBroker(root / "broker").start() if use_mosquitto else AmqttBroker().start()
    opens = start or opening_now(wire.now_ms())
    # A week of roster around the opening day, so the hub has the day being played (and the
    # next ones, should the demo run past midnight).
    site_dir = generate_site(root / "site", tz=DEMO_TZ, roster_dates=days_around(opens.day), sim_devices=True,
                             broker_port=mqtt.port, clock_skew_max_s=demo_skew_limit_s(speed))
    site = load_site(site_dir)
    db_path = root / "floorwatch.db"
    store = Store(db_path)
    # The simulated floor runs on a scaled clock; the hub judges on the same clock, so a shift
    # plays in minutes and nothing looks skewed.
    # Unless --start names an instant, it starts 40 minutes before the first shift of the site's
    # day whatever the hour, so every demo opens with agents arriving for roll call.
    at = opens.at_ms
    if at is None:
        first = first_shift_start_ms(site, opens.day)
        at = first - OPENS_BEFORE_MIN * 60_000 if first is not None else wire.now_ms()
    clock = ScaledClock(at, speed, held=True)  # runs once the floor is up: starting takes no demo time
    floor = SimFloor(site, mqtt.host, mqtt.port, spool_dir=root / "spool", speed=speed, clock=clock)
    hub = HubService(site, store, broker_host=mqtt.host, broker_port=mqtt.port, clock=floor.clock).start()
    try:
        server = serve_web(hub, "127.0.0.1", web_port)
    except OSError:
        server = serve_web(hub, "127.0.0.1", 0)  # the port is taken: any free one
    floor.start()
    clock.run()
    print(f"web: {server.url}/", flush=True)
    print(f"mqtt: {mqtt.host}:{mqtt.port} ({mqtt.kind})", flush=True)
    print(f"database: {db_path}", flush=True)
    print(f"site: {site_dir}", flush=True)
    local = dt.datetime.fromtimestamp(at / 1000, site.tz)
    print(f"clock: {local:%Y-%m-%d %a %H:%M} {site.info.timezone} (x{speed:g})", flush=True)
    from hub.privacy import install_log_masking
    from kiosk_ui.demo_login import bootstrap_demo_credentials

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
