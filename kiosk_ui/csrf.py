"""CSRF protection of browser sessions: Flask-WTF's CSRFProtect, applied by the guard.

Which requests must prove they come from this site's own pages (kiosk_ui.guard asks `refusal()`):
  - a state change (POST, PUT, PATCH, DELETE) of a signed-in browser session;
  - a state change of a public endpoint: the login form carries its anonymous session's token.
    Not the kiosk's device login: a kiosk's start script posts its device token from a private
    file:// page, which has no session to take a token from, and the device token is the secret;
  - never a request with `Authorization: Bearer <token>` (exports, scripts, the demo's printed
    token): a browser never adds that header by itself, so a forged cross-site request cannot;
  - a `?token=` URL changes nothing at all (the guard refuses it before asking).
Besides the token, the request's Origin (or Referer), when sent, must be this site.

Pages carry the token in `<meta name="csrf-token">` (templates/base.html), forms in a hidden
`csrf_token` field; static/fw.js's FW.api sends the meta tag's token as `X-CSRFToken`. A token
lives as long as its session (a console stays open all shift; sessions expire server side), and
signing in starts a new one (no session fixation).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, current_app, g, request, session
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf


def init_app(app: Flask) -> None:
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # as long as the session
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # the guard decides which requests need it
    CSRFProtect(app)  # also the templates' csrf_token()


def token() -> str:
    """This browser session's CSRF token, signed (created for an anonymous session too)."""
    return generate_csrf()


def _field() -> str:
    return current_app.config["WTF_CSRF_FIELD_NAME"]


def renew() -> str:
    """A new CSRF secret for this browser session (at sign-in); returns it."""
    g.pop(_field(), None)  # generate_csrf keeps this request's signed token there
    session.pop(_field(), None)
    generate_csrf()
    return session[_field()]


def adopt(secret: str) -> None:
    """Make `secret` (the server-side session's) this browser session's CSRF secret."""
    if session.get(_field()) != secret:
        g.pop(_field(), None)
        session[_field()] = secret


def _origin_ok() -> bool:
    """A browser's Origin (or Referer), when sent, must be this site."""
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if not origin:
        return True
    u = urlsplit(origin)
    return f"{u.scheme}://{u.netloc}" == request.host_url.rstrip("/")


def refusal() -> str | None:
    """Why this state-changing request is not proven to come from this site's pages, or None."""
    if not _origin_ok():
        return "cross-site request (Origin or Referer is not this site)"
    try:
        current_app.extensions["csrf"].protect()
    except CSRFError as exc:
        return f"missing or wrong CSRF token ({exc.description})"
    return None
