"""Several sites in one PostgreSQL database (issue 16): each site's hubs keep their tables in a
schema of their own, named by the URL's search_path, and headquarters (/hq, role manager) reads
them side by side: today's roll call in each site's own zone, the month's violations, one export."""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest

from hub.engine.scenario import ScriptedFloor, badge_of, scenario_site
from hub.month_at_glance import DayCounts
from hub.store import IncomingEvent, Store
from hub.store.backend import schema_url
from hub.store.derived import DerivedStore
from hub.store.lease import EngineLease
from kiosk_ui import create_app
from kiosk_ui.server import WebServer
from tests.conftest import issue_test_token

pytest_plugins = ["tests.ui_harness"]  # the session's one headless Chromium (fixture: browser)


def _event(device: str, seq: int) -> IncomingEvent:
    return IncomingEvent(f"00000000-0000-4000-8000-{seq:012x}", device, seq, 1_000 + seq, 2_000 + seq, "heartbeat",
                         True, {"uptime_s": seq, "spooled": 0})


def test_two_sites_share_a_database_in_schemas_of_their_own(pg_url):
    a, b = Store(schema_url(pg_url, "site_a")), Store(schema_url(pg_url, "site_b"))
    try:
        assert len(a.append_events([_event("seat-a01", 1), _event("seat-a01", 2)])) == 2
        assert len(b.append_events([_event("seat-a01", 1)])) == 1  # the same device id and seq: another site's
        assert (a.count_events(), b.count_events()) == (2, 1)
        assert [e.seq for e in b.recent_events()] == [1]
        assert a.conn.write_key != b.conn.write_key  # their writers do not queue behind each other
        la, lb = EngineLease(a, "a", "hub1"), EngineLease(b, "b", "hub1")  # an engine each
        assert la.try_acquire() and lb.try_acquire()
        la.release()
        lb.release()
    finally:
        a.close()
        b.close()


SITES = (("sh", "Asia/Shanghai", "08:25"), ("ny", "America/New_York", "08:10"))  # id, zone, 10001's tap
SITES_TAPS = [(site_id, tap) for site_id, _, tap in SITES]


@pytest.fixture
def two_sites(pg_url, tmp_path):
    """Two sites judged today (each in its own zone) in one database; the web app of the first."""
    expected = {}
    for site_id, tz, tap in SITES:
        day = dt.datetime.now(ZoneInfo(tz)).date()
        site = scenario_site(tmp_path / site_id, day=day, tz=tz, site_id=site_id)
        store = Store(schema_url(pg_url, f"site_{site_id}"))
        store.describe_site(site.id, site.info.name, site.info.timezone)
        f = ScriptedFloor(site, store, day=day, start="07:30")
        f.roster([("10001", "day", "A01"), ("10002", "day", "A02"), ("10003", "day", "A03")])
        f.tap("kiosk-k1", badge_of("10001"), tap)
        f.tap("kiosk-k1", badge_of("10002"), "08:05")
        f.sit("seat-a01", badge_of("10001"), "08:30", "12:00")
        f.sit("seat-a02", badge_of("10002"), "08:20", "16:30")
        f.play("17:00")
        derived = DerivedStore(store)
        counts = DayCounts(day.isoformat())
        for row in derived.attendance(day.isoformat()):
            counts.add(row["rollcall"], 1)
        rules: dict[str, int] = {}
        for v in derived.violations(limit=10_000):
            if v["date"][:7] == day.strftime("%Y-%m") and not v["excused"]:
                rules[v["rule"]] = rules.get(v["rule"], 0) + 1
        expected[site_id] = (day, counts, dict(sorted(rules.items())), len(derived.attendance(day.isoformat())))
        store.close()
    app = create_app({"TESTING": True, "DATABASE": schema_url(pg_url, "site_sh"), "SITE_DIR": str(tmp_path / "sh")})
    return app, expected


def test_headquarters_sees_each_site_as_its_own_tables_say(two_sites):
    app, expected = two_sites
    manager = app.test_client()
    manager.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {issue_test_token(app, 'manager')}"
    month = expected["sh"][0].strftime("%Y-%m")
    body = manager.get(f"/hq.json?month={month}").get_json()
    assert [s["site"] for s in body["sites"]] == ["ny", "sh"]
    for s in body["sites"]:
        day, counts, rules, rows = expected[s["site"]]
        assert s["today"] == day.isoformat()  # the site's own date, not the host's
        assert s["rollcall_today"] == {"date": day.isoformat(), "on_time": counts.on_time, "late": counts.late,
                                       "absent": counts.absent, "leave": counts.leave}
        if day.strftime("%Y-%m") == month:
            assert s["violations"] == rules
    assert expected["sh"][1].late == 1 and expected["ny"][1].late == 0  # the sites differ where they should
    assert manager.get("/hq.json?month=2026-13").status_code == 400

    data = manager.get(f"/hq/attendance.csv?month={month}").data.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(data)))  # the site's attendance export, a site column first
    for site_id, (day, _, _, n) in expected.items():
        if day.strftime("%Y-%m") == month:
            assert sum(1 for r in rows if r["站点"] == site_id) == n
            first = {r["工号"]: r["首次到达"] for r in rows if r["站点"] == site_id}
            tap = dict(SITES_TAPS)[site_id]  # 10001's kiosk tap, in that site's own zone
            assert first["10001"] == f"{day.isoformat()} {tap}:00"

    lead = app.test_client()
    lead.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {issue_test_token(app, 'lead')}"
    assert lead.get("/hq.json").status_code == 403


@pytest.mark.browser
def test_the_hq_page_shows_the_sites_side_by_side_in_chromium(two_sites, browser, output_dir):
    app, expected = two_sites
    server = WebServer(app).start()
    ctx = browser.new_context(viewport={"width": 1200, "height": 900})
    page = ctx.new_page()
    try:
        page.goto(f"{server.url}/hq?token={issue_test_token(app, 'manager')}")
        assert page.locator("h1").inner_text().startswith("总部")
        assert page.locator("article.site").count() == 2
        sh = page.locator("article.site[data-site='sh']")
        assert f"迟到 {expected['sh'][1].late}" in sh.locator(".rollcall").inner_text()
        assert page.locator("#chart-punctuality svg").count() == 1
        assert "/hq/attendance.csv?month=" in page.locator("#hq-export").get_attribute("href")
        page.screenshot(path=str(output_dir / "hq.png"), full_page=True)
    finally:
        ctx.close()
        server.stop()
