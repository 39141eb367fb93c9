"""The kiosk page in headless Chromium against a running hub.

End to end: a real paho client publishes the tap over the suite's mosquitto, the hub ingests
it, the rule engine judges it, and the page shows the verdict. The rendering tests publish
contract-shaped updates on the hub's LiveBus to pin down how each verdict looks.
"""

from __future__ import annotations

import statistics
import time

import pytest

from kiosk_ui.server import WebServer

pytest_plugins = ["tests.ui_harness"]  # fixtures: browser, floor_hub, hub_factory

KIOSK = "kiosk-k1"
pytestmark = pytest.mark.browser

GREEN, AMBER, RED = "rgb(30, 155, 80)", "rgb(224, 155, 0)", "rgb(212, 42, 32)"


def kiosk_page(browser, running, query: str = ""):
    running.status(KIOSK, "online")
    running.wait_device_state(KIOSK, "online")
    return running.page(browser, f"/kiosk/{KIOSK}{query}", (800, 480), role="kiosk")


def wait_for_tap(page, event_id: str) -> dict:
    page.wait_for_function(
        "id => window.fwRendered.some(r => r.event_id === id)", arg=event_id
    )
    return page.evaluate(
        """id => ({
            verdict: document.getElementById('verdict').textContent,
            key: document.getElementById('result').dataset.verdict,
            repeat: document.getElementById('result').dataset.repeat,
            minutes: document.getElementById('minutes').textContent,
            name: document.getElementById('name').textContent,
            empno: document.getElementById('empno').textContent,
            seat: document.getElementById('seat').textContent,
            shift: document.getElementById('shift').textContent,
            note: document.getElementById('note').textContent,
            personShown: !document.getElementById('person').hidden,
            colour: getComputedStyle(document.getElementById('result')).backgroundColor,
            renderedAt: window.fwRendered.find(r => r.event_id === id).t,
        })""",
        event_id,
    )


def require_engine(running) -> None:
    assert running.has_engine, "no rule engine: hub.engine.Engine is not importable, so taps get no verdict"


def test_idle_screen_shows_site_clock_and_prompt(browser, floor_hub, output_dir):
    page = kiosk_page(browser, floor_hub)
    assert page.inner_text(".k-site") == floor_hub.site.info.name
    assert page.inner_text(".k-prompt") == "请刷工牌"
    assert page.inner_text(".k-prompt2") == "Please tap your badge"
    # the clock runs on hub time (08:15 site time on the roster day), not the browser's
    assert page.inner_text("#clock").startswith("08:15")
    assert page.locator("#banner").is_hidden()
    page.screenshot(path=str(output_dir / "kiosk-idle-800x480.png"))
    assert page.js_errors == []


def test_tap_over_mqtt_shows_verdict_within_a_second(browser, floor_hub, output_dir):
    require_engine(floor_hub)
    page = kiosk_page(browser, floor_hub)
    (a0, b0, s0), (a1, b1, s1), (a2, b2, s2) = floor_hub.rostered("day")[:3]
    latencies = []

    def tap(uid: str) -> dict:
        sent = time.time() * 1000
        event_id = floor_hub.tap(KIOSK, uid)
        shown = wait_for_tap(page, event_id)
        latencies.append(shown["renderedAt"] - sent)
        return shown

    floor_hub.at("08:15")  # 15 min before the 08:30 start: on time (lead 10 min)
    shown = tap(b0)
    assert (shown["key"], shown["verdict"], shown["colour"]) == ("on_time", "准时", GREEN)
    assert shown["name"] == a0.name and a0.employee_no in shown["empno"]
    assert shown["seat"] == s0
    assert "白班" in shown["shift"] and "08:30" in shown["shift"]
    assert shown["minutes"] == "提前 15 分钟到岗"
    page.screenshot(path=str(output_dir / "kiosk.png"))  # 800x480: the README image (a copy is docs/img/kiosk.png)

    floor_hub.at("08:25")  # 5 min before: roll call late (点名迟到), amber
    shown = tap(b1)
    assert (shown["key"], shown["verdict"], shown["colour"]) == ("roll_call_late", "点名迟到", AMBER)
    assert shown["name"] == a1.name and shown["seat"] == s1
    assert shown["minutes"].startswith("提前 5 分钟")

    floor_hub.at("08:40")  # 10 min after the start: late (迟到), red
    shown = tap(b2)
    assert (shown["key"], shown["verdict"], shown["colour"]) == ("late", "迟到", RED)
    assert shown["minutes"] == "迟到 10 分钟"

    # the same badge again within the hold-off: the first result again, marked as a repeat
    shown = tap(b2)
    assert (shown["key"], shown["verdict"], shown["repeat"]) == ("late", "迟到", "1")
    assert shown["note"] == "已刷过卡，显示首次结果"

    assert statistics.median(latencies) <= 1000, f"tap to kiosk latencies (ms): {latencies}"
    assert page.js_errors == []


