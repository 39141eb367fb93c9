"""Web access: who may open which page or API, decided in ONE place.

`init_app(app)` installs a global guard (`before_request`) that looks every request's endpoint
up in `POLICY`, the single table mapping endpoints to the roles allowed. Pages written by other
modules are protected without touching them, and an endpoint missing from POLICY is denied to
everyone, admins included, with a message naming it: adding a route means adding its line here.

How a request is authenticated:
  - `Authorization: Bearer <token>`: API tokens (export automation, kiosk displays). No CSRF
    check: a browser never adds this header by itself.
  - a session cookie, after the login form (password) or the kiosk's device login (token).
    Every state-changing request of a session needs its CSRF token (header X-CSRF-Token or form
    field csrf_token); HTML pages get it in a <meta> tag plus a fetch() wrapper (/auth/csrf.js)
    injected by the guard, so other pages' scripts send it without knowing.
  - `?token=` on a GET: what a kiosk page URL may carry. On a page it is swapped for a session
    and the URL redirected without it (out of history and Referer); on a stream or API it
    authenticates that one GET.

Roles (hub.accounts): kiosk (one kiosk device, its own tap results only), facilities (floor
map), lead (console, lead actions for their own teams), admin (everything). Lead and admin
state changes and every export are written to the audit trail; badge UIDs are masked in every
JSON and event-stream response for anyone but an admin.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import re
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from markupsafe import Markup, escape

from edge import wire
from edge.clock import Clock, SystemClock
from hub.accounts import Accounts, Principal, token_hash
from hub.privacy import mask_tree, mask_uid
from hub.site import RULE_IDS
from hub.store.auth import ROLES

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__, url_prefix="/auth", template_folder="templates")

_EXT = "floorwatch.auth"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SESSION_IDLE_S = 12 * 3600
SESSION_MAX_S = 7 * 86400
KIOSK_SESSION_IDLE_S = 30 * 86400
KIOSK_CHANNELS = frozenset({"tap", "device"})


# ---------------------------------------------------------------- the policy


@dataclass(frozen=True)
class Access:
    """Who may call one endpoint. roles=None: anyone, signed in or not."""

    roles: frozenset[str] | None
    export: bool = False  # each call is an export: audited; tokens of scope "export" allowed
    device_bound: bool = False  # a kiosk may only name its own device (view arg or ?device=)
    team_bound: bool = False  # a lead may only act on agents / violations of their teams
    team_filtered: bool = False  # a lead reads only their teams' rows (JSON items with "team")
    note: str = ""


def allow(*roles: str, **kw: Any) -> Access:
    """An access policy line: these roles, with the options of Access (tests add probe routes)."""
    return Access(frozenset(roles), **kw)


PUBLIC = Access(None)
ADMIN = allow("admin")
LEAD = allow("lead", "admin")
FLOOR = allow("facilities", "lead", "admin")
SIGNED_IN = allow(*ROLES)

# Every endpoint of the app, exact name or a `blueprint.*` pattern; nothing else is reachable.
POLICY: dict[str, Access] = {
    # assets and the sign-in itself
    "static": PUBLIC,
    "*.static": PUBLIC,
    "auth.login": PUBLIC,
    "auth.device_login": PUBLIC,
    "auth.csrf_js": PUBLIC,
    "auth.logout": SIGNED_IN,
    "auth.me": SIGNED_IN,
    # monitoring: counts only, no personal data
    "api.health": PUBLIC,
    # pages
    "pages.index": FLOOR,
    "kiosk.kiosk": allow("kiosk", "admin", device_bound=True),
    "floor.*": FLOOR,
    "console.*": LEAD,
    "console.alerts_json": allow("lead", "admin", team_filtered=True),  # the alert outbox (hub.alerts)
    "roster_grid.grid": LEAD,
    "roster_grid.month_json": LEAD,
    "roster_grid.override": allow("lead", "admin", team_bound=True),  # a lead's own agents (swaps: both)
    "exports.assessment_page": ADMIN,
    # live updates: a kiosk gets its own device's tap results only
    "live.stream": allow("kiosk", "facilities", "lead", "admin", device_bound=True),
    "live.status": FLOOR,
    # read API (engine contract)
    "api.events": ADMIN,  # raw events: badge UIDs and everything else
    "api.seats": FLOOR,
    "api.devices": FLOOR,
    "api.equipment": FLOOR,
    "api.violations": allow("lead", "admin", team_filtered=True),
    "api.rollcall": allow("lead", "admin", team_filtered=True),
    # lead actions (engine contract; each also audited by the guard if the view did not)
    "api.lead_reassign": allow("lead", "admin", team_bound=True),
    "api.lead_swap": allow("lead", "admin", team_bound=True),
    "api.lead_meal_slot": allow("lead", "admin", team_bound=True),
    "api.lead_leave": allow("lead", "admin", team_bound=True),
    "api.excuse_violation": allow("lead", "admin", team_bound=True),
    # enrolment by tapping (hub.enrolment): a lead's own agents; reading one is checked in the view
    "api.open_enrolment": allow("lead", "admin", team_bound=True),
    "api.enrolment": allow("lead", "admin"),
    # exports and assessment: HR / admin, or an export-scoped token
    "exports.attendance": allow("admin", export=True),
    "exports.raw_export": allow("admin", export=True),
    "exports.assessment": allow("admin", export=True),
    "exports.violation_evidence": allow("lead", "admin", team_filtered=True),
    "analytics.*": LEAD,  # the month at a glance (kiosk_ui.analytics): a lead's teams in the per-team charts
    "violation.page": LEAD,  # one violation with its evidence (alert links); a lead's teams, checked in the view
    # administration and privacy (kiosk_ui.admin)
    "admin.*": ADMIN,
    "admin.agent_export": allow("admin", export=True),
}


def access_for(endpoint: str | None) -> Access | None:
    """The policy line for `endpoint`: an exact entry wins over a pattern; None means deny."""
    if endpoint is None:
        return None
    if endpoint in POLICY:
        return POLICY[endpoint]
    for pattern, access in POLICY.items():
        if "*" in pattern and fnmatch.fnmatchcase(endpoint, pattern):
            return access
    return None


# ---------------------------------------------------------------- filters everyone validates

_DATE_OR_MS = re.compile(r"^(\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?|\d{1,15})$")
FILTER_PATTERNS: dict[str, tuple[re.Pattern[str], str]] = {
    "agent": (re.compile(r"^[\w.-]{1,32}$"), "an employee number"),
    "employee_no": (re.compile(r"^[\w.-]{1,32}$"), "an employee number"),
    "team": (re.compile(r"^[\w .-]{1,32}$"), "a team name"),
    "device": (re.compile(wire.ID_PATTERN), "a device id"),
    "seat": (re.compile(r"^[\w.-]{1,32}$"), "a seat id"),
    "zone": (re.compile(r"^[\w.-]{1,32}$"), "a zone id"),
    "shift": (re.compile(r"^[\w/:.-]{1,64}$"), "a shift id or key"),
    "from": (_DATE_OR_MS, "a date (YYYY-MM-DD), date-time or UTC ms"),
    "to": (_DATE_OR_MS, "a date (YYYY-MM-DD), date-time or UTC ms"),
    "date": (_DATE_OR_MS, "a date (YYYY-MM-DD)"),
    "month": (re.compile(r"^\d{4}-\d{2}$"), "a month (YYYY-MM)"),
}


def check_filters(args: Iterable[tuple[str, str]]) -> tuple[str, str] | None:
    """(parameter, reason) for the first query filter that is not what its name says, or None.

    Defence in depth in front of every view: quotes, semicolons, comments and wildcards never
    reach a query builder through the common filters, whatever the view does with them.
    """
    for name, value in args:
        if value == "":
            continue
        if name == "rule" and value not in RULE_IDS:
            return name, "not a rule id of RULES.md"
        spec = FILTER_PATTERNS.get(name)
        if spec is not None and (len(value) > 64 or not spec[0].match(value)):
            return name, f"not {spec[1]}"
    return None


# ---------------------------------------------------------------- login rate limit


class LoginLimiter:
    """Failed logins per client address and per username in a sliding window.

    Past `per_user` failures for one name, or `per_ip` from one address, within `window_s`,
    logins are refused (429, Retry-After) until the oldest failure leaves the window. A
    success clears the name's failures, not the address's (one valid account must not
    launder guessing at the others).
    """

    def __init__(self, per_user: int = 5, per_ip: int = 20, window_s: float = 900.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_user, self.per_ip, self.window_s, self.clock = per_user, per_ip, window_s, clock
        self._fails: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        q = self._fails.setdefault(key, deque())
        horizon = self.clock() - self.window_s
        while q and q[0] <= horizon:
            q.popleft()
        return q

    def retry_after(self, username: str, ip: str) -> float:
        """Seconds until a login may be tried again (0: now)."""
        waits = []
        for key, limit in ((f"u:{username.lower()}", self.per_user), (f"ip:{ip}", self.per_ip)):
            q = self._recent(key)
            if len(q) >= limit:
                waits.append(q[0] + self.window_s - self.clock())
        return max(waits, default=0.0)

    def failed(self, username: str, ip: str) -> None:
        now = self.clock()
        for key in (f"u:{username.lower()}", f"ip:{ip}"):
            self._recent(key).append(now)
        if len(self._fails) > 10_000:  # bounded memory under a spray of names
            for k in [k for k, q in self._fails.items() if not q][:5000]:
                del self._fails[k]

    def succeeded(self, username: str) -> None:
        self._fails.pop(f"u:{username.lower()}", None)


# ---------------------------------------------------------------- setup


@dataclass
class _AuthState:
    accounts: Accounts
    limiter: LoginLimiter
    clock: Clock


def _state() -> _AuthState:
    return current_app.extensions[_EXT]


def accounts() -> Accounts:
    return _state().accounts


def init_app(app: Flask) -> None:
    """Register the guard and the auth pages on `app` (the app factory adds the admin API)."""
    from kiosk_ui import state

    if app.config.get("SESSION_COOKIE_NAME") in (None, "session"):
        app.config["SESSION_COOKIE_NAME"] = "fw_session"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    if not app.config.get("SESSION_COOKIE_SAMESITE"):
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    # SESSION_COOKIE_SECURE stays as configured: set it True when the UI is served over HTTPS.
    # The cookie only carries the session id; expiry is decided server-side (sessions table), so
    # the cookie need not be re-signed and re-sent on every response.
    app.config["SESSION_REFRESH_EACH_REQUEST"] = False
    app.config["PERMANENT_SESSION_LIFETIME"] = KIOSK_SESSION_IDLE_S
    clock: Clock = app.config.get("AUTH_CLOCK") or SystemClock()
    with app.app_context():
        store = state.store()
        acc = Accounts(store, clock)
        if not app.config.get("SECRET_KEY"):
            # One per database, shared by every process of this hub, survives restarts.
            app.config["SECRET_KEY"] = acc.db.set_secret_if_absent("web_secret_key", secrets.token_hex(32))
    limiter = LoginLimiter(clock=lambda: clock.now_ms() / 1000)
    app.extensions[_EXT] = _AuthState(acc, limiter, clock)
    app.register_blueprint(bp)
    app.before_request(guard)
    app.after_request(_after)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["current_principal"] = principal


# ---------------------------------------------------------------- helpers for views


def principal() -> Principal | None:
    """Who is making this request (None: nobody signed in)."""
    return g.get("principal")


def visible_teams() -> frozenset[str] | None:
    """Teams the current user may see and act on; None means all (admin)."""
    p = principal()
    if p is None:
        return frozenset()
    if p.role == "lead":
        return frozenset(p.teams)
    return None if p.role == "admin" else frozenset()


def show_uid(uid: str) -> str:
    """A badge UID as the current viewer may see it: whole for admins, masked for the rest."""
    p = principal()
    return mask_uid(uid, reveal=p is not None and p.is_admin)


def actor() -> str:
    p = principal()
    return p.username if p is not None else "unknown"


def audit(action: str, target: str | None = None, details: dict[str, Any] | None = None,
          who: str | None = None) -> None:
    """Write one audit row as the current user (views may call this; the guard does too)."""
    acc = accounts()
    acc.db.write_audit(_state().clock.now_ms(), who or actor(), action, target, details)


def csrf_token() -> str:
    """This browser session's CSRF token (created for anonymous sessions, e.g. the login form)."""
    tok = g.get("csrf")
    if tok:
        return tok
    tok = session.get("csrf")
    if not tok:
        tok = secrets.token_urlsafe(24)
        session["csrf"] = tok
    g.csrf = tok
    return tok


