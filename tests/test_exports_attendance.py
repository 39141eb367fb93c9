"""The attendance export end to end: rows in the engine's table -> CSV / XLSX / JSON lines files
that Excel, LibreOffice and machines read as intended."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import shutil
import subprocess
import tracemalloc

import pytest
from openpyxl import load_workbook

from hub.cli import main
from hub.exports import ExportQuery, render_export, write_file
from hub.exports.attendance import COLUMNS
from tests.test_exports_data import CONTRACT_COLUMNS, add_attendance, ensure_tables, local_ms

NOV3 = dt.date(2026, 11, 3)


@pytest.fixture
def month_store(site, store):
    """Three agents over two days, one with the lot: late, two seats, violations, an excuse."""
    ensure_tables(store)
    tz = site.tz
    add_attendance(
        store, date="2026-11-03", shift="day", employee_no="10001", name="王伟", team="T1", rostered_seat="A01",
        seats_used=["A01", "A02"], first_arrival=local_ms(tz, NOV3, "08:24", 30), arrival_minutes_before=5.5,
        rollcall="roll_call_late", seat_signin=local_ms(tz, NOV3, "08:28"), signout=local_ms(tz, NOV3, "16:01"),
        minutes_worked=453.0, breaks_count=2, breaks_minutes=23.25, meal_minutes=31.0,
        violation_ids=["v1", "v2"], excused=["v2"],
    )
    add_attendance(
        store, date="2026-11-03", shift="day", employee_no="10003", name="=HYPERLINK(\"http://x\")", team="T2",
        rostered_seat="A03", rollcall="absent",
    )
    add_attendance(
        store, date="2026-11-04", shift="night", employee_no="10009", name="吴敏", team="T1", rostered_seat="A01",
        first_arrival=local_ms(tz, NOV3 + dt.timedelta(days=1), "15:40"), arrival_minutes_before=20.0,
        rollcall="on_time", leave=None, unrostered=1,
    )
    return store


def _export(site, store, fmt, lang="zh", **q) -> bytes:
    query = ExportQuery(q.pop("date_from", dt.date(2026, 11, 1)), q.pop("date_to", dt.date(2026, 11, 30)), **q)
    buf = io.BytesIO()
    write_file(render_export("attendance", site, store, query, fmt, lang), buf)
    return buf.getvalue()


def test_csv_is_utf8_with_bom_chinese_headers_local_times_and_words(site, month_store):
    data = _export(site, month_store, "csv")
    assert data.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(io.StringIO(data[3:].decode("utf-8"))))
    assert rows[0][:5] == ["日期", "班次", "班次名称", "工号", "姓名"]
    assert len(rows) == 4
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["首次到达"] == "2026-11-03 08:24:30"  # Asia/Shanghai, not UTC (00:24:30)
    assert first["点名结果"] == "点名迟到"
    assert first["实际台席"] == "A01;A02"
    assert first["违规次数"] == "2" and first["已免责违规"] == "v2"
    assert first["小休时长(分钟)"] == "23.2" or first["小休时长(分钟)"] == "23.3"
    assert first["排班外"] == "否"
    assert first["班次名称"] == "白班 Day"
    # a name Excel would run as a formula is defused
    assert dict(zip(rows[0], rows[2], strict=True))["姓名"] == "'=HYPERLINK(\"http://x\")"


def test_english_headers_and_words(site, month_store):
    data = _export(site, month_store, "csv", "en")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0]["Roll call"] == "late for roll call"
    assert rows[1]["Roll call"] == "absent"
    assert rows[2]["Unrostered"] == "yes"


def test_filters_by_team_agent_and_inclusive_dates(site, month_store):
    def ids(**q):
        return [json.loads(line)["employee_no"] for line in _export(site, month_store, "json", **q).decode().splitlines()]

    assert ids() == ["10001", "10003", "10009"]
    assert ids(team="T1") == ["10001", "10009"]
    assert ids(agent="10003") == ["10003"]
    assert ids(date_from=dt.date(2026, 11, 4), date_to=dt.date(2026, 11, 4)) == ["10009"]
    assert ids(date_from=dt.date(2026, 11, 3), date_to=dt.date(2026, 11, 3)) == ["10001", "10003"]
    assert ids(team="T9") == []


def test_json_lines_carry_codes_lists_and_iso_times_with_the_site_offset(site, month_store):
    lines = [json.loads(line) for line in _export(site, month_store, "json").decode().splitlines()]
    row = lines[0]
    assert row["first_arrival"] == "2026-11-03T08:24:30+08:00"
    assert row["rollcall"] == "roll_call_late"
    assert row["seats_used"] == ["A01", "A02"]
    assert row["violation_ids"] == ["v1", "v2"] and row["violations_count"] == 2
    assert row["unrostered"] is False and lines[2]["unrostered"] is True
    assert lines[1]["first_arrival"] is None
    assert list(row) == [c.key for c in COLUMNS]


def _cell_as_json(col, value):
    """An XLSX cell value in the JSON export's terms, to compare the two row for row."""
    if value is None:
        return None
    if col.kind == "datetime":
        return value.replace(tzinfo=dt.timezone(dt.timedelta(hours=8))).isoformat()
    if col.kind == "date":
        return value.date().isoformat()
    if col.kind == "list":
        return value.split(";")
    if col.kind == "enum":
        return {pair[0]: code for code, pair in col.labels.items()}[value]
    if col.kind == "bool":
        return value == "是"
    return value


