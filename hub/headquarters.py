"""Headquarters: every site of a shared database side by side (issue 16).

A database on PostgreSQL may hold several sites, each in a schema of its own; each site's hub
records which site it holds (Store.describe_site). Headquarters reads each one through the same
read-only snapshot the exports use: today's roll call in the site's own time zone, the month's
violations by rule, the month's punctuality per day (the chart), and the month's attendance rows
for one export across sites. Nothing here writes.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from hub.month_at_glance import DayCounts
from hub.months import month_end
from hub.store import Store
from hub.store.lease import lease_holder
from hub.store.month_aggregates import AnalyticsReader


@dataclass
class SiteMonth:
    """One site as headquarters sees it."""

    site: str
    name: str
    tz: str
    today: str  # the site's own date now
    rollcall_today: DayCounts
    violations: dict[str, int]  # rule -> this month's violations (excused ones not counted)
    days: list[DayCounts] = field(default_factory=list)  # the month, one per day
    events: int = 0
    engine: str | None = None  # the hub running the site's engine (PostgreSQL), if any


def site_months(store: Store, month: dt.date, now_ms: int) -> list[SiteMonth]:
    """Every site of the store's database (those a hub has described), by site id."""
    out = []
    for location in store.site_locations():
        site_store = Store(location) if location != store.location else store
        try:
            described = site_store.site_description()
            if described is not None:
                out.append(_site_month(site_store, described, month, now_ms))
        finally:
            if site_store is not store:
                site_store.close()
    return sorted(out, key=lambda s: s.site)


def _site_month(store: Store, described: dict[str, str], month: dt.date, now_ms: int) -> SiteMonth:
    tz = ZoneInfo(described["tz"])
    today = dt.datetime.fromtimestamp(now_ms / 1000, tz).date().isoformat()
    first, last = month.isoformat(), month_end(month).isoformat()
    with AnalyticsReader(store) as reader:
        rollcalls = reader.rollcall_counts(min(first, today), max(last, today))
        violations: dict[str, int] = {}
        for v in reader.violations(first, last):
            if not v.get("excused"):
                violations[v["rule"]] = violations.get(v["rule"], 0) + 1
    by_day: dict[str, DayCounts] = {}
    for date, _team, rollcall, n in rollcalls:
        by_day.setdefault(date, DayCounts(date)).add(rollcall, n)
    days = [by_day.get(d, DayCounts(d)) for d in _dates(month)]
    return SiteMonth(described["id"], described["name"], described["tz"], today,
                     by_day.get(today, DayCounts(today)), dict(sorted(violations.items())), days,
                     store.count_events(), lease_holder(store, described["id"]))


def _dates(month: dt.date) -> list[str]:
    end = month_end(month)
    return [(month + dt.timedelta(days=i)).isoformat() for i in range((end - month).days + 1)]


ATTENDANCE_COLUMNS = ("site", "date", "shift", "employee_no", "name", "team", "rostered_seat", "rollcall",
                      "first_arrival", "minutes_worked", "breaks_count", "breaks_minutes", "meal_minutes")


def attendance_csv(store: Store, month: dt.date) -> Iterator[str]:
    """The month's attendance of every site, one CSV (UTF-8 with BOM, as Excel opens it), site first."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    yield "\ufeff"
    writer.writerow(ATTENDANCE_COLUMNS)
    for location in store.site_locations():
        site_store = Store(location) if location != store.location else store
        try:
            described = site_store.site_description()
            if described is None:
                continue
            with AnalyticsReader(site_store) as reader:
                for row in reader.attendance(month.isoformat(), month_end(month).isoformat()):
                    writer.writerow([described["id"], *(row.get(c) for c in ATTENDANCE_COLUMNS[1:])])
                    if buf.tell() > 64_000:
                        yield buf.getvalue()
                        buf.seek(0)
                        buf.truncate()
        finally:
            if site_store is not store:
                site_store.close()
    yield buf.getvalue()
