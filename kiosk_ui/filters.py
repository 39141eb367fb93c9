"""The common query filters (agent, team, device, dates, ...), validated in front of every view.

Defence in depth: quotes, semicolons, comments and wildcards never reach a query builder through
these parameters, whatever the view does with them. The guard refuses a bad one with a 400
naming it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from edge import wire
from hub.site import RULE_IDS

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
    """(parameter, reason) for the first query filter that is not what its name says, or None."""
    for name, value in args:
        if value == "":
            continue
        if name == "rule" and value not in RULE_IDS:
            return name, "not a rule id of RULES.md"
        spec = FILTER_PATTERNS.get(name)
        if spec is not None and (len(value) > 64 or not spec[0].match(value)):
            return name, f"not {spec[1]}"
    return None