def test_xlsx_has_a_frozen_header_widths_typed_times_and_matches_json_row_for_row(site, month_store, tmp_path, output_dir):
    path = tmp_path / "attendance.xlsx"
    path.write_bytes(_export(site, month_store, "xlsx"))
    shutil.copy(path, output_dir / "attendance-example.xlsx")
    wb = load_workbook(path)  # full mode: styles and sheet settings
    ws = wb.active
    assert ws.freeze_panes == "A2"
    assert ws.column_dimensions["A"].width == COLUMNS[0].width
    assert ws["A1"].font.bold
    arrival = ws.cell(row=2, column=[c.key for c in COLUMNS].index("first_arrival") + 1)
    assert arrival.is_date and arrival.value == dt.datetime(2026, 11, 3, 8, 24, 30)
    name = ws.cell(row=3, column=[c.key for c in COLUMNS].index("name") + 1)
    assert name.data_type == "s" and name.value == "=HYPERLINK(\"http://x\")"  # text, not a formula

    json_rows = [json.loads(line) for line in _export(site, month_store, "json").decode().splitlines()]
    xlsx_rows = list(load_workbook(path, read_only=True).active.iter_rows(values_only=True))
    assert list(xlsx_rows[0]) == [c.zh for c in COLUMNS]
    assert len(xlsx_rows) - 1 == len(json_rows) == 3
    for xrow, jrow in zip(xlsx_rows[1:], json_rows, strict=True):
        converted = {c.key: _cell_as_json(c, v) for c, v in zip(COLUMNS, xrow, strict=True)}
        expected = {k: (round(v, 1) if isinstance(v, float) else v) for k, v in jrow.items()}
        expected = {k: (v if v != [] else None) for k, v in expected.items()}  # an empty list is an empty cell
        assert converted == expected


def test_csv_opens_in_libreoffice_with_chinese_headers_intact(site, month_store, tmp_path):
    """LibreOffice 7.4's headless CSV import does not sniff the byte-order mark and reads the
    system charset (Windows-1252 here), so the import names UTF-8 (76) the way its CSV filter
    options document; Excel and LibreOffice's import dialog detect the BOM by themselves."""
    office = shutil.which("libreoffice") or shutil.which("soffice")
    if office is None:
        pytest.skip("LibreOffice is not installed (apt package libreoffice-calc-nogui)")
    src = tmp_path / "attendance.csv"
    src.write_bytes(_export(site, month_store, "csv"))
    out = tmp_path / "converted"
    profile = tmp_path / "lo-profile"
    subprocess.run(
        [office, f"-env:UserInstallation=file://{profile}", "--headless", "--infilter=CSV:44,34,76,1", "--convert-to", "xlsx", "--outdir", str(out), str(src)],
        check=True, timeout=180, capture_output=True,
    )
    rows = list(load_workbook(out / "attendance.xlsx", read_only=True).active.iter_rows(values_only=True))
    assert list(rows[0]) == [c.zh for c in COLUMNS]
    assert rows[1][3:5] == ("10001", "王伟") or rows[1][3:5] == (10001, "王伟")
    assert len(rows) == 4


def test_xlsx_opens_in_libreoffice_with_typed_times_and_text_kept_as_text(site, month_store, tmp_path):
    """The XLSX is written as XML by hub.exports.xlsx, not by a spreadsheet library: a real
    office suite must open it, show times through their number format and keep formula-like
    text as text. LibreOffice converts it to CSV (UTF-8, filter options 44,34,76)."""
    office = shutil.which("libreoffice") or shutil.which("soffice")
    if office is None:
        pytest.skip("LibreOffice is not installed (apt package libreoffice-calc-nogui)")
    src = tmp_path / "attendance.xlsx"
    src.write_bytes(_export(site, month_store, "xlsx"))
    out = tmp_path / "converted"
    subprocess.run(
        [office, f"-env:UserInstallation=file://{tmp_path / 'lo-profile'}", "--headless", "--convert-to",
         "csv:Text - txt - csv (StarCalc):44,34,76", "--outdir", str(out), str(src)],
        check=True, timeout=180, capture_output=True,
    )
    rows = list(csv.reader(io.StringIO((out / "attendance.csv").read_text(encoding="utf-8"))))
    keys = [c.key for c in COLUMNS]
    assert rows[0] == [c.zh for c in COLUMNS] and len(rows) == 4
    first = dict(zip(keys, rows[1], strict=True))
    assert (first["date"], first["name"], first["first_arrival"]) == ("2026-11-03", "王伟", "2026-11-03 08:24:30")
    assert (first["seats_used"], first["breaks_minutes"], first["rollcall"]) == ("A01;A02", "23.2", "点名迟到")
    assert dict(zip(keys, rows[2], strict=True))["name"] == '=HYPERLINK("http://x")'  # not evaluated


