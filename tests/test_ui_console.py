"""The leads' console in headless Chromium against a running hub: the roll-call board follows
taps and lead actions (through the rule engine's API), violations show their evidence from the
event log, device health comes from the hub's device table."""

from __future__ import annotations

import json

import pytest

from hub.engine.scenario import read_by

pytest_plugins = ["tests.ui_harness"]  # fixtures: browser, floor_hub, hub_factory

pytestmark = pytest.mark.browser
KIOSK = "kiosk-k1"


def board_column(page, employee_no: str) -> str | None:
    return page.evaluate(
        "no => { const li = document.querySelector(`#board li[data-employee='${no}']`);"
        " return li ? li.closest('.board-col').dataset.status : null; }",
        employee_no,
    )


def wait_column(page, employee_no: str, status: str) -> None:
    page.wait_for_function(
        "([no, st]) => { const li = document.querySelector(`#board li[data-employee='${no}']`);"
        " return li && li.closest('.board-col').dataset.status === st; }",
        arg=[employee_no, status]
    )


def test_board_starts_from_the_roster_of_the_current_shift(browser, floor_hub):
    page = floor_hub.page(browser, "/console", (1920, 1080))
    day = floor_hub.rostered("day")
    assert page.locator("#board li").count() == len(day)
    for agent, _, seat in day:
        assert board_column(page, agent.employee_no) == "pending"
        assert seat in page.inner_text(f"#board li[data-employee='{agent.employee_no}']")
    assert "白班" in page.inner_text("#board-shift")
    # another shift by date and id
    night = floor_hub.page(browser, f"/console?shift=night&date={floor_hub.site.roster[0].date}")
    assert night.locator("#board li").count() == len(floor_hub.rostered("night"))
    assert page.js_errors == [] and night.js_errors == []


def test_lead_action_and_taps_change_the_rollcall_board(browser, floor_hub, output_dir):
    assert floor_hub.has_engine, "no rule engine: hub.engine.Engine is not importable, so the board never changes"
    arrival = [KIOSK, "door-d1"]  # where arrivals are seen: without their data nobody is judged late
    floor_hub.at("08:00")
    floor_hub.send_all([floor_hub.status_msg(d) for d in arrival])
    (a0, b0, _), (a1, b1, _), (a2, _, _) = floor_hub.rostered("day")[:3]
    page = floor_hub.page(browser, "/console", (1920, 1080))

    floor_hub.live_until("08:15", arrival)
    floor_hub.tap(KIOSK, b0)
    wait_column(page, a0.employee_no, "on_time")
    assert "08:15" in page.inner_text(f"#board li[data-employee='{a0.employee_no}']")
    floor_hub.live_until("08:41", arrival)
    floor_hub.tap(KIOSK, b1)
    wait_column(page, a1.employee_no, "late")

    # a lead grants leave through the console's form: the agent moves to 请假
    assert board_column(page, a2.employee_no) == "pending"
    form = page.locator("form[data-action=leave]")
    form.locator("input[name=employee_no]").fill(a2.employee_no)
    form.locator("select[name=kind]").select_option("sick")
    form.locator("input[name=reason]").fill("发烧 fever")
    form.locator("button[type=submit]").click()
    page.wait_for_function("document.querySelector('form[data-action=leave] output').textContent !== ''")
    assert "ok" in form.locator("output").get_attribute("class"), form.locator("output").inner_text()
    wait_column(page, a2.employee_no, "leave")

    # the late arrival is a violation in the feed, with its evidence, and a lead excuses it
    page.wait_for_function("document.querySelector('#violations li[data-id]') !== null")
    item = page.locator("#violations li[data-id]").filter(has_text=a1.employee_no).first
    item.locator(".ev-btn").click()
    page.wait_for_function("document.querySelectorAll('#violations .evidence li[data-event]').length > 0")
    assert "刷卡" in item.locator(".evidence").inner_text()
    item.locator(".excuse-btn").click()
    page.fill("#excuse-form input[name=reason]", "地铁故障 metro breakdown")
    page.click("#excuse-form button[type=submit]")
    page.wait_for_function("document.querySelector('#violations li.excused') !== null")
    assert "地铁故障" in page.inner_text("#violations li.excused")
    page.screenshot(path=str(output_dir / "console-1920x1080.png"))
    assert page.js_errors == []


