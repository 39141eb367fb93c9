"""Who is asking: API tokens, `?token=` page URLs and server-side sessions.

How a request is authenticated (`identify()`):
  - `Authorization: Bearer <token>`: API tokens (export automation, kiosk displays, scripts);
  - a session cookie, after the login form (password) or the kiosk's device login (token). The
    cookie carries the session id and its CSRF secret; the session itself (whose, until when)
    is a row of the sessions table, so expiry is decided server side and a disabled user's
    sessions end at once;
  - `?token=` on a GET: what a kiosk page URL may carry (the guard swaps it for a session on a
    page; on a stream or API it authenticates that one GET).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from flask import current_app, g, request, session

from edge.clock import Clock
from hub.accounts import Accounts, Principal, token_hash
from kiosk_ui import csrf
from kiosk_ui.ratelimit import LoginLimiter

EXT = "floorwatch.auth"
SESSION_IDLE_S = 12 * 3600
SESSION_MAX_S = 7 * 86400
KIOSK_SESSION_IDLE_S = 30 * 86400


@dataclass
class AuthState:
    """The access layer's parts, in app.extensions["floorwatch.auth"]."""

    accounts: Accounts
    limiter: LoginLimiter
    clock: Clock


def auth_state() -> AuthState:
    return current_app.extensions[EXT]


def accounts() -> Accounts:
    return auth_state().accounts


def now_ms() -> int:
    return auth_state().clock.now_ms()


def principal() -> Principal | None:
    """Who is making this request (None: nobody signed in)."""
    return g.get("principal")


def actor() -> str:
    p = principal()
    return p.username if p is not None else "unknown"


def audit(action: str, target: str | None = None, details: dict[str, Any] | None = None,
          who: str | None = None) -> None:
    """Write one audit row as the current user (views may call this; the guard does too)."""
    accounts().db.write_audit(now_ms(), who or actor(), action, target, details)


def client_ip() -> str:
    return request.remote_addr or "-"


class AuthFailure(Exception):
    """Credentials were sent and are not good (401 with the reason)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _idle_s(user: dict[str, Any]) -> int:
    return KIOSK_SESSION_IDLE_S if user["role"] == "kiosk" else SESSION_IDLE_S


def start_session(user: dict[str, Any]) -> None:
    """A fresh session id and CSRF secret (never reuse the pre-login ones: session fixation)."""
    acc = accounts()
    now = now_ms()
    sid = secrets.token_urlsafe(32)
    session.clear()
    session["sid"] = sid
    session.permanent = True
    secret = csrf.renew()
    acc.db.purge_sessions(now)
    acc.db.create_session(token_hash(sid), user["id"], secret, now, now + _idle_s(user) * 1000, client_ip())


def end_session() -> None:
    sid = session.get("sid")
    if sid:
        accounts().db.delete_session(token_hash(sid))
    session.clear()


def _session_principal() -> Principal | None:
    sid = session.get("sid")
    if not sid or not isinstance(sid, str):
        return None
    acc = accounts()
    now = now_ms()
    row = acc.db.session(token_hash(sid), now)
    if row is None:
        session.pop("sid", None)
        return None
    user = row["user"]
    if user["role"] != "kiosk" and now - row["created"] > SESSION_MAX_S * 1000:
        acc.db.delete_session(token_hash(sid))
        session.pop("sid", None)
        return None
    if now - row["last_seen"] > 60_000:  # sliding expiry, written at most once a minute
        acc.db.touch_session(token_hash(sid), now, now + _idle_s(user) * 1000)
    csrf.adopt(row["csrf"])  # the server-side session's CSRF secret is the one that counts
    return Principal.from_user(user, "session")


def identify() -> Principal | None:
    """The request's principal from its credentials; None without any; AuthFailure for bad ones."""
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, cred = header.partition(" ")
        if scheme.lower() != "bearer" or not cred.strip():
            raise AuthFailure("Authorization must be 'Bearer <token>'")
        p = accounts().principal_for_token(cred.strip())
        if p is None:
            raise AuthFailure("unknown, revoked or expired token")
        return p
    qtoken = request.args.get("token")
    if qtoken and request.method in ("GET", "HEAD"):
        p = accounts().principal_for_token(qtoken)
        if p is None:
            raise AuthFailure("unknown, revoked or expired token")
        return Principal(**{**p.__dict__, "via": "query"})
    return _session_principal()
