"""Translations: both catalogs carry the same keys, every key the templates and scripts use
exists, templates hold no words of their own, and the language switch is remembered."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kiosk_ui import i18n

UI = Path(i18n.__file__).parent
HAN = re.compile(r"[\u4e00-\u9fff]")
UI_TEMPLATES = ("base.html", "_macros.html", "index.html", "kiosk.html", "floor.html", "console.html", "roster_grid.html")
UI_SCRIPTS = ("fw.js", "kiosk.js", "floor.js", "console.js", "roster_grid.js")
UI_VIEWS = ("kiosk.py", "floor.py", "console.py", "pages.py", "feed.py", "roster_grid.py")


def _catalog(lang: str) -> dict[str, str]:
    return i18n.catalog(lang)  # the file and the hub's violation kinds


def test_catalogs_have_the_same_keys_and_placeholders():
    zh, en = _catalog("zh_CN"), _catalog("en")
    assert set(zh) == set(en), f"only zh: {set(zh) - set(en)}; only en: {set(en) - set(zh)}"
    for key in zh:
        assert set(re.findall(r"\{(\w+)\}", zh[key])) == set(re.findall(r"\{(\w+)\}", en[key])), key
        assert zh[key].strip() and en[key].strip(), key
    assert not any(HAN.search(v) for v in en.values() if v != "中文"), "Chinese text in the English catalog"


def _used_keys(namespaces: set[str]) -> tuple[set[str], set[str]]:
    """Keys (quoted strings in a catalog namespace) and dynamic key prefixes (`verdict.${v}`)
    used by the templates, the scripts and the views."""
    alternatives = "|".join(sorted(namespaces))
    quoted = re.compile(rf"""["']((?:{alternatives})\.[a-z_]+)["']""")
    keys: set[str] = set()
    prefixes: set[str] = set()
    for name in UI_TEMPLATES:
        keys |= set(re.findall(r"""\b_(?:other)?\(\s*'([\w.]+)'""", (UI / "templates" / name).read_text(encoding="utf-8")))
    for name in UI_SCRIPTS:
        text = (UI / "static" / name).read_text(encoding="utf-8")
        keys |= set(quoted.findall(text))
        prefixes |= set(re.findall(r"FW\.t\(`([\w.]+)\$\{", text))
    for name in UI_VIEWS:
        keys |= set(re.findall(r'translate\([^,]+,\s*"([\w.]+)"', (UI / name).read_text(encoding="utf-8")))
    return keys, prefixes


def test_every_key_used_exists_in_both_catalogs():
    zh, en = _catalog("zh_CN"), _catalog("en")
    keys, prefixes = _used_keys({k.split(".")[0] for k in zh})
    assert len(keys) > 100 and {"verdict.", "seat.", "rollcall.", "kind."} <= prefixes
    assert sorted(k for k in keys if k not in zh) == []
    for prefix in prefixes:
        assert any(k.startswith(prefix) for k in zh), prefix
    # every contract value the pages translate by prefix
    for verdict in ("on_time", "roll_call_late", "late", "signed_in", "seat_signin_late", "wrong_seat",
                    "unknown_badge", "revoked_badge", "repeat", "no_shift", "signed_out"):
        assert f"verdict.{verdict}" in zh and f"verdict.{verdict}" in en
    for st in ("vacant", "signed_in", "occupied_no_badge", "break", "meal", "unattended", "no_data"):
        assert f"seat.{st}" in zh
    for st in ("on_time", "roll_call_late", "late", "absent", "pending", "leave"):
        assert f"rollcall.{st}" in zh
    assert zh["verdict.unknown_badge"] == "未登记工牌" and zh["kiosk.prompt"] == "请刷工牌"
    assert en["kiosk.prompt"] == "Please tap your badge"


@pytest.mark.parametrize("name", UI_TEMPLATES)
def test_templates_hold_no_words_of_their_own(name):
    """Text nodes of a template are Jinja expressions only: words live in the catalogs."""
    text = (UI / "templates" / name).read_text(encoding="utf-8")
    assert not HAN.search(text)
    text = re.sub(r"\{% block body_class %\}.*?\{% endblock %\}", "", text)  # a CSS class, not words
    stripped = re.sub(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}|<script.*?</script>|<style.*?</style>", "", text, flags=re.S)
    words = [w.strip() for w in re.sub(r"<[^>]+>", "\n", stripped).split("\n")]
    assert [w for w in words if re.search(r"[A-Za-z]{2,}", w)] == []
    for attr in re.findall(r'(?:aria-label|title|placeholder|alt)="([^"]*)"', stripped):
        assert not re.search(r"[A-Za-z]{2,}", attr), attr


def test_translate_falls_back_and_formats():
    assert i18n.translate("en", "kiosk.minutes_late", n=7) == "7 min late"
    assert i18n.translate("zh_CN", "kiosk.minutes_late", n=7) == "迟到 7 分钟"
    assert i18n.translate("en", "no.such.key") == "no.such.key"  # visible, not hidden
    assert i18n.translate("zh_CN", "kiosk.minutes_late") == "迟到 {n} 分钟"  # a missing parameter stays
    assert i18n.normalise("zh-CN") == "zh_CN" and i18n.normalise("EN") == "en" and i18n.normalise("fr") is None


def test_language_switch_is_remembered(client):
    page = client.get("/kiosk/kiosk-k1")
    assert page.status_code == 200 and "请刷工牌" in page.get_data(as_text=True)
    assert '<html lang="zh-CN">' in page.get_data(as_text=True)
    en = client.get("/kiosk/kiosk-k1?lang=en")
    body = en.get_data(as_text=True)
    assert '<html lang="en">' in body and body.index("Please tap your badge") < body.index("请刷工牌")
    assert "fw_lang=en" in en.headers.get("Set-Cookie", "")
    again = client.get("/console")  # the cookie keeps English
    assert "Lead console" in again.get_data(as_text=True)
    back = client.get("/console?lang=zh")
    assert "班长控制台" in back.get_data(as_text=True)
    assert client.get("/console?lang=fr").status_code == 200  # an unknown language is ignored
