"""The guard in front of every request, and what follows every response.

Before: the endpoint's line in kiosk_ui.policy.POLICY (none: denied, naming it), who is asking
(kiosk_ui.sessions), the role, CSRF for browser state changes (kiosk_ui.csrf), the common
filters (kiosk_ui.filters), a kiosk's own device and a lead's own teams. After: the audit trail
(lead and admin state changes a view did not record itself, and every export) and the security
headers. Pages written by other modules are protected without touching them.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, g, jsonify, redirect, request, url_for

from edge.clock import Clock, SystemClock
from hub.accounts import Accounts, Principal
from kiosk_ui import csrf, masking, state
from kiosk_ui.filters import check_filters
from kiosk_ui.policy import UNSAFE, Access, access_for
from kiosk_ui.ratelimit import LoginLimiter
from kiosk_ui.sessions import (
    EXT,
    KIOSK_SESSION_IDLE_S,
    AuthFailure,
    AuthState,
    accounts,
    audit,
    identify,
    principal,
    start_session,
)

log = logging.getLogger(__name__)

KIOSK_CHANNELS = frozenset({"tap", "device"})


def init_app(app: Flask) -> None:
    """Switch the access layer on for `app` (the app factory registers kiosk_ui.login's pages)."""
    if app.config.get("SESSION_COOKIE_NAME") in (None, "session"):
        app.config["SESSION_COOKIE_NAME"] = "fw_session"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    if not app.config.get("SESSION_COOKIE_SAMESITE"):
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    # SESSION_COOKIE_SECURE stays as configured: set it True when the UI is served over HTTPS.
    # The cookie carries the session id and its CSRF secret; expiry is decided server-side
    # (sessions table), so the cookie need not be re-signed and re-sent on every response.
    app.config["SESSION_REFRESH_EACH_REQUEST"] = False
    app.config["PERMANENT_SESSION_LIFETIME"] = KIOSK_SESSION_IDLE_S
    clock: Clock = app.config.get("AUTH_CLOCK") or SystemClock()
    with app.app_context():
        acc = Accounts(state.store(), clock)
        if not app.config.get("SECRET_KEY"):
            # One per database, shared by every process of this hub, survives restarts.
            app.config["SECRET_KEY"] = acc.db.set_secret_if_absent("web_secret_key", secrets.token_hex(32))
    app.extensions[EXT] = AuthState(acc, LoginLimiter(clock=lambda: clock.now_ms() / 1000), clock)
    csrf.init_app(app)
    masking.init_app(app)
    app.before_request(guard)
    app.after_request(_after)
    app.jinja_env.globals["current_principal"] = principal


def json_error(status: int, error: str, reason: str, **extra: Any) -> Response:
    resp = jsonify({"error": error, "reason": reason, **extra})
    resp.status_code = status
    return resp


def wants_html() -> bool:
    if request.method != "GET" or request.path.startswith(("/api/", "/live/")):
        return False
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "text/html"


def safe_next(raw: str | None) -> str:
    """Only a path on this site (no scheme, no host, no '//'): no open redirect."""
    if not raw or not raw.startswith("/") or raw.startswith("//") or "\\" in raw or len(raw) > 500:
        return "/"
    return raw.rstrip("?") or "/"


def _deny(status: int, reason: str) -> Response:
    if status == 401 and wants_html():
        return redirect(url_for("auth.login", next=safe_next(request.full_path)))
    return json_error(status, "unauthorized" if status == 401 else "forbidden", reason)


def guard() -> Response | None:
    """before_request for the whole app: policy, authentication, CSRF, scopes, filters."""
    rule = request.url_rule
    if rule is None:
        return None  # no route: Flask answers 404/405 and nothing is revealed
    endpoint = rule.endpoint
    access = access_for(endpoint)
    if access is None:
        log.warning("denied %s %s: endpoint %r has no line in kiosk_ui.policy.POLICY", request.method,
                    request.path, endpoint)
        return json_error(403, "forbidden", f"endpoint {endpoint!r} is not in the access policy (kiosk_ui.policy.POLICY)")
    g.audit_mark = None
    if access.roles is None:  # public; the login form still needs its anonymous session's CSRF token
        if request.method in UNSAFE and endpoint != "auth.device_login":
            problem = csrf.refusal()
            if problem:
                return json_error(403, "forbidden", problem)
        return None
    try:
        p = identify()
    except AuthFailure as exc:
        return json_error(401, "unauthorized", exc.reason)
    if p is None:
        return _deny(401, "sign in or send Authorization: Bearer <token>")
    g.principal = p
    g.user = p.username  # the engine's lead actions take their audit actor from flask.g.user
    if p.via == "query" and wants_html():  # swap a page URL's token for a session
        user = accounts().db.user_by_id(p.user_id)
        if user is not None:
            start_session(user)
            args = [(k, v) for k, v in request.args.items(multi=True) if k != "token"]
            return redirect(request.path + (("?" + urlencode(args)) if args else ""))
    if p.scope == "export":
        allowed = access.export or endpoint in ("api.health", "auth.me")
    else:
        allowed = p.role in access.roles  # type: ignore[operator]
    if not allowed:
        return json_error(403, "forbidden", f"role {p.role!r} may not use {endpoint}")
    if request.method in UNSAFE and p.via != "token":
        if p.via == "query":
            return json_error(403, "forbidden", "a ?token= URL cannot change anything")
        problem = csrf.refusal()
        if problem:
            return json_error(403, "forbidden", problem)
    bad = check_filters(request.args.items(multi=True))
    if bad is not None:
        return json_error(400, "bad parameter", bad[1], parameter=bad[0])
    if p.role == "kiosk":
        problem = _kiosk_scope(p, access)
        if problem:
            return json_error(403, "forbidden", problem)
    if p.role == "lead" and access.team_bound:
        problem = _team_scope(p)
        if problem:
            return json_error(403, "forbidden", problem)
    if p.role == "lead" and request.args.get("team") and request.args["team"] not in p.teams:
        return json_error(403, "forbidden", f"team {request.args['team']!r} is not one of yours")
    if request.method in UNSAFE and p.role in ("lead", "admin"):
        g.audit_mark = accounts().db.last_audit_id()
    return None


def _kiosk_scope(p: Principal, access: Access) -> str | None:
    if not access.device_bound:
        return None
    named = (request.view_args or {}).get("device") or request.args.get("device")
    if named != p.device:
        return f"this kiosk display may only show device {p.device!r}"
    if request.endpoint == "live.stream":
        raw = request.args.get("channels") or ""
        channels = {c.strip() for c in raw.split(",") if c.strip()}
        if not channels or not channels <= KIOSK_CHANNELS:
            return f"a kiosk display may only stream channels {', '.join(sorted(KIOSK_CHANNELS))}"
    return None


def _team_scope(p: Principal) -> str | None:
    """A lead's action must concern agents (or a violation) of their own teams."""
    body = request.get_json(silent=True) if request.is_json else None
    agents = {a.employee_no: a.team for a in state.site().agents}
    named: list[str] = []
    if isinstance(body, dict):
        for key in ("employee_no", "agent", "from_employee_no", "to_employee_no"):
            v = body.get(key)
            if isinstance(v, str):
                named.append(v)
    vid = (request.view_args or {}).get("id") or (request.view_args or {}).get("violation_id")
    if vid is not None:
        row = accounts().db.violation_owner(str(vid))
        if row is not None:
            team = row["team"] or agents.get(row["employee_no"] or "")
            if team not in p.teams:
                return f"violation {vid} is not of your teams"
    for emp in named:
        if agents.get(emp) not in p.teams:
            return f"agent {emp!r} is not in your teams ({', '.join(p.teams)})"
    if not named and vid is None:
        return "name the agent (employee_no) this action is about"
    return None


def _after(resp: Response) -> Response:
    p = principal()
    access = access_for(request.endpoint) if request.endpoint else None
    try:
        _audit_after(resp, p, access)
    except Exception:  # an audit write that fails must be loud, but not turn a 200 into a 500
        log.exception("audit: could not record %s %s", request.method, request.path)
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    resp.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    if p is not None:
        resp.headers.setdefault("Cache-Control", "no-store")
        resp.vary.add("Cookie")
        resp.vary.add("Authorization")
    return resp


def _audit_after(resp: Response, p: Principal | None, access: Access | None) -> None:
    if p is None or access is None or resp.status_code >= 400:
        return
    if access.export and request.method == "GET":
        audit("export", request.endpoint, {"path": request.path, "args": request.args.to_dict(flat=False),
                                            "status": resp.status_code, "via": p.via})
        return
    mark = g.get("audit_mark")
    if mark is None or request.method not in UNSAFE:
        return
    if accounts().db.audit_since(mark, actor=p.username):
        return  # the view wrote its own, richer record
    body = request.get_json(silent=True) if request.is_json else None
    audit(request.endpoint or request.path, request.path,
          {"method": request.method, "status": resp.status_code, "body": body,
           "view_args": request.view_args or {}})