def test_progress_hears_every_row_and_changes_nothing(site, month_store):
    query = ExportQuery(dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    for fmt in ("csv", "xlsx", "json"):
        seen: list[int] = []
        buf = io.BytesIO()
        write_file(render_export("attendance", site, month_store, query, fmt, "zh", progress=seen.append), buf)
        assert seen[-1] == 3, fmt
        if fmt != "xlsx":  # a zip records its entries' times: compare the text formats byte for byte
            assert buf.getvalue() == _export(site, month_store, fmt)


def test_cli_writes_the_file_and_names_bad_parameters(site, site_dir, month_store, tmp_path, capsys):
    db = month_store.location  # a file or a PostgreSQL URL
    out = tmp_path / "a.csv"
    argv = ["export", "attendance", "--site", str(site_dir), "--db", db, "--from", "2026-11-01", "--to", "2026-11-30"]
    assert main([*argv, "--format", "csv", "--lang", "en", "--team", "T1", "--out", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert [r["Employee no."] for r in rows] == ["10001", "10009"]
    audit = month_store.conn.execute("SELECT actor, action, target, details FROM audit").fetchall()
    assert [(a[1], a[2]) for a in audit] == [("export", "attendance")] and audit[0][0].startswith("cli:")
    assert json.loads(audit[0][3])["team"] == "T1"

    assert main([*argv[:-4], "--from", "2026-11-31", "--to", "2026-11-30", "--format", "csv", "--out", str(out)]) == 2
    assert "--from" in capsys.readouterr().err
    assert main([*argv, "--format", "pdf", "--out", str(out)]) == 2
    assert "--format" in capsys.readouterr().err
    assert main([*argv[:4], "--db", str(tmp_path / "nope.db"), *argv[6:], "--format", "csv", "--out", str(out)]) == 2
    assert "--db" in capsys.readouterr().err


def _peak_bytes(site, store, fmt: str) -> int:
    query = ExportQuery(dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    sink = open("/dev/null", "wb")  # noqa: SIM115
    tracemalloc.start()
    try:
        write_file(render_export("attendance", site, store, query, fmt, "zh"), sink)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        sink.close()


def _fill(store, days: int, agents: int) -> None:
    rows = []
    for d in range(days):
        day = (dt.date(2026, 1, 1) + dt.timedelta(days=d)).isoformat()
        for a in range(agents):
            rows.append((day, "day", f"{20000 + a}", "某某", "T1", "A01", '["A01"]', 1767225600000 + d * 86400000,
                         10.0, "on_time", None, None, 450.0, 1, 8.0, 30.0, "[]", None, "[]", 0))
    with store.lock:
        cols = ",".join(f'"{c}"' for c in CONTRACT_COLUMNS["attendance"])
        store.conn.executemany(f"INSERT INTO attendance ({cols}) VALUES ({','.join('?' * 20)})", rows)


@pytest.mark.parametrize("fmt", ["csv", "json", "xlsx"])
def test_memory_stays_flat_however_long_the_range(site, tmp_path, fmt, monkeypatch):
    """Ten times the rows must not need anywhere near ten times the memory. (Small cursor
    batches and chunks keep the test quick: both ranges span many of each.)"""
    from hub.exports import formats
    from hub.store import Store, reports

    monkeypatch.setattr(reports, "BATCH", 50)
    monkeypatch.setattr(formats, "CHUNK_CHARS", 4096)
    peaks = []
    for days in (3, 30):
        st = Store(tmp_path / f"{fmt}-{days}.db")
        ensure_tables(st)
        _fill(st, days, 20)
        peaks.append(_peak_bytes(site, st, fmt))
        st.close()
    assert peaks[1] < 1.5 * peaks[0], peaks


def test_an_export_does_not_hold_the_store_lock(site, month_store):
    """Ingest keeps writing while an export streams (its own read-only snapshot)."""
    query = ExportQuery(dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    chunks = render_export("attendance", site, month_store, query, "json", "zh").chunks
    first = next(chunks)
    add_attendance(month_store, date="2026-11-05", shift="day", employee_no="10002", name="李", team="T1",
                   rostered_seat="A02")  # a write while the export's read is open
    rest = b"".join(chunks)
    assert b"10002" not in first + rest  # the snapshot is the one the export started with
    assert month_store.location is not None  # a database others can open: the export read its own snapshot
