"""Site-local days and months as the assessment and the exports bound them, and the error of a
bad parameter. Below both: the assessment (hub.assess) is computed from these and the exports
(hub.exports) render it, so neither imports the other's package for them."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from hub.errors import ExportParamError

_MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def day_start_ms(day: dt.date, tz: ZoneInfo) -> int:
    return int(dt.datetime.combine(day, dt.time(0), tz).timestamp() * 1000)


def parse_month(raw: str | None, param: str = "month") -> dt.date:
    """'2026-11' -> the first day of that month."""
    if raw is None or raw == "":
        raise ExportParamError(param, "required (YYYY-MM)")
    m = _MONTH_RE.match(raw)
    if not m:
        raise ExportParamError(param, f"not a month (YYYY-MM): {raw[:40]!r}")
    return dt.date(int(m.group(1)), int(m.group(2)), 1)


def month_end(first: dt.date) -> dt.date:
    """The last day of the month that starts at `first`."""
    nxt = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)
