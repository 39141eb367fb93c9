"""The monthly assessment's arithmetic on known rows: points, grade boundaries, the escalation
ladder (default and per-rule), excuses, equipment compensation (liable, team split, waived,
recovered, team-on-shift fallback) and the month's edges."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from openpyxl import load_workbook

from hub.assess import assess_month
from hub.exports import render_assessment, write_file
from hub.site import load_site
from tests.test_exports_data import (
    add_attendance,
    add_incident,
    add_violation,
    ensure_tables,
    local_ms,
)


@pytest.fixture
def rules_site(site_dir):
    """The generated site with AWAY-BREAK-LONG on its own ladder: ¥50, then dismissal review."""
    path = site_dir / "rules.toml"
    text = path.read_text(encoding="utf-8")
    text = text.replace(
        "[rules.AWAY-BREAK-LONG]\npoints = 2\n",
        "[rules.AWAY-BREAK-LONG]\npoints = 2\n[rules.AWAY-BREAK-LONG.escalation]\nfines = [50]\nwarning_first = false\n",
    )
    path.write_text(text, encoding="utf-8")
    return load_site(site_dir)


def _v(store, tz, emp, rule, day, hhmm="09:00", **kw):
    d = dt.date(2026, 11, day) if isinstance(day, int) else day
    return add_violation(store, rule=rule, employee_no=emp, date=d.isoformat(), start=local_ms(tz, d, hhmm),
                         evidence=[f"ev-{emp}-{rule}-{d}-{hhmm}"], **kw)


@pytest.fixture
def month(rules_site, store):
    site, tz = rules_site, rules_site.tz
    ensure_tables(store)
    # 10001: ROLL-EARLY three times (warning + 10, 30, dismissal review), a fourth excused, one absence
    for day in (3, 5, 9):
        _v(store, tz, "10001", "ROLL-EARLY", day, "08:25")
    _v(store, tz, "10001", "ROLL-EARLY", 12, "08:26", excused=1, excuse_reason="bus strike", excused_by="10017")
    _v(store, tz, "10001", "ROLL-ABSENT", 17)
    _v(store, tz, "10001", "ROLL-ABSENT", dt.date(2026, 10, 31))  # last month
    _v(store, tz, "10001", "ROLL-ABSENT", dt.date(2026, 12, 1))  # next month
    # 10002: the per-rule ladder; unattended alerts cost nothing and do not escalate
    _v(store, tz, "10002", "AWAY-BREAK-LONG", 4)
    _v(store, tz, "10002", "AWAY-BREAK-LONG", 6)
    _v(store, tz, "10002", "AWAY-UNATTENDED", 6)
    _v(store, tz, "10002", "AWAY-UNATTENDED", 7)
    # grade boundaries: 60 fail, 90 excellent, 80 good, 70 pass
    _v(store, tz, "10003", "ROLL-ABSENT", 2)
    _v(store, tz, "10003", "ROLL-ABSENT", 20)
    _v(store, tz, "10004", "BADGE-SHARED", 8)
    _v(store, tz, "10009", "ROLL-ABSENT", 11)
    _v(store, tz, "10011", "ROLL-ABSENT", 11)
    _v(store, tz, "10011", "BADGE-SHARED", 13)
    add_violation(store, rule="FAC-ZONE-EMPTY", employee_no=None, date="2026-11-05", start=local_ms(tz, dt.date(2026, 11, 5), "12:00"))

    # equipment
    opened = local_ms(tz, dt.date(2026, 11, 14), "16:30")
    add_incident(store, id="i-headset", tag="E1", kind="headset", home_seat="A02", opened=opened, last_seen=opened - 3600_000,
                 price=180.0, liable=[{"employee_no": "10002", "share": 1.0, "amount": 180.0}])
    add_incident(store, id="i-mouse", tag="E2", kind="mouse", home_seat="A03", opened=opened, last_seen=opened - 3600_000,
                 price=60.0, liable=[{"employee_no": e, "share": 0.333333, "amount": 20.0} for e in ("10003", "10004", "10011")])
    for e in ("10003", "10004", "10011"):
        add_violation(store, rule="EQUIP-LIABILITY", employee_no=e, date="2026-11-14", start=opened, amount=20.0,
                      details={"tag": "E2", "price": 60.0}, excused=1 if e == "10004" else 0,
                      excuse_reason="was on leave" if e == "10004" else None)
    add_incident(store, id="i-found", tag="E3", kind="headset", home_seat="A01", opened=opened, closed=opened + 60_000,
                 last_seen=opened - 3600_000, price=180.0, liable=[{"employee_no": "10001", "share": 1.0}])
    add_incident(store, id="i-moved", tag="E4", kind="mouse", home_seat="A01", rule="EQUIP-MOVED", opened=opened,
                 last_seen=opened, price=60.0, liable=[{"employee_no": "10001", "share": 1.0}])
    oct_ms = local_ms(tz, dt.date(2026, 10, 30), "10:00")
    add_incident(store, id="i-october", tag="E5", kind="headset", home_seat="A01", opened=oct_ms, last_seen=oct_ms,
                 price=180.0, liable=[{"employee_no": "10001", "share": 1.0}])
    # nobody liable: the team on shift when the keyboard was last seen pays (T4 at seat B03)
    nov10 = dt.date(2026, 11, 10)
    for emp, team, seat, rollcall in (("10007", "T4", "B03", "on_time"), ("10008", "T4", "B04", "late"),
                                      ("10016", "T4", "B04", "absent"), ("10001", "T1", "A01", "on_time")):
        add_attendance(store, date="2026-11-10", shift="day", employee_no=emp, name=emp, team=team,
                       rostered_seat=seat, rollcall=rollcall)
    add_incident(store, id="i-keyboard", tag="E6", kind="keyboard", home_seat="B03", opened=local_ms(tz, nov10, "12:00"),
                 last_seen=local_ms(tz, nov10, "10:00"), price=None, liable=[])
    night = local_ms(tz, dt.date(2026, 11, 12), "03:00")
    add_incident(store, id="i-nobody", tag="E7", kind="mouse", home_seat="A04", opened=night, last_seen=night, liable=[])
    return site, store


def _by_no(result):
    return {s.employee_no: s for s in result.agents}


def test_scores_grades_escalation_and_compensation(month):
    site, store = month
    result = assess_month(site, store, "2026-11")
    scores = _by_no(result)
    assert set(scores) == {f"{10001 + i}" for i in range(16)}  # every active agent; leads are not assessed

    def check(emp, points, score, grade, fines, comp, dismissal=()):
        s = scores[emp]
        assert (s.points, s.score, s.grade, s.fines, s.compensation_total, s.dismissal_review) == (
            points, score, grade, fines, comp, list(dismissal)), emp

    check("10001", 23, 77, "pass", 50, 0, ["ROLL-EARLY"])
    check("10002", 4, 96, "excellent", 50, 180, ["AWAY-BREAK-LONG"])
    check("10003", 40, 60, "fail", 40, 20)
    check("10004", 10, 90, "excellent", 10, 0)
    check("10009", 20, 80, "good", 10, 0)
    check("10011", 30, 70, "pass", 20, 20)
    check("10007", 0, 100, "excellent", 0, 45)
    check("10008", 0, 100, "excellent", 0, 45)
    check("10016", 0, 100, "excellent", 0, 0)  # absent that day: not on the team on shift
    check("10010", 0, 100, "excellent", 0, 0)

    early = [(v.step, v.action, v.fine, v.points) for v in scores["10001"].violations if v.rule == "ROLL-EARLY"]
    assert early == [(1, "warning", 10, 1), (2, "fine", 30, 1), (3, "dismissal_review", 0, 1), (None, None, 0, 0)]
    e = scores["10001"].escalation["ROLL-EARLY"]
    assert (e.count, e.step, e.action, e.fines) == (3, 3, "dismissal_review", 40)
    assert scores["10001"].excused_count == 1 and scores["10001"].violations_count == 5
    breaks = [(v.step, v.action, v.fine) for v in scores["10002"].violations if v.rule == "AWAY-BREAK-LONG"]
    assert breaks == [(1, "fine", 50), (2, "dismissal_review", 0)]
    assert "AWAY-UNATTENDED" not in scores["10002"].escalation
    assert scores["10002"].total_due == 230
    assert [c.incident for c in scores["10003"].compensation] == ["i-mouse"]
    assert [(c.incident, c.amount, c.team_shared) for c in scores["10007"].compensation] == [("i-keyboard", 45.0, True)]
    assert [u["id"] for u in result.unassigned] == ["i-nobody"]
    # each score links to its violations and their evidence
    assert scores["10001"].violations[0].evidence == ["ev-10001-ROLL-EARLY-2026-11-03-08:25"]
    assert [v.id for v in scores["10001"].violations] == [
        r[0] for r in store.conn.execute(
            "SELECT id FROM violations WHERE employee_no = '10001' AND date LIKE '2026-11-%' ORDER BY date, start, id")
    ]


def test_filters_and_a_month_without_data(month):
    site, store = month
    assert [s.employee_no for s in assess_month(site, store, "2026-11", team="T2").agents] == ["10003", "10004", "10011", "10012"]
    assert [s.employee_no for s in assess_month(site, store, "2026-11", agent="10002").agents] == ["10002"]
    quiet = assess_month(site, store, "2027-02")
    assert {(s.score, s.grade) for s in quiet.agents} == {(100, "excellent")}


def test_assessment_files_agree_with_each_other(month, tmp_path):
    site, store = month

    def render(fmt, lang="zh"):
        buf = io.BytesIO()
        write_file(render_assessment(site, store, "2026-11", fmt, lang), buf)
        return buf.getvalue()

    lines = [json.loads(line) for line in render("json").decode().splitlines()]
    rows = list(csv.DictReader(io.StringIO(render("csv").decode("utf-8-sig"))))
    (tmp_path / "a.xlsx").write_bytes(render("xlsx"))
    wb = load_workbook(tmp_path / "a.xlsx", read_only=True)
    assert wb.sheetnames == ["assessment", "violations", "compensation"]
    sheet = list(wb["assessment"].iter_rows(values_only=True))
    assert len(lines) == len(rows) == len(sheet) - 1 == 16
    first = next(r for r in lines if r["employee_no"] == "10001")
    assert first["grade"] == "pass" and first["score"] == 77 and first["fines"] == 50
    assert first["escalation"]["ROLL-EARLY"]["action"] == "dismissal_review"
    assert [v["evidence"] for v in first["violations"]][0] == ["ev-10001-ROLL-EARLY-2026-11-03-08:25"]
    row = next(r for r in rows if r["工号"] == "10001")
    assert (row["得分"], row["等级"], row["罚款(元)"], row["辞退审查规则"]) == ("77.0", "合格", "50.0", "ROLL-EARLY")
    assert "ROLL-EARLY 第3次 辞退审查 累计¥40" in row["处罚升级"]
    header = sheet[0]
    for xrow in sheet[1:]:
        data = dict(zip(header, xrow, strict=True))
        j = next(r for r in lines if r["employee_no"] == data["工号"])
        assert (data["得分"], data["罚款(元)"], data["设备赔偿(元)"], data["合计(元)"]) == (
            j["score"], j["fines"], j["compensation_total"], j["total_due"])
    violations = list(wb["violations"].iter_rows(values_only=True))
    assert len(violations) - 1 == sum(len(r["violations"]) for r in lines)
    charges = list(wb["compensation"].iter_rows(values_only=True))
    assert sorted((c[0], c[6]) for c in charges[1:]) == [("10002", 180), ("10003", 20), ("10007", 45), ("10008", 45), ("10011", 20)]
    en = list(csv.DictReader(io.StringIO(render("csv", "en").decode("utf-8-sig"))))
    assert next(r for r in en if r["Employee no."] == "10003")["Grade"] == "fail"


def test_cli_assess_writes_the_file_and_refuses_a_bad_month(month, site_dir, tmp_path, capsys):
    from hub.cli import main

    site, store = month
    db = store.location  # a file or a PostgreSQL URL
    out = tmp_path / "a.jsonl"
    base = ["assess", "--site", str(site_dir), "--db", db, "--format", "json", "--out", str(out)]
    assert main([*base, "--month", "2026-11", "--team", "T2"]) == 0
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["employee_no"], r["score"], r["grade"]) for r in lines] == [
        ("10003", 60, "fail"), ("10004", 90, "excellent"), ("10011", 70, "pass"), ("10012", 100, "excellent")]
    assert main([*base, "--month", "2026-13"]) == 2
    assert "--month" in capsys.readouterr().err
    assert store.conn.execute("SELECT count(*) FROM audit WHERE action = 'export' AND target = 'assessment'").fetchone()[0] == 1
