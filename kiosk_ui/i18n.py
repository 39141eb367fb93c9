"""Translations for the web UI: zh-CN by default, English on request.

Catalogs are flat JSON files in `kiosk_ui/translations/` (`zh_CN.json`, `en.json`) mapping a
dotted key to a `str.format` template, so templates and scripts carry keys, never words; the
violation kinds' words (`kind.*`) come from the hub's catalogue (hub.violation_kinds), which the
alerts speak too. The
language comes from `?lang=` (remembered in a cookie), then the cookie, then the app's
`DEFAULT_LANG`. Scripts get the page's catalog embedded as JSON and use the same keys.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, request

from hub.violation_kinds import catalog_entries

LANGS = ("zh_CN", "en")
DEFAULT_LANG = "zh_CN"
COOKIE = "fw_lang"
_DIR = Path(__file__).parent / "translations"
# `?lang=` accepts what people type as well as the catalog names.
_ALIASES = {"zh": "zh_CN", "zh-cn": "zh_CN", "zh_cn": "zh_CN", "cn": "zh_CN", "en": "en", "en-us": "en", "en_us": "en"}


@cache
def catalog(lang: str) -> dict[str, str]:
    """One language's catalog, its file and the violation kinds (read once per process)."""
    if lang not in LANGS:
        raise KeyError(f"no catalog for language {lang!r}")
    with open(_DIR / f"{lang}.json", encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ValueError(f"{_DIR / (lang + '.json')}: must map keys to strings")
    return {**data, **catalog_entries(lang)}


def normalise(raw: str | None) -> str | None:
    """A language name as given by a user or a cookie, or None if it is none of ours."""
    if not raw:
        return None
    return _ALIASES.get(raw.strip().lower().replace(" ", ""))


def translate(lang: str, key: str, **params: Any) -> str:
    """The text for `key`; a missing key falls back to the default language, then to the key
    itself (visible, so a gap is noticed rather than hidden)."""
    text = catalog(lang).get(key) or catalog(DEFAULT_LANG).get(key) or key
    if params:
        try:
            return text.format(**params)
        except (KeyError, IndexError, ValueError):
            return text
    return text


def other_lang(lang: str) -> str:
    return "en" if lang == "zh_CN" else "zh_CN"


def current_lang() -> str:
    return getattr(g, "fw_lang", None) or DEFAULT_LANG


def init_app(app: Flask) -> None:
    """Pick the language per request and offer `_()`, `lang` and `i18n_json()` to templates."""
    app.config.setdefault("DEFAULT_LANG", DEFAULT_LANG)

    @app.before_request
    def _choose_language() -> None:
        asked = normalise(request.args.get("lang"))
        g.fw_lang_asked = asked
        g.fw_lang = asked or normalise(request.cookies.get(COOKIE)) or app.config["DEFAULT_LANG"]

    @app.after_request
    def _remember_language(resp: Response) -> Response:
        asked = getattr(g, "fw_lang_asked", None)
        if asked:
            resp.set_cookie(COOKIE, asked, max_age=365 * 24 * 3600, samesite="Lax")
        return resp

    @app.context_processor
    def _template_helpers() -> dict[str, Any]:
        lang = current_lang()
        return {
            "_": lambda key, **kw: translate(lang, key, **kw),
            "lang": lang,
            "html_lang": "zh-CN" if lang == "zh_CN" else "en",
            "other_lang": other_lang(lang),
            # the other language, for the kiosk's bilingual prompt
            "_other": lambda key, **kw: translate(other_lang(lang), key, **kw),
            "i18n_catalog": catalog(lang),
        }