def submit(page, action: str, **fields: str) -> tuple[bool, str]:
    """Fill and send one lead-action form; (succeeded, the message shown under it)."""
    form = page.locator(f"form[data-action={action}]")
    page.evaluate("a => { document.querySelector(`form[data-action=${a}] output`).textContent = ''; }", action)
    for name, value in fields.items():
        form.locator(f"[name={name}]").fill(value)
    form.locator("button[type=submit]").click()
    page.wait_for_function("a => document.querySelector(`form[data-action=${a}] output`).textContent !== ''", arg=action)
    out = form.locator("output")
    return "ok" in (out.get_attribute("class") or ""), out.inner_text()


def test_reassign_swap_and_meal_slot_reach_the_engine(browser, floor_hub):
    assert floor_hub.has_engine, "no rule engine: hub.engine.Engine is not importable"
    day, night = floor_hub.rostered("day"), floor_hub.rostered("night")
    (a3, _, _), (a4, _, s4), (n0, _, _) = day[3], day[4], night[0]
    page = floor_hub.page(browser, "/console", (1920, 1080))

    ok, msg = submit(page, "reassign", employee_no=a3.employee_no, seat="Z99")
    assert not ok and "seat" in msg and "Z99" in msg  # the engine's reason, naming the field
    ok, msg = submit(page, "reassign", employee_no=a3.employee_no, seat=s4)
    assert ok, msg
    page.wait_for_function("([no, seat]) => document.querySelector(`#board li[data-employee='${no}'] .seat`).textContent === seat",
                           arg=[a3.employee_no, s4])
    ok, msg = submit(page, "swap", seat=s4, from_employee_no=a4.employee_no, to_employee_no=n0.employee_no)
    assert ok, msg
    page.wait_for_function("no => document.querySelector(`#board li[data-employee='${no}']`) !== null", arg=n0.employee_no)
    ok, msg = submit(page, "meal-slot", employee_no=a3.employee_no, meal_start="12:30")
    assert ok, msg
    with floor_hub.store.lock:
        audit = floor_hub.store.conn.execute("SELECT action, actor FROM audit WHERE action LIKE 'lead.%'").fetchall()
    assert sorted(audit) == sorted((a, "test-admin") for a in ("lead.reassign", "lead.swap", "lead.meal_slot")), audit
    assert page.js_errors == []


