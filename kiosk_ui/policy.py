"""Who may open which page or API, decided in ONE table: POLICY maps every endpoint to the roles
allowed. The guard (kiosk_ui.guard) looks each request's endpoint up here; an endpoint missing
from POLICY is denied to everyone, admins included, with a message naming it: adding a route
means adding its line here (tests/test_auth.py walks the URL map and checks every route has one).

Roles (hub.accounts): kiosk (one kiosk device, its own tap results only), facilities (floor
map), lead (console, lead actions for their own teams), admin (everything), manager
(headquarters' /hq: every site of a shared database).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

from hub.roles import ROLES

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


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
# One line per endpoint.
POLICY: dict[str, Access] = {
    # assets and the sign-in itself (kiosk_ui.login)
    "static": PUBLIC,
    "*.static": PUBLIC,
    "auth.login": PUBLIC,
    "auth.device_login": PUBLIC,
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
    "roster_grid.plan": LEAD,  # propose a month: a draft, nothing written
    "roster_grid.publish": LEAD,  # publish the reviewed draft (audited)
    "roster_grid.swap_form": LEAD,  # the signed 换班记录表 of a swap (multipart: the view checks the team)
    "roster_grid.swap_form_file": LEAD,  # view / download a kept form (the view checks the team)
    "exports.assessment_page": ADMIN,
    "hq.*": allow("manager", "admin"),  # headquarters: every site of the database, read only (kiosk_ui.hq)
    # live updates (kiosk_ui.feed): a kiosk gets its own device's tap results only
    "live.stream": allow("kiosk", "facilities", "lead", "admin", device_bound=True),
    "live.status": FLOOR,
    # read API
    "api.events": ADMIN,  # raw events: badge UIDs and everything else
    "api.quarantine": ADMIN,  # what failed validation, payloads as sent (badge UIDs among them)
    # the engine's read API (kiosk_ui.rules_api, engine contract)
    "engine.seats": FLOOR,
    "engine.devices": FLOOR,
    "engine.equipment": FLOOR,
    "engine.violations": allow("lead", "admin", team_filtered=True),
    "engine.rollcall": allow("lead", "admin", team_filtered=True),
    # lead actions (engine contract; each also audited by the guard if the view did not)
    "engine.lead_reassign": allow("lead", "admin", team_bound=True),
    "engine.lead_swap": allow("lead", "admin", team_bound=True),
    "engine.lead_meal_slot": allow("lead", "admin", team_bound=True),
    "engine.lead_leave": allow("lead", "admin", team_bound=True),
    "engine.excuse_violation": allow("lead", "admin", team_bound=True),
    # enrolment by tapping (hub.enrolment): a lead's own agents; reading one is checked in the view
    "engine.open_enrolment": allow("lead", "admin", team_bound=True),
    "engine.enrolment": allow("lead", "admin"),
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
