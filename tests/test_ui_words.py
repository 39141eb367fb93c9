"""No page shows a person `null`, `undefined`, `NaN` or `None`: headless Chromium walks every page
(kiosk with a tap's verdict, floor map with a seat inspected, console, assessment, the month roster
grid with a day's form open, home) in both languages, on the demo as a user runs it: a subprocess
playing a whole morning on another day, so the pages meet what a real floor produces (late and
absent agents, empty zones, breaks)."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import urllib.request
from zoneinfo import ZoneInfo

import pytest

from tests.demo_proc import hub_now, start_demo, stop_demo

pytest_plugins = ["tests.ui_harness"]
pytestmark = pytest.mark.slow

WORDS = re.compile(r"\b(null|undefined|NaN|None)\b|\{\w+\}")  # and a placeholder left unfilled
LANGS = ("zh_CN", "en")
DAY = dt.date(2027, 4, 18)  # a Sunday, far from the shipped roster
SITE_TZ = ZoneInfo("Asia/Shanghai")
WAIT_S = 25.0  # as tests.ui_harness: several suites share two cores


def site_ms(hhmm: str) -> int:
    return int(dt.datetime.combine(DAY, dt.time.fromisoformat(hhmm), SITE_TZ).timestamp() * 1000)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    info = start_demo(tmp_path_factory.mktemp("words"), "--start", DAY.isoformat(), "--speed", "300")
    yield info
    stop_demo(info)


def visible_words(page) -> list[str]:
    """Lines of visible text (and the title) holding a programming word or a "{name}" placeholder
    instead of text."""
    text = page.title() + "\n" + page.inner_text("body")
    return [line.strip() for line in text.splitlines() if WORDS.search(line)]


def open_page(browser, demo: dict, path: str, lang: str, viewport=(1280, 800)):
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]},
                                  locale="zh-CN" if lang == "zh_CN" else "en-GB")
    context.set_default_timeout(WAIT_S * 1000)
    page = context.new_page()
    page.js_errors = []
    page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
    sep = "&" if "?" in path else "?"
    page.goto(f"{demo['web']}{path}{sep}lang={lang}&token={demo['token']}")
    return page


def zone_empty(demo: dict) -> list[dict]:
    """The demo day's FAC-ZONE-EMPTY violations, from the API."""
    req = urllib.request.Request(f"{demo['web']}/api/violations?rule=FAC-ZONE-EMPTY&from={DAY}&to={DAY}",
                                 headers={"Authorization": f"Bearer {demo['token']}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)


def check(page, what: str) -> None:
    assert visible_words(page) == [], f"{what} shows a programming word to a person"
    assert page.js_errors == [], f"{what}: {page.js_errors}"
    page.context.close()


def test_the_kiosk_shows_no_programming_words_idle_or_after_a_tap(browser, demo):
    pages = {lang: open_page(browser, demo, "/kiosk/kiosk-k1?clear=600", lang, (800, 480)) for lang in LANGS}
    for lang, page in pages.items():
        assert visible_words(page) == [], f"idle kiosk ({lang})"
    for lang, page in pages.items():  # agents tap from 08:10: a verdict stays up (clear=600)
        page.wait_for_function("document.body.dataset.mode === 'result'", timeout=60_000)
        verdict = page.get_attribute("#result", "data-verdict")
        assert verdict != "no_shift", page.inner_text("#result")
        check(page, f"the kiosk after a tap ({lang}, {verdict})")


def test_floor_console_assessment_and_home_show_no_programming_words(browser, demo):
    # 09:10: roll call closed (absences judged at 09:00), the zones were empty before 08:10
    until = time.monotonic() + 90
    while hub_now(demo["web"], demo["token"]) < site_ms("09:10"):
        assert time.monotonic() < until, "the demo's clock did not reach 09:10"
        time.sleep(1)
    for lang in LANGS:
        page = open_page(browser, demo, "/floor", lang, (1920, 1080))
        page.wait_for_function("document.body.dataset.live === 'open'")
        page.wait_for_selector("g.seat:not(.st-no_data)")
        page.click('g.seat[data-seat="A01"]')
        page.wait_for_selector("#inspect-events li:not(.none)")
        check(page, f"the floor map with a seat inspected ({lang})")

        page = open_page(browser, demo, "/console", lang, (1920, 1080))
        page.wait_for_function("document.body.dataset.live === 'open'")
        page.wait_for_selector("#violations li[data-rule]")
        # a zone's words ("Zone A"), when the random floor left a zone empty long enough; under
        # load the floor may be seated before the 15 minutes are up, and then there is none
        if zone_empty(demo):
            page.wait_for_selector('#violations li[data-rule="FAC-ZONE-EMPTY"]')
            assert re.search(r"Zone [AB]", page.inner_text('#violations li[data-rule="FAC-ZONE-EMPTY"] >> nth=0'))
        page.wait_for_selector('#board [data-status="on_time"] li')  # judged (the demo floor is random: maybe nobody is absent)
        ev = page.locator("#violations .ev-btn").first
        if ev.count():
            ev.click()
            page.wait_for_selector("#violations ol.evidence li")
        check(page, f"the console ({lang})")

        page = open_page(browser, demo, "/assessment", lang, (1920, 1080))
        assert DAY.strftime("%Y-%m") in page.title(), "the assessment opens on the demo's month"
        check(page, f"the assessment ({lang})")

        page = open_page(browser, demo, "/", lang)
        check(page, f"the home page ({lang})")


def test_the_month_roster_grid_shows_no_programming_words(browser, demo):
    for lang in LANGS:
        page = open_page(browser, demo, "/console/roster", lang, (1920, 1080))
        page.wait_for_function("document.body.dataset.ready === '1'")
        assert DAY.strftime("%Y-%m") in page.title(), "the grid opens on the demo's month"
        assert page.locator("td.cell[data-code=day]").count() > 0, "the demo's rotations fill the grid"
        page.locator(f'td.cell[data-date="{DAY.isoformat()}"]').first.click()  # the override form
        page.wait_for_selector("#cell-dialog[open]")
        check(page, f"the month roster grid with a day's form open ({lang})")
        page = open_page(browser, demo, "/console/roster?month=2027-05", lang, (1920, 1080))
        page.wait_for_function("document.body.dataset.ready === '1'")
        page.click("#plan-propose")
        page.wait_for_function("document.body.classList.contains('draft')")
        assert page.locator("#plan-report").inner_text().startswith("roster plan 2027-05")
        check(page, f"a proposed month under review ({lang})")


def test_the_sign_in_page_shows_no_programming_words(browser, demo):
    for lang in LANGS:
        with urllib.request.urlopen(f"{demo['web']}/auth/login?lang={lang}", timeout=10) as resp:
            assert resp.status == 200
        page = open_page(browser, demo, "/auth/login", lang)
        check(page, f"the sign-in page ({lang})")
