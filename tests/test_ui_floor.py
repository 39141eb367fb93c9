"""The floor map in headless Chromium against a running hub: seat colours from occupancy events
over MQTT (through the rule engine), zones flagged for the air conditioning, equipment out of
place, devices offline, hover and inspect, zone filter, and a 2,000-seat floor."""

from __future__ import annotations

import os

import pytest

from hub.sitegen import generate_site

pytest_plugins = ["tests.ui_harness"]  # fixtures: browser, floor_hub, hub_factory

pytestmark = pytest.mark.browser

STATES = ("vacant", "signed_in", "occupied_no_badge", "break", "meal", "unattended", "no_data")


def seat_state(page, seat: str) -> str:
    return page.get_attribute(f'g.seat[data-seat="{seat}"]', "data-state")


def seat_fill(page, seat: str) -> str:
    return page.evaluate(
        "s => getComputedStyle(document.querySelector(`g.seat[data-seat='${s}'] rect`)).fill", seat
    )


def wait_seat(page, seat: str, state: str) -> None:
    page.wait_for_function(
        "([s, st]) => document.querySelector(`g.seat[data-seat='${s}']`).dataset.state === st",
        arg=[seat, state]
    )


def seat_update(seat: str, zone: str, state: str, agent=None, since=None, break_used_s=0) -> dict:
    return {"seat": seat, "zone": zone, "state": state, "agent": agent, "since": since, "break_used_s": break_used_s}


def test_occupancy_event_over_mqtt_changes_the_seat_colour(browser, floor_hub):
    assert floor_hub.has_engine, "no rule engine: hub.engine.Engine is not importable, so seats get no state"
    agent, badge, seat = floor_hub.rostered("day")[0]
    device = f"seat-{seat.lower()}"
    floor_hub.status(device, "online")
    floor_hub.wait_device_state(device, "online")
    floor_hub.wait_judged()  # the page opens on the engine's view of the seat coming online
    page = floor_hub.page(browser, "/floor")
    before_state, before_fill = seat_state(page, seat), seat_fill(page, seat)
    assert before_state != "occupied_no_badge"

    floor_hub.occupancy(device, True)  # someone sits down, no badge yet
    wait_seat(page, seat, "occupied_no_badge")
    assert seat_fill(page, seat) != before_fill

    floor_hub.tap(device, badge)  # the rostered agent signs in at the seat
    wait_seat(page, seat, "signed_in")
    page.hover(f'g.seat[data-seat="{seat}"]')
    assert agent.employee_no in page.inner_text("#tip")
    assert page.js_errors == []


