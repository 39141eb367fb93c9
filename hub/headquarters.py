"""Headquarters: every site of a shared database side by side (issue 16).

A database on PostgreSQL may hold several sites, each in a schema of its own; each site's hub
records which site it holds (Store.describe_site). Headquarters reads each one through the same
read-only snapshot the exports use: today's roll call in the site's own time zone, the month's
violations by rule, the month's punctuality per day (the chart), and the month's attendance rows
for one export across sites. Nothing here writes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from hub.exports import attendance
from hub.exports.formats import Column, csv_chunks, csv_start
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


def _sites(store: Store) -> Iterator[tuple[Store, dict[str, str]]]:
    """Each site of the store's database a hub has described: its store (open while in use) and
    its description (id, name, tz)."""
    for location in store.site_locations():
        site_store = Store(location) if location != store.location else store
        try:
            described = site_store.site_description()
            if described is not None:
                yield site_store, described
        finally:
            if site_store is not store:
                site_store.close()


def site_months(store: Store, month: dt.date, now_ms: int) -> list[SiteMonth]:
    """Every site of the store's database (those a hub has described), by site id."""
    return sorted((_site_month(s, described, month, now_ms) for s, described in _sites(store)), key=lambda m: m.site)


def _site_month(store: Store, described: dict[str, str], month: dt.date, now_ms: int) -> SiteMonth:
    today = dt.datetime.fromtimestamp(now_ms / 1000, ZoneInfo(described["tz"])).date().isoformat()
    first, last = month.isoformat(), month_end(month).isoformat()
    with AnalyticsReader(store) as reader:
        rollcalls = reader.rollcall_counts(first, last)
        if not first <= today <= last:  # a past month: today's roll call on its own
            rollcalls += reader.rollcall_counts(today, today)
        violations = reader.violation_counts(first, last)
    by_day: dict[str, DayCounts] = {}
    for date, _team, rollcall, n in rollcalls:
        by_day.setdefault(date, DayCounts(date)).add(rollcall, n)
    days = [by_day.get(d, DayCounts(d)) for d in _dates(month)]
    return SiteMonth(described["id"], described["name"], described["tz"], today,
                     by_day.get(today, DayCounts(today)), violations, days,
                     store.count_events(), lease_holder(store, described["id"]))


def _dates(month: dt.date) -> list[str]:
    end = month_end(month)
    return [(month + dt.timedelta(days=i)).isoformat() for i in range((end - month).days + 1)]


# The attendance export's columns that a row of the table holds (hub.exports.attendance adds the
# shift's name and the violations count from the site's files, which headquarters does not load),
# after the site's id.
SITE = Column("site", "站点", "Site", "text", 8)
COLUMNS = [SITE, *(c for c in attendance.COLUMNS if c.key not in ("shift_name", "violations_count"))]


def attendance_csv(store: Store, month: dt.date, lang: str = "zh") -> Iterator[bytes]:
    """The month's attendance of every site in one CSV, rendered as the site's own attendance
    export renders it (UTF-8 with BOM, headers in `lang`, local times in each site's zone)."""
    header = True
    for site_store, described in _sites(store):
        with AnalyticsReader(site_store) as reader:
            rows = ({"site": described["id"], **r} for r in reader.attendance(month.isoformat(), month_end(month).isoformat()))
            chunks = csv_chunks(rows, COLUMNS, ZoneInfo(described["tz"]), lang)
            first = next(chunks)  # the byte-order mark and the header
            if header:
                yield first
                header = False
            yield from chunks
    if header:  # no site yet: the header alone
        yield csv_start(COLUMNS, lang)[2]