def test_unknown_badge_shows_unregistered_in_red(browser, floor_hub):
    require_engine(floor_hub)
    page = kiosk_page(browser, floor_hub)
    shown = wait_for_tap(page, floor_hub.tap(KIOSK, "DEADBEEF99"))
    assert (shown["key"], shown["verdict"], shown["colour"]) == ("unknown_badge", "未登记工牌", RED)
    assert not shown["personShown"]
    assert shown["note"] == "请联系现场管理人员"


def _tap_update(event_id: str, verdict: str, result: str, minutes=None, agent=True, device=KIOSK, repeat=False):
    return {
        "device": device, "place": "K1", "event_id": event_id, "ts": 0, "result": result, "verdict": verdict,
        "minutes": minutes, "repeat": repeat,
        "agent": {"employee_no": "10001", "name": "王伟", "team": "T1"} if agent else None,
        "seat": "A01" if agent else None,
        "shift": {"id": "day", "name": "白班 Day", "date": "2026-01-05", "start": "08:30", "end": "16:00"} if agent else None,
        "text_zh": "", "text_en": "",
    }


def test_each_verdict_renders_in_its_colour_and_language(browser, floor_hub, output_dir):
    """Contract-shaped tap updates (as the engine publishes them) for every verdict."""
    page = kiosk_page(browser, floor_hub, "?clear=600")
    live = floor_hub.hub.live
    cases = [
        ("on_time", "ok", 12, "准时", GREEN, "提前 12 分钟到岗"),
        ("roll_call_late", "warn", 4, "点名迟到", AMBER, "提前 4 分钟（须提前 10 分钟）"),
        ("late", "warn", -7, "迟到", RED, "迟到 7 分钟"),
        ("signed_in", "ok", None, "已签入", GREEN, ""),
        ("wrong_seat", "warn", None, "座位不符", AMBER, ""),
        ("revoked_badge", "deny", None, "未登记工牌", RED, ""),
        ("unknown_badge", "deny", None, "未登记工牌", RED, ""),
    ]
    for i, (verdict, result, minutes, text, colour, minutes_text) in enumerate(cases):
        agent = verdict not in ("unknown_badge", "revoked_badge")
        live.publish("tap", _tap_update(f"e{i}", verdict, result, minutes, agent=agent))
        shown = wait_for_tap(page, f"e{i}")
        assert (shown["verdict"], shown["colour"], shown["minutes"]) == (text, colour, minutes_text), verdict
        assert shown["personShown"] is agent
    # a tap at another device is not this kiosk's business
    live.publish("tap", _tap_update("other", "on_time", "ok", 3, device="door-d1"))
    live.publish("tap", _tap_update("mine", "late", "warn", -1))
    wait_for_tap(page, "mine")
    assert "other" not in page.evaluate("window.fwRendered.map(r => r.event_id)")

    en = floor_hub.page(browser, f"/kiosk/{KIOSK}?lang=en&clear=600", (800, 480), role="kiosk")
    assert en.inner_text(".k-prompt") == "Please tap your badge"
    assert en.inner_text(".k-prompt2") == "请刷工牌"
    live.publish("tap", _tap_update("en1", "roll_call_late", "warn", 6))
    shown = wait_for_tap(en, "en1")
    assert (shown["verdict"], shown["minutes"]) == ("Roll call late", "6 min before the shift (due 10 min before)")
    assert shown["empno"] == "No. 10001"
    assert page.js_errors == [] and en.js_errors == []


