"""Every channel type end to end: one hub routes each kind of alert to its own local HTTP
receiver, which checks the request the way that robot does (WeCom: the key in the URL; DingTalk:
timestamp and sign in the query; Feishu: timestamp and sign in the body; a plain webhook: the HMAC
header over the body) and answers in that robot's own words. Each alert arrives at the channel
its route names, exactly once, and a withdrawn violation's correction follows it there."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from edge.clock import ManualClock
from hub.engine.core import Outcome
from hub.service import HubService
from hub.site import load_site
from hub.store import Store
from tests.alert_receiver import QuietHandler, serve

SECRETS = {"dingtalk": "SECding", "feishu": "feishu-secret", "webhook": "wh-secret"}
HEADER = "X-Floorwatch-Signature"
OK = {"wecom": b'{"errcode":0,"errmsg":"ok"}', "dingtalk": b'{"errcode":0,"errmsg":"ok"}',
      "feishu": b'{"code":0,"msg":"success"}', "webhook": b"{}"}
REFUSED = {"wecom": b'{"errcode":93000,"errmsg":"invalid webhook url"}',
           "dingtalk": b'{"errcode":310000,"errmsg":"sign not match"}',
           "feishu": b'{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"}',
           "webhook": b""}


def _b64_hmac(key: bytes, msg: bytes) -> str:
    return base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()


def signed_as(kind: str, query: dict[str, str], headers, body: bytes) -> bool:
    """Whether the request carries what that robot checks, computed here independently."""
    if kind == "wecom":
        return query.get("key") == "wecom-key"
    if kind == "dingtalk":
        secret = SECRETS["dingtalk"]
        return query.get("sign") == _b64_hmac(secret.encode(), f"{query.get('timestamp')}\n{secret}".encode())
    if kind == "feishu":
        data = json.loads(body)
        return data.get("sign") == _b64_hmac(f"{data.get('timestamp')}\n{SECRETS['feishu']}".encode(), b"")
    expected = "sha256=" + hmac.new(SECRETS["webhook"].encode(), body, hashlib.sha256).hexdigest()
    return headers.get(HEADER) == expected


class Receiver:
    """One robot endpoint of type `kind` on 127.0.0.1, recording the requests it accepts."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.received: list[dict] = []
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                if not signed_as(receiver.kind, query, self.headers, body):
                    status = 401 if receiver.kind == "webhook" else 200
                    return self.answer(status, REFUSED[receiver.kind])
                receiver.received.append(json.loads(body))
                self.answer(200, OK[receiver.kind])

        self.server = serve(Handler)
        base = f"http://127.0.0.1:{self.server.server_port}"
        self.url = {"wecom": f"{base}/cgi-bin/webhook/send?key=wecom-key", "dingtalk": f"{base}/robot/send?access_token=t",
                    "feishu": f"{base}/open-apis/bot/v2/hook/h", "webhook": f"{base}/floorwatch"}[kind]

    def text(self) -> list[str]:
        """What each accepted message says, whatever the robot's body shape."""
        out = []
        for b in self.received:
            out.append(json.dumps(b, ensure_ascii=False))
        return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers():
    rs = {k: Receiver(k) for k in ("wecom", "dingtalk", "feishu", "webhook")}
    yield rs
    for r in rs.values():
        r.close()


ROUTES = {"wecom": "AWAY-*", "dingtalk": "DEV-*", "feishu": "ROLL-*", "webhook": "BADGE-*"}


def _alerts_toml(receivers) -> str:
    lines = ['console_url = "http://hub.test:8080"']
    for kind, r in receivers.items():
        lines += [f"[channels.{kind}-robot]", f'type = "{kind}"', f'url = "{r.url}"']
        if kind in SECRETS:
            lines.append(f'secret = "{SECRETS[kind]}"')
        if kind == "webhook":
            lines.append(f'header = "{HEADER}"')
    for kind, rule in ROUTES.items():
        lines += ["[[routes]]", f'channel = "{kind}-robot"', f'rules = ["{rule}"]']
    return "\n".join(lines) + "\n"


def _v(site, vid: str, rule: str, kind: str, **kw):
    start = int(dt.datetime(2026, 3, 2, 10, 0, tzinfo=site.tz).timestamp() * 1000)
    agent, seat = site.agents[0], site.info.seats[0]
    return {"id": vid, "rule": rule, "kind": kind, "agent": agent.employee_no, "team": agent.team, "seat": seat.id,
            "zone": seat.zone, "device": f"seat-{seat.id.lower()}", "start": start, "end": start + 12 * 60_000,
            "excused": False, "details": {}, **kw}


def test_each_alert_kind_reaches_its_routed_robot_exactly_once(site_dir, tmp_path, receivers):
    (site_dir / "alerts.toml").write_text(_alerts_toml(receivers))
    clock = ManualClock(int(dt.datetime(2026, 3, 2, 10, 15, tzinfo=dt.timezone(dt.timedelta(hours=8))).timestamp() * 1000))
    hub = HubService(load_site(site_dir), Store(tmp_path / "hub.db"), clock=clock, engine=object(), purge_every_s=None)
    site = hub.site
    sent = {"wecom": _v(site, "vaway", "AWAY-UNATTENDED", "unattended"),
            "dingtalk": _v(site, "vdev", "DEV-OFFLINE", "offline", agent=None, team=None),
            "feishu": _v(site, "vroll", "ROLL-LATE", "late"),
            "webhook": _v(site, "vbadge", "BADGE-WRONG-SEAT", "wrong_seat")}
    hub.dispatch(Outcome(updates=[("violation", v) for v in sent.values()]))
    hub.dispatch(Outcome(updates=[("violation", v) for v in sent.values()]))  # the engine re-publishes: no repeat
    assert hub.alerts.sender.drain() == 4
    for kind, r in receivers.items():
        assert len(r.received) == 1, (kind, r.received)
        [text] = r.text()
        assert sent[kind]["rule"] in text and f"/console/violations/{sent[kind]['id']}" in text, (kind, text)

    # withdrawn after it went out: the correction goes to the same robot, once
    hub.dispatch(Outcome(updates=[("violation", {"id": "vroll", "withdrawn": True})]))
    hub.dispatch(Outcome(updates=[("violation", {"id": "vroll", "withdrawn": True})]))
    assert hub.alerts.sender.drain() == 1
    assert [len(r.received) for r in receivers.values()] == [1, 1, 2, 1]
    assert "vroll" in receivers["feishu"].text()[1]
    hub.store.close()
