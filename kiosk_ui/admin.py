"""Admin API under /api/admin: accounts, API tokens, retention and an agent's own data.

Admin only (kiosk_ui.policy.POLICY "admin.*"); every state change and every data export is in
the audit trail. A new token's plaintext is in the response once and never again.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from hub.errors import AccountError
from hub.privacy import agent_data, cutoffs, purge
from kiosk_ui import sessions, state

bp = Blueprint("admin", __name__, url_prefix="/api/admin")


@bp.errorhandler(AccountError)
def _account_error(exc: AccountError):
    field, _, reason = str(exc).partition(": ")
    return jsonify({"error": "bad request", "field": field, "reason": reason or str(exc)}), 400


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise AccountError("body: a JSON object is expected")
    return data


def _str_list(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and 0 < len(v) <= 32 for v in value):
        raise AccountError(f"{field}: a list of names")
    return value


def _public(user: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in user.items() if k != "password_hash"} | {"has_password": bool(user.get("password_hash"))}


@bp.get("/users")
def users():
    return jsonify([_public(u) for u in sessions.accounts().db.users()])


@bp.post("/users")
def add_user():
    b = _body()
    for key in ("username", "role"):
        if not isinstance(b.get(key), str):
            raise AccountError(f"{key}: required")
    password = b.get("password")
    if password is not None and not isinstance(password, str):
        raise AccountError("password: a string")
    user = sessions.accounts().add_user(
        b["username"], b["role"], password, teams=_str_list(b.get("teams"), "teams"),
        device=b.get("device") if isinstance(b.get("device"), str) else None,
        employee_no=b.get("employee_no") if isinstance(b.get("employee_no"), str) else None,
    )
    sessions.audit("user_add", user["username"], {"role": user["role"], "teams": user["teams"], "device": user["device"]})
    return jsonify(_public(user)), 201


@bp.post("/users/<username>/active")
def set_active(username: str):
    active = _body().get("active")
    if not isinstance(active, bool):
        raise AccountError("active: true or false")
    sessions.accounts().set_active(username, active)
    sessions.audit("user_enable" if active else "user_disable", username)
    return jsonify({"username": username, "active": active})


@bp.get("/tokens")
def tokens():
    return jsonify(sessions.accounts().db.tokens())


@bp.post("/tokens")
def issue_token():
    b = _body()
    username, name = b.get("username"), b.get("name")
    if not isinstance(username, str) or not isinstance(name, str) or not 0 < len(name) <= 64:
        raise AccountError("username, name: required (name at most 64 characters)")
    days = b.get("days")
    if days is not None and (not isinstance(days, int | float) or isinstance(days, bool) or not 0 < days <= 3660):
        raise AccountError("days: a number of days up to 3660")
    scope = b.get("scope")
    token = sessions.accounts().issue_token(username, name, scope=scope, days=days)
    sessions.audit("token_issue", username, {"name": name, "scope": scope, "days": days})
    return jsonify({"username": username, "name": name, "scope": scope, "token": token}), 201


@bp.post("/tokens/<int:token_id>/revoke")
def revoke_token(token_id: int):
    if not sessions.accounts().db.revoke_token(token_id):
        return jsonify({"error": "not found", "reason": f"no active token {token_id}"}), 404
    sessions.audit("token_revoke", str(token_id))
    return jsonify({"id": token_id, "revoked": True})


@bp.get("/retention")
def retention():
    """The policy, today's cut-offs and what a purge now would delete (a dry run)."""
    site, store = state.site(), state.store()
    now = state.now_ms()
    return jsonify({
        "policy_days": site.rules.retention.model_dump(),
        "cutoffs": cutoffs(site.rules.retention, now, site.tz).as_dict(),
        "would_delete": purge(site, store, now, dry_run=True),
    })


@bp.post("/purge")
def run_purge():
    counts = purge(state.site(), state.store(), state.now_ms(), actor=sessions.actor())
    return jsonify({"deleted": counts})


@bp.get("/agents/<employee_no>/data")
def agent_export(employee_no: str):
    """An agent's own data (access right), handed over by an admin; audited as an export."""
    data = agent_data(state.site(), state.store(), employee_no, state.now_ms())
    if data is None:
        return jsonify({"error": "not found", "reason": f"no agent {employee_no!r}"}), 404
    resp = jsonify(data)
    resp.headers["Content-Disposition"] = f'attachment; filename="agent-{employee_no}-data.json"'
    return resp
