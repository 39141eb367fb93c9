"""The month grid in Excel and CSV: import is all or nothing with the cell named; the published
month exports in the same layout and imports back to the same roster."""

from __future__ import annotations

import contextlib

import pytest
from openpyxl import load_workbook

from hub.cli import main
from hub.errors import RosterError
from hub.roster.grid import import_grid, month_grid, read_grid, write_grid
from hub.roster.month import propose, publish
from hub.site import example_site_dir, load_site
from hub.store import Store
from hub.store.derived import DerivedStore
from hub.store.rosters import RosterStore

DATES = ["2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04"]


def _grid() -> list[list[str]]:
    return [["employee_no", "name", "seat", *DATES],
            ["10001", "王伟", "A01", "day", "day", "休", "白班"],
            ["10041", "", "A01", "night", "night", "", "晚班"],
            ["10002", "", "A02", "day", "night@A05", "rest", "day"]]


@pytest.fixture
def hub_db(tmp_path):
    site = load_site(example_site_dir())
    store = Store(tmp_path / "hub.db")
    yield site, store
    store.close()


def test_xlsx_grid_with_one_bad_cell_names_it_and_imports_nothing(hub_db, tmp_path, capsys):
    site, store = hub_db
    rows = _grid()
    rows[3][5] = "nite"  # 10002 on 12-03: row 4, column F
    path = write_grid(rows, tmp_path / "排班表.xlsx")
    with pytest.raises(RosterError) as exc:
        import_grid(site, store, path, actor="lead1", now_ms=1)
    codes = ", ".join(sorted({"day", "night", "office", "overnight", "白班", "晚班", "常白班", "夜班"}))
    assert [(e.key, e.reason) for e in exc.value.errors] == [("cell F4", f"unknown shift code 'nite' (use {codes} or 休)")]
    derived = DerivedStore(store)
    assert derived.count("roster") == 0 and derived.count("audit") == 0
    db = tmp_path / "cli.db"
    assert main(["roster", "import-grid", str(path), "--db", str(db)]) == 1
    err = capsys.readouterr().err
    assert "排班表.xlsx: cell F4: unknown shift code 'nite'" in err and "nothing imported" in err


def test_csv_grid_errors_name_every_bad_cell(hub_db, tmp_path):
    site, store = hub_db
    rows = _grid()
    rows[0][4] = "12/02/2026"
    path = write_grid(rows, tmp_path / "grid.csv")
    with pytest.raises(RosterError) as exc:
        import_grid(site, store, path, actor="lead1", now_ms=1)
    assert [e.key for e in exc.value.errors] == ["cell E1"]
    rows = _grid()
    rows[2][6] = "day@A01"  # 10041 takes 10001's seat for the day shift of 12-04? 10001 has it: G3
    rows[3][0] = "99999"
    path = write_grid(rows, tmp_path / "grid2.csv")
    with pytest.raises(RosterError) as exc:
        import_grid(site, store, path, actor="lead1", now_ms=1)
    assert [(e.key, e.reason) for e in exc.value.errors] == [
        ("cell G3", "seat A01 is already given to 10001 for 2026-12-04 day"),
        ("cell A4", "unknown employee_no '99999'")]


def test_good_grid_imports_whole_and_is_audited(hub_db, tmp_path):
    site, store = hub_db
    audit_id = import_grid(site, store, write_grid(_grid(), tmp_path / "g.xlsx"), actor="lead1", now_ms=7)
    got = {(r["date"], r["employee_no"]): (r["shift"], r["seat"]) for r in DerivedStore(store).roster_for(DATES)}
    assert got == {
        ("2026-12-01", "10001"): ("day", "A01"), ("2026-12-02", "10001"): ("day", "A01"),
        ("2026-12-04", "10001"): ("day", "A01"),
        ("2026-12-01", "10041"): ("night", "A01"), ("2026-12-02", "10041"): ("night", "A01"),
        ("2026-12-04", "10041"): ("night", "A01"),
        ("2026-12-01", "10002"): ("day", "A02"), ("2026-12-02", "10002"): ("night", "A05"),
        ("2026-12-04", "10002"): ("day", "A02")}
    assert DerivedStore(store).audit_rows(1)[0]["id"] == audit_id


def test_published_month_exports_and_round_trips(hub_db, tmp_path):
    site, store = hub_db
    plan = propose(site, store, "2026-12").plan
    publish(site, store, plan, actor="lead1", now_ms=1)
    out = tmp_path / "dec.xlsx"
    assert main(["roster", "export", "--month", "2026-12", "--out", str(out), "--db", str(tmp_path / "hub.db")]) == 0
    sheet = load_workbook(out).worksheets[0]
    assert [c.value for c in sheet[1]][:4] == ["employee_no", "name", "seat", "2026-12-01"] and sheet.max_column == 34
    rows = read_grid(out)
    assert len(rows) == 81 and rows[1][:3] == ["10001", "王伟", "A01"]
    assert rows[1][3:] == ["休" if c == "rest" else c if seat == "A01" else f"{c}@{seat}"
                           for c, seat in zip(plan.cells["10001"], plan.seats["10001"], strict=True)]
    dates = [f"2026-12-{d:02d}" for d in range(1, 32)]
    published = RosterStore(store).cells(dates)
    assert month_grid(site, published, dates) == rows
    with contextlib.closing(Store(tmp_path / "other.db")) as other:
        import_grid(site, other, out, actor="lead1", now_ms=2)
        back = {(r["date"], r["employee_no"], r["shift"], r["seat"]) for r in DerivedStore(other).roster_for(dates)}
    assert back == {(c["date"], c["employee_no"], c["shift"], c["seat"]) for c in published}
