"""The roster model: the site calendar, rotations (做六休一, 白晚班轮换), day overrides and the
effective roster the engine judges, with exact expected cells. Real Store, real Engine."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from hub.cli import main
from hub.engine.plans import Plans
from hub.engine.scenario import ScriptedFloor, badge_of, scenario_site
from hub.lead import Lead, LeadError
from hub.roster.calendar import parse_holidays
from hub.roster.effective import install
from hub.roster.roster_files import load_roster_config
from hub.site import example_site_dir, load_site
from hub.store import Store
from hub.store.derived import DerivedStore
from hub.store.rosters import RosterStore


def _days(first: str, n: int) -> list[str]:
    d = dt.date.fromisoformat(first)
    return [(d + dt.timedelta(days=k)).isoformat() for k in range(n)]


def _cells(store: Store, emp: str, dates: list[str]) -> list[str]:
    rows = {r["date"]: r["shift"] for r in DerivedStore(store).roster_for(dates) if r["employee_no"] == emp}
    return [rows.get(d, "rest") for d in dates]


# ---------------------------------------------------------------- calendar


def test_example_calendar_every_date_parses_and_2026_is_the_state_council_notice():
    site = load_site(example_site_dir())
    text = (example_site_dir() / "holidays.csv").read_text(encoding="utf-8")
    cal, errors = parse_holidays(text)
    assert errors == []
    h26 = sorted(d for d in cal.holidays if d.year == 2026)
    assert len(h26) == 33  # 3 + 9 + 3 + 5 + 3 + 3 + 7 days off
    assert sorted(d.isoformat() for d in cal.workdays) == [
        "2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"]
    assert all(d.weekday() >= 5 for d in cal.workdays)
    assert cal.day_type(dt.date(2026, 10, 10)) == "workday" and cal.day_type(dt.date(2026, 10, 5)) == "holiday"
    assert cal.day_type(dt.date(2026, 10, 11)) == "weekend" and cal.day_type(dt.date(2026, 10, 9)) == "workday"
    assert load_roster_config(site)[1] == []
    # 2027: the statutory days on their own dates, provisional, no 调休 day guessed
    h27 = sorted(d.isoformat() for d in cal.holidays if d.year == 2027)
    assert h27 == ["2027-01-01", "2027-02-05", "2027-02-06", "2027-02-07", "2027-02-08", "2027-04-05", "2027-05-01",
                   "2027-05-02", "2027-06-09", "2027-09-15", "2027-10-01", "2027-10-02", "2027-10-03"]
    assert sorted(d.isoformat() for d in cal.provisional) == h27 and not any(d.year == 2027 for d in cal.workdays)
    assert cal.provisional_years() == {2027: 13}


def test_check_config_warns_about_provisional_holidays_and_the_notice_replaces_them(tmp_path, capsys):
    root = shutil.copytree(example_site_dir(), tmp_path / "site")
    assert main(["check-config", str(root)]) == 0
    err = capsys.readouterr().err
    assert f"warning: {root / 'holidays.csv'}: 2027 has 13 provisional row(s) awaiting the State Council's notice" in err
    # the notice's file (a made-up 2027 for the test: one bridging day and one 调休 Saturday)
    notice = tmp_path / "2027.csv"
    notice.write_text("date,kind,name\n2027-02-05,holiday,春节\n2027-02-06,holiday,春节\n2027-02-09,holiday,春节\n"
                      "2027-02-20,workday,春节调休上班\n", encoding="utf-8")
    assert main(["holidays", "import", str(notice), "--site", str(root), "--check"]) == 0
    assert "would replace 2027" in capsys.readouterr().out
    assert main(["holidays", "import", str(notice), "--site", str(root)]) == 0
    cal, errors = parse_holidays((root / "holidays.csv").read_text(encoding="utf-8"))
    assert errors == [] and cal.provisional == frozenset()
    assert sorted(d.isoformat() for d in cal.holidays if d.year == 2027) == ["2027-02-05", "2027-02-06", "2027-02-09"]
    assert [d.isoformat() for d in cal.workdays if d.year == 2027] == ["2027-02-20"]
    assert len([d for d in cal.holidays if d.year == 2026]) == 33  # other years kept
    assert (root / "holidays.csv").read_text(encoding="utf-8").startswith("# Site calendar")
    capsys.readouterr()
    assert main(["check-config", str(root)]) == 0
    assert "warning" not in capsys.readouterr().err
    # a bad notice names its row and column and changes nothing
    before = (root / "holidays.csv").read_bytes()
    notice.write_text("date,kind,name,status\n2027-02-31,holiday,春节,official\n2027-03-01,holiday,x,maybe\n",
                      encoding="utf-8")
    assert main(["holidays", "import", str(notice), "--site", str(root)]) == 1
    err = capsys.readouterr().err
    assert "notice: row 2, column date: not a date YYYY-MM-DD: '2027-02-31'" in err
    assert "notice: row 3, column status: 'maybe' is not one of official, provisional" in err
    assert (root / "holidays.csv").read_bytes() == before


def test_bad_calendar_rows_name_file_row_column_and_reason(tmp_path, capsys):
    site_dir = tmp_path / "site"
    shutil.copytree(example_site_dir(), site_dir)
    path = site_dir / "holidays.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    header = next(i for i, ln in enumerate(lines) if ln.startswith("date,"))
    lines[header + 1] = "2026-02-30,holiday,元旦"
    lines[header + 2] = "2026-01-02,vacation,元旦"
    lines.append("2026-10-09,workday,国庆节调休上班")  # a Friday
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["check-config", str(site_dir)]) == 1
    err = capsys.readouterr().err
    assert f"holidays.csv: row {header + 2}, column date: not a date YYYY-MM-DD: '2026-02-30'" in err
    assert f"holidays.csv: row {header + 3}, column kind: 'vacation' is not one of holiday, workday" in err
    assert f"row {len(lines)}, column kind: 2026-10-09 is a Friday: a 调休 working day is a weekend day" in err


def test_bad_patterns_and_assignments_are_named(tmp_path, capsys):
    site_dir = tmp_path / "site"
    shutil.copytree(example_site_dir(), site_dir)
    p = site_dir / "patterns.toml"
    p.write_text(p.read_text(encoding="utf-8").replace('"rest", "night"', '"rest", "nite"'), encoding="utf-8")
    a = site_dir / "assignments.csv"
    lines = a.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace(",A01,", ",Z99,")
    lines[3] = lines[3].replace("2026-01-01,,", "2026-01-01,2025-12-01,")
    a.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["check-config", str(site_dir)]) == 1
    err = capsys.readouterr().err
    assert "patterns.toml: patterns.0.cycle.7: 'nite' is neither a shift of site.toml nor 'rest'" in err
    assert "assignments.csv: row 3, column seat: unknown seat 'Z99'" in err
    assert "assignments.csv: row 4, column -: Value error, end 2025-12-01 is before start 2026-01-01" in err


# ---------------------------------------------------------------- rotations


@pytest.fixture
def example(tmp_path):
    site = load_site(example_site_dir())
    store = Store(tmp_path / "hub.db")
    install(site, store)
    yield site, store
    store.close()


def test_six_on_one_off_runs_across_a_month_boundary(example):
    site, store = example
    dates = _days("2026-11-26", 13)
    # 10001: 白班 from 11-30 (cycle cell 0), night partner 10041 on the same seat, seven cells apart
    assert _cells(store, "10001", dates) == [
        "night", "night", "night", "rest",  # 11-26 .. 11-29
        "day", "day", "day", "day", "day", "day",  # 11-30 .. 12-05: six on (across 1 December)
        "rest",  # 12-06: one off
        "night", "night"]  # 12-07, 12-08: the evening half of 白晚班轮换
    assert _cells(store, "10041", dates) == [
        "day", "day", "day", "rest", "night", "night", "night", "night", "night", "night", "rest", "day", "day"]
    # the engine judges these as duties, through the roster table it has always read
    plans = Plans(site, DerivedStore(store))
    plans.ensure({"2026-12-01", "2026-12-06"})
    assert {(d.shift, d.seat) for d in plans.of_agent("10001")} == {("day", "A01")}
    assert len(plans.by_date["2026-12-01"]) == 68 and len(plans.by_date["2026-12-06"]) == 66


def _weekly_site(tmp_path, day: dt.date):
    """A small generated site whose agent 10001 alternates 白班 and 晚班 each five working days."""
    root = tmp_path / "wk"
    scenario_site(root, day=day)
    shutil.copy(example_site_dir() / "holidays.csv", root / "holidays.csv")
    (root / "patterns.toml").write_text(
        '[[patterns]]\nid = "wk"\nname = "白晚班周轮换"\nteams = ["T1"]\nsteps = "workdays"\n'
        'cycle = ["day", "day", "day", "day", "day", "night", "night", "night", "night", "night"]\n'
        '[[patterns]]\nid = "d6"\nname = "做六休一"\nteams = ["T1"]\nsteps = "days"\n'
        'cycle = ["day", "day", "day", "day", "day", "day", "rest"]\n', encoding="utf-8")
    (root / "assignments.csv").write_text(
        "employee_no,pattern,start,end,phase,seat\n10001,wk,2026-09-28,,0,A01\n10002,d6,2026-09-28,,0,A02\n"
        "10003,d6,2026-09-28,,1,A03\n", encoding="utf-8")
    return load_site(root)


def test_day_evening_rotation_steps_over_holidays_and_works_the_tiaoxiu_saturday(tmp_path):
    site = _weekly_site(tmp_path, dt.date(2026, 10, 10))
    store = Store(tmp_path / "hub.db")
    install(site, store)
    dates = _days("2026-09-28", 20)
    assert _cells(store, "10001", dates) == [
        "day", "day", "day",  # Mon 9-28 .. Wed 9-30
        "rest", "rest", "rest", "rest", "rest", "rest", "rest",  # 国庆节 10-01 .. 10-07
        "day", "day",  # Thu 10-08, Fri 10-09
        "night",  # Sat 10-10: 调休上班, the rotation's sixth working day
        "rest",  # Sun 10-11
        "night", "night", "night", "night",  # Mon 10-12 .. Thu 10-15
        "day", "rest"]  # Fri 10-16 starts the next day week; Sat 10-17 is an ordinary weekend
    store.close()


def test_leave_over_a_holiday_excuses_only_the_duties_that_exist(tmp_path):
    site = _weekly_site(tmp_path, dt.date(2026, 10, 1))
    store = Store(tmp_path / "hub.db")
    lead = Lead(site, store)
    for d in _days("2026-09-30", 3):
        for emp in ("10001", "10002"):
            lead.grant_leave(date=d, employee_no=emp, kind="annual", reason="国庆出行", actor="lead1", now_ms=1)
    plans = Plans(site, DerivedStore(store))
    plans.ensure(set(_days("2026-09-29", 5)))
    # the office-hours rotation has no duty on 10-01/10-02 (public holiday): the leave costs one day
    assert [(d.date, d.leave) for d in plans.of_agent("10001")] == [("2026-09-29", None), ("2026-09-30", "annual")]
    # the every-day rotation works the holiday: all three duties are on leave
    assert [(d.date, d.leave) for d in plans.of_agent("10002")] == [
        ("2026-09-29", None), ("2026-09-30", "annual"), ("2026-10-01", "annual"), ("2026-10-02", "annual"),
        ("2026-10-03", None)]
    store.close()


def test_rest_and_extra_overrides_change_one_day_and_are_audited(example):
    site, store = example
    rosters = RosterStore(store)
    rosters.add_override({"date": "2026-12-01", "employee_no": "10001", "kind": "rest", "reason": "调休"},
                         actor="lead1", now_ms=5)
    rosters.add_override({"date": "2026-12-06", "employee_no": "10001", "kind": "extra", "shift": "night",
                          "seat": "A05", "reason": "加班"}, actor="lead1", now_ms=6)
    assert _cells(store, "10001", _days("2026-11-30", 8)) == [
        "day", "rest", "day", "day", "day", "day", "night", "night"]
    audit = DerivedStore(store).audit_rows(2)
    assert [(a["action"], a["actor"], a["target"]) for a in audit] == [
        ("roster.extra", "lead1", "10001"), ("roster.rest", "lead1", "10001")]


@pytest.mark.parametrize("approved", [True, False])
def test_a_swap_on_a_rotation_day_approved_or_not(tmp_path, approved):
    day = dt.date(2026, 10, 10)  # 调休 Saturday: 10002 and 10003 follow 做六休一
    site = _weekly_site(tmp_path, day)
    store = Store(tmp_path / "hub.db")
    f = ScriptedFloor(site, store, day=day, start="07:30")
    assert _cells(store, "10002", [day.isoformat()]) == ["day"]
    assert _cells(store, "10003", [day.isoformat()]) == ["rest"]  # cycle cell 6 on 10-10
    if approved:
        Lead(site, store).swap(date=day.isoformat(), shift="day", from_employee_no="10002", to_employee_no="10003",
                               actor="lead1", now_ms=f.at("07:40"))
    f.tap("kiosk-k1", badge_of("10003"), "08:15")
    f.sit("seat-a02", badge_of("10003"), "08:25", "16:00:30")
    f.play("17:00")
    # (10001 is rostered 晚班 that day by its own rotation and never comes: not this test's business)
    found = {v for v in f.found() if v[0] in ("SWAP-UNAPPROVED", "ROLL-ABSENT") and v[2] in ("10002", "10003")}
    if approved:
        assert found == set()
        assert [(r["shift"], r["rollcall"]) for r in f.attendance("10003") if r["date"] == day.isoformat()] == [
            ("day", "on_time")]
    else:
        assert found == {("SWAP-UNAPPROVED", "unapproved_swap", "10003", "A02", "08:25:20", "16:00:00"),
                         ("ROLL-ABSENT", "absent", "10002", "A02", "08:30:00", "16:00:00")}
    store.close()


def test_day_overrides_from_the_grid_are_validated_with_the_field_named(example):
    site, store = example
    lead = Lead(site, store)
    DerivedStore(store).insert_roster([{"date": "2026-12-10", "employee_no": "10001", "shift": "day", "seat": "A01",
                                        "meal_start": None, "source": "import"}])
    cases = [
        (lambda: lead.rest_day(date="2026-12-10", employee_no="10001", reason="调休", actor="l", now_ms=1),
         "date", "imported from a file"),
        (lambda: lead.rest_day(date="2026-12-06", employee_no="10001", reason="调休", actor="l", now_ms=1),
         "employee_no", "nothing to rest"),  # 12-06 is 10001's rest day (做六休一)
        (lambda: lead.rest_day(date="2026-12-02", employee_no="10001", reason=" ", actor="l", now_ms=1),
         "reason", "required"),
        (lambda: lead.extra_duty(date="2026-12-02", employee_no="10001", shift="day", seat="A03", reason="加班",
                                 actor="l", now_ms=1), "shift", "already works"),
        (lambda: lead.extra_duty(date="2026-12-02", employee_no="10001", shift="night", seat="A02", reason="加班",
                                 actor="l", now_ms=1), "seat", "for shift night"),
        (lambda: lead.extra_duty(date="2026-12-32", employee_no="10001", shift="night", seat="A02", reason="加班",
                                 actor="l", now_ms=1), "date", "not an ISO date"),
    ]
    for call, field, why in cases:
        with pytest.raises(LeadError, match=why) as exc:
            call()
        assert exc.value.field == field
    assert RosterStore(store).overrides(["2026-12-02", "2026-12-06", "2026-12-10"]) == []