def test_live_rollcall_violations_evidence_and_device_health(browser, floor_hub, output_dir):
    """Contract-shaped updates on the LiveBus, evidence and device rows from real MQTT traffic."""
    (a0, b0, s0), (a1, _, _) = floor_hub.rostered("day")[:2]
    floor_hub.status(KIOSK, "online")
    tap_id = floor_hub.tap(KIOSK, b0)
    floor_hub.status("seat-b02", "online")
    floor_hub.status("seat-b02", "offline")
    floor_hub.wait_device_state("seat-b02", "offline")
    floor_hub.wait_until(lambda: floor_hub.store.events_by_ids([tap_id]), what="the tap in the event log")
    page = floor_hub.page(browser, "/console", (1920, 1080))
    date = str(floor_hub.site.roster[0].date)
    live = floor_hub.hub.live
    now = floor_hub.clock.now_ms()

    live.publish("rollcall", {"date": date, "shift": "day", "employee_no": a0.employee_no, "status": "roll_call_late", "arrival": now})
    wait_column(page, a0.employee_no, "roll_call_late")
    live.publish("rollcall", {"date": date, "shift": "night", "employee_no": a1.employee_no, "status": "absent", "arrival": None})
    live.publish("rollcall", {"date": date, "shift": f"{date}/day", "employee_no": a1.employee_no, "status": "absent", "arrival": None})
    wait_column(page, a1.employee_no, "absent")

    violation = {"id": "v-1", "rule": "ROLL-EARLY", "kind": "roll_call_late", "agent": a0.employee_no, "team": a0.team,
                 "seat": s0, "shift": f"{date}/day", "start": now, "end": None, "evidence": [tap_id],
                 "excused": False, "excuse_reason": None, "details": {}}
    live.publish("violation", violation)
    page.wait_for_function("document.querySelector('#violations li[data-id=\"v-1\"]') !== null")
    item = page.locator('#violations li[data-id="v-1"]')
    assert "点名迟到" in item.inner_text() and a0.name in item.inner_text()
    item.locator(".ev-btn").click()
    page.wait_for_function("document.querySelector('#violations .evidence li[data-event]') !== null")
    evidence = item.locator(".evidence").inner_text()
    assert KIOSK in evidence and read_by(floor_hub.site, KIOSK, b0) in evidence and "08:15" in evidence
    live.publish("violation", {**violation, "excused": True, "excuse_reason": "班长批准"})
    page.wait_for_function("document.querySelector('#violations li[data-id=\"v-1\"].excused') !== null")

    rows = page.locator("#device-rows tr")
    assert rows.first.get_attribute("data-device") == "seat-b02"  # offline first
    assert "离线" in rows.first.inner_text()
    kiosk_row = page.locator(f"#device-rows tr[data-device='{KIOSK}']").inner_text()
    assert "在线" in kiosk_row and "test-1.0" in kiosk_row
    floor_hub.status("seat-b02", "online")
    page.wait_for_function("!document.querySelector(\"#device-rows tr[data-device='seat-b02']\").classList.contains('offline')")

    live.publish("equipment", {"tag": "E0B00000003", "kind": "mouse", "home_seat": "A02", "seen_at": "door-d2", "state": "exit"})
    page.wait_for_function("document.querySelector('#incidents li[data-tag=E0B00000003]') !== null")
    assert "带出" in page.inner_text("#incidents")
    page.screenshot(path=str(output_dir / "console-live-1920x1080.png"))
    assert page.js_errors == []


def test_evidence_endpoint_validates_its_ids(floor_hub):
    for query, reason in (("", "no event ids"), ("ids=" + ",".join(["a"] * 101), "at most"), ("ids=../x", "not an event id")):
        status, body = floor_hub.get(f"/console/evidence?{query}", role="lead")
        assert status == 400 and reason in body.decode()
    status, body = floor_hub.get("/console/evidence?ids=0b9d6a4e-8f4c-4c53-9f57-3f0f0c7e1a11", role="lead")
    assert status == 200 and json.loads(body) == []


def test_a_lead_enrols_a_new_card_by_tapping_it_at_the_kiosk(browser, floor_hub):
    (agent, _, _) = floor_hub.rostered("day")[0]
    page = floor_hub.page(browser, "/console", (1920, 1080))
    form = page.locator("#enrol-form")
    form.locator("input[name=employee_no]").fill(agent.employee_no)
    form.locator("input[name=device]").fill(KIOSK)
    form.locator("button").click()
    page.wait_for_function("document.querySelector('#enrol-form output').textContent.includes('kiosk-k1')")
    floor_hub.tap(KIOSK, "1E0000CAFE")  # a card nobody holds yet
    page.wait_for_function("document.querySelector('#enrol-form output.ok') !== null")
    assert "已登记" in form.locator("output").inner_text()
    status, body = floor_hub.get("/api/enrolments/1")
    row = json.loads(body)
    assert status == 200 and row["state"] == "enrolled" and row["employee_no"] == agent.employee_no
    assert page.js_errors == []
