"""The month grid leads keep in Excel (排班表): agents down, dates across, shift codes in cells.

Layout (CSV or XLSX, first sheet): `employee_no, name, seat, <date>, <date>, ...`; a cell is a
shift id of site.toml (or its name's first word, e.g. 白班), `code@seat` for a day at another seat,
or rest (`休`, `rest`, blank). The seat column is the agent's usual seat. Import is all or
nothing: every problem is named by its cell (e.g. `F12`) and nothing is written unless the whole
grid is clean. Export writes the published month in the same layout, so a grid round-trips.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.utils import get_column_letter

from edge.exceptions import ConfigError
from hub.errors import RosterError

RESTS = ("", "休", "rest", "-")
FIXED = ("employee_no", "name", "seat")


def cell_ref(row: int, col: int) -> str:
    """1-based row and column as a spreadsheet cell name (row 12, column 6 -> F12)."""
    return f"{get_column_letter(col)}{row}"


def read_grid(path: str | Path, data: bytes | None = None) -> list[list[str]]:
    """The grid's cells as text, by its suffix (.xlsx or .csv)."""
    path = Path(path)
    raw = data if data is not None else path.read_bytes()
    if path.suffix.lower() == ".xlsx":
        wb = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
        out = []
        for row in wb.worksheets[0].iter_rows(values_only=True):
            out.append(["" if v is None else (v.date().isoformat() if isinstance(v, dt.datetime)
                                                else v.isoformat() if isinstance(v, dt.date) else str(v).strip())
                        for v in row])
        return out
    return [[c.strip() for c in r] for r in csv.reader(io.StringIO(raw.decode("utf-8-sig")))]


def check_grid(site, path: str | Path, rows: list[list[str]]) -> tuple[list[dict[str, Any]], list[ConfigError]]:
    """Roster rows of a grid and every problem, each naming its cell."""
    errors: list[ConfigError] = []
    where = str(path)

    def err(r: int, c: int, why: str) -> None:
        errors.append(ConfigError(where, f"cell {cell_ref(r, c)}", why))

    if not rows:
        return [], [ConfigError(where, "cell A1", "the grid is empty")]
    header = rows[0]
    for i, name in enumerate(FIXED):
        if i >= len(header) or header[i] != name:
            err(1, i + 1, f"expected column {name!r}, found {header[i] if i < len(header) else ''!r}")
    dates: dict[int, str] = {}
    for c in range(len(FIXED), len(header)):
        if not header[c]:
            continue
        try:
            dates[c] = dt.date.fromisoformat(header[c][:10]).isoformat()
        except ValueError:
            err(1, c + 1, f"not a date YYYY-MM-DD: {header[c]!r}")
    if errors:
        return [], errors
    agents = {a.employee_no for a in site.agents}
    seats = {s.id for s in site.info.seats}
    codes = {s.id: s.id for s in site.info.shifts}
    codes.update({s.name.split()[0]: s.id for s in site.info.shifts})
    out: list[dict[str, Any]] = []
    taken: dict[tuple[str, str, str], str] = {}
    seen_agent: dict[str, int] = {}
    for r, row in enumerate(rows[1:], start=2):
        if not any(row):
            continue
        emp = row[0] if row else ""
        if emp not in agents:
            err(r, 1, f"unknown employee_no {emp!r}")
            continue
        if emp in seen_agent:
            err(r, 1, f"{emp} already has row {seen_agent[emp]}")
            continue
        seen_agent[emp] = r
        home = row[2] if len(row) > 2 else ""
        if home and home not in seats:
            err(r, 3, f"unknown seat {home!r}")
            continue
        for c, date in dates.items():
            text = row[c] if c < len(row) else ""
            if text in RESTS:
                continue
            code, _, seat = text.partition("@")
            shift = codes.get(code.strip())
            seat = seat.strip() or home
            if shift is None:
                err(r, c + 1, f"unknown shift code {code!r} (use {', '.join(sorted(codes))} or 休)")
            elif not seat:
                err(r, c + 1, f"no seat: fill column seat or write {code}@<seat>")
            elif seat not in seats:
                err(r, c + 1, f"unknown seat {seat!r}")
            elif (date, shift, seat) in taken:
                err(r, c + 1, f"seat {seat} is already given to {taken[(date, shift, seat)]} for {date} {shift}")
            else:
                taken[(date, shift, seat)] = emp
                out.append({"date": date, "employee_no": emp, "shift": shift, "seat": seat, "meal_start": None,
                            "source": "import"})
    return out, errors


def import_grid(site, store, path: str | Path, *, data: bytes | None = None, actor: str, now_ms: int) -> int:
    """Import a month grid (replacing the roster of its dates) or raise RosterError; returns the audit id."""
    from hub.store.derived import DerivedStore  # noqa: PLC0415

    rows, errors = check_grid(site, path, read_grid(path, data))
    if errors:
        raise RosterError(errors)
    dates = sorted({r["date"] for r in rows})
    derived = DerivedStore(store)
    stmts = [("DELETE FROM roster WHERE date = ?", (d,)) for d in dates]
    stmts += [("INSERT INTO roster(date, employee_no, shift, seat, meal_start, source) VALUES (?,?,?,?,?,?)",
               (r["date"], r["employee_no"], r["shift"], r["seat"], None, "import")) for r in rows]
    return derived.lead_write(stmts, (now_ms, actor, "roster.import_grid", str(path),
                                      {"rows": len(rows), "first": dates[0] if dates else None,
                                       "last": dates[-1] if dates else None}))


def month_grid(site, cells: list[dict[str, Any]], dates: list[str]) -> list[list[str]]:
    """Published cells as the grid (agents with any duty, in employee order)."""
    by_agent: dict[str, dict[str, dict[str, Any]]] = {}
    for c in cells:
        by_agent.setdefault(c["employee_no"], {})[c["date"]] = c
    names = {a.employee_no: a.name for a in site.agents}
    rows = [[*FIXED, *dates]]
    for emp in sorted(by_agent):
        days = by_agent[emp]
        home = Counter(c["seat"] for c in days.values()).most_common(1)[0][0]
        line = [emp, names.get(emp, ""), home]
        for d in dates:
            c = days.get(d)
            line.append("休" if c is None else c["shift"] if c["seat"] == home else f"{c['shift']}@{c['seat']}")
        rows.append(line)
    return rows


def write_grid(rows: list[list[str]], path: str | Path) -> Path:
    """Write a grid as .xlsx or .csv (by the suffix)."""
    path = Path(path)
    if path.suffix.lower() == ".xlsx":
        wb = Workbook()
        ws = wb.active
        ws.title = "排班表"
        for row in rows:
            ws.append(row)
        wb.save(path)
    else:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def export_month(site, store, month: str, path: str | Path) -> Path:
    """The published month as a grid file."""
    from hub.roster.planner import month_days  # noqa: PLC0415
    from hub.store.rosters import RosterStore  # noqa: PLC0415

    dates = [d.isoformat() for d in month_days(month)]
    rosters = RosterStore(store)
    if not rosters.published(dates):
        raise ValueError(f"{month} is not published")
    return write_grid(month_grid(site, rosters.cells(dates), dates), path)