def test_map_shows_states_zones_equipment_and_devices_offline(browser, floor_hub, output_dir):
    site, live = floor_hub.site, floor_hub.hub.live
    seats = [s for s in site.info.seats]
    now = floor_hub.clock.now_ms()
    # real events in the log for the seat we will inspect
    floor_hub.occupancy("seat-a01", True)
    floor_hub.wait_until(lambda: floor_hub.store.recent_events(device="seat-a01"), what="the occupancy event in the log")
    # a device that was online goes offline (its last will), over MQTT
    floor_hub.status("seat-b04", "online")
    floor_hub.status("seat-b04", "offline")
    floor_hub.wait_device_state("seat-b04", "offline")
    floor_hub.settle()  # what the engine makes of that is published; ours come after
    for seat, state in zip(seats[:7], STATES, strict=True):
        live.publish("seat", seat_update(seat.id, seat.zone, state, agent={"employee_no": "10001", "name": "王伟", "team": "T1"} if state != "vacant" else None,
                                         since=now - 600_000, break_used_s=420 if state == "break" else 0))
    page = floor_hub.page(browser, "/floor", (1920, 1080))  # the snapshot brings the states
    for seat, state in zip(seats[:7], STATES, strict=True):
        wait_seat(page, seat.id, state)
    fills = {seat_fill(page, s.id) for s in seats[:7]}
    assert len(fills) == 7, f"each state has its own colour: {fills}"
    assert page.text_content(f'g.seat[data-seat="{seats[3].id}"] .seat-sub') == "7分"  # break minutes used

    wait_seat(page, "B04", "no_data")  # its device is offline
    assert "seat-b04" in page.inner_text("#offline-list")
    assert page.get_attribute('g.seat[data-seat="B04"]', "class").count("dev-off") == 1

    live.publish("zone", {"zone": "B", "empty": True, "since": now - 1_200_000})
    page.wait_for_function("document.querySelector('g.zone[data-zone=B]').classList.contains('empty')")
    assert "07:55" in page.inner_text("#ac-list")
    live.publish("equipment", {"tag": "E0B00000002", "kind": "headset", "home_seat": "A02", "seen_at": "A05", "state": "moved"})
    page.wait_for_function("document.querySelector('#equip-list [data-tag=E0B00000002]') !== null")
    assert "A05" in page.inner_text("#equip-list") and "被移动" in page.inner_text("#equip-list")

    legend = {li.get_attribute("data-state"): int(li.inner_text().split()[-1]) for li in page.query_selector_all("#legend li")}
    assert legend == {"vacant": 1, "signed_in": 1, "occupied_no_badge": 1, "break": 1, "meal": 1, "unattended": 1, "no_data": 2}

    page.hover(f'g.seat[data-seat="{seats[2].id}"]')
    tip = page.inner_text("#tip")
    assert "王伟" in tip and "有人未刷卡" in tip and "08:05" in tip  # since: 10 min before 08:15 site time
    page.click('g.seat[data-seat="A01"]')
    page.wait_for_function("document.querySelectorAll('#inspect-events li time').length > 0")
    assert "占用" in page.inner_text("#inspect-events")

    page.select_option("#zone-filter", "B")
    assert page.get_attribute('g.seat[data-seat="A01"]', "class").count("dim") == 1
    assert "dim" not in page.get_attribute('g.seat[data-seat="B01"]', "class")
    page.select_option("#zone-filter", "")
    page.screenshot(path=str(output_dir / "floor-small-1920x1080.png"))
    assert page.js_errors == []


def generated(tmp_path, name: str, seats: int, zones: int):
    """A site of its own (a fresh id: the suite shares one broker)."""
    return generate_site(tmp_path / name, site=name + os.urandom(3).hex(), seats=seats, zones=zones,
                         sim_devices=True)  # rostered for the site's today, not the host's


def test_two_thousand_seats_render_update_and_stay_readable(browser, hub_factory, tmp_path, output_dir):
    big_floor = hub_factory(generated(tmp_path, "big", seats=2000, zones=20))
    site, live = big_floor.site, big_floor.hub.live
    seats = site.info.seats
    big_floor.settle()
    cycle = ("signed_in",) * 6 + ("vacant", "break", "meal", "occupied_no_badge", "unattended", "signed_in")
    for i, s in enumerate(seats):
        live.publish("seat", seat_update(s.id, s.zone, cycle[i % len(cycle)], break_used_s=300))
    page = big_floor.page(browser, "/floor", (1920, 1080))
    assert page.locator("g.seat").count() == 2000
    page.wait_for_function("document.querySelectorAll('g.seat[data-state=no_data]').length === 0")
    counts = page.evaluate("Object.fromEntries([...document.querySelectorAll('#legend li')].map(li => [li.dataset.state, +li.querySelector('.count').textContent]))")
    expected = {st: sum(1 for i in range(2000) if cycle[i % len(cycle)] == st) for st in STATES}
    assert counts == expected

    # live: a change to one seat among 2,000 arrives
    live.publish("seat", seat_update(seats[1234].id, seats[1234].zone, "unattended"))
    wait_seat(page, seats[1234].id, "unattended")

    # one zone fills the map: seats big enough to read, with their ids
    zone = seats[1234].zone
    page.select_option("#zone-filter", zone)
    box = page.locator(f'g.seat[data-seat="{seats[1234].id}"] rect').bounding_box()
    assert box["width"] >= 24, box
    assert page.locator(f'g.seat[data-seat="{seats[1234].id}"] .seat-id').is_visible()
    page.select_option("#zone-filter", "")
    page.screenshot(path=str(output_dir / "floor-2000-seats-1920x1080.png"))
    assert page.js_errors == []


