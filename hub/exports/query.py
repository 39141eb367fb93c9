"""What an export is asked for, validated once for the CLI and the web API alike.

Every parameter arrives as text from a command line or a query string; each is checked against a
strict shape before it gets near SQL (which is parameterised anyway), and a bad one raises
`ExportParamError` naming the parameter and the reason, which the CLI prints and the API turns
into a 400.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from hub.errors import ExportParamError
from hub.exports.formats import FORMATS, LANGS
from hub.months import day_start_ms

MAX_RANGE_DAYS = 1096  # three years: longer than any retention period
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EMPLOYEE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
_TEAM_RE = re.compile(r"^[\w][\w .-]{0,31}$")  # \w: team names may be Chinese (一组)


@dataclass(frozen=True)
class ExportQuery:
    """Site-local dates, inclusive, and optional team / agent filters."""

    date_from: dt.date
    date_to: dt.date
    team: str | None = None
    agent: str | None = None

    def utc_ms_range(self, tz: ZoneInfo) -> tuple[int, int]:
        """[start of date_from, start of the day after date_to) in the site's zone, as UTC ms."""
        return day_start_ms(self.date_from, tz), day_start_ms(self.date_to + dt.timedelta(days=1), tz)

    def slug(self) -> str:
        parts = [self.date_from.isoformat(), self.date_to.isoformat()]
        if self.team:
            parts.append(f"team-{self.team}")
        if self.agent:
            parts.append(f"agent-{self.agent}")
        return "_".join(parts)


def parse_date(param: str, raw: str | None) -> dt.date:
    if raw is None or raw == "":
        raise ExportParamError(param, "required (YYYY-MM-DD)")
    if not _DATE_RE.match(raw):
        raise ExportParamError(param, f"not a date (YYYY-MM-DD): {raw[:40]!r}")
    try:
        return dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise ExportParamError(param, f"not a valid date: {exc}") from None


def _matching(raw: str | None, pattern: re.Pattern[str], param: str, reason: str) -> str | None:
    """`raw` when it matches, None when it is absent or empty; otherwise the parameter's error."""
    if raw is None or raw == "":
        return None
    if not pattern.match(raw):
        raise ExportParamError(param, reason)
    return raw


def parse_agent(raw: str | None, param: str = "agent") -> str | None:
    return _matching(raw, _EMPLOYEE_RE, param, "not an employee number (letters, digits, . _ -; at most 32)")


def parse_team(raw: str | None, param: str = "team") -> str | None:
    return _matching(raw, _TEAM_RE, param, "not a team name (letters, digits, space . _ -; at most 32)")


def parse_choice(param: str, raw: str | None, choices: tuple[str, ...], default: str | None = None) -> str:
    if raw is None or raw == "":
        if default is None:
            raise ExportParamError(param, f"required: one of {', '.join(choices)}")
        return default
    if raw not in choices:
        raise ExportParamError(param, f"one of {', '.join(choices)}, not {raw[:20]!r}")
    return raw


def parse_format(raw: str | None, default: str | None = None, param: str = "format") -> str:
    return parse_choice(param, raw, FORMATS, default)


def parse_lang(raw: str | None, param: str = "lang") -> str:
    return parse_choice(param, raw, LANGS, "zh")


def parse_query(args: Mapping[str, str | None], *, names: Mapping[str, str] | None = None) -> ExportQuery:
    """Build a query from text parameters `from`, `to`, `team`, `agent`.

    `names` maps those keys to what the caller calls them in errors (e.g. "--from" on the CLI).
    """
    n = {"from": "from", "to": "to", "team": "team", "agent": "agent", **(names or {})}
    date_from = parse_date(n["from"], args.get("from"))
    date_to = parse_date(n["to"], args.get("to"))
    if date_to < date_from:
        raise ExportParamError(n["to"], f"{date_to} is before {n['from']} {date_from}")
    if (date_to - date_from).days >= MAX_RANGE_DAYS:
        raise ExportParamError(n["to"], f"range longer than {MAX_RANGE_DAYS} days")
    return ExportQuery(date_from, date_to, parse_team(args.get("team"), n["team"]), parse_agent(args.get("agent"), n["agent"]))
