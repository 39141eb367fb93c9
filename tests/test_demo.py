"""`floorwatch demo` end to end, as a new user meets it: one command, then the health page fills
with simulated devices, a hand-written event sent with mosquitto_pub shows up once however often
it is sent, junk is quarantined, and Ctrl-C leaves no process behind."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import signal
import sqlite3
import subprocess
import time
import urllib.request
import uuid
from zoneinfo import ZoneInfo

import psutil
import pytest

from tests.demo_proc import hub_now, live, start_demo, stop_demo
from tests.waiting import wait_until as poll

pytestmark = pytest.mark.slow


def get(url: str, token: str | None = None):
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())



@pytest.fixture
def demo(tmp_path):
    info = start_demo(tmp_path)
    yield info
    stop_demo(info)


def test_demo_runs_the_whole_path_and_stops_cleanly(demo):
    web, token = demo["web"], demo["token"]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", web)
    assert re.fullmatch(r"127\.0\.0\.1:\d+", demo["mqtt"])
    assert demo["db"].endswith("floorwatch.db")
    host, port = demo["mqtt"].split(":")
    health = poll(lambda: (h := get(f"{web}/api/health")) and h["devices"]["online"] >= 20 and h, timeout=15)
    assert health, "fewer than 20 devices online within 15 s"
    assert time.monotonic() - demo["started"] < 30
    devices = {e["device"] for e in get(f"{web}/api/events?limit=5000", token)}
    assert len(devices) >= 20

    # A third-party device, written by hand, sent twice: stored once.
    event = {"v": 1, "id": str(uuid.uuid4()), "device": "handmade-1", "seq": 1, "ts": int(time.time() * 1000),
             "type": "badge", "uid": "DEADBEEF01", "reader": "desk"}
    pub = [shutil.which("mosquitto_pub") or "mosquitto_pub", "-h", host, "-p", port, "-q", "1"]
    topic = "fw/v1/example/handmade-1/event"
    for _ in range(2):
        subprocess.run([*pub, "-t", topic, "-m", json.dumps(event)], check=True)
    rows = poll(lambda: get(f"{web}/api/events?device=handmade-1", token))
    time.sleep(1)
    rows = get(f"{web}/api/events?device=handmade-1", token)
    assert [(r["event_id"], r["seq"]) for r in rows] == [(event["id"], 1)]

    # Junk: bad JSON, a wrong type, a device that does not match its topic.
    before = get(f"{web}/api/health")["quarantined"]
    subprocess.run([*pub, "-t", topic, "-m", "{oops"], check=True)
    subprocess.run([*pub, "-t", topic, "-m", json.dumps({**event, "seq": "two"})], check=True)
    subprocess.run([*pub, "-t", "fw/v1/example/handmade-2/event", "-m", json.dumps({**event, "seq": 2})], check=True)
    assert poll(lambda: get(f"{web}/api/health")["quarantined"] == before + 3)
    assert demo["proc"].poll() is None
    assert get(f"{web}/api/health")["status"] == "ok"

    # Ctrl-C stops everything, the broker included.
    children = psutil.Process(demo["proc"].pid).children(recursive=True)
    assert any("mosquitto" in c.name() for c in children)
    demo["proc"].send_signal(signal.SIGINT)
    assert demo["proc"].wait(20) == 0
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive



# ---------------------------------------------------------------- a demo on any day, in any host zone

SITE_TZ = ZoneInfo("Asia/Shanghai")  # the demo site's zone
ROLL_CALL = {"on_time", "roll_call_late", "late"}  # the kiosk's roll-call verdicts (kiosk.js)
JUDGED = ROLL_CALL | {"absent"}
SPEED = "300"  # 40 simulated minutes before the first shift take 8 s


def zone_off_the_site_date(now: dt.datetime) -> str:
    """A host zone whose calendar date differs from the site's at `now` (there is one at any hour:
    Los Angeles is 16 h behind Shanghai, Pago Pago 19 h, Kiritimati 6 h ahead)."""
    site_day = now.astimezone(SITE_TZ).date()
    for name in ("America/Los_Angeles", "Pacific/Pago_Pago", "Pacific/Kiritimati"):
        if now.astimezone(ZoneInfo(name)).date() != site_day:
            return name
    raise AssertionError("no candidate zone differs from the site's date")


def kiosk_taps(web: str, token: str, until: float):
    yield from (data for event, data in live(web, token, until) if event == "tap")


def first_roll_call_verdict(web: str, token: str, timeout: float = 60) -> tuple[dict | None, list[str]]:
    """The first tap at the kiosk by a known agent that shows a roll-call verdict, and every
    verdict seen until then (e.g. no_shift: 今日无排班); gives up after ten agents' taps."""
    seen: list[str] = []
    try:
        for tap in kiosk_taps(web, token, time.monotonic() + timeout):
            if tap.get("agent") and not tap.get("repeat"):
                seen.append(tap["verdict"])
                if tap["verdict"] in ROLL_CALL:
                    return tap, seen
                if len(seen) >= 10:
                    break
    except TimeoutError:
        pass
    return None, seen


