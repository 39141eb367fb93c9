"""Violations -> outbox -> a real HTTP server on 127.0.0.1 speaking DingTalk's robot API: the exact
signed request arrives; while the server answers 500 the alert is retried with backoff and
delivered once it is back; a burst over the robot's limit, refused with DingTalk's own error
code, ends as a digest; a restarted hub sends nothing twice. The violations enter through the
hub's own dispatch (HubService.dispatch), as the engine's updates do."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from edge.clock import ManualClock
from hub.engine.core import Outcome
from hub.service import HubService
from hub.site import load_site
from hub.store import Store
from hub.store.alerts import AlertStore
from tests.alert_receiver import QuietHandler, serve

SECRET = "SECe2e-secret"


class Robot:
    """A DingTalk robot endpoint: checks the signature like DingTalk does, records what it accepts."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.fail_status: int | None = None  # answer this HTTP status while set
        self.limit_code = False  # answer DingTalk's "send too fast" while set
        robot = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                q = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                if robot.fail_status:
                    return self.answer(robot.fail_status, b"down")
                expected = base64.b64encode(hmac.new(SECRET.encode(), f"{q['timestamp']}\n{SECRET}".encode(),
                                                     hashlib.sha256).digest()).decode()
                if q.get("sign") != expected:
                    return self.answer(200, b'{"errcode":310000,"errmsg":"sign not match"}')
                if robot.limit_code:
                    return self.answer(200, b'{"errcode":130101,"errmsg":"send too fast"}')
                robot.received.append({"query": q, "body": json.loads(body), "type": self.headers["Content-Type"]})
                self.answer(200, b'{"errcode":0,"errmsg":"ok"}')

        self.server = serve(Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/robot/send?access_token=tok"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def robot():
    r = Robot()
    yield r
    r.close()


def _hub(site_dir, db, robot, clock, per_minute=20) -> HubService:
    (site_dir / "alerts.toml").write_text(f"""
console_url = "http://hub.test:8080"
[channels.leads]
type = "dingtalk"
url = "{robot.url}"
secret = "{SECRET}"
per_minute = {per_minute}
[[routes]]
channel = "leads"
rules = ["AWAY-*"]
""")
    return HubService(load_site(site_dir), Store(db), clock=clock, engine=object(), purge_every_s=None)


def _v(site, n: int, **kw):
    start = int(dt.datetime(2026, 3, 2, 10, 0, tzinfo=site.tz).timestamp() * 1000)
    return {"id": f"vio{n}", "rule": "AWAY-UNATTENDED", "kind": "unattended", "agent": site.agents[0].employee_no,
            "team": site.agents[0].team, "seat": site.info.seats[0].id, "zone": site.info.seats[0].zone,
            "start": start, "end": None, "excused": False, "details": {}, **kw}


def test_the_robot_receives_the_exact_signed_payload(site_dir, tmp_path, robot):
    clock = ManualClock(int(dt.datetime(2026, 3, 2, 10, 12, tzinfo=dt.timezone(dt.timedelta(hours=8))).timestamp() * 1000))
    hub = _hub(site_dir, tmp_path / "hub.db", robot, clock)
    site = hub.site
    hub.dispatch(Outcome(updates=[("violation", _v(site, 1)),
                                   ("violation", _v(site, 2, rule="DEV-OFFLINE", kind="offline"))]))  # not routed
    assert hub.alerts.sender.drain() == 1
    [got] = robot.received
    assert got["query"]["access_token"] == "tok" and got["query"]["timestamp"] == str(clock.now_ms())
    agent, seat = site.agents[0], site.info.seats[0]
    assert got["type"] == "application/json; charset=utf-8"
    assert got["body"] == {"msgtype": "markdown", "markdown": {
        "title": "【违规】擅自离岗 (AWAY-UNATTENDED)",
        "text": "\n".join([
            "### 【违规】擅自离岗 (AWAY-UNATTENDED)",
            f"- **客服**: {agent.name} ({agent.employee_no})", f"- **座位**: {seat.id}", f"- **区域**: {seat.zone}",
            "- **时间**: 2026-03-02 10:00", "- **时长**: 12 分钟",
            "[查看证据](http://hub.test:8080/console/violations/vio1)"])}}


def test_down_then_back_delivers_in_order_once_and_survives_a_restart(site_dir, tmp_path, robot):
    clock = ManualClock(1_772_416_800_000)
    hub = _hub(site_dir, tmp_path / "hub.db", robot, clock)
    robot.fail_status = 500
    hub.dispatch(Outcome(updates=[("violation", _v(hub.site, n)) for n in (1, 2, 3)]))
    waits = []
    for _ in range(8):  # ten minutes down: tries at 0, 5, 15, 35, 75, 155, 315, 615 s (the cap is 300 s)
        assert hub.alerts.sender.drain() == 1
        row = AlertStore(hub.store).queue("leads", 1)[0]
        waits.append((row.due - clock.now_ms()) // 1000)
        clock.set(row.due)
    assert waits == [5, 10, 20, 40, 80, 160, 300, 300] and robot.received == []
    assert (row.attempts, row.last_error) == (8, "HTTP 500: down")
    hub.store.close()
    # the hub restarts (same database); the engine re-announces what it knows
    hub = _hub(site_dir, tmp_path / "hub.db", robot, clock)
    robot.fail_status = None
    hub.dispatch(Outcome(updates=[("violation", _v(hub.site, n)) for n in (1, 2, 3)]))
    hub.alerts.start()
    try:
        hub.alerts.sender.wake.set()
        deadline = time.monotonic() + 10
        while len(robot.received) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        hub.alerts.stop()
    assert len(robot.received) == 3
    assert all(f"vio{n}" in r["body"]["markdown"]["text"] for n, r in zip((1, 2, 3), robot.received, strict=True))
    hub.dispatch(Outcome(updates=[("violation", _v(hub.site, 1))]))
    assert hub.alerts.sender.drain() == 0 and len(robot.received) == 3


def test_a_burst_over_the_limit_becomes_a_digest_and_a_refusal_is_retried(site_dir, tmp_path, robot):
    clock = ManualClock(1_772_416_800_000)
    hub = _hub(site_dir, tmp_path / "hub.db", robot, clock, per_minute=20)
    hub.dispatch(Outcome(updates=[("violation", _v(hub.site, n)) for n in range(1, 26)]))
    assert hub.alerts.sender.drain() == 20
    titles = [r["body"]["markdown"]["title"] for r in robot.received]
    assert titles[:19] == ["【违规】擅自离岗 (AWAY-UNATTENDED)"] * 19 and titles[19] == "【汇总】6 条提醒"
    assert all(f"vio{n}" in robot.received[19]["body"]["markdown"]["text"] for n in range(20, 26))
    # the robot refuses with its own rate-limit code: kept, retried, delivered
    robot.limit_code = True
    clock.advance(61)
    hub.dispatch(Outcome(updates=[("violation", _v(hub.site, 26, end=None)),
                                   ("violation", _v(hub.site, 1, end=clock.now_ms()))]))
    assert hub.alerts.sender.drain() == 1 and len(robot.received) == 20
    row = AlertStore(hub.store).queue("leads", 1)[0]
    assert row.last_error == "dingtalk error 130101: send too fast"
    robot.limit_code = False
    clock.set(row.due)
    assert hub.alerts.sender.drain() == 2
    assert [r["body"]["markdown"]["title"][:5] for r in robot.received[20:]] == ["【违规】擅", "【已结束】"]
