"""Where the web app finds the hub's parts: the store, the site and (inside the hub) the live
bus. Views call `store()`, `site()` and `hub()` instead of reaching into app.config."""

from __future__ import annotations

import time
from collections.abc import Callable
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


def _opened(part: str, setting: str, open_it: Callable[[Any], Any]) -> Any:
    """The hub's part, or (a web app on its own) one opened from app.config[setting] on first use."""
    ext = current_app.extensions[_KEY]
    if ext[part] is None:
        if not current_app.config.get(setting):
            raise RuntimeError(f"the web app needs {setting} or a running hub")
        ext[part] = open_it(current_app.config[setting])
    return ext[part]


def store() -> Store:
    return _opened("store", "DATABASE", Store)


def site() -> Site:
    return _opened("site", "SITE_DIR", load_site)
