"""SQL for the month roster: published months, day overrides, rotation phases, materialisation.

The engine reads duties from the `roster` table (hub.store.derived). Rows there come from three
sources: imported files (`import`, `site`, `lead`: kept as they are, a date holding any is an
imported date), and rows this module writes from the roster model (MANAGED sources: `pattern`
from rotations, `plan` from a published month, `extra` from an extra-duty override). Managed rows
are rewritten from the model whenever dates are read, so they never drift from it.

Tables:
  roster_cells      the published month, one worked shift per agent and date (rest: no row)
  roster_published  which dates are published, when and by whom (their cells change only
                    through overrides)
  roster_overrides  a lead's day override: rest (the agent does not work) or extra (a duty added)
  roster_phases     each agent's rotation phase on the first day of a month (stability)
  swap_forms        the signed 换班记录表 of an approved swap: the scan, its type and sha256
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hub.store import Store
from hub.store.derived import DerivedStore

MANAGED = ("pattern", "plan", "extra")


class RosterStore:
    """The month roster's tables on the hub's Store (same connection, same lock)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.derived = DerivedStore(store)

    def _rows(self, sql: str, args: Iterable[Any] = ()) -> list[dict[str, Any]]:
        return self.derived._rows(sql, list(args))

    @staticmethod
    def _marks(items: list) -> str:
        return ",".join("?" * len(items))

    def _on_dates(self, select: str, dates: Iterable[str], tail: str = "",
                  more: Iterable[Any] = ()) -> list[dict[str, Any]]:
        """`select ... WHERE date IN (dates)` + `tail` (its `more` arguments); no query for no dates."""
        ds = sorted(set(dates))
        if not ds:
            return []
        return self._rows(f"{select} WHERE date IN ({self._marks(ds)}){tail}", [*ds, *more])

    # ------------------------------------------------------------ reads

    def imported_dates(self, dates: Iterable[str]) -> set[str]:
        """Dates whose roster holds rows from a file or a lead (the model leaves them alone)."""
        return {r["date"] for r in self._on_dates("SELECT DISTINCT date FROM roster", dates,
                                                  f" AND coalesce(source, '') NOT IN ({self._marks(list(MANAGED))})",
                                                  MANAGED)}

    def published(self, dates: Iterable[str]) -> set[str]:
        return {r["date"] for r in self._on_dates("SELECT date FROM roster_published", dates)}

    def published_months(self) -> list[str]:
        return [r["month"] for r in self._rows("SELECT DISTINCT month FROM roster_published ORDER BY month")]

    def cells(self, dates: Iterable[str]) -> list[dict[str, Any]]:
        return self._on_dates("SELECT date, employee_no, shift, seat, meal_start FROM roster_cells", dates,
                              " ORDER BY date, employee_no")

    def overrides(self, dates: Iterable[str]) -> list[dict[str, Any]]:
        return self._on_dates('SELECT id, date, employee_no, kind, shift, seat, reason, "by", at FROM roster_overrides',
                              dates, " ORDER BY id")

    def phases(self, month: str) -> dict[str, dict[str, Any]]:
        return {r["employee_no"]: r for r in self._rows(
            "SELECT employee_no, pattern, phase, seat FROM roster_phases WHERE month = ?", [month])}

    def swap(self, date: str, shift: str, from_employee_no: str) -> dict[str, Any] | None:
        """The approved swap (换班记录) of one duty, if any."""
        rows = self._rows("SELECT date, shift, seat, from_employee_no, to_employee_no, approved_by, at FROM swaps"
                          " WHERE date = ? AND shift = ? AND from_employee_no = ?", [date, shift, from_employee_no])
        return rows[0] if rows else None

    def swap_forms(self, dates: Iterable[str]) -> list[dict[str, Any]]:
        """The signed forms kept for swaps on these dates (no content)."""
        return self._on_dates('SELECT date, shift, from_employee_no, sha256, media_type, size, "by", at FROM swap_forms',
                              dates, " ORDER BY id")

    def swap_form(self, sha256: str) -> dict[str, Any] | None:
        """One kept form with its content, by sha256."""
        rows = self._rows('SELECT date, shift, from_employee_no, sha256, media_type, size, data, "by", at'
                          " FROM swap_forms WHERE sha256 = ? ORDER BY id LIMIT 1", [sha256])
        return rows[0] if rows else None

    def latest_phases(self, month: str) -> tuple[str, dict[str, dict[str, Any]]] | None:
        """(month, employee_no -> {pattern, phase, seat}) of the latest month not after `month` that a
        publication carried phases into; None before any publication."""
        rows = self._rows("SELECT month, employee_no, pattern, phase, seat FROM roster_phases"
                          " WHERE month = (SELECT max(month) FROM roster_phases WHERE month <= ?)", [month])
        if not rows:
            return None
        return rows[0]["month"], {r["employee_no"]: r for r in rows}

    def managed_rows(self, dates: Iterable[str]) -> list[dict[str, Any]]:
        return self._on_dates("SELECT date, employee_no, shift, seat, meal_start, source FROM roster", dates,
                              f" AND source IN ({self._marks(list(MANAGED))})", MANAGED)

    # ------------------------------------------------------------ writes

    def sync(self, dates: list[str], rows: list[dict[str, Any]]) -> int:
        """Make the managed roster rows of `dates` exactly `rows`; writes only when they differ.

        No plans-version bump: this runs while the engine reads these very dates."""

        def key(r: dict[str, Any]) -> tuple:
            return (r["date"], r["employee_no"], r["shift"], r["seat"], r.get("meal_start"), r["source"])

        have = {key(r) for r in self.managed_rows(dates)}
        want = {key(r) for r in rows}
        if have == want:
            return 0
        marks = self._marks(dates)

        def write(conn) -> int:
            conn.execute(f"DELETE FROM roster WHERE date IN ({marks}) AND source IN ({self._marks(list(MANAGED))})",
                         [*dates, *MANAGED])
            conn.executemany("INSERT INTO roster(date, employee_no, shift, seat, meal_start, source)"
                             " VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING", sorted(want, key=lambda k: (k[0], k[1], k[2])))
            return len(want)

        return self.derived.transaction(write)

    def publish(self, month: str, cells: list[dict[str, Any]], dates: list[str], next_phases: list[dict[str, Any]],
                *, actor: str, now_ms: int, details: dict[str, Any]) -> int:
        """Publish a month in one transaction with its audit row; returns the audit id."""
        marks = self._marks(dates)
        stmts: list[tuple[str, tuple]] = [
            (f"DELETE FROM roster_cells WHERE date IN ({marks})", tuple(dates)),
            (f"DELETE FROM roster WHERE date IN ({marks}) AND source IN ({self._marks(list(MANAGED))})",
             (*dates, *MANAGED)),
        ]
        stmts += [("INSERT INTO roster_cells(date, employee_no, shift, seat, meal_start, month) VALUES (?,?,?,?,?,?)",
                   (c["date"], c["employee_no"], c["shift"], c["seat"], c.get("meal_start"), month)) for c in cells]
        stmts += [('INSERT INTO roster_published(date, month, at, "by") VALUES (?,?,?,?)', (d, month, now_ms, actor))
                  for d in dates]
        stmts += [("INSERT INTO roster_phases(month, employee_no, pattern, phase, seat) VALUES (?,?,?,?,?)"
                   " ON CONFLICT(month, employee_no) DO UPDATE SET pattern=excluded.pattern, phase=excluded.phase,"
                   " seat=excluded.seat", (p["month"], p["employee_no"], p["pattern"], p["phase"], p["seat"]))
                  for p in next_phases]
        return self.derived.lead_write(stmts, (now_ms, actor, "roster.publish", month, details))

    def add_swap_form(self, swap: dict[str, Any], *, sha256: str, media_type: str, data: bytes, actor: str,
                      now_ms: int) -> int:
        """Keep the signed form of an approved swap, with its audit row; returns the audit id."""
        details = {"date": swap["date"], "shift": swap["shift"], "to": swap["to_employee_no"], "sha256": sha256,
                   "media_type": media_type, "size": len(data)}
        return self.derived.lead_write(
            [('INSERT INTO swap_forms(date, shift, from_employee_no, sha256, media_type, size, data, "by", at)'
              " VALUES (?,?,?,?,?,?,?,?,?)",
              (swap["date"], swap["shift"], swap["from_employee_no"], sha256, media_type, len(data), data, actor,
               now_ms))],
            (now_ms, actor, "roster.swap_form", swap["from_employee_no"], details),
        )

    def add_override(self, row: dict[str, Any], *, actor: str, now_ms: int) -> int:
        """Record a rest or extra-duty override with its audit row; returns the audit id."""
        return self.derived.lead_write(
            [('INSERT INTO roster_overrides(date, employee_no, kind, shift, seat, reason, "by", at)'
              " VALUES (?,?,?,?,?,?,?,?)",
              (row["date"], row["employee_no"], row["kind"], row.get("shift"), row.get("seat"), row.get("reason"),
               actor, now_ms))],
            (now_ms, actor, f"roster.{row['kind']}", row["employee_no"], row),
        )
