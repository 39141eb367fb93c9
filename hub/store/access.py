"""SQL for web access: users, sessions, API tokens, the web secret, and reading the audit trail.

Nothing secret is stored in the clear: passwords as argon2 hashes (hub.accounts), session ids
and API tokens as SHA-256 of random 190+-bit values (a fast hash is right for random secrets; a
slow one is for guessable passwords).

The audit trail is hub.store.audit's (its one table and one writer); `write_audit` here is the
web layer's door to it.
"""

from __future__ import annotations

import json
from typing import Any

from hub.store import Store
from hub.store.audit import write_audit

_USER_COLS = "id, username, role, password_hash, teams, device, place, employee_no, active, created"


def _user(row: tuple | None) -> dict[str, Any] | None:
    if row is None:
        return None
    d = dict(zip([c.strip() for c in _USER_COLS.split(",")], row, strict=True))
    d["teams"] = json.loads(d["teams"] or "[]")
    d["active"] = bool(d["active"])
    return d


class AuthStore:
    """Accounts, sessions and tokens in the hub database (one lock with the rest of the store)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.conn = store.conn
        self.lock = store.lock

    # ------------------------------------------------------------ users

    def create_user(self, username: str, role: str, password_hash: str | None, now_ms: int, *,
                    teams: list[str] | None = None, device: str | None = None, place: str | None = None,
                    employee_no: str | None = None) -> int:
        with self.lock:
            cur = self.conn.execute(
                "INSERT INTO users(username, role, password_hash, teams, device, place, employee_no, created)"
                " VALUES (?,?,?,?,?,?,?,?) RETURNING id",
                (username, role, password_hash, json.dumps(teams or [], ensure_ascii=False), device, place,
                 employee_no, now_ms),
            )
            return int(cur.fetchone()[0])

    def user_by_name(self, username: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.conn.execute(f"SELECT {_USER_COLS} FROM users WHERE username = ?", (username,)).fetchone()
        return _user(row)

    def user_by_id(self, user_id: int) -> dict[str, Any] | None:
        with self.lock:
            row = self.conn.execute(f"SELECT {_USER_COLS} FROM users WHERE id = ?", (user_id,)).fetchone()
        return _user(row)

    def users(self) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.conn.execute(f"SELECT {_USER_COLS} FROM users ORDER BY username").fetchall()
        return [u for u in map(_user, rows) if u is not None]

    def update_user(self, user_id: int, **fields: Any) -> None:
        allowed = {"role", "password_hash", "teams", "device", "place", "employee_no", "active"}
        if not fields or set(fields) - allowed:
            raise ValueError(f"cannot update {sorted(set(fields) - allowed) or 'nothing'}")
        if "teams" in fields:
            fields["teams"] = json.dumps(fields["teams"] or [], ensure_ascii=False)
        if "active" in fields:
            fields["active"] = int(bool(fields["active"]))
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self.lock:
            self.conn.execute(f"UPDATE users SET {sets} WHERE id = ?", [*fields.values(), user_id])

    # ------------------------------------------------------------ sessions

    def create_session(self, id_hash: str, user_id: int, csrf: str, now_ms: int, expires_ms: int,
                       ip: str | None) -> None:
        with self.lock:
            self.conn.execute(
                "INSERT INTO sessions(id_hash, user_id, csrf, created, last_seen, expires, ip) VALUES (?,?,?,?,?,?,?)",
                (id_hash, user_id, csrf, now_ms, now_ms, expires_ms, ip),
            )

    def session(self, id_hash: str, now_ms: int) -> dict[str, Any] | None:
        """The live session and its user, or None (unknown, expired or user disabled)."""
        with self.lock:
            row = self.conn.execute(
                "SELECT csrf, created, last_seen, expires, user_id FROM sessions WHERE id_hash = ?", (id_hash,)
            ).fetchone()
        if row is None or row[3] <= now_ms:
            return None
        user = self.user_by_id(row[4])
        if user is None or not user["active"]:
            return None
        return {"csrf": row[0], "created": row[1], "last_seen": row[2], "expires": row[3], "user": user}

    def touch_session(self, id_hash: str, now_ms: int, expires_ms: int) -> None:
        with self.lock:
            self.conn.execute("UPDATE sessions SET last_seen = ?, expires = ? WHERE id_hash = ?",
                              (now_ms, expires_ms, id_hash))

    def delete_session(self, id_hash: str) -> None:
        with self.lock:
            self.conn.execute("DELETE FROM sessions WHERE id_hash = ?", (id_hash,))

    def delete_user_sessions(self, user_id: int) -> int:
        with self.lock:
            return self.conn.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,)).rowcount

    def purge_sessions(self, now_ms: int) -> int:
        with self.lock:
            return self.conn.execute("DELETE FROM sessions WHERE expires <= ?", (now_ms,)).rowcount

    # ------------------------------------------------------------ API tokens

    def create_token(self, token_hash: str, user_id: int, name: str, now_ms: int, *,
                     scope: str | None = None, expires_ms: int | None = None) -> int:
        with self.lock:
            cur = self.conn.execute(
                "INSERT INTO api_tokens(hash, user_id, name, scope, created, expires) VALUES (?,?,?,?,?,?) RETURNING id",
                (token_hash, user_id, name, scope, now_ms, expires_ms),
            )
            return int(cur.fetchone()[0])

    def token(self, token_hash: str, now_ms: int) -> dict[str, Any] | None:
        """A usable token and its user (not revoked, not expired, user active), else None."""
        with self.lock:
            row = self.conn.execute(
                "SELECT id, user_id, name, scope, expires, revoked, last_used FROM api_tokens WHERE hash = ?",
                (token_hash,),
            ).fetchone()
        if row is None or row[5] or (row[4] is not None and row[4] <= now_ms):
            return None
        user = self.user_by_id(row[1])
        if user is None or not user["active"]:
            return None
        return {"id": row[0], "name": row[2], "scope": row[3], "last_used": row[6], "user": user}

    def touch_token(self, token_id: int, now_ms: int) -> None:
        with self.lock:
            self.conn.execute("UPDATE api_tokens SET last_used = ? WHERE id = ?", (now_ms, token_id))

    def revoke_token(self, token_id: int) -> bool:
        with self.lock:
            return self.conn.execute("UPDATE api_tokens SET revoked = 1 WHERE id = ? AND revoked = 0",
                                     (token_id,)).rowcount == 1

    def revoke_user_tokens(self, user_id: int, *, keep_hash: str | None = None) -> int:
        with self.lock:
            return self.conn.execute(
                "UPDATE api_tokens SET revoked = 1 WHERE user_id = ? AND revoked = 0 AND (CAST(? AS TEXT) IS NULL OR hash <> ?)",
                (user_id, keep_hash, keep_hash),
            ).rowcount

    def tokens(self, user_id: int | None = None) -> list[dict[str, Any]]:
        sql = ("SELECT t.id, u.username, t.name, t.scope, t.created, t.last_used, t.expires, t.revoked"
               " FROM api_tokens t JOIN users u ON u.id = t.user_id")
        args: list[Any] = []
        if user_id is not None:
            sql += " WHERE t.user_id = ?"
            args.append(user_id)
        with self.lock:
            rows = self.conn.execute(sql + " ORDER BY t.id", args).fetchall()
        keys = ("id", "username", "name", "scope", "created", "last_used", "expires", "revoked")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    # ------------------------------------------------------------ web secret

    def secret(self, key: str) -> str | None:
        with self.lock:
            row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_secret_if_absent(self, key: str, value: str) -> str:
        """Store `value` unless another process got there first; returns the one stored."""
        with self.lock:
            self.conn.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT DO NOTHING", (key, value))
            return self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0]

    def violation_owner(self, violation_id: str) -> dict[str, Any] | None:
        """employee_no and team of a violation (engine's table), for a lead's team check."""
        with self.lock:
            have = self.store.dialect.columns(self.conn, "violations")
            if not {"id", "employee_no", "team"} <= have:
                return None
            row = self.conn.execute("SELECT employee_no, team FROM violations WHERE id = ?", (violation_id,)).fetchone()
        return {"employee_no": row[0], "team": row[1]} if row else None

    # ------------------------------------------------------------ audit trail

    def write_audit(self, ts: int, actor: str, action: str, target: str | None = None,
                    details: dict[str, Any] | None = None) -> int:
        with self.lock:
            return write_audit(self.conn, ts, actor, action, target, details)

    def last_audit_id(self) -> int:
        with self.lock:
            return self.conn.execute("SELECT coalesce(max(id), 0) FROM audit").fetchone()[0]

    def audit_since(self, after_id: int, actor: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT id, ts, actor, action, target, details FROM audit WHERE id > ?"
        args: list[Any] = [after_id]
        if actor is not None:
            sql += " AND actor = ?"
            args.append(actor)
        with self.lock:
            rows = self.conn.execute(sql + " ORDER BY id", args).fetchall()
        return [{"id": r[0], "ts": r[1], "actor": r[2], "action": r[3], "target": r[4],
                 "details": json.loads(r[5] or "{}")} for r in rows]
