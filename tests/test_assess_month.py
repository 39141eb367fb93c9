"""Acceptance: a month for a small team, played through the real rule engine, assessed.

Four agents of team T1 are rostered on the day shift (08:30-16:00) from 2 to 5 November 2026.
Badge taps, seat occupancy and the headset reader's inventory go through the real event log and
a real Engine on a manual clock (hub.engine.scenario.ScriptedFloor); the devices are switched
off overnight (a data gap, never a violation). What happens:

  10001  arrives at the kiosk 5, 4, 3 and 2 minutes before the start on the four days
         (点名迟到 four times); the lead excuses the fourth.
  10002  day 1 arrives ten minutes late (迟到); day 2 takes a 15-minute break (limit 10);
         day 3 the headset of seat A02 vanishes while 10002 is signed in there (¥180);
         day 4 absent (旷工).
  10003  absent on days 3 and 4.          10004  absent on day 4.

The assessment must then say, by rules.toml (ROLL-EARLY 1 point, AWAY-BREAK-LONG 2,
EQUIP-MISSING 5, ROLL-ABSENT 20; ladder ¥10, ¥30, dismissal review):
  10001  97 优秀, ROLL-EARLY steps 1-3, fines ¥40, dismissal review for ROLL-EARLY
  10002  72 合格, four rules at step 1, fines ¥40, compensation ¥180, total ¥220
  10003  60 不合格, ROLL-ABSENT step 2, fines ¥40
  10004  80 良好, fines ¥10;       everyone else 100 优秀
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
import subprocess

import pytest
from openpyxl import load_workbook

from hub.assess import assess_month
from hub.exports import ExportQuery, render_assessment, render_export, write_file
from hub.exports.assessment import COLUMNS as ASSESS_COLUMNS
from hub.exports.attendance import COLUMNS as ATTENDANCE_COLUMNS
from hub.exports.raw import VIOLATION_COLUMNS
from hub.site import load_site
from hub.sitegen import generate_site
from hub.store import Store

DAYS = [dt.date(2026, 11, d) for d in (2, 3, 4, 5)]
AGENTS = ["10001", "10002", "10003", "10004"]
HEADSET_A02, MOUSE_A02 = "E000B000002", "E000B000003"
LEAD = "10009"


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    from hub.engine.scenario import ScriptedFloor
    from hub.lead import Lead

    tmp = tmp_path_factory.mktemp("month")
    root = generate_site(tmp / "site", site="month" + tmp.name[-4:].lower().replace("_", ""), seats=4, zones=1,
                         teams=1, doors=1, kiosks=1)
    rows = ["date,employee_no,shift,seat,meal_start"]
    rows += [f"{d},{emp},day,A0{i + 1},1{1 + i // 2}:{'30' if i % 2 else '00'}" for d in DAYS for i, emp in enumerate(AGENTS)]
    (root / "roster.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    site = load_site(root)
    store = Store(tmp / "hub.db")
    devices = ["door-d1", "kiosk-k1", "seat-a01", "seat-a02", "seat-a03", "seat-a04"]
    floor = ScriptedFloor(site, store, day=DAYS[0], start="07:30", tick_s=120, devices=devices)
    uid = {a.employee_no: a.badges[0] for a in site.agents}

    def day(n: int, plan: dict[str, str | None]) -> None:
        p = f"+{n} " if n else ""
        for i, emp in enumerate(AGENTS):
            seat, kind = f"seat-a0{i + 1}", plan.get(emp, "08:10")
            if kind is None:
                continue  # absent
            if kind == "break":
                floor.tap("kiosk-k1", uid[emp], p + "08:10")
                floor.sit(seat, uid[emp], p + "08:15", p + "10:00")
                floor.occupy(seat, True, p + "10:15")
                floor.occupy(seat, False, p + "16:05")
                continue
            kiosk = kind
            h, m = (int(x) for x in kiosk.split(":"))
            floor.tap("kiosk-k1", uid[emp], p + kiosk)
            floor.sit(seat, uid[emp], p + f"{h:02d}:{m + 1:02d}", p + "16:05")
        if n < len(DAYS) - 1:
            for dev in devices:  # the floor is switched off overnight
                floor.offline(dev, p + "17:30", f"+{n + 1} 05:00", last_will=False)

    day(0, {"10001": "08:25", "10002": "08:40"})
    day(1, {"10001": "08:26", "10002": "break"})
    floor.inventory("seat-a02", [HEADSET_A02, MOUSE_A02], "+2 08:20")
    for t in ("08:25", "08:30", "09:00"):
        floor.inventory("seat-a02", [MOUSE_A02], f"+2 {t}")
    day(2, {"10001": "08:27", "10003": None})
    day(3, {"10001": "08:28", "10002": None, "10003": None, "10004": None})
    floor.play(until="+3 17:00")

    # the lead excuses 10001's fourth late roll call (hub.lead: validated, audited)
    last_late = next(v for v in floor.violations("ROLL-EARLY") if v["employee_no"] == "10001" and v["date"] == "2026-11-05")
    Lead(site, store).excuse(violation_id=last_late["id"], reason="地铁2号线故障 metro breakdown", actor=LEAD,
                             now_ms=floor.clock.now_ms())
    floor.engine.refresh()
    yield site, store, floor
    store.close()


def test_every_score_grade_escalation_step_and_compensation(played):
    site, store, floor = played
    result = assess_month(site, store, "2026-11")
    scores = {s.employee_no: s for s in result.agents}
    assert set(scores) == {a.employee_no for a in site.agents if a.role == "agent"}

    def counted(emp):  # the violations that cost points, as (date, rule, step, action, fine)
        return [(v.date, v.rule, v.step, v.action, v.fine) for v in scores[emp].violations if v.points > 0]

    assert counted("10001") == [
        ("2026-11-02", "ROLL-EARLY", 1, "warning", 10), ("2026-11-03", "ROLL-EARLY", 2, "fine", 30),
        ("2026-11-04", "ROLL-EARLY", 3, "dismissal_review", 0),
    ]
    excused = [v for v in scores["10001"].violations if v.excused]
    assert [(v.date, v.rule, v.points, v.step, v.excuse_reason) for v in excused] == [
        ("2026-11-05", "ROLL-EARLY", 0, None, "地铁2号线故障 metro breakdown")]
    assert sorted(counted("10002")) == [
        ("2026-11-02", "ROLL-EARLY", 1, "warning", 10), ("2026-11-03", "AWAY-BREAK-LONG", 1, "warning", 10),
        ("2026-11-04", "EQUIP-MISSING", 1, "warning", 10), ("2026-11-05", "ROLL-ABSENT", 1, "warning", 10),
    ]
    assert counted("10003") == [("2026-11-04", "ROLL-ABSENT", 1, "warning", 10), ("2026-11-05", "ROLL-ABSENT", 2, "fine", 30)]
    assert counted("10004") == [("2026-11-05", "ROLL-ABSENT", 1, "warning", 10)]

    def summary(emp):
        s = scores[emp]
        return s.points, s.score, s.grade, s.fines, s.dismissal_review, s.compensation_total, s.total_due

    assert summary("10001") == (3, 97, "excellent", 40, ["ROLL-EARLY"], 0, 40)
    assert summary("10002") == (28, 72, "pass", 40, [], 180, 220)
    assert summary("10003") == (40, 60, "fail", 40, [], 0, 40)
    assert summary("10004") == (20, 80, "good", 10, [], 0, 10)
    for emp in set(scores) - set(AGENTS):
        assert summary(emp) == (0, 100, "excellent", 0, [], 0, 0)
    # alerts worth 0 points (AWAY-UNATTENDED) are listed but cost nothing and never escalate
    zero = [v for s in scores.values() for v in s.violations if v.points == 0 and not v.excused]
    assert zero and all(v.step is None and v.fine == 0 for v in zero)

    [charge] = scores["10002"].compensation
    assert (charge.tag, charge.kind, charge.amount, charge.share, charge.team_shared) == (HEADSET_A02, "headset", 180, 1, False)
    # each score links to its violations and their evidence in the event log (an absence is
    # proven by the lack of a tap, so the engine cites no event for ROLL-ABSENT)
    for s in scores.values():
        for v in s.violations:
            assert len(store.events_by_ids(v.evidence)) == len(v.evidence), v
            if v.rule in ("ROLL-EARLY", "AWAY-BREAK-LONG", "EQUIP-MISSING"):
                assert v.evidence, v
    assert result.unassigned == []
    audit = store.conn.execute("SELECT actor, action, target FROM audit WHERE action = 'lead.excuse'").fetchall()
    assert audit == [(LEAD, "lead.excuse", excused[0].id)]


def _render(site, store, kind, fmt, lang="zh") -> bytes:
    buf = io.BytesIO()
    if kind == "assessment":
        write_file(render_assessment(site, store, "2026-11", fmt, lang), buf)
    else:
        write_file(render_export(kind, site, store, ExportQuery(dt.date(2026, 11, 1), dt.date(2026, 11, 30)), fmt, lang), buf)
    return buf.getvalue()


def _xlsx_equals_json(data_xlsx: bytes, data_json: bytes, columns, tmp_path) -> int:
    """Compare the first sheet of an XLSX export with the JSON lines export, cell by cell."""
    (tmp_path / "x.xlsx").write_bytes(data_xlsx)
    sheet = list(load_workbook(tmp_path / "x.xlsx", read_only=True).worksheets[0].iter_rows(values_only=True))
    lines = [json.loads(line) for line in data_json.decode().splitlines()]
    assert list(sheet[0]) == [c.zh for c in columns]
    assert len(sheet) - 1 == len(lines)
    for xrow, jrow in zip(sheet[1:], lines, strict=True):
        for col, cell in zip(columns, xrow, strict=True):
            want = jrow[col.key]
            if col.kind == "datetime":
                got = None if cell is None else cell.isoformat()
                want = None if want is None else want[:19]
            elif col.kind == "date":
                got = None if cell is None else cell.date().isoformat()
            elif col.kind == "list":
                got = [] if cell is None else cell.split(";")
            elif col.kind == "enum":
                got = next(code for code, pair in col.labels.items() if pair[0] == cell)
            elif col.kind == "bool":
                got = cell == "是"
            elif col.kind == "json":
                got = None if cell is None else json.loads(cell)
            elif col.kind in ("int", "number"):
                got = cell
                want = None if want is None else round(want, col.digits) if col.digits is not None else want
            else:
                got = cell
                want = None if want == "" else want
            assert got == want, (col.key, cell, jrow[col.key])
    return len(lines)


def test_the_month_exports_agree_row_for_row(played, tmp_path):
    site, store, _ = played
    n = _xlsx_equals_json(_render(site, store, "attendance", "xlsx"), _render(site, store, "attendance", "json"),
                          ATTENDANCE_COLUMNS, tmp_path)
    assert n == len(DAYS) * len(AGENTS)
    lines = [json.loads(line) for line in _render(site, store, "attendance", "json").decode().splitlines()]
    late = next(r for r in lines if r["employee_no"] == "10002" and r["date"] == "2026-11-02")
    assert (late["rollcall"], late["arrival_minutes_before"], late["first_arrival"]) == ("late", -10, "2026-11-02T08:40:00+08:00")
    assert [r["rollcall"] for r in lines if r["date"] == "2026-11-05"] == ["roll_call_late", "absent", "absent", "absent"]
    assert _xlsx_equals_json(_render(site, store, "violations", "xlsx"), _render(site, store, "violations", "json"),
                             VIOLATION_COLUMNS, tmp_path) > 10
    assert _xlsx_equals_json(_render(site, store, "assessment", "xlsx"), _render(site, store, "assessment", "json"),
                             ASSESS_COLUMNS, tmp_path) == len([a for a in site.agents if a.role == "agent"])


def test_the_assessment_csv_opens_in_libreoffice_with_chinese_headers(played, tmp_path, output_dir):
    site, store, _ = played
    office = shutil.which("libreoffice") or shutil.which("soffice")
    if office is None:
        pytest.skip("LibreOffice is not installed (apt package libreoffice-calc-nogui)")
    src = tmp_path / "assessment.csv"
    src.write_bytes(_render(site, store, "assessment", "csv"))
    shutil.copy(src, output_dir / "assessment-2026-11.csv")
    # headless LibreOffice does not sniff the BOM: name UTF-8 (76) as its CSV filter documents
    subprocess.run([office, f"-env:UserInstallation=file://{tmp_path / 'lo'}", "--headless", "--infilter=CSV:44,34,76,1",
                    "--convert-to", "xlsx", "--outdir", str(tmp_path / "out"), str(src)],
                   check=True, timeout=180, capture_output=True)
    rows = list(load_workbook(tmp_path / "out" / "assessment.xlsx", read_only=True).active.iter_rows(values_only=True))
    assert list(rows[0]) == [c.zh for c in ASSESS_COLUMNS]
    by_no = {str(r[1]): dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    assert (by_no["10003"]["等级"], by_no["10003"]["得分"]) == ("不合格", 60)
    assert by_no["10002"]["合计(元)"] == 220
    with open(src, encoding="utf-8-sig", newline="") as fh:
        assert next(csv.reader(fh))[:3] == ["月份", "工号", "姓名"]
