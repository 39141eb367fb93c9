"""floorwatch web UI: the kiosk page agents tap at, the floor map, the leads' console, the API.

`create_app(test_config)` follows Flask's tutorial: configuration first, then the app-wide parts
(the access layer, kiosk_ui.guard: every endpoint needs its line in kiosk_ui.policy.POLICY),
then one blueprint per area, each registered here and nowhere else. The app reads the hub's store and, when it runs
inside the hub process, the hub's live bus (app.extensions["floorwatch"]).
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from kiosk_ui import (
    admin,
    analytics,
    api,
    console,
    exports_api,
    feed,
    floor,
    guard,
    hq,
    i18n,
    kiosk,
    login,
    pages,
    roster_grid,
    rules_api,
    state,
    violation,
)

BLUEPRINTS = (login, api, rules_api, exports_api, pages, kiosk, floor, console, roster_grid, feed, admin,
              violation, analytics, hq)


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
    state.init_app(app, hub=hub)
    i18n.init_app(app)
    feed.init_app(app)
    guard.init_app(app)
    for module in BLUEPRINTS:
        app.register_blueprint(module.bp)
    return app
