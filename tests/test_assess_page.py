"""The console's assessment page in headless Chromium: scores and grades, a row opens its
violations, a violation shows its evidence events, and the download links give the files."""

from __future__ import annotations

import codecs
import datetime as dt

import pytest

from hub.cards import seen_uid
from hub.engine.scenario import badge_of
from kiosk_ui import state
from kiosk_ui.server import WebServer
from tests.conftest import issue_test_token
from tests.test_exports_data import add_badge_event, add_violation, ensure_tables, local_ms

pytestmark = pytest.mark.browser
pytest_plugins = ["tests.ui_harness"]  # the session's one headless Chromium (fixture: browser)
WAIT_S = 25.0  # generous: several suites share two cores (importing ui_harness here would defeat its plugin rewrite)

# what the kiosk's desk reader (32 bits) reports for the cards sitegen gives 10001 and 10003
KIOSK_10001 = seen_uid(badge_of("10001"), 32)


@pytest.fixture
def served(app):
    with app.app_context():
        store, site = state.store(), state.site()
    ensure_tables(store)
    tz, day = site.tz, dt.date(2026, 11, 3)
    ev = add_badge_event(store, "kiosk-k1", KIOSK_10001, local_ms(tz, day, "08:25", 7), 1)
    for d in (3, 4, 5):
        add_violation(store, rule="ROLL-EARLY", kind="roll_call_late", employee_no="10001", team="T1",
                      date=f"2026-11-0{d}", start=local_ms(tz, dt.date(2026, 11, d), "08:25", 7), evidence=[ev])
    add_violation(store, rule="ROLL-ABSENT", kind="absent", employee_no="10003", team="T2", date="2026-11-06",
                  start=local_ms(tz, dt.date(2026, 11, 6), "09:00"), evidence=[], excused=1, excuse_reason="病假 sick")
    server = WebServer(app).start()
    yield server, issue_test_token(app, "admin")
    server.stop()


def test_scores_rows_evidence_and_download(browser, served, output_dir, tmp_path):
    server, token = served
    ctx = browser.new_context(viewport={"width": 1600, "height": 900}, accept_downloads=True)
    page = ctx.new_page()
    page.set_default_timeout(WAIT_S * 1000)
    try:
        page.goto(f"{server.url}/assessment?month=2026-11&token={token}")
        row = page.locator('tr.score-row[data-agent="10001"]')
        assert row.locator("td.score").inner_text() == "97"  # three roll-call lates at 1 point
        assert "优秀" in row.inner_text() and "ROLL-EARLY" in row.inner_text()  # third time: dismissal review
        assert "40.00" in row.inner_text()  # ¥10 + ¥30
        excused = page.locator('tr.score-row[data-agent="10003"]')
        assert excused.locator("td.score").inner_text() == "100"

        row.click()
        detail = page.locator("#" + row.get_attribute("aria-controls"))
        assert detail.is_visible()
        assert detail.locator("tbody tr").count() == 3
        detail.locator("button.ev").first.click()
        page.wait_for_selector(".ev-out li")
        evidence = detail.locator(".ev-out li").first.inner_text()
        assert "11-03 08:25:07" in evidence and "kiosk-k1" in evidence and "badge" in evidence
        page.screenshot(path=str(output_dir / "assessment.png"), full_page=True)

        with page.expect_download() as dl:
            page.click("#dl-csv")
        path = tmp_path / "assessment.csv"
        dl.value.save_as(path)
        assert dl.value.suggested_filename.endswith("_assessment_2026-11.csv")
        data = path.read_bytes()
        assert data.startswith(codecs.BOM_UTF8) and "得分".encode() in data
    finally:
        ctx.close()
