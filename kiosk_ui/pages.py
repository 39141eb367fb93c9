"""What every page shares: the start page, the page configuration handed to scripts, and the
links that keep `?token=` and switch language.

Pages are plain Flask views; an auth layer (a global before_request guard) can check roles on
any of them. A kiosk has no keyboard to log in with, so its URL may carry `?token=`, which the
page passes on to its stream and API calls.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request, url_for

from kiosk_ui import i18n, state

bp = Blueprint("pages", __name__)


def token() -> str | None:
    """The `?token=` this page was opened with (passed on, never interpreted here)."""
    raw = request.args.get("token")
    return raw if raw and len(raw) <= 512 else None


def page_url(endpoint: str, **values: Any) -> str:
    """A link to another page that keeps the token."""
    if token() and "token" not in values:
        values["token"] = token()
    return url_for(endpoint, **values)


def switch_lang_url() -> str:
    """This page in the other language (the choice is then remembered in a cookie)."""
    args = {k: v for k, v in request.args.items() if k != "lang"}
    args["lang"] = i18n.other_lang(i18n.current_lang())
    return url_for(request.endpoint or "pages.index", **(request.view_args or {}), **args)


def page_config(**extra: Any) -> dict[str, Any]:
    """The JSON every page script starts from (embedded in the page, not fetched)."""
    site = state.site()
    cfg: dict[str, Any] = {
        "site": {"id": site.id, "name": site.info.name, "tz": site.info.timezone},
        "lang": i18n.current_lang(),
        "token": token(),
        "now": state.now_ms(),
        "keepaliveS": current_app.config.get("LIVE_KEEPALIVE_S", 5.0),
        "live": state.hub() is not None,
    }
    cfg.update(extra)
    return cfg


def render_page(template: str, **context: Any) -> str:
    return render_template(template, page_url=page_url, switch_lang_url=switch_lang_url(), **context)


@bp.get("/")
def index():
    """Where the demo's URL lands: links to the floor map, the console and each kiosk."""
    site = state.site()
    kiosks = sorted(d.id for d in site.devices.values() if d.role == "kiosk")
    return render_page("index.html", site=site, kiosks=kiosks, config=page_config())
