"""The demo's sign-in: `floorwatch demo` prints an admin login and an API token made here."""

from __future__ import annotations

from hub.accounts import Accounts
from hub.store import Store


def bootstrap_demo_credentials(store: Store) -> tuple[str, str, str]:
    """(user, password, token) for this run of the demo; a new run replaces both, so what an
    earlier run printed stops working."""
    return Accounts(store).bootstrap_admin()
