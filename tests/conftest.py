"""Shared fixtures. Every MQTT test talks to a real mosquitto that the suite starts itself on a
free port with a generated config; nothing here depends on a broker the machine may run."""

from __future__ import annotations

import datetime as dt
import itertools
import os
from pathlib import Path

import pytest

from hub.broker import MosquittoBroker
from hub.engine.scenario import ScriptedFloor, scenario_site
from hub.site import load_site
from hub.sitegen import generate_site
from hub.store import Store

OUTPUT_DIR = Path(os.environ.get("FLOORWATCH_TEST_OUTPUT", Path(__file__).resolve().parent.parent / "test-output"))


@pytest.fixture(scope="session")
def output_dir() -> Path:
    """Artifacts the tests leave for people (screenshots, exported files)."""
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    return OUTPUT_DIR


@pytest.fixture(scope="session")
def broker(tmp_path_factory):
    """One mosquitto for the session (tests use distinct site ids or client ids to stay apart)."""
    b = MosquittoBroker(tmp_path_factory.mktemp("broker")).start()
    yield b
    b.close()


@pytest.fixture
def fresh_broker(tmp_path):
    """A broker of this test's own, for tests that stop, kill or restart it."""
    b = MosquittoBroker(tmp_path / "broker").start()
    yield b
    b.close()


@pytest.fixture(scope="session")
def pg_cluster(tmp_path_factory):
    """One private PostgreSQL server for the session (never the machine's own service); tests keep
    apart by each taking a database of its own (pg_url)."""
    from tests.pg_cluster import PostgresCluster  # here, so a suite without psycopg still imports

    c = PostgresCluster(tmp_path_factory.mktemp("pg")).start()
    yield c
    c.close()


@pytest.fixture
def pg_url(pg_cluster) -> str:
    """The URL of a fresh, empty database of this test's own."""
    return pg_cluster.create_database("t_" + os.urandom(6).hex())


@pytest.fixture
def mock_pins():
    """gpiozero's mock pin factory for every device a test builds (GPIO without a Pi)."""
    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory

    Device.pin_factory = MockFactory()
    yield Device.pin_factory
    Device.pin_factory.reset()
    Device.pin_factory = None


@pytest.fixture
def site_dir(tmp_path) -> Path:
    """A small generated site (8 seats, 2 zones) rostered for the site's today (its zone's date, not
    the host's), with simulated devices."""
    return generate_site(tmp_path / "site", site="t" + os.urandom(3).hex(), seats=8, zones=2,
                         sim_devices=True)


@pytest.fixture
def site(site_dir):
    return load_site(site_dir)


@pytest.fixture
def store(new_store):
    """A fresh hub database, on each backend in turn."""
    return new_store()


@pytest.fixture
def app_store(tmp_path):
    """The `app` fixture's own database (SQLite), for tests that write what the app then reads."""
    s = Store(tmp_path / "hub.db")
    yield s
    s.close()


@pytest.fixture
def app(site_dir, tmp_path):
    from kiosk_ui import create_app

    return create_app({"TESTING": True, "DATABASE": str(tmp_path / "hub.db"), "SITE_DIR": str(site_dir)})


def issue_test_token(app, role: str = "admin", **user: object) -> str:
    """An API token for a test user of `role` on `app` (kiosk_ui.guard is on in every app).

    Send it as `Authorization: Bearer <token>`, or open a page with `?token=<token>` in a browser
    (the guard swaps it for a session cookie). A lead leads the site's first team unless `teams`
    is given; a kiosk is bound to the site's first kiosk device unless `device` is given.
    """
    from kiosk_ui import state

    acc = app.extensions["floorwatch.auth"].accounts
    with app.app_context():
        site = state.site()
    if role == "lead":
        user.setdefault("teams", [sorted({a.team for a in site.agents})[0]])
    if role == "kiosk":
        user.setdefault("device", next(d for d, c in sorted(site.devices.items()) if c.role == "kiosk"))
    name = f"test-{role}-" + "-".join(str(v) for v in user.values()).replace(",", "-")[:40]
    name = "".join(c if c.isalnum() or c in "._-" else "-" for c in name).rstrip("-")
    if acc.db.user_by_name(name) is None:
        acc.add_user(name, role, **user)  # no password: tests sign in with tokens
    return acc.issue_token(name, "tests")


def _client_as(app, role: str):
    c = app.test_client()
    c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {issue_test_token(app, role)}"
    return c


@pytest.fixture
def client(app):
    """A test client signed in as an admin (Authorization: Bearer), so it may call everything."""
    return _client_as(app, "admin")


@pytest.fixture
def anon_client(app):
    """A test client nobody signed in to."""
    return app.test_client()


@pytest.fixture
def lead_client(app):
    """Signed in as the lead of the site's first team."""
    return _client_as(app, "lead")


@pytest.fixture
def facilities_client(app):
    return _client_as(app, "facilities")


@pytest.fixture
def kiosk_client(app):
    """Signed in as the display of the site's first kiosk device."""
    return _client_as(app, "kiosk")


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


BACKENDS = ("sqlite", "postgresql")  # the store backends (hub.store.backend)
SCENARIO_DAY = dt.date(2026, 3, 10)  # a Tuesday: the rule scenarios' day (their expectations are exact)


@pytest.fixture(params=BACKENDS)
def new_db(request, tmp_path):
    """new_db(): where a fresh hub database goes, on each backend in turn (a SQLite file path, a new
    database's URL on the private PostgreSQL server)."""
    made = itertools.count()

    def make() -> Path | str:
        if request.param == "postgresql":
            return request.getfixturevalue("pg_cluster").create_database("t_" + os.urandom(6).hex())
        return tmp_path / f"hub-{next(made)}.db"

    return make


@pytest.fixture
def new_store(new_db):
    """new_store(): a fresh, empty hub database on each backend in turn: the store and engine
    suites run on both."""
    stores: list[Store] = []

    def make() -> Store:
        stores.append(Store(new_db()))
        return stores[-1]

    yield make
    for s in stores:
        s.close()


@pytest.fixture
def make_floor(tmp_path, new_store):
    """make(day=, tz=, start=, **ScriptedFloor options): a scripted shift on a fresh scenario site
    and store (several per test when a scenario compares two floors), on each backend."""
    stores: list[Store] = []

    def make(day: dt.date = SCENARIO_DAY, tz: str = "Asia/Shanghai", start: str = "07:30", **options) -> ScriptedFloor:
        site = scenario_site(tmp_path / f"site-{len(stores)}", day=day, tz=tz)
        store = new_store()
        stores.append(store)
        return ScriptedFloor(site, store, day=day, start=start, **options)

    return make


@pytest.fixture
def floor(make_floor):
    """One scripted shift on SCENARIO_DAY, the floor opening at 07:30."""
    return make_floor()
