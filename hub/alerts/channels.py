"""Each robot's request, as its vendor documents it: small pure functions of (message, secret,
timestamp), so a unit test pins the exact bytes and signature.

  WeCom (企业微信) group robot   POST url (its `key=` is the secret) {"msgtype": "text"|"markdown", ...}
  DingTalk (钉钉) robot          "加签": sign = base64(HMAC-SHA256(secret, "<ts ms>\\n<secret>")),
                                 URL-encoded into the query as &timestamp=<ts ms>&sign=<sign>
  Feishu (飞书) custom bot       sign = base64(HMAC-SHA256(key="<ts s>\\n<secret>", msg="")), sent in
                                 the body with "timestamp" (seconds, a string)
  generic webhook                the alert as JSON; header `<header>: sha256=<hex HMAC-SHA256(secret, body)>`

Each robot answers HTTP 200 with its own error code in the body: `response_error` reads it, so a
robot refusing a message (rate limit, bad signature) is retried like an endpoint that is down.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

from hub.alerts.alerts_toml import Channel


@dataclass(frozen=True)
class Message:
    """An alert's words: a title, plain text and the same as markdown."""

    title: str
    text: str
    markdown: str


@dataclass(frozen=True)
class Request:
    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json; charset=utf-8"})


def _json(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def wecom_request(url: str, msg: Message, fmt: str = "markdown") -> Request:
    if fmt == "markdown":
        return Request(url, _json({"msgtype": "markdown", "markdown": {"content": msg.markdown}}))
    return Request(url, _json({"msgtype": "text", "text": {"content": msg.text}}))


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's signature, base64 (not yet URL-encoded)."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    return base64.b64encode(hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()).decode()


def dingtalk_request(url: str, secret: str, msg: Message, timestamp_ms: int, fmt: str = "markdown") -> Request:
    sep = "&" if "?" in url else "?"
    signed = f"{url}{sep}timestamp={timestamp_ms}&sign={quote_plus(dingtalk_sign(secret, timestamp_ms))}"
    if fmt == "markdown":
        return Request(signed, _json({"msgtype": "markdown", "markdown": {"title": msg.title, "text": msg.markdown}}))
    return Request(signed, _json({"msgtype": "text", "text": {"content": msg.text}}))


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu's signature: the HMAC key is "timestamp\\nsecret" and the message is empty."""
    return base64.b64encode(hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()).decode()


def feishu_request(url: str, secret: str, msg: Message, timestamp_s: int) -> Request:
    return Request(url, _json({"timestamp": str(timestamp_s), "sign": feishu_sign(secret, timestamp_s),
                               "msg_type": "text", "content": {"text": msg.text}}))


def webhook_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_request(url: str, secret: str, header: str, payload: dict[str, Any], timestamp_ms: int) -> Request:
    body = _json({**payload, "timestamp": timestamp_ms})
    return Request(url, body, {"Content-Type": "application/json; charset=utf-8", header: webhook_signature(secret, body)})


def build_request(channel: Channel, msg: Message, payload: dict[str, Any], now_ms: int) -> Request:
    """The request for one channel; `payload` is what a generic webhook receives (with the words)."""
    if channel.type == "wecom":
        return wecom_request(channel.url, msg, channel.format)
    assert channel.secret is not None  # the config insists on it for the others
    if channel.type == "dingtalk":
        return dingtalk_request(channel.url, channel.secret, msg, now_ms, channel.format)
    if channel.type == "feishu":
        return feishu_request(channel.url, channel.secret, msg, now_ms // 1000)
    return webhook_request(channel.url, channel.secret, channel.header,
                           {**payload, "title": msg.title, "text": msg.text}, now_ms)


def response_error(channel_type: str, status: int, body: bytes) -> str | None:
    """Why a response is a failure, or None if the message was accepted."""
    if not 200 <= status < 300:
        return f"HTTP {status}: {body[:200].decode('utf-8', 'replace')}"
    if channel_type == "webhook":
        return None
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return f"not JSON: {body[:200].decode('utf-8', 'replace')}"
    if not isinstance(data, dict):
        return "not a JSON object"
    code = data.get("errcode", data.get("code", data.get("StatusCode", 0)))
    if code not in (0, None):
        msg = data.get("errmsg", data.get("msg", data.get("StatusMessage", "")))
        return f"{channel_type} error {code}: {msg}"
    return None