def _json_error(status: int, error: str, reason: str, **extra: Any) -> Response:
    resp = jsonify({"error": error, "reason": reason, **extra})
    resp.status_code = status
    return resp


def _wants_html() -> bool:
    if request.method != "GET" or request.path.startswith(("/api/", "/live/")):
        return False
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "text/html"


def _client_ip() -> str:
    return request.remote_addr or "-"


# ---------------------------------------------------------------- sessions


def _now_ms() -> int:
    return _state().clock.now_ms()


def _start_session(user: dict[str, Any]) -> None:
    """A fresh session id and CSRF token (never reuse the pre-login ones: session fixation)."""
    acc = accounts()
    now = _now_ms()
    idle = KIOSK_SESSION_IDLE_S if user["role"] == "kiosk" else SESSION_IDLE_S
    sid = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    acc.db.purge_sessions(now)
    acc.db.create_session(token_hash(sid), user["id"], csrf, now, now + idle * 1000, _client_ip())
    session.clear()
    session["sid"] = sid
    session.permanent = True
    g.csrf = csrf


def _session_principal() -> Principal | None:
    sid = session.get("sid")
    if not sid or not isinstance(sid, str):
        return None
    acc = accounts()
    now = _now_ms()
    row = acc.db.session(token_hash(sid), now)
    if row is None:
        session.pop("sid", None)
        return None
    user = row["user"]
    idle = KIOSK_SESSION_IDLE_S if user["role"] == "kiosk" else SESSION_IDLE_S
    if user["role"] != "kiosk" and now - row["created"] > SESSION_MAX_S * 1000:
        acc.db.delete_session(token_hash(sid))
        session.pop("sid", None)
        return None
    if now - row["last_seen"] > 60_000:  # sliding expiry, written at most once a minute
        acc.db.touch_session(token_hash(sid), now, now + idle * 1000)
    g.csrf = row["csrf"]
    return Principal.from_user(user, "session")


