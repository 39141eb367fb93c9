"""The console's month grid in headless Chromium against a running hub on a copy of the example
site: a rotation's known cells, the site calendar's holidays, coverage under the grid, and a
lead's click on a cell that overrides the day (audited) or records a swap (换班记录)."""

from __future__ import annotations

import hashlib
import shutil

import pytest

from hub.site import example_site_dir
from hub.store.derived import DerivedStore
from hub.store.rosters import RosterStore
from tests.ui_harness import WAIT_S

pytest_plugins = ["tests.ui_harness"]  # fixtures: browser, hub_factory

pytestmark = pytest.mark.browser


@pytest.fixture
def example_hub(hub_factory, tmp_path):
    root = tmp_path / "example"
    shutil.copytree(example_site_dir(), root)
    return hub_factory(root)  # hub time: 08:15 on the example roster's day, 2026-11-30


def open_grid(browser, hub, query: str = "", role: str = "lead"):
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    hub.contexts.append(context)
    context.set_default_timeout(WAIT_S * 1000)
    page = context.new_page()
    page.js_errors = []
    page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
    page.goto(f"{hub.url}/console/roster?{query}&token={hub.token(role)}")
    page.wait_for_function("document.body.dataset.ready === '1'")
    return page


def code(page, emp: str, date: str) -> str:
    return page.get_attribute(f'td.cell[data-emp="{emp}"][data-date="{date}"]', "data-code")


def override(page, emp: str, date: str, kind: str, signed: bytes | None = None, **fields: str) -> str:
    page.click(f'td.cell[data-emp="{emp}"][data-date="{date}"]')
    form = page.locator("#cell-form")
    form.locator("select[name=kind]").select_option(kind)
    if signed is not None:
        form.locator("input[name=form]").set_input_files(
            files=[{"name": "换班记录表.pdf", "mimeType": "application/pdf", "buffer": signed}])
    for name, value in fields.items():
        field = form.locator(f"[name={name}]")
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    form.locator("button[type=submit]").click()
    page.wait_for_function("() => document.querySelector('#cell-form output').textContent !== ''")
    return form.locator("output").inner_text()


def test_the_month_grid_shows_the_rotation_and_a_click_overrides_a_day(browser, example_hub):
    hub = example_hub
    page = open_grid(browser, hub)  # no ?month=: the hub clock's month, site time
    assert "2026-11" in page.title()
    # 10001 (白晚班轮换·做六休一, phase 3 from 2026-01-01): nights to 11-28, rest 11-29
    assert [code(page, "10001", f"2026-11-{d}") for d in (26, 27, 28, 29)] == ["night", "night", "night", "rest"]
    assert page.inner_text('td.cell[data-emp="10001"][data-date="2026-11-27"]') == "晚班"
    assert page.inner_text('td.cell[data-emp="10001"][data-date="2026-11-29"]') == "休"
    assert page.locator("#grid tbody tr").count() == 80  # every agent of the floor (leads are not rostered)
    assert page.locator("#coverage tbody tr").count() == 15  # floor targets "08-23": 08:00 to 23:00 (rules.toml)

    # a rest-day override: the cell turns to rest, the audit trail has the lead's row
    assert override(page, "10001", "2026-11-27", "rest", reason="调休") .startswith("已记录")
    page.wait_for_function("() => document.querySelector("
                           "'td.cell[data-emp=\"10001\"][data-date=\"2026-11-27\"]').dataset.code === 'rest'")
    audit = DerivedStore(hub.store).audit_rows(1)[0]
    assert (audit["action"], audit["target"], audit["details"]["date"], audit["details"]["kind"]) == (
        "roster.rest", "10001", "2026-11-27", "rest")
    assert audit["actor"] not in ("", "unknown")

    # a bad input is refused with the field named, and nothing changes
    text = override(page, "10001", "2026-11-29", "extra", shift="day", seat="Z99", reason="加班")
    assert "seat" in text and "Z99" in text
    page.click("#cell-cancel")
    assert code(page, "10001", "2026-11-29") == "rest"

    # a swap approved from the grid is the 换班记录 the engine reads
    signed = "%PDF-1.4\n% 换班记录表, signed by 10001 and 10041\n%%EOF\n".encode()
    text = override(page, "10001", "2026-11-26", "swap", signed=signed, shift="night", to_employee_no="10041")
    assert text.startswith("已记录"), text
    page.wait_for_function("() => document.querySelector("
                           "'td.cell[data-emp=\"10041\"][data-date=\"2026-11-26\"]').dataset.code === 'day+night'")
    swaps = DerivedStore(hub.store).plans_for(["2026-11-26"])["swaps"]
    assert [(s["shift"], s["from_employee_no"], s["to_employee_no"]) for s in swaps] == [("night", "10001", "10041")]
    # the signed 换班记录表 went with it, and the cell's dialog links to it
    forms = RosterStore(hub.store).swap_forms(["2026-11-26"])
    assert [(f["shift"], f["from_employee_no"], f["sha256"]) for f in forms] == [
        ("night", "10001", hashlib.sha256(signed).hexdigest())]
    page.click('td.cell[data-emp="10041"][data-date="2026-11-26"]')
    link = page.locator("#cell-forms a.signed-form")
    assert link.count() == 1 and link.get_attribute("href").endswith(forms[0]["sha256"])
    page.click("#cell-cancel")
    assert page.js_errors == []


