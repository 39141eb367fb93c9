"""Each robot's exact request for a fixed timestamp and secret (signatures computed independently
with `openssl dgst -sha256 -hmac`), the words of a message, and routing."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import parse_qs, urlsplit

from hub.alerts.alerts_toml import AlertsConfig
from hub.alerts.channels import (
    Message,
    dingtalk_request,
    dingtalk_sign,
    feishu_request,
    feishu_sign,
    response_error,
    webhook_request,
    wecom_request,
)
from hub.alerts.messages import compose, compose_digest
from hub.alerts.routes import channels_for

MSG = Message("【违规】擅自离岗", "纯文本", "### 标题")
TZ = dt.timezone(dt.timedelta(hours=8))


def test_wecom_text_and_markdown():
    md = wecom_request("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", MSG)
    assert md.url == "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"
    assert json.loads(md.body) == {"msgtype": "markdown", "markdown": {"content": "### 标题"}}
    assert json.loads(wecom_request("https://x.test/h", MSG, "text").body) == {"msgtype": "text", "text": {"content": "纯文本"}}


def test_dingtalk_sign_in_the_query():
    # printf '%s\n%s' 1700000000000 SECtest123 | openssl dgst -sha256 -hmac SECtest123 -binary | base64
    assert dingtalk_sign("SECtest123", 1700000000000) == "w3RMHXzixTMdzr8OHJUmVLS4IoPJVdu+Ut1LE48MePE="
    req = dingtalk_request("https://oapi.dingtalk.com/robot/send?access_token=T", "SECtest123", MSG, 1700000000000)
    assert req.url == ("https://oapi.dingtalk.com/robot/send?access_token=T&timestamp=1700000000000"
                       "&sign=w3RMHXzixTMdzr8OHJUmVLS4IoPJVdu%2BUt1LE48MePE%3D")
    q = parse_qs(urlsplit(req.url).query)
    assert q["sign"] == ["w3RMHXzixTMdzr8OHJUmVLS4IoPJVdu+Ut1LE48MePE="]
    assert json.loads(req.body) == {"msgtype": "markdown", "markdown": {"title": "【违规】擅自离岗", "text": "### 标题"}}


def test_feishu_sign_in_the_body():
    # printf '' | openssl dgst -sha256 -hmac "$(printf '%s\n%s' 1700000000 feishu-secret)" -binary | base64
    assert feishu_sign("feishu-secret", 1700000000) == "OrBzY1Y01Gq+HgJsl+7OfWcMVwc7YocohQm5iiZwjhU="
    req = feishu_request("https://open.feishu.cn/open-apis/bot/v2/hook/h", "feishu-secret", MSG, 1700000000)
    assert json.loads(req.body) == {"timestamp": "1700000000", "sign": "OrBzY1Y01Gq+HgJsl+7OfWcMVwc7YocohQm5iiZwjhU=",
                                    "msg_type": "text", "content": {"text": "纯文本"}}


def test_webhook_hmac_header_over_the_body():
    req = webhook_request("https://x.test/h", "whsecret", "X-Sig", {"a": 1}, 5)
    assert req.body == b'{"a":1,"timestamp":5}'
    # printf '%s' '{"a":1,"timestamp":5}' | openssl dgst -sha256 -hmac whsecret
    assert req.headers["X-Sig"] == "sha256=c6a4d00642ff8a70d24f93b9ae8616c92e9ef513ccf41e22d20c44b539c62eae"


def test_robot_error_codes_are_failures():
    assert response_error("dingtalk", 200, b'{"errcode":0,"errmsg":"ok"}') is None
    assert response_error("dingtalk", 200, b'{"errcode":130101,"errmsg":"send too fast"}') == "dingtalk error 130101: send too fast"
    assert response_error("wecom", 200, b'{"errcode":45009,"errmsg":"api freq out of limit"}').startswith("wecom error 45009")
    assert response_error("feishu", 200, b'{"code":9499,"msg":"too many request"}') == "feishu error 9499: too many request"
    assert response_error("feishu", 200, b'{"code":0,"msg":"success"}') is None
    assert response_error("webhook", 500, b"boom") == "HTTP 500: boom"
    assert response_error("wecom", 200, b"<html>") .startswith("not JSON")


def _violation(**kw):
    v = {"id": "v1", "rule": "AWAY-UNATTENDED", "kind": "unattended", "agent": "10001", "team": "T1", "seat": "A01",
         "zone": "A", "start": int(dt.datetime(2026, 3, 2, 10, 5, tzinfo=TZ).timestamp() * 1000), "end": None,
         "details": {}}
    return {**v, **kw}


def test_message_words_name_seat_zone_minutes_and_link(site):
    agent = site.agents[0]
    v = _violation(agent=agent.employee_no)
    msg = compose(site, "zh_CN", "http://hub.test", "alert", v, v["start"] + 17 * 60000)
    assert msg.title == "【违规】擅自离岗 (AWAY-UNATTENDED)"
    assert f"客服: {agent.name} ({agent.employee_no})" in msg.text
    assert "座位: A01" in msg.text and "区域: A" in msg.text and "时长: 17 分钟" in msg.text
    assert "时间: 2026-03-02 10:05" in msg.text
    assert "查看证据: http://hub.test/console/violations/v1" in msg.text
    assert "[查看证据](http://hub.test/console/violations/v1)" in msg.markdown
    en = compose(site, "en", None, "correction", v, v["start"])
    assert en.title.startswith("[Correction] ") and "withdrawn" in en.text and "Evidence" not in en.text


def test_unknown_badge_is_masked(site):
    v = _violation(rule="BADGE-UNKNOWN", kind="unknown_badge", agent=None, end=None, details={"uid": "0A12345678"})
    msg = compose(site, "zh_CN", None, "alert", v, v["start"])
    assert "未登记工牌 ******5678" in msg.text and "0A12345678" not in msg.text + msg.markdown
    digest = compose_digest(site, "zh_CN", None, [("alert", v), ("resolved", _violation())], v["start"])
    assert digest.title == "【汇总】2 条提醒" and "0A12345678" not in digest.text


def test_routes_by_rule_zone_team_hours_and_severity():
    cfg = AlertsConfig.model_validate({
        "console_url": "http://h.test",
        "channels": {"c": {"type": "wecom", "url": "https://x.test/a"}, "n": {"type": "wecom", "url": "https://x.test/b"},
                     "off": {"type": "wecom", "url": "https://x.test/c", "enabled": False}},
        "routes": [{"channel": "c", "rules": ["AWAY-*"], "zones": ["A"], "teams": ["T1"], "hours": "08:00-18:00",
                    "min_severity": "warning"},
                   {"channel": "n", "hours": "22:00-06:00", "min_severity": "critical"},
                   {"channel": "off"}],
        "severity": {"AWAY-BREAK-LONG": "info"},
    })
    zones = {"A01": "A", "B01": "B"}
    assert channels_for(cfg, _violation(zone=None), zones, TZ) == ["c"]
    assert channels_for(cfg, _violation(zone=None, seat="B01"), zones, TZ) == []
    assert channels_for(cfg, _violation(team="T2"), zones, TZ) == []
    assert channels_for(cfg, _violation(rule="AWAY-BREAK-LONG", kind="break_long"), zones, TZ) == []  # info < warning
    late = int(dt.datetime(2026, 3, 2, 23, 0, tzinfo=TZ).timestamp() * 1000)
    assert channels_for(cfg, _violation(start=late), zones, TZ) == []  # AWAY-UNATTENDED is a warning
    assert channels_for(cfg, _violation(start=late, rule="BADGE-UNKNOWN"), zones, TZ) == ["n"]
