"""Signing in and out: the login form (rate limited), a kiosk display's device login, logout,
and `/auth/me` (who the UI is talking to, and the CSRF token its scripts send back)."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from kiosk_ui import csrf
from kiosk_ui.guard import json_error, safe_next
from kiosk_ui.sessions import (
    accounts,
    audit,
    auth_state,
    client_ip,
    end_session,
    principal,
    start_session,
)

bp = Blueprint("auth", __name__, url_prefix="/auth", template_folder="templates")


def _landing(role: str, device: str | None) -> str:
    """Where a user lands after signing in without a `next`."""
    if role == "kiosk" and device:
        return url_for("kiosk.kiosk", device=device) if "kiosk.kiosk" in current_app.view_functions else "/"
    if role == "facilities" and "floor.floor" in current_app.view_functions:
        return url_for("floor.floor")
    if role == "manager":
        return url_for("hq.page")
    return "/"


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The sign-in form; POST checks the password, rate limited per name and per address."""
    nxt = safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("auth/login.html", next=nxt, error=None)
    username = (request.form.get("username") or "").strip()[:64]
    password = request.form.get("password") or ""
    st = auth_state()
    wait = st.limiter.retry_after(username, client_ip())
    if wait > 0:
        resp = Response(render_template("auth/login.html", next=nxt, error="rate"), status=429)
        resp.headers["Retry-After"] = str(int(wait) + 1)
        return resp
    user = st.accounts.authenticate(username, password)
    if user is None:
        st.limiter.failed(username, client_ip())
        audit("login_failed", username, {"ip": client_ip()}, who="-")
        return render_template("auth/login.html", next=nxt, error="bad"), 401
    st.limiter.succeeded(username)
    start_session(user)
    audit("login", user["username"], {"ip": client_ip(), "role": user["role"]}, who=user["username"])
    return redirect(nxt if nxt != "/" else _landing(user["role"], user["device"]))


@bp.post("/device")
def device_login():
    """A kiosk display signs in with its device token (form field `token`, never in a URL)."""
    token = (request.form.get("token") or "").strip()
    p = accounts().principal_for_token(token) if token else None
    if p is None:
        return json_error(401, "unauthorized", "unknown, revoked or expired token")
    user = accounts().db.user_by_id(p.user_id)
    assert user is not None
    start_session(user)
    return redirect(_landing(user["role"], user["device"]))


@bp.post("/logout")
def logout():
    p = principal()
    if p is not None and p.role in ("lead", "admin"):
        audit("logout", p.username)
        g.audit_mark = None
    end_session()
    if request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json":
        return jsonify({"ok": True})
    return redirect(url_for("auth.login"))


@bp.get("/me")
def me():
    """Who the UI is talking to, and (a browser session) the CSRF token its scripts send back."""
    p = principal()
    assert p is not None
    return jsonify({"username": p.username, "role": p.role, "teams": list(p.teams), "device": p.device,
                    "place": p.place, "via": p.via, "csrf": csrf.token() if p.via == "session" else None})