def test_holidays_come_from_the_site_calendar_and_a_lead_acts_on_their_own_teams_only(browser, example_hub):
    hub = example_hub
    page = open_grid(browser, hub, "month=2026-10&lang=en")
    assert page.get_attribute('#grid th[data-date="2026-10-01"]', "class") == "day-holiday"  # 国庆节
    assert page.get_attribute('#grid th[data-date="2026-10-10"]', "class") == "day-workday"  # 调休上班 Saturday
    assert page.get_attribute('#grid th[data-date="2026-10-11"]', "class") == "day-weekend"
    assert page.js_errors == []
    status, _ = hub.post_json("/console/roster/override", {"kind": "rest", "date": "2026-12-02",
                                                           "employee_no": "10023", "reason": "调休"}, role="lead")
    assert status == 403  # 10023 is in T2; the lead leads T1
    status, body = hub.post_json("/console/roster/override", {"kind": "holiday", "date": "2026-12-02",
                                                              "employee_no": "10001"}, role="lead")
    assert status == 400 and '"kind"' in body
    status, body = hub.get("/console/roster/month.json?month=2026-13", role="lead")
    assert status == 400 and b"month" in body


def test_a_lead_proposes_reviews_and_publishes_a_month(browser, example_hub):
    """Propose → review (draft cells, coverage underneath, fairness at the side, the planner's
    report) → publish (audited); the published month then changes only through overrides."""
    hub = example_hub
    page = open_grid(browser, hub, "month=2026-12")
    assert page.is_visible("#plan-propose") and page.is_hidden("#plan-publish")
    page.click("#plan-propose")
    page.wait_for_function("document.body.classList.contains('draft')")
    assert page.inner_text("#grid-state") == "草案：未发布"
    report = page.inner_text("#plan-report")
    assert "fairness weekend: max-min per agent 1: floor 1 (bound 1)" in report
    assert "coverage: every target met (465 team-hours checked)" in report
    # the draft's cells are the planner's: nothing is written yet
    assert RosterStore(hub.store).published([f"2026-12-{d:02d}" for d in range(1, 32)]) == set()
    draft = {emp: [code(page, emp, f"2026-12-{d:02d}") for d in range(1, 32)] for emp in ("10001", "10041")}
    assert all(c in ("day", "night", "rest") for cells in draft.values() for c in cells)
    assert page.locator("#coverage tbody tr").count() == 15
    assert page.locator("#coverage td.short").count() == 0
    weekend_col = page.locator("#grid tbody tr").first.locator("td.fair").nth(1)
    assert weekend_col.inner_text() in ("7", "8")
    assert page.js_errors == []

    page.click("#plan-publish")
    page.wait_for_function("() => document.querySelector('#grid-state').textContent.startsWith('已发布')")
    assert not page.evaluate("document.body.classList.contains('draft')")
    assert page.is_hidden("#plan-propose") and page.is_hidden("#plan-publish")
    row = DerivedStore(hub.store).audit_rows(1)[0]
    assert (row["action"], row["target"]) == ("roster.publish", "2026-12") and row["actor"] not in ("", "unknown")
    assert RosterStore(hub.store).published(["2026-12-01", "2026-12-31"]) == {"2026-12-01", "2026-12-31"}
    # the published grid shows exactly the reviewed draft
    assert {emp: [code(page, emp, f"2026-12-{d:02d}") for d in range(1, 32)] for emp in draft} == draft
    # a second publication is refused; a day changes through an override
    status, body = hub.post_json("/console/roster/plan", {"month": "2026-12"}, role="lead")
    status, body = hub.post_json("/console/roster/publish", {"month": "2026-12", "fingerprint": body["fingerprint"]},
                                 role="lead")
    assert status == 409 and "already published" in body
    # only leads and admins plan; a bad month names the field
    assert hub.post_json("/console/roster/plan", {"month": "2026-12"}, role="facilities")[0] == 403
    status, body = hub.post_json("/console/roster/plan", {"month": "2026-13"}, role="lead")
    assert status == 400 and '"month"' in body
    status, body = hub.post_json("/console/roster/publish", {"month": "2027-01", "fingerprint": "0" * 64}, role="lead")
    assert status == 409 and "propose the month again" in body
