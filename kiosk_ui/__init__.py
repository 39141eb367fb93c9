"""floorwatch web UI: the kiosk page agents tap at, the floor map, the leads' console, the API.

`create_app(test_config)` follows Flask's tutorial: configuration first, then one blueprint per
area. The app reads the hub's store and, when it runs inside the hub process, the hub's live
bus (app.extensions["floorwatch.hub"]).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask


def create_app(test_config: dict[str, Any] | None = None, *, hub: Any = None) -> Flask:
    """Build the app.

    Config keys: DATABASE (path to the hub db), SITE_DIR (the site folder). `hub` is a running
    hub.service.HubService; without it the app serves what the database holds.
    """
    app = Flask(__name__, instance_relative_config=False)
    app.config.from_mapping(
        SECRET_KEY=None,
        DATABASE=None,
        SITE_DIR=None,
        JSON_AS_ASCII=False,
    )
    if test_config:
        app.config.from_mapping(test_config)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]

    from kiosk_ui import state

    state.init_app(app, hub=hub)

    from kiosk_ui import api, rules_api  # noqa: F401 - rules_api adds the engine's routes to api.bp

    app.register_blueprint(api.bp)

    from kiosk_ui import exports_api

    app.register_blueprint(exports_api.bp)

    from kiosk_ui import console, floor, i18n, kiosk, live, pages, roster_grid

    i18n.init_app(app)
    live.init_app(app)
    for module in (pages, kiosk, floor, console, roster_grid, live):
        app.register_blueprint(module.bp)

    from kiosk_ui import admin, auth

    auth.init_app(app)  # the guard: every endpoint needs its line in auth.POLICY
    app.register_blueprint(admin.bp)  # here, not in auth: admin uses auth, never the other way round
    from kiosk_ui import analytics, violation

    app.register_blueprint(violation.bp)
    app.register_blueprint(analytics.bp)
    return app


def template_dir() -> Path:
    return Path(__file__).parent / "templates"
