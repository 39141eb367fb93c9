"""The effective roster of a date: rotations (or the published month), then day overrides.

Order, from the bottom up: a date imported from a file keeps its file rows (plain roster.csv
still works); otherwise a published date's cells, else every rotation's cell for that date; then
the day's overrides (rest removes the agent's duty, extra adds one). Leave and swaps stay in the
tables the engine already reads them from (granted leave excuses a duty, an approved swap hands
it over), so SWAP-UNAPPROVED and the leave rules judge them exactly as before.

`install(site, store)` makes the store materialise these rows into `roster` whenever dates are
read (hub.store.derived plans_for / roster_for), so every rule reads duties as it always has.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hub.roster.patterns import REST, Rotation
from hub.roster.roster_files import RosterConfig, load_roster_config


def rotation_rows(config: RosterConfig, day: dt.date, shifts: set[str],
                  carried: tuple[dt.date, dict[str, dict[str, Any]]] | None = None) -> list[dict[str, Any]]:
    """Every assigned agent's rotation cell on a day, as roster rows (rest: no row).

    carried: (first day of a month, employee_no -> {pattern, phase, seat}) as the last published
    month left each rotation (a plan may have brought rests forward or chosen a phase): after a
    published month the rotation goes on from there, not from the assignment's start."""
    anchor, phases = carried if carried is not None else (day, {})
    rows = []
    done: set[str] = set()
    for a in config.assignments:
        if not a.covers(day) or a.pattern not in config.patterns:
            continue
        rot, seat = config.rotation(a), a.seat
        ph = phases.get(a.employee_no)
        if ph is not None and ph["pattern"] == a.pattern and a.start <= anchor:
            rot, seat = Rotation(config.patterns[a.pattern], anchor, ph["phase"]), ph["seat"] or a.seat
        done.add(a.employee_no)
        shift = rot.shift_on(day, config.calendar)
        if shift != REST and shift in shifts:
            rows.append({"date": day.isoformat(), "employee_no": a.employee_no, "shift": shift, "seat": seat,
                         "meal_start": a.meal_start, "source": "pattern"})
    for emp, ph in phases.items():  # agents the planner gave a phase (no assignment)
        if emp in done or ph["pattern"] not in config.patterns or not ph["seat"]:
            continue
        shift = Rotation(config.patterns[ph["pattern"]], anchor, ph["phase"]).shift_on(day, config.calendar)
        if shift != REST and shift in shifts:
            rows.append({"date": day.isoformat(), "employee_no": emp, "shift": shift, "seat": ph["seat"],
                         "meal_start": None, "source": "pattern"})
    return rows


def apply_overrides(rows: list[dict[str, Any]], overrides: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A day's rows after its overrides, in the order they were recorded (a later one wins)."""
    out = [dict(r) for r in rows]
    for o in overrides:
        if o["kind"] == "rest":
            out = [r for r in out if not (r["employee_no"] == o["employee_no"] and o["shift"] in (None, "", r["shift"]))]
        elif o["kind"] == "extra":
            out = [r for r in out if not (r["employee_no"] == o["employee_no"] and r["shift"] == o["shift"])]
            out.append({"date": o["date"], "employee_no": o["employee_no"], "shift": o["shift"], "seat": o["seat"],
                        "meal_start": None, "source": "extra"})
    return out


class RosterSource:
    """Materialises the effective roster of the dates asked for into the `roster` table."""

    def __init__(self, site, store, config: RosterConfig | None = None) -> None:
        from hub.store.rosters import RosterStore  # noqa: PLC0415

        self.site = site
        self.rosters = RosterStore(store)
        self.config = config if config is not None else load_roster_config(site)[0]
        self.shifts = {s.id for s in site.info.shifts}

    def rows_for(self, dates: list[str]) -> list[dict[str, Any]]:
        """The managed rows these (not imported) dates should hold."""
        published = self.rosters.published(dates)
        cells: dict[str, list[dict[str, Any]]] = {}
        for c in self.rosters.cells(published):
            cells.setdefault(c["date"], []).append(c | {"source": "plan"})
        overrides: dict[str, list[dict[str, Any]]] = {}
        for o in self.rosters.overrides(dates):
            overrides.setdefault(o["date"], []).append(o)
        carried: dict[str, tuple[dt.date, dict[str, dict[str, Any]]] | None] = {}
        for d in dates:
            if d not in published and d[:7] not in carried:
                got = self.rosters.latest_phases(d[:7])
                carried[d[:7]] = None if got is None else (dt.date.fromisoformat(got[0] + "-01"), got[1])
        out = []
        for d in dates:
            base = cells.get(d, []) if d in published else rotation_rows(
                self.config, dt.date.fromisoformat(d), self.shifts, carried[d[:7]])
            out += apply_overrides(base, overrides.get(d, []))
        return out

    def __call__(self, dates: list[str]) -> None:
        fresh = sorted(set(dates) - self.rosters.imported_dates(dates))
        if fresh:
            self.rosters.sync(fresh, self.rows_for(fresh))


def install(site, store) -> RosterSource:
    """Let this store's roster reads include the site's rotations, published months and overrides."""
    source = getattr(store, "roster_source", None)
    if isinstance(source, RosterSource) and source.site is site:
        return source
    source = RosterSource(site, store)
    store.roster_source = source
    return source
