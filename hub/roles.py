"""The web UI's roles, in one place (accounts, their table's CHECK, the CLI's choices, the web
policy): `kiosk` (one kiosk display), `facilities` (floor map), `lead` (their own teams),
`admin` (everything), `manager` (headquarters: every site of a shared database, read only). A module of its own so the CLI can offer them without loading the store."""

from __future__ import annotations

ROLES: tuple[str, ...] = ("kiosk", "facilities", "lead", "admin", "manager")