class _AuthFailure(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


def _identify() -> Principal | None:
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, cred = header.partition(" ")
        if scheme.lower() != "bearer" or not cred.strip():
            raise _AuthFailure("Authorization must be 'Bearer <token>'")
        p = accounts().principal_for_token(cred.strip())
        if p is None:
            raise _AuthFailure("unknown, revoked or expired token")
        return p
    qtoken = request.args.get("token")
    if qtoken and request.method in ("GET", "HEAD"):
        p = accounts().principal_for_token(qtoken)
        if p is None:
            raise _AuthFailure("unknown, revoked or expired token")
        return Principal(**{**p.__dict__, "via": "query"})
    return _session_principal()


# ---------------------------------------------------------------- the guard


def _deny(status: int, reason: str) -> Response:
    if status == 401 and _wants_html():
        return redirect(url_for("auth.login", next=_safe_next(request.full_path)))
    return _json_error(status, "unauthorized" if status == 401 else "forbidden", reason)


def _csrf_ok(p: Principal | None) -> bool:
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
    want = g.get("csrf") if p is not None else session.get("csrf")
    return bool(want) and bool(sent) and secrets.compare_digest(str(sent), str(want))


def _origin_ok() -> bool:
    """A browser's Origin (or Referer), when sent, must be this site."""
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if not origin:
        return True
    u = urlsplit(origin)
    return f"{u.scheme}://{u.netloc}" == request.host_url.rstrip("/")


def guard() -> Response | None:
    """before_request for the whole app: policy, authentication, CSRF, scopes, filters."""
    rule = request.url_rule
    if rule is None:
        return None  # no route: Flask answers 404/405 and nothing is revealed
    endpoint = rule.endpoint
    access = access_for(endpoint)
    if access is None:
        log.warning("denied %s %s: endpoint %r has no line in kiosk_ui.auth.POLICY", request.method,
                    request.path, endpoint)
        return _json_error(403, "forbidden", f"endpoint {endpoint!r} is not in the access policy (kiosk_ui.auth.POLICY)")
    g.audit_mark = None
    if access.roles is None:  # public; the login form still needs its anonymous CSRF token
        csrf_needed = request.method in UNSAFE and endpoint != "auth.device_login"
        if csrf_needed and (not _origin_ok() or not _csrf_ok(None)):
            return _json_error(403, "forbidden", "missing or wrong CSRF token")
        return None
    try:
        p = _identify()
    except _AuthFailure as exc:
        return _json_error(401, "unauthorized", exc.reason)
    if p is None:
        return _deny(401, "sign in or send Authorization: Bearer <token>")
    g.principal = p
    g.user = p.username  # the engine's lead actions take their audit actor from flask.g.user
    if p.via == "query" and _wants_html():  # swap a page URL's token for a session
        user = accounts().db.user_by_id(p.user_id)
        if user is not None:
            _start_session(user)
            args = [(k, v) for k, v in request.args.items(multi=True) if k != "token"]
            return redirect(request.path + (("?" + urlencode(args)) if args else ""))
    if p.scope == "export":
        allowed = access.export or endpoint in ("api.health", "auth.me")
    else:
        allowed = p.role in access.roles
    if not allowed:
        return _json_error(403, "forbidden", f"role {p.role!r} may not use {endpoint}")
    if request.method in UNSAFE and p.via != "token":
        if p.via == "query":
            return _json_error(403, "forbidden", "a ?token= URL cannot change anything")
        if not _origin_ok() or not _csrf_ok(p):
            return _json_error(403, "forbidden", "missing or wrong CSRF token")
    bad = check_filters(request.args.items(multi=True))
    if bad is not None:
        return _json_error(400, "bad parameter", bad[1], parameter=bad[0])
    if p.role == "kiosk":
        problem = _kiosk_scope(p, access)
        if problem:
            return _json_error(403, "forbidden", problem)
    if p.role == "lead" and access.team_bound:
        problem = _team_scope(p)
        if problem:
            return _json_error(403, "forbidden", problem)
    if p.role == "lead" and request.args.get("team") and request.args["team"] not in p.teams:
        return _json_error(403, "forbidden", f"team {request.args['team']!r} is not one of yours")
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
    from kiosk_ui import state

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


# ---------------------------------------------------------------- after every request


_CSRF_JS = """// floorwatch: send this page's CSRF token with every same-origin state-changing fetch().
(function () {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (!meta || !window.fetch) return;
  var token = meta.getAttribute("content"), orig = window.fetch;
  window.fetch = function (input, init) {
    init = init || {};
    var method = (init.method || (input && input.method) || "GET").toUpperCase();
    var url = new URL(typeof input === "string" ? input : input.url, location.href);
    if (url.origin === location.origin && ["GET", "HEAD", "OPTIONS"].indexOf(method) < 0) {
      var h = new Headers(init.headers || (typeof input !== "string" && input.headers) || {});
      if (!h.has("X-CSRF-Token")) h.set("X-CSRF-Token", token);
      init.headers = h;
      if (!init.credentials) init.credentials = "same-origin";
    }
    return orig.call(this, input, init);
  };
})();
"""


class _MaskedStream:
    """An event stream whose `data:` lines have badge UIDs masked (and, for a lead, whose
    updates about other teams' agents are left out); closes the original."""

    def __init__(self, inner: Iterable[Any], mask: bool = True, team_of: Callable[[Any], str | None] | None = None,
                 teams: frozenset[str] = frozenset()) -> None:
        self.inner, self.mask, self.team_of, self.teams = inner, mask, team_of, teams

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.inner:
            text = chunk.decode() if isinstance(chunk, bytes) else chunk
            if self.team_of is not None and not self._own_team(text):
                continue
            yield (_mask_sse(text) if self.mask else text).encode()

    def _own_team(self, text: str) -> bool:
        for line in text.split("\n"):
            if line.startswith("data:"):
                try:
                    data = json.loads(line[5:])
                except ValueError:
                    return True
                team = self.team_of(data)  # type: ignore[misc]
                return team is None or team in self.teams
        return True

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()


def _mask_sse(text: str) -> str:
    if "data:" not in text:
        return text
    out = []
    for line in text.split("\n"):
        if line.startswith("data:"):
            raw = line[5:].lstrip()
            try:
                data = json.loads(raw)
            except ValueError:
                out.append(line)
                continue
            masked, changed = mask_tree(data)
            line = "data: " + json.dumps(masked, ensure_ascii=False, separators=(",", ":")) if changed else line
        out.append(line)
    return "\n".join(out)


def _after(resp: Response) -> Response:
    p = principal()
    endpoint = request.endpoint
    access = access_for(endpoint) if endpoint else None
    try:
        _audit_after(resp, p, access)
    except Exception:  # an audit write that fails must be loud, but not turn a 200 into a 500
        log.exception("audit: could not record %s %s", request.method, request.path)
    if p is not None and p.role == "lead" and access is not None and access.team_filtered:
        resp = _filter_teams(resp, p)
    if p is not None and not p.is_admin:
        _mask_response(resp, p)
    if p is not None and p.via == "session" and resp.mimetype == "text/html" and not resp.is_streamed:
        _inject_csrf(resp)
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


def _filter_teams(resp: Response, p: Principal) -> Response:
    """A lead's view of a team-filtered read: rows of other teams removed (rows of no team,
    e.g. an unknown badge or an empty zone, stay); a single row of another team is refused."""
    if resp.mimetype != "application/json" or resp.is_streamed or resp.status_code != 200:
        return resp
    try:
        data = json.loads(resp.get_data())
    except ValueError:
        return resp
    teams = set(p.teams)
    if isinstance(data, list):
        kept = [r for r in data if not isinstance(r, dict) or r.get("team") in (None, *teams)]
        if len(kept) != len(data):
            resp.set_data(json.dumps(kept, ensure_ascii=False))
    elif isinstance(data, dict) and data.get("team") not in (None, *teams):
        return _json_error(403, "forbidden", f"team {data.get('team')!r} is not one of yours")
    return resp


def _update_team(agents: dict[str, str]) -> Callable[[Any], str | None]:
    """The team a live update is about: its `team`, its agent's team, or its employee's."""

    def team_of(data: Any) -> str | None:
        if not isinstance(data, dict):
            return None
        if isinstance(data.get("team"), str):
            return data["team"]
        agent = data.get("agent")
        if isinstance(agent, dict) and isinstance(agent.get("team"), str):
            return agent["team"]
        emp = data.get("employee_no") or (agent if isinstance(agent, str) else None)
        return agents.get(emp) if isinstance(emp, str) else None

    return team_of


def _mask_response(resp: Response, p: Principal) -> None:
    if resp.mimetype == "application/json" and not resp.is_streamed:
        try:
            data = json.loads(resp.get_data())
        except ValueError:
            return
        masked, changed = mask_tree(data)
        if changed:
            resp.set_data(json.dumps(masked, ensure_ascii=False))
    elif resp.mimetype == "text/event-stream":
        team_of = None
        if p.role == "lead":
            from kiosk_ui import state

            team_of = _update_team({a.employee_no: a.team for a in state.site().agents})
        resp.response = _MaskedStream(resp.response, team_of=team_of, teams=frozenset(p.teams))


def _inject_csrf(resp: Response) -> None:
    html = resp.get_data(as_text=True)
    i = html.lower().find("</head>")
    if i < 0:
        return
    tag = (f'<meta name="csrf-token" content="{escape(csrf_token())}">'
           f'<script src="{url_for("auth.csrf_js")}"></script>')
    resp.set_data(html[:i] + tag + html[i:])


# ---------------------------------------------------------------- auth pages


def _safe_next(raw: str | None) -> str:
    """Only a path on this site (no scheme, no host, no '//'): no open redirect."""
    if not raw or not raw.startswith("/") or raw.startswith("//") or "\\" in raw or len(raw) > 500:
        return "/"
    return raw.rstrip("?") or "/"


def _landing(p_role: str, device: str | None) -> str:
    if p_role == "kiosk" and device:
        return url_for("kiosk.kiosk", device=device) if "kiosk.kiosk" in current_app.view_functions else "/"
    if p_role == "facilities" and "floor.floor" in current_app.view_functions:
        return url_for("floor.floor")
    return "/"


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The sign-in form; POST checks the password, rate limited per name and per address."""
    nxt = _safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("auth/login.html", next=nxt, error=None)
    username = (request.form.get("username") or "").strip()[:64]
    password = request.form.get("password") or ""
    st = _state()
    wait = st.limiter.retry_after(username, _client_ip())
    if wait > 0:
        resp = Response(render_template("auth/login.html", next=nxt, error="rate"), status=429)
        resp.headers["Retry-After"] = str(int(wait) + 1)
        return resp
    user = st.accounts.authenticate(username, password)
    if user is None:
        st.limiter.failed(username, _client_ip())
        audit("login_failed", username, {"ip": _client_ip()}, who="-")
        return render_template("auth/login.html", next=nxt, error="bad"), 401
    st.limiter.succeeded(username)
    _start_session(user)
    audit("login", user["username"], {"ip": _client_ip(), "role": user["role"]}, who=user["username"])
    return redirect(nxt if nxt != "/" else _landing(user["role"], user["device"]))


@bp.post("/device")
def device_login():
    """A kiosk display signs in with its device token (form field `token`, never in a URL)."""
    token = (request.form.get("token") or "").strip()
    p = accounts().principal_for_token(token) if token else None
    if p is None:
        return _json_error(401, "unauthorized", "unknown, revoked or expired token")
    user = accounts().db.user_by_id(p.user_id)
    assert user is not None
    _start_session(user)
    return redirect(_landing(user["role"], user["device"]))


@bp.post("/logout")
def logout():
    sid = session.get("sid")
    if sid:
        accounts().db.delete_session(token_hash(sid))
    p = principal()
    if p is not None and p.role in ("lead", "admin"):
        audit("logout", p.username)
        g.audit_mark = None
    session.clear()
    if request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json":
        return jsonify({"ok": True})
    return redirect(url_for("auth.login"))


@bp.get("/me")
def me():
    """Who the UI is talking to, and the CSRF token its scripts send back."""
    p = principal()
    assert p is not None
    return jsonify({"username": p.username, "role": p.role, "teams": list(p.teams), "device": p.device,
                    "place": p.place, "via": p.via, "csrf": g.get("csrf") if p.via == "session" else None})


@bp.get("/csrf.js")
def csrf_js():
    resp = Response(_CSRF_JS, mimetype="application/javascript")
    resp.headers["Cache-Control"] = "public, max-age=3600"
    return resp


def csrf_field() -> Markup:
    """<input type=hidden name=csrf_token> for server-rendered forms."""
    return Markup(f'<input type="hidden" name="csrf_token" value="{escape(csrf_token())}">')


# ---------------------------------------------------------------- the demo


def bootstrap_demo_credentials(store: Any) -> tuple[str, str, str]:
    """An admin login and an API token for this run of `floorwatch demo` (printed by it)."""
    return Accounts(store).bootstrap_admin()