def test_readme_floor_screenshot(browser, hub_factory, tmp_path, output_dir):
    """A 160-seat floor mid-morning at 1920x1080, every state made by the rule engine from device
    traffic over MQTT: the README's picture of the map."""
    running = hub_factory(generated(tmp_path, "shot", seats=160, zones=4), start="08:00")
    assert running.has_engine, "no rule engine: the map would show no states"
    agents = {a.employee_no: a for a in running.site.agents}
    roster = [r for r in running.site.roster if r.shift == "day"]
    day = [(r.seat, f"seat-{r.seat.lower()}", agents[r.employee_no].badges[0]) for r in roster]
    at_work = [d for d in day if not d[0].startswith("D")]  # zone D stays empty
    no_badge = at_work[5::23]
    signed = [d for d in at_work if d not in no_badge]
    meal_at_11 = {r.seat for r in roster if r.meal_start == "11:00"}
    meals = [d for d in signed if d[0] in meal_at_11][::3]
    breaks = [d for d in signed[3::11] if d not in meals]
    gone = [d for d in signed[9::29] if d not in meals + breaks]
    msgs = [running.status_msg(dev) for dev in running.site.devices]
    running.at("08:20")
    for seat, dev, badge in at_work:
        msgs.append(running.event(dev, "occupancy", occupied=True, sensor="mat"))
        if (seat, dev, badge) in signed:
            msgs.append(running.event(dev, "badge", uid=badge, reader="badge"))
    running.send_all(msgs)
    running.hub.ingest.wait_idle(60)
    running.at("10:58")  # some go on a break, some just leave
    msgs = []
    for _, dev, _ in breaks + gone:
        if (_, dev, _) in breaks:
            msgs.append(running.event(dev, "button", button="break"))
        msgs.append(running.event(dev, "occupancy", occupied=False, sensor="mat"))
    home = running.site.equipment[16]  # a headset found at another seat
    msgs.append(running.event("seat-c03", "inventory", tags=[home.tag], reader="tags"))
    running.send_all(msgs)
    running.hub.ingest.wait_idle(60)
    running.at("11:01")  # the 11:00 meal slot: some go to eat
    msgs = []
    for _, dev, _ in meals:
        msgs += [running.event(dev, "button", button="meal"), running.event(dev, "occupancy", occupied=False, sensor="mat")]
    running.send_all(msgs)
    running.hub.ingest.wait_idle(60)
    running.at("11:05")  # every device proves it is alive, but three go offline
    offline = ["seat-b07", "seat-c22", "door-d2"]
    running.send_all([running.event(dev, "heartbeat", uptime_s=7000, spooled=0) for dev in running.site.devices])
    running.wait_until(lambda: running.hub.ingest.idle(), what="heartbeats judged")
    running.send_all([running.status_msg(dev, "offline") for dev in offline])
    running.wait_device_state("door-d2", "offline")
    running.wait_judged()  # the 11:05 heartbeats end the seats' data gap: judged before the page reads the legend

    page = running.page(browser, "/floor", (1920, 1080))
    page.wait_for_function("document.querySelectorAll('#offline-list li[data-device]').length === 3")
    page.wait_for_function("tag => document.querySelector(`#equip-list li[data-tag='${tag}']`) !== null", arg=home.tag)
    legend = "Object.fromEntries([...document.querySelectorAll('#legend li')].map(li => [li.dataset.state, +li.querySelector('.count').textContent]))"
    # the seats' states arrive over the live stream after the page's first paint
    page.wait_for_function(f"(c => c.signed_in > 60 && c.break > 0 && c.meal > 0 && c.occupied_no_badge > 0)({legend})")
    counts = page.evaluate(legend)
    assert counts["no_data"] >= 2, counts  # the offline seats
    # a break that began at 10:58 has used 7 minutes at 11:05 (counted on from the engine's state)
    assert page.text_content(f'g.seat[data-seat="{breaks[0][0]}"] .seat-sub') == "7分"
    page.hover(f'g.seat[data-seat="{breaks[0][0]}"]')
    page.screenshot(path=str(output_dir / "floor.png"))  # 1920x1080: the README image (a copy is docs/img/floor.png)
    assert page.js_errors == []
