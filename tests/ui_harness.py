"""Fixtures for the web UI tests: headless Chromium (Debian's) through Playwright, and a whole
running hub: the suite's real mosquitto, a real HubService (with the rule engine when
hub.engine exists), the web app served by kiosk_ui.server, and a real paho client playing the
devices. Time is a ManualClock set relative to the roster's day shift.

A test module loads these fixtures with `pytest_plugins = ["tests.ui_harness"]`: browser,
floor_hub (a RunningHub for the suite's small site) and hub_factory (for a site of its own).
"""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from edge import wire
from edge.clock import ManualClock
from hub.engine.scenario import read_by
from hub.service import HubService
from hub.site import Site, load_site
from hub.store import Store
from kiosk_ui import create_app
from kiosk_ui.server import WebServer
from tests.mqtt_util import Publisher

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
WAIT_S = 25.0  # generous: several engineers' suites share two cores


def wait_until(cond: Callable[[], Any], timeout: float = WAIT_S, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def shift_time(site: Site, hhmm: str, day: dt.date | None = None) -> int:
    """UTC ms of a site-local wall time on the roster's day."""
    day = day or site.roster[0].date
    local = dt.datetime.combine(day, dt.time.fromisoformat(hhmm), tzinfo=site.tz)
    return int(local.timestamp() * 1000)


@dataclass
class RunningHub:
    """A hub on the suite's broker, its web server, its clock and a device-side publisher."""

    site: Site
    store: Store
    hub: HubService
    server: WebServer
    clock: ManualClock
    pub: Publisher
    seqs: dict[str, int] = field(default_factory=dict)

    tokens: dict[str, str] = field(default_factory=dict)
    contexts: list[Any] = field(default_factory=list)  # browser contexts to close with the hub
    wait_until = staticmethod(wait_until)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def app(self):
        return self.server.server.app

    def token(self, role: str = "admin") -> str:
        """An API token of a test user with `role` (kiosk_ui.guard guards every page)."""
        from tests.conftest import issue_test_token

        if role not in self.tokens:
            self.tokens[role] = issue_test_token(self.app, role)
        return self.tokens[role]

    def page(self, browser, path: str, viewport: tuple[int, int] = (1280, 800), role: str = "admin"):
        """`path` opened in a fresh browser signed in as `role` (the URL's ?token= becomes a session)."""
        sep = "&" if "?" in path else "?"
        page = open_page(browser, f"{self.url}{path}{sep}token={self.token(role)}", viewport, self.contexts)
        return page

    @property
    def has_engine(self) -> bool:
        return self.hub.engine is not None

    def at(self, hhmm: str) -> int:
        """Move hub time to `hhmm` site time on the roster day."""
        ms = shift_time(self.site, hhmm)
        self.clock.set(ms)
        return ms

    def _send(self, device: str, event: wire.BaseModel) -> str:
        self.pub.publish(wire.event_topic(self.site.id, device), wire.encode(event)).wait_for_publish(10)
        return event.id  # type: ignore[attr-defined]

    def _common(self, device: str) -> dict[str, Any]:
        self.seqs[device] = self.seqs.get(device, 0) + 1
        return {"v": 1, "id": wire.new_event_id(), "device": device, "seq": self.seqs[device], "ts": self.clock.now_ms()}

    def tap(self, device: str, uid: str) -> str:
        """A card tapped at `device` (device time = hub time), reported as that device's reader
        sees it; returns the event id."""
        uid = read_by(self.site, device, uid)
        return self._send(device, wire.BadgeEvent(**self._common(device), type="badge", uid=uid, reader="badge"))

    def occupancy(self, device: str, occupied: bool) -> str:
        return self._send(device, wire.OccupancyEvent(**self._common(device), type="occupancy", occupied=occupied, sensor="seat"))

    def status(self, device: str, state: str = "online") -> None:
        msg = wire.Status(v=1, device=device, state=state, ts=self.clock.now_ms(), fw="test-1.0", config="cfg")
        self.pub.publish(wire.status_topic(self.site.id, device), wire.encode(msg), retain=True).wait_for_publish(10)

    def live_until(self, hhmm: str, devices: list[str], step_s: float = 30) -> int:
        """Move hub time to `hhmm` the way real time passes: `devices` heartbeat every `step_s`
        on the way (the engine treats a silent device as a data gap, never as evidence)."""
        end = shift_time(self.site, hhmm)
        while self.clock.now_ms() < end:
            self.clock.set(min(end, self.clock.now_ms() + int(step_s * 1000)))
            stored = self.store.count_events() + len(devices)
            self.send_all([self.event(d, "heartbeat", uptime_s=1000, spooled=0) for d in devices])
            # received before the clock moves on, as on a real floor: otherwise the hub would see
            # every heartbeat arrive late and judge the devices' clocks behind (DEV-CLOCK), and then
            # treat their taps as no data
            self.wait_until(lambda n=stored: self.store.count_events() >= n, what="the heartbeats stored")
        self.hub.ingest.wait_idle(WAIT_S)
        return end

    def wait_judged(self) -> None:
        """Wait until everything ingest stored is judged (the engine runs on its own thread and may
        be a batch behind ingest): a page opened after this shows the engine's view of now."""
        self.hub.ingest.wait_idle(WAIT_S)
        if self.has_engine:
            self.wait_until(lambda: self.hub.engine.progress()["pending"] == 0, what="the engine caught up")

    def settle(self) -> None:
        """Wait until the rule engine has published its first state of every seat, so updates a
        test publishes on the LiveBus come after (and stay the latest) with the clock frozen."""
        if not self.has_engine:
            return
        from kiosk_ui.feed import latest  # noqa: PLC0415

        with self.app.app_context():
            cache = latest()
        seats = [s.id for s in self.site.info.seats]
        self.wait_until(lambda: all(cache.get("seat", s) for s in seats), what="the engine's first seat states")
        self.hub.ingest.wait_idle(WAIT_S)

    def send_all(self, messages: list[tuple[str, bytes]]) -> None:
        """Publish many device messages at once (QoS 1) and wait until the hub has stored them all
        (the broker has them once publish_all returns; the hub, once its probe comes back)."""
        self.pub.publish_all(messages, timeout=WAIT_S * 4)
        ingest = getattr(self.hub, "ingest", None)
        if ingest is not None:
            assert ingest.drain(WAIT_S), "the hub did not receive what was sent"

    def event(self, device: str, type: str, **body: Any) -> tuple[str, bytes]:
        """(topic, payload) of one device event at the current hub time, for send_all."""
        model = {"badge": wire.BadgeEvent, "occupancy": wire.OccupancyEvent, "button": wire.ButtonEvent,
                 "inventory": wire.InventoryEvent, "heartbeat": wire.HeartbeatEvent}[type]
        return wire.event_topic(self.site.id, device), wire.encode(model(**self._common(device), type=type, **body))

    def status_msg(self, device: str, state: str = "online") -> tuple[str, bytes]:
        msg = wire.Status(v=1, device=device, state=state, ts=self.clock.now_ms(), fw="test-1.0", config="cfg")
        return wire.status_topic(self.site.id, device), wire.encode(msg)

    def wait_device_state(self, device: str, state: str) -> None:
        wait_until(lambda: any(r["device"] == device and r["state"] == state for r in self.store.devices()),
                   what=f"{device} {state} in the hub's device table")

    def rostered(self, shift: str = "day") -> list[tuple[Any, str, str]]:
        """(agent, badge uid, seat) for everyone on `shift` of the roster day."""
        agents = {a.employee_no: a for a in self.site.agents}
        return [(agents[r.employee_no], agents[r.employee_no].badges[0], r.seat)
                for r in self.site.roster if r.shift == shift]

    def get(self, path: str, role: str = "admin", timeout: float = 20) -> tuple[int, bytes]:
        req = urllib.request.Request(self.url + path, headers={"Authorization": f"Bearer {self.token(role)}"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def post_json(self, path: str, body: dict[str, Any], role: str = "admin") -> tuple[int, Any]:
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {self.token(role)}"})
        try:
            with urllib.request.urlopen(req, timeout=20) as resp:
                return resp.status, json.load(resp)
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")


def start_hub(site_dir, tmp_path, broker, *, start: str = "08:15", config: dict | None = None) -> RunningHub:
    site = load_site(site_dir)
    clock = ManualClock(shift_time(site, start))
    store = Store(tmp_path / "hub.db")
    hub = HubService(site, store, broker_host=broker.host, broker_port=broker.port, clock=clock, tick_s=0.5).start()
    app = create_app({"TESTING": True, **(config or {})}, hub=hub)
    server = WebServer(app).start()
    pub = Publisher(broker.host, broker.port)
    return RunningHub(site, store, hub, server, clock, pub)


def stop_hub(running: RunningHub) -> None:
    for context in running.contexts:  # open pages keep streaming and ticking: close them
        context.close()
    running.pub.close()
    running.server.stop()
    running.hub.stop()
    running.store.close()


@pytest.fixture
def floor_hub(site_dir, tmp_path, broker):
    """The whole floor running at 08:15 on the roster day (day shift 08:30-16:00)."""
    running = start_hub(site_dir, tmp_path, broker, config={"LIVE_KEEPALIVE_S": 1.0})
    yield running
    stop_hub(running)


@pytest.fixture
def hub_factory(tmp_path, broker):
    """`make(site_dir, start="08:15")`: a running hub for a site of the test's own making."""
    started: list[RunningHub] = []

    def make(site_dir, start: str = "08:15") -> RunningHub:
        work = tmp_path / f"hub{len(started)}"
        work.mkdir()
        started.append(start_hub(site_dir, work, broker, start=start, config={"LIVE_KEEPALIVE_S": 1.0}))
        return started[-1]

    yield make
    for running in started:
        stop_hub(running)


def open_page(browser, url: str, viewport: tuple[int, int] = (1280, 800), contexts: list | None = None):
    """A fresh browser context (no shared cookies) with the page loaded and its stream open;
    the context is added to `contexts` for whoever closes it."""
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, locale="zh-CN")
    if contexts is not None:
        contexts.append(context)
    context.set_default_timeout(WAIT_S * 1000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    page.wait_for_function("document.body.dataset.live === 'open'")
    page.js_errors = errors  # type: ignore[attr-defined]
    return page
