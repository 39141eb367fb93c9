"""The words of an alert, in the site's language (alerts.toml `language`, zh-CN by default).

Rule names come from the catalogue of violation kinds the web UI also speaks
(hub.violation_kinds), so a lead reads the same words in the chat as in the console; the few
words around them are here.
An unknown badge has no agent: its UID is shown masked (hub.privacy), never in full.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hub.alerts.channels import Message
from hub.privacy import mask_uid
from hub.site import Site
from hub.violation_kinds import kind_name

WORDS: dict[str, dict[str, str]] = {
    "zh_CN": {
        "alert": "【违规】", "resolved": "【已结束】", "correction": "【更正】", "digest": "【汇总】",
        "correction_note": "此前的提醒已撤销（违规已豁免或经复核不成立）",
        "agent": "客服", "seat": "座位", "zone": "区域", "minutes": "时长", "minutes_unit": "分钟",
        "at": "时间", "evidence": "查看证据", "unknown_badge": "未登记工牌", "device": "设备",
        "digest_title": "{n} 条提醒", "none": "—",
    },
    "en": {
        "alert": "[Violation] ", "resolved": "[Ended] ", "correction": "[Correction] ", "digest": "[Digest] ",
        "correction_note": "The earlier alert is withdrawn (excused, or not a violation on review)",
        "agent": "Agent", "seat": "Seat", "zone": "Zone", "minutes": "Duration", "minutes_unit": "min",
        "at": "At", "evidence": "Evidence", "unknown_badge": "unknown badge", "device": "Device",
        "digest_title": "{n} alerts", "none": "-",
    },
}


def rule_name(lang: str, rule: str, kind: str) -> str:
    """'擅自离岗 (AWAY-UNATTENDED)': the console's word for the kind, with the rule id."""
    name = kind_name(kind, lang)
    return f"{name} ({rule})" if name else f"{kind} ({rule})"


def who(site: Site, v: dict[str, Any], lang: str) -> str:
    """The agent's name and number, or the masked UID of an unknown badge."""
    emp = v.get("agent")
    if emp:
        agent = site.agent(emp)
        return f"{agent.name} ({emp})" if agent else str(emp)
    uid = (v.get("details") or {}).get("uid")
    if isinstance(uid, str) and uid:
        return f"{WORDS[lang]['unknown_badge']} {mask_uid(uid)}"
    return WORDS[lang]["none"]


def minutes(v: dict[str, Any], now_ms: int) -> int:
    end = v.get("end") if v.get("end") is not None else now_ms
    return max(0, round((end - v["start"]) / 60000))


def evidence_url(base: str | None, v: dict[str, Any]) -> str | None:
    """The console's page of the violation with its evidence events (kiosk_ui/violation.py)."""
    return f"{base}/console/violations/{v['id']}" if base else None


def compose(site: Site, lang: str, base_url: str | None, kind: str, v: dict[str, Any], now_ms: int) -> Message:
    """One alert ('alert', 'resolved' or 'correction') about violation `v` (the engine's JSON)."""
    w = WORDS[lang]
    name = rule_name(lang, v.get("rule", "?"), v.get("kind", "?"))
    title = f"{w[kind]}{name}"
    at = dt.datetime.fromtimestamp(v["start"] / 1000, site.tz).strftime("%Y-%m-%d %H:%M")
    zone = v.get("zone") or (site.seat(v["seat"]).zone if v.get("seat") and site.seat(v["seat"]) else None)
    fields = [
        (w["agent"], who(site, v, lang)),
        (w["seat"], v.get("seat") or w["none"]),
        (w["zone"], zone or w["none"]),
        (w["at"], at),
        (w["minutes"], f"{minutes(v, now_ms)} {w['minutes_unit']}"),
    ]
    if v.get("device") and not v.get("seat"):
        fields.append((w["device"], v["device"]))
    url = evidence_url(base_url, v)
    lines = [f"{k}: {val}" for k, val in fields]
    text = "\n".join([title, *lines] + ([w["correction_note"]] if kind == "correction" else [])
                     + ([f"{w['evidence']}: {url}"] if url else []))
    md = "\n".join([f"### {title}", *(f"- **{k}**: {val}" for k, val in fields)]
                   + ([f"> {w['correction_note']}"] if kind == "correction" else [])
                   + ([f"[{w['evidence']}]({url})"] if url else []))
    return Message(title, text, md)


def compose_digest(site: Site, lang: str, base_url: str | None, items: list[tuple[str, dict[str, Any]]],
                   now_ms: int) -> Message:
    """Many alerts in one message (over a robot's rate limit, or held through quiet hours)."""
    w = WORDS[lang]
    title = w["digest"] + w["digest_title"].format(n=len(items))
    text_lines, md_lines = [title], [f"### {title}"]
    for kind, v in items:
        at = dt.datetime.fromtimestamp(v["start"] / 1000, site.tz).strftime("%H:%M")
        line = (f"{w[kind]}{rule_name(lang, v.get('rule', '?'), v.get('kind', '?'))} {at}"
                f" {who(site, v, lang)} {v.get('seat') or v.get('zone') or v.get('device') or ''}".rstrip())
        url = evidence_url(base_url, v)
        text_lines.append(line + (f" {url}" if url else ""))
        md_lines.append(f"- {line}" + (f" [{w['evidence']}]({url})" if url else ""))
    return Message(title, "\n".join(text_lines), "\n".join(md_lines))