def test_result_clears_after_the_configured_time(browser, floor_hub):
    page = kiosk_page(browser, floor_hub, "?clear=1")
    floor_hub.hub.live.publish("tap", _tap_update("c1", "on_time", "ok", 11))
    wait_for_tap(page, "c1")
    assert page.evaluate("document.body.dataset.mode") == "result"
    page.wait_for_function("document.body.dataset.mode === 'idle'")
    assert page.locator("#idle").is_visible() and page.locator("#result").is_hidden()


def test_offline_banner_for_device_and_hub_link_and_reconnects(browser, floor_hub):
    page = kiosk_page(browser, floor_hub, "?clear=600")
    assert page.evaluate("document.body.dataset.offline") == ""

    # the kiosk's device goes away (its last will: a retained offline status)
    floor_hub.status(KIOSK, "offline")
    page.wait_for_function("document.body.dataset.offline === 'device'")
    assert page.inner_text("#banner") == "本机读卡器离线，刷卡暂不可用"
    floor_hub.status(KIOSK, "online")
    page.wait_for_function("document.body.dataset.offline === ''")
    assert page.locator("#banner").is_hidden()

    # the hub's web server goes away (connections cut), then comes back on the same port
    app, port = floor_hub.server.server.app, floor_hub.server.port
    floor_hub.server.stop()
    page.wait_for_function("document.body.dataset.offline === 'link'")
    assert page.inner_text("#banner") == "与中心连接中断，正在重连…"
    floor_hub.server = floor_hub.wait_until(lambda: _restart(app, port), what="the web server to bind its port again")
    page.wait_for_function("document.body.dataset.offline === ''")
    floor_hub.hub.live.publish("tap", _tap_update("after", "on_time", "ok", 20))
    assert wait_for_tap(page, "after")["verdict"] == "准时"


def _restart(app, port: int):
    try:
        return WebServer(app, port=port).start()
    except OSError:
        return None


def test_kiosk_display_signs_in_with_its_token_and_sees_only_its_device(browser, floor_hub):
    requests: list[str] = []
    context = browser.new_context(viewport={"width": 800, "height": 480})
    floor_hub.contexts.append(context)
    page = context.new_page()
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{floor_hub.url}/kiosk/{KIOSK}?token={floor_hub.token('kiosk')}&clear=600")
    page.wait_for_function("document.body.dataset.live === 'open'")
    assert "token=" not in page.url  # swapped for a session by the auth layer
    streams = [u for u in requests if "/live/stream" in u]
    assert streams and all("device=kiosk-k1" in u for u in streams)
    floor_hub.hub.live.publish("tap", _tap_update("t1", "on_time", "ok", 14))
    assert wait_for_tap(page, "t1")["verdict"] == "准时"
    assert page.goto(f"{floor_hub.url}/kiosk/door-d1").status == 403  # not this display's device
    assert page.goto(f"{floor_hub.url}/floor").status == 403
    admin = floor_hub.page(browser, "/kiosk/kiosk-k1")
    assert admin.goto(f"{floor_hub.url}/kiosk/kiosk-nope").status == 404


def test_banner_when_the_hub_loses_the_broker(browser, site_dir, tmp_path, fresh_broker):
    """The page still reaches the hub, but the hub no longer hears the devices: say so."""
    from tests.ui_harness import start_hub, stop_hub

    running = start_hub(site_dir, tmp_path, fresh_broker, config={"LIVE_KEEPALIVE_S": 1.0})
    try:
        page = kiosk_page(browser, running, "?clear=600")
        assert page.evaluate("document.body.dataset.offline") == ""
        running.pub.client.loop_stop()  # the test's device client goes quiet with the broker
        fresh_broker.stop()
        page.wait_for_function("document.body.dataset.offline === 'mqtt'")
        assert page.inner_text("#banner") == "中心与设备网络断开，刷卡暂不可用"
        fresh_broker.start()
        page.wait_for_function("document.body.dataset.offline === ''")
    finally:
        stop_hub(running)