def judged(web: str, token: str) -> list[dict]:
    return [r for r in get(f"{web}/api/rollcall", token) if not r["unrostered"] and r["status"] in JUDGED]


def assert_demo_judges(info: dict, site_days: set[dt.date]) -> None:
    """A rostered agent's tap shows a roll-call verdict at the kiosk, and roll call judges at
    least 20 agents, on the site's day (one of `site_days`)."""
    web, token = info["web"], info["token"]
    tap, seen = first_roll_call_verdict(web, token)
    assert tap is not None, f"no roll-call verdict at the kiosk; agents' taps said {seen}"
    site_day = dt.date.fromisoformat(tap["shift"]["date"])
    assert site_day in site_days, tap
    first_start = min(r["start"] for r in get(f"{web}/api/rollcall", token) if r["start"] is not None)
    assert poll(lambda: hub_now(web, token) > first_start, timeout=60), "the first shift never started"
    rows = poll(lambda: (j := judged(web, token)) and len(j) >= 20 and j, timeout=30)
    board = get(f"{web}/api/rollcall", token)
    assert rows, f"roll call judged fewer than 20 agents: {sorted((r['status'], r['unrostered']) for r in board)}"
    assert {r["date"] for r in rows} == {site_day.isoformat()}
    # the simulated devices' clocks are synchronised: at 300x a few ms of real transit must not
    # read as a clock behind (the skew limit scales with the demo's speed)
    clocks = get(f"{web}/api/violations?rule=DEV-CLOCK", token)
    assert not clocks, clocks[:3]


# A Sunday, a public holiday (国庆节) and an ordinary Wednesday, none near the shipped roster's
# date; each under a host zone whose date differs from the site's when the floor opens. A date
# alone opens the floor 40 minutes before that day's first shift; a time without an offset is
# the site's.
ANY_DAY = [
    pytest.param("2027-04-18", "UTC", dt.date(2027, 4, 18), id="sunday-utc"),
    pytest.param("2027-10-01", "America/Los_Angeles", dt.date(2027, 10, 1), id="national-day-los-angeles"),
    pytest.param("2027-03-10T08:05", "America/Los_Angeles", dt.date(2027, 3, 10), id="wednesday-0805-los-angeles"),
]


@pytest.mark.parametrize(("start", "host_tz", "site_day"), ANY_DAY)
def test_demo_judges_roll_call_on_any_day_in_any_host_zone(tmp_path, start, host_tz, site_day):
    opens = dt.datetime.combine(site_day, dt.time(7, 50), SITE_TZ)
    assert opens.astimezone(ZoneInfo(host_tz)).date() != site_day  # the case is the one users meet
    info = start_demo(tmp_path, "--start", start, "--speed", SPEED, env={"TZ": host_tz})
    try:
        assert_demo_judges(info, {site_day})
        # the floor opens when the demo says it does: starting the hub, web app and agents takes
        # no demo time (at 300x a few seconds of start-up would eat half an hour of the morning)
        day, _, hhmm = info["lines"]["clock"].split()[:3]
        opened = dt.datetime.combine(dt.date.fromisoformat(day), dt.time.fromisoformat(hhmm), SITE_TZ)
        with sqlite3.connect(f"file:{info['db']}?mode=ro", uri=True) as db:
            first = db.execute("SELECT min(ts) FROM events").fetchone()[0]
        assert 0 <= first - opened.timestamp() * 1000 <= 60_000, (first, opened)
    finally:
        stop_demo(info)


def test_demo_started_now_judges_the_sites_today_whatever_the_hosts_date(tmp_path):
    """No --start: the real clock, under a host zone whose date is not the site's right now
    (the reported bug: 今日无排班 for every tap from 16:00 to 24:00 on a UTC host)."""
    now = dt.datetime.now(dt.UTC)
    info = start_demo(tmp_path, "--speed", SPEED, env={"TZ": zone_off_the_site_date(now)})
    try:
        assert_demo_judges(info, {now.astimezone(SITE_TZ).date(), dt.datetime.now(SITE_TZ).date()})  # midnight may pass
    finally:
        stop_demo(info)


def test_the_site_date_and_the_demo_start_are_read_in_the_sites_zone():
    from hub.demo import Opening, parse_start
    from hub.sitegen import site_today

    evening_utc = int(dt.datetime(2026, 11, 30, 16, 21, tzinfo=dt.UTC).timestamp() * 1000)
    assert site_today("Asia/Shanghai", evening_utc) == dt.date(2026, 12, 1)  # the 00:21
    assert site_today("America/Los_Angeles", evening_utc) == dt.date(2026, 11, 30)
    assert parse_start("2027-02-07") == Opening(dt.date(2027, 2, 7))
    eight = int(dt.datetime(2027, 2, 7, 0, 0, tzinfo=dt.UTC).timestamp() * 1000)
    assert parse_start("2027-02-07T08:00") == Opening(dt.date(2027, 2, 7), eight)
    assert parse_start("2027-02-06T17:00Z") == Opening(dt.date(2027, 2, 7), eight - 7 * 3_600_000)  # 01:00 site time
    with pytest.raises(ValueError, match="not an ISO date"):
        parse_start("7 Feb")
