"""Where the web app finds the hub's parts: the store, the site and (inside the hub) the live
bus. Views call `store()`, `site()` and `hub()` instead of reaching into app.config."""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, current_app

from hub.site import Site, load_site
from hub.store import Store

_KEY = "floorwatch"


def init_app(app: Flask, hub: Any = None) -> None:
    ext: dict[str, Any] = {"hub": hub, "store": None, "site": None}
    if hub is not None:
        ext["store"] = hub.store
        ext["site"] = hub.site
    app.extensions[_KEY] = ext


def hub() -> Any:
    return current_app.extensions[_KEY]["hub"]


def now_ms() -> int:
    """The hub's clock (tests and the demo inject one), or wall time when there is no hub."""
    running = hub()
    return running.clock.now_ms() if running is not None else time.time_ns() // 1_000_000


def store() -> Store:
    ext = current_app.extensions[_KEY]
    if ext["store"] is None:
        if not current_app.config.get("DATABASE"):
            raise RuntimeError("the web app needs DATABASE or a running hub")
        ext["store"] = Store(current_app.config["DATABASE"])
    return ext["store"]


def site() -> Site:
    ext = current_app.extensions[_KEY]
    if ext["site"] is None:
        if not current_app.config.get("SITE_DIR"):
            raise RuntimeError("the web app needs SITE_DIR or a running hub")
        ext["site"] = load_site(current_app.config["SITE_DIR"])
    return ext["site"]
