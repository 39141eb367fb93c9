"""Password hashes in the hub database: argon2id at the library's current parameters; hashes an
earlier version wrote (scrypt n=2**14) or weaker argon2 parameters still sign in, and are replaced
at that sign-in, in the real store."""

from __future__ import annotations

import base64
import hashlib

from argon2 import PasswordHasher

from hub.accounts import Accounts, verify_password

PASSWORD = "correct horse battery staple"


def _scrypt_as_written_before(password: str) -> str:
    """The format hub.accounts wrote before argon2: scrypt$n$r$p$salt$digest."""
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt${2**14}$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def _stored(accounts: Accounts, username: str) -> str:
    return accounts.db.user_by_name(username)["password_hash"]


def test_new_hashes_are_argon2id_at_the_current_parameters(store):
    accounts = Accounts(store)
    accounts.add_user("ops", "admin", PASSWORD)
    stored = _stored(accounts, "ops")
    assert stored.startswith("$argon2id$") and not PasswordHasher().check_needs_rehash(stored)
    assert accounts.authenticate("ops", PASSWORD)["username"] == "ops"
    assert accounts.authenticate("ops", PASSWORD[:-1]) is None
    assert _stored(accounts, "ops") == stored  # a current hash is left alone


def test_an_old_scrypt_hash_signs_in_and_is_upgraded_on_that_login(store):
    accounts = Accounts(store)
    accounts.add_user("lead1", "lead", PASSWORD, teams=["T1"])
    user_id = accounts.db.user_by_name("lead1")["id"]
    old = _scrypt_as_written_before(PASSWORD)
    accounts.db.update_user(user_id, password_hash=old)

    assert accounts.authenticate("lead1", "not the password") is None
    assert _stored(accounts, "lead1") == old  # a wrong password changes nothing
    assert accounts.authenticate("lead1", PASSWORD)["id"] == user_id
    new = _stored(accounts, "lead1")
    assert new.startswith("$argon2id$") and not PasswordHasher().check_needs_rehash(new)
    assert verify_password(PASSWORD, new) and not verify_password(PASSWORD, new.replace("$argon2id$", "$scrypt$"))
    assert accounts.authenticate("lead1", PASSWORD)["id"] == user_id


def test_an_argon2_hash_at_weaker_parameters_is_upgraded_on_login(store):
    accounts = Accounts(store)
    accounts.add_user("hr", "admin", PASSWORD)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    accounts.db.update_user(accounts.db.user_by_name("hr")["id"], password_hash=weak)
    assert accounts.authenticate("hr", PASSWORD) is not None
    assert _stored(accounts, "hr") != weak and not PasswordHasher().check_needs_rehash(_stored(accounts, "hr"))
