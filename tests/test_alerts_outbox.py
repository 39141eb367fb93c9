"""The outbox's decisions and the sender's schedule, on a real SQLite store, with a manual clock
and a recording post function (the HTTP side is tested against a real server in test_alerts_e2e)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from edge.clock import ManualClock
from hub.alerts.alerts_toml import AlertsConfig
from hub.alerts.channels import Request
from hub.alerts.pipeline import Alerts
from hub.store.alerts import AlertStore


def _at(site, hh: int, mm: int = 0) -> int:
    return int(dt.datetime(2026, 3, 2, hh, mm, tzinfo=site.tz).timestamp() * 1000)


class Post:
    """Records requests; fails while `fail` is set."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.fail = False

    def __call__(self, req: Request, timeout: float) -> tuple[int, bytes]:
        assert timeout == 5.0
        if self.fail:
            raise ConnectionRefusedError("connection refused")
        self.requests.append(req)
        return 200, b'{"errcode":0,"errmsg":"ok"}'


@pytest.fixture
def rig(site, store):
    def make(per_minute: int = 20, quiet: str | None = None, hour: int = 10):
        site.alerts = AlertsConfig.model_validate({
            "console_url": "http://hub.test",
            "channels": {"d": {"type": "dingtalk", "url": "http://robot.test/send?access_token=t", "secret": "SEC",
                               "per_minute": per_minute, "quiet": quiet}},
            "routes": [{"channel": "d"}],
        })
        clock = ManualClock(_at(site, hour))
        post = Post()
        return Alerts(site, store, clock, post), clock, post
    return make


def _v(site, n: int = 1, **kw):
    return {"id": f"v{n}", "rule": "AWAY-UNATTENDED", "kind": "unattended", "agent": site.agents[0].employee_no,
            "team": site.agents[0].team, "seat": site.info.seats[0].id, "zone": None, "start": _at(site, 9, 50),
            "end": None, "excused": False, "details": {}, **kw}


def _titles(post) -> list[str]:
    return [json.loads(r.body)["markdown"]["title"] for r in post.requests]


def test_one_alert_per_violation_then_one_resolved(site, rig):
    alerts, clock, post = rig()
    for _ in range(3):  # the engine re-announces a violation as it grows
        alerts.on_updates([("violation", _v(site)), ("seat", {"id": "x"})])
    assert alerts.sender.drain() == 1
    alerts.on_updates([("violation", _v(site, end=_at(site, 10)))])
    alerts.on_updates([("violation", _v(site, end=_at(site, 10)))])
    assert alerts.sender.drain() == 1
    assert [t.split(" ")[0] for t in _titles(post)] == ["【违规】擅自离岗", "【已结束】擅自离岗"]
    alerts.on_updates([("violation", _v(site, end=_at(site, 10)))])
    assert alerts.sender.drain() == 0


def test_excused_before_sending_sends_nothing_after_sends_a_correction(site, rig):
    alerts, clock, post = rig()
    alerts.on_updates([("violation", _v(site, 1)), ("violation", _v(site, 2))])
    alerts.on_updates([("violation", _v(site, 1, excused=True))])
    assert alerts.sender.drain() == 1 and "v2" in post.requests[0].body.decode()
    alerts.on_updates([("violation", {"id": "v2", "withdrawn": True})])
    alerts.on_updates([("violation", {"id": "v2", "withdrawn": True})])
    assert alerts.sender.drain() == 1
    assert _titles(post)[1].startswith("【更正】") and "v1" not in b"".join(r.body for r in post.requests).decode()
    states = {(r.violation, r.kind): r.state for r in AlertStore(alerts.store.store).recent()}
    assert states == {("v1", "alert"): "cancelled", ("v2", "alert"): "sent", ("v2", "correction"): "sent"}


def test_a_violation_that_arrives_ended_gets_no_resolved(site, rig):
    alerts, clock, post = rig()
    alerts.on_updates([("violation", _v(site, end=_at(site, 9, 55)))])
    alerts.on_updates([("violation", _v(site, end=_at(site, 9, 55)))])
    assert alerts.sender.drain() == 1 and alerts.sender.drain() == 0


def test_retried_with_backoff_in_order_and_kept_with_the_error(site, rig):
    alerts, clock, post = rig()
    post.fail = True
    alerts.on_updates([("violation", _v(site, 1)), ("violation", _v(site, 2))])
    assert alerts.sender.drain() == 1  # the first fails; the second waits behind it
    head = AlertStore(alerts.store.store).recent(state="pending")[-1]
    assert (head.violation, head.attempts, head.last_error) == ("v1", 1, "ConnectionRefusedError: connection refused")
    assert head.due == clock.now_ms() + 5000
    clock.advance(4.9)
    assert alerts.sender.drain() == 0
    clock.advance(0.1)
    assert alerts.sender.drain() == 1  # second failure: next in 10 s
    clock.advance(9.9)
    assert alerts.sender.drain() == 0
    post.fail = False
    clock.advance(0.1)
    assert alerts.sender.drain() == 2
    assert ["v1" in r.body.decode() for r in post.requests] == [True, False]
    sent = {r.violation: r.attempts for r in AlertStore(alerts.store.store).recent()}
    assert sent == {"v1": 3, "v2": 1}


def test_over_the_rate_limit_becomes_one_digest(site, rig):
    alerts, clock, post = rig(per_minute=3)
    alerts.on_updates([("violation", _v(site, n)) for n in range(1, 7)])
    assert alerts.sender.drain() == 3
    titles = _titles(post)
    assert titles[2] == "【汇总】4 条提醒" and all(t.startswith("【违规】") for t in titles[:2])
    alerts.on_updates([("violation", _v(site, 7))])
    clock.advance(59.9)
    assert alerts.sender.drain() == 0  # three requests in the last minute
    clock.advance(0.2)
    assert alerts.sender.drain() == 1 and _titles(post)[3].startswith("【违规】")


def test_quiet_hours_hold_alerts_for_one_digest(site, rig):
    alerts, clock, post = rig(quiet="22:00-07:00", hour=23)
    alerts.on_updates([("violation", _v(site, n)) for n in range(1, 4)])
    clock.set(_at(site, 23) + 8 * 3600_000 - 1000)  # 06:59:59 next day
    assert alerts.sender.drain() == 0
    clock.advance(1)
    assert alerts.sender.drain() == 1 and _titles(post) == ["【汇总】3 条提醒"]
