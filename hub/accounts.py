"""People and machines that may use the web UI and API: users with roles, password hashes and
API tokens. Used by the web login (kiosk_ui.login, kiosk_ui.sessions), the CLI (`floorwatch user|token`), provision
(one token per kiosk display) and the demo (an admin login and a token per run).

Roles: `kiosk` (a display bound to one kiosk device; sees only its own tap results),
`facilities` (floor map), `lead` (console and lead actions for their own teams), `admin`
(everything: configuration, exports, assessment, accounts).

Passwords are hashed by argon2-cffi's PasswordHasher (Argon2id at the library's current
parameters, RFC 9106's low-memory profile): the parameters move with the library, and a login
whose stored hash is older or weaker (argon2 at other parameters, or the scrypt n=2**14 hashes of
earlier versions, which still verify) stores a new hash. Tokens are `fwt_` + 256 random bits;
only their SHA-256 is stored, so a leaked database yields no token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from edge.clock import Clock, SystemClock
from hub.errors import AccountError
from hub.roles import ROLES
from hub.store import Store
from hub.store.access import AuthStore

MIN_PASSWORD_LEN = 12
TOKEN_PREFIX = "fwt_"
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")
TOKEN_SCOPES = ("export",)  # a token limited to export endpoints (payroll automation)


_HASHER = PasswordHasher()  # the library's current defaults, deliberately not pinned here


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    if stored.startswith("scrypt$"):
        return _verify_legacy_scrypt(password, stored)
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether a hash that just verified should be replaced by one at the current parameters."""
    return stored.startswith("scrypt$") or _HASHER.check_needs_rehash(stored)


def _verify_legacy_scrypt(password: str, stored: str) -> bool:
    """Hashes written before argon2 (`scrypt$n$r$p$salt$digest`): verified so their users can
    still sign in, and replaced at that sign-in."""
    try:
        _kind, n, r, p, salt, digest = stored.split("$")
        want = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(want), maxmem=256 * 1024 * 1024)
    except ValueError:
        return False
    return hmac.compare_digest(want, got)


# Verified against when the user does not exist, so a wrong username costs as long as a wrong
# password and response time does not reveal which accounts exist.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LEN:
        raise AccountError(f"password: at least {MIN_PASSWORD_LEN} characters")
    if password.isdigit() or len(set(password)) < 5:
        raise AccountError("password: too simple (all digits or fewer than 5 distinct characters)")


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_password() -> str:
    return secrets.token_urlsafe(15)  # 20 characters, 120 bits


@dataclass(frozen=True)
class Principal:
    """Who is making a request: the user row's essentials, and how they authenticated."""

    user_id: int
    username: str
    role: str
    teams: tuple[str, ...] = ()
    device: str | None = None  # kiosk role: the kiosk device this display belongs to
    place: str | None = None
    employee_no: str | None = None
    via: str = "session"  # "session" or "token"
    scope: str | None = None  # a token's scope (None: everything the role allows)

    @classmethod
    def from_user(cls, user: dict[str, Any], via: str, scope: str | None = None) -> Principal:
        return cls(user["id"], user["username"], user["role"], tuple(user["teams"]), user["device"],
                   user["place"], user["employee_no"], via, scope)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class Accounts:
    def __init__(self, store: Store, clock: Clock | None = None) -> None:
        self.db = AuthStore(store)
        self.clock: Clock = clock or SystemClock()

    def _now(self) -> int:
        return self.clock.now_ms()

    def add_user(self, username: str, role: str, password: str | None = None, *, teams: list[str] | None = None,
                 device: str | None = None, place: str | None = None, employee_no: str | None = None,
                 enforce_policy: bool = True) -> dict[str, Any]:
        if not USERNAME_RE.match(username):
            raise AccountError(f"username: {username!r}: 2-64 letters, digits, . _ @ -")
        if role not in ROLES:
            raise AccountError(f"role: {role!r}: one of {', '.join(ROLES)}")
        if role == "kiosk" and not device:
            raise AccountError("device: a kiosk account is bound to one kiosk device")
        if role == "lead" and not teams:
            raise AccountError("teams: a lead account names the team(s) it leads")
        if self.db.user_by_name(username) is not None:
            raise AccountError(f"username: {username!r} exists")
        pw_hash = None
        if password is not None:
            if enforce_policy:
                check_password_policy(password)
            pw_hash = hash_password(password)
        self.db.create_user(username, role, pw_hash, self._now(), teams=teams, device=device, place=place,
                            employee_no=employee_no)
        user = self.db.user_by_name(username)
        assert user is not None
        return user

    def set_password(self, username: str, password: str) -> None:
        user = self._get(username)
        check_password_policy(password)
        self.db.update_user(user["id"], password_hash=hash_password(password))
        self.db.delete_user_sessions(user["id"])  # a changed password ends every open session

    def set_active(self, username: str, active: bool) -> None:
        user = self._get(username)
        self.db.update_user(user["id"], active=active)
        if not active:
            self.db.delete_user_sessions(user["id"])

    def _get(self, username: str) -> dict[str, Any]:
        user = self.db.user_by_name(username)
        if user is None:
            raise AccountError(f"username: no user {username!r}")
        return user

    def authenticate(self, username: str, password: str) -> dict[str, Any] | None:
        """The active user whose password this is, else None (same cost either way). A hash at
        outdated parameters is replaced while the password is at hand."""
        user = self.db.user_by_name(username) if USERNAME_RE.match(username or "") else None
        ok = verify_password(password, user["password_hash"] if user else _DUMMY_HASH)
        if user is None or not ok or not user["active"]:
            return None
        if needs_rehash(user["password_hash"]):
            self.db.update_user(user["id"], password_hash=hash_password(password))
        return user

    def issue_token(self, username: str, name: str, *, scope: str | None = None,
                    days: float | None = None) -> str:
        """A new API token for `username`; the plaintext is returned once and never stored."""
        user = self._get(username)
        if scope is not None and scope not in TOKEN_SCOPES:
            raise AccountError(f"scope: {scope!r}: one of {', '.join(TOKEN_SCOPES)}")
        token = new_token()
        expires = self._now() + int(days * 86_400_000) if days else None
        self.db.create_token(token_hash(token), user["id"], name, self._now(), scope=scope, expires_ms=expires)
        return token

    def principal_for_token(self, token: str) -> Principal | None:
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        row = self.db.token(token_hash(token), self._now())
        if row is None:
            return None
        now = self._now()
        if row["last_used"] is None or now - row["last_used"] > 60_000:  # a write at most once a minute
            self.db.touch_token(row["id"], now)
        return Principal.from_user(row["user"], "token", row["scope"])

    def kiosk_token(self, place: str, device: str, existing: str | None = None) -> str:
        """The web token of the display at kiosk `device` (provision calls this).

        Keeps `existing` if it is still this kiosk's valid token (re-provisioning must not log
        out installed kiosks); otherwise issues a new one and revokes the kiosk's others.
        """
        username = f"kiosk.{device}"
        user = self.db.user_by_name(username)
        if user is None:
            user = self.add_user(username, "kiosk", device=device, place=place)
        elif user["role"] != "kiosk" or user["device"] != device:
            raise AccountError(f"username: {username!r} exists and is not the display of {device}")
        if existing:
            p = self.principal_for_token(existing)
            if p is not None and p.user_id == user["id"]:
                return existing
        token = self.issue_token(username, f"kiosk display {device}")
        self.db.revoke_user_tokens(user["id"], keep_hash=token_hash(token))
        return token

    def bootstrap_admin(self, username: str = "admin") -> tuple[str, str, str]:
        """An admin with a generated password and a fresh API token (the demo prints them).

        Runs again on every demo start: the password is replaced and old tokens revoked, so
        credentials printed by an earlier run stop working.
        """
        password = new_password()
        user = self.db.user_by_name(username)
        if user is None:
            user = self.add_user(username, "admin", password)
        else:
            if user["role"] != "admin":
                raise AccountError(f"username: {username!r} exists and is not an admin")
            self.db.update_user(user["id"], password_hash=hash_password(password), active=True)
            self.db.delete_user_sessions(user["id"])
            self.db.revoke_user_tokens(user["id"])
        token = self.issue_token(username, "demo")
        return username, password, token
