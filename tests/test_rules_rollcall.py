"""Scripted shifts for ROLL-EARLY, ROLL-ABSENT, ROLL-SEAT-SIGNIN, ROLL-EARLY-LEAVE, ROLL-HANDOVER,
SWAP-UNAPPROVED: a night shift across midnight and a Europe/Berlin daylight-saving night included.
Each plays real events through the event log into the Engine on a manual clock, and asserts the
exact violations (rule, kind, agent, seat, local start, local end)."""

from __future__ import annotations

import datetime as dt

from hub.engine.scenario import badge_of
from hub.lead import Lead
from tests.conftest import SCENARIO_DAY

DAY = SCENARIO_DAY  # the make_floor/floor fixtures' day


def taps(outcome, verdict=None):
    return [d for ch, d in outcome.updates if ch == "tap" and (verdict is None or d["verdict"] == verdict)]


def test_roll_call_ten_minutes_before_is_on_time_nine_fifty_nine_is_late(make_floor):
    f = make_floor()
    f.roster([("10001", "day", "A01"), ("10002", "day", "A02"), ("10003", "day", "A03")])
    f.tap("kiosk-k1", badge_of("10001"), "08:20:00")  # 10 min 0 s before 08:30
    f.tap("kiosk-k1", badge_of("10002"), "08:20:01")  # 9 min 59 s before
    f.tap("kiosk-k1", badge_of("10003"), "08:31:00")  # after the start
    f.sit("seat-a01", badge_of("10001"), "08:25", "16:00:30")
    f.sit("seat-a02", badge_of("10002"), "08:25", "16:00:30")
    f.sit("seat-a03", badge_of("10003"), "08:33", "16:00:30")
    out = f.play("17:00")
    assert f.found() == {
        ("ROLL-EARLY", "roll_call_late", "10002", "A02", "08:20:01", "08:20:01"),
        ("ROLL-EARLY", "late", "10003", "A03", "08:31:00", "08:31:00"),
    }
    kiosk = {t["agent"]["employee_no"]: t for t in taps(out) if t["device"] == "kiosk-k1"}
    assert (kiosk["10001"]["verdict"], kiosk["10001"]["result"], kiosk["10001"]["minutes"]) == ("on_time", "ok", 10)
    assert (kiosk["10002"]["verdict"], kiosk["10002"]["result"], kiosk["10002"]["minutes"]) == ("roll_call_late", "warn", 9)
    assert (kiosk["10003"]["verdict"], kiosk["10003"]["minutes"]) == ("late", -1)
    assert kiosk["10001"]["seat"] == "A01" and kiosk["10001"]["shift"]["start"] == "08:30"
    assert "准时" in kiosk["10001"]["text_zh"] and "点名迟到" in kiosk["10002"]["text_zh"]
    feedback = {c.re: c for c in out.commands}
    assert feedback[kiosk["10002"]["event_id"]].result == "warn" and feedback[kiosk["10002"]["event_id"]].device == "kiosk-k1"
    rows = {r["employee_no"]: r for r in f.engine.derived.attendance(DAY.isoformat())}
    assert [rows[e]["rollcall"] for e in ("10001", "10002", "10003")] == ["on_time", "roll_call_late", "late"]
    assert rows["10001"]["arrival_minutes_before"] == 10.0 and rows["10003"]["arrival_minutes_before"] == -1.0
    assert rows["10002"]["violation_ids"] == [v["id"] for v in f.violations("ROLL-EARLY") if v["employee_no"] == "10002"]


def test_absent_after_thirty_minutes_unless_on_leave(make_floor):
    f = make_floor()
    f.roster([("10001", "day", "A01"), ("10002", "day", "A02"), ("10003", "day", "A03"), ("10004", "day", "A04")])
    Lead(f.site, f.store).grant_leave(date=DAY.isoformat(), employee_no="10002", kind="sick", reason="flu",
                                      actor="lead1", now_ms=f.at("07:00"))
    f.tap("kiosk-k1", badge_of("10003"), "09:00:00")  # start + 30:00: late, not absent
    f.sit("seat-a03", badge_of("10003"), "09:01", "16:00:30")
    f.tap("kiosk-k1", badge_of("10004"), "09:00:01")  # one second later: absent (旷工), arrived at 09:00:01
    f.sit("seat-a04", badge_of("10004"), "09:02", "16:00:30")
    f.play("08:59:59")
    assert not f.violations("ROLL-ABSENT")  # not before the deadline
    f.play("17:00")
    assert f.found() == {
        ("ROLL-ABSENT", "absent", "10001", "A01", "08:30:00", "16:00:00"),
        ("AWAY-UNATTENDED", "unattended", "10001", "A01", "08:30:00", "16:00:00"),
        ("ROLL-EARLY", "late", "10003", "A03", "09:00:00", "09:00:00"),
        ("AWAY-UNATTENDED", "unattended", "10003", "A03", "08:30:00", "09:01:00"),
        ("ROLL-ABSENT", "absent", "10004", "A04", "08:30:00", "09:00:01"),
        ("AWAY-UNATTENDED", "unattended", "10004", "A04", "08:30:00", "09:02:00"),
    }
    rows = {r["employee_no"]: r for r in f.engine.derived.attendance(DAY.isoformat())}
    assert (rows["10002"]["rollcall"], rows["10002"]["leave"]) == ("leave", "sick")
    assert rows["10001"]["rollcall"] == "absent" and rows["10004"]["first_arrival"] == f.at("09:00:01")


def test_kiosk_offline_means_no_absence(make_floor):
    """No data from an arrival device around the deadline: the roll call stays pending, not absent."""
    f = make_floor()
    f.roster([("10001", "day", "A01")])
    f.offline("kiosk-k1", "08:00", "09:40")
    f.play("17:00")
    assert f.found() == {("AWAY-UNATTENDED", "unattended", "10001", "A01", "08:30:00", "16:00:00")}
    assert f.attendance("10001")[0]["rollcall"] == "pending"
    offline = [v for v in f.violations("DEV-OFFLINE") if v["device"] == "kiosk-k1"]
    assert [(f.local(v["start"]), f.local(v["end"])) for v in offline] == [("07:59:00", "09:40:00")]


def test_seat_signin_must_be_by_the_start(make_floor):
    f = make_floor()
    f.roster([("10001", "day", "A01"), ("10002", "day", "A02"), ("10003", "day", "A03")])
    for emp in ("10001", "10002", "10003"):
        f.tap("kiosk-k1", badge_of(emp), "08:15")
    f.sit("seat-a01", badge_of("10001"), "08:31", "16:00:30")  # taps in 08:31:20: late
    f.sit("seat-a02", badge_of("10002"), "08:27", "16:00:30")  # inside the 3-minute window
    f.sit("seat-a03", badge_of("10003"), "08:10", "16:00:30")  # early is fine
    out = f.play("17:00")
    assert f.found() == {("ROLL-SEAT-SIGNIN", "seat_signin_late", "10001", "A01", "08:30:00", "08:31:20")}
    seat_taps = {t["agent"]["employee_no"]: t["verdict"] for t in taps(out) if t["device"].startswith("seat-")}
    assert seat_taps == {"10001": "seat_signin_late", "10002": "signed_in", "10003": "signed_in"}


def test_early_leave_by_leaving_or_signing_out(make_floor):
    f = make_floor()
    f.roster([("10001", "day", "A01"), ("10002", "day", "A02"), ("10003", "day", "A03")])
    for emp, seat in (("10001", "seat-a01"), ("10002", "seat-a02"), ("10003", "seat-a03")):
        f.tap("kiosk-k1", badge_of(emp), "08:15")
        f.sit(seat, badge_of(emp), "08:25")
    f.occupy("seat-a01", False, "15:30")  # walks out half an hour early
    f.tap("seat-a02", badge_of("10002"), "15:50")  # signs out ten minutes early
    f.occupy("seat-a02", False, "15:51")
    f.occupy("seat-a03", False, "16:00:00")  # on the dot: fine
    out = f.play("15:45")
    live = {v["rule"] for ch, v in out.updates if ch == "violation" and not v.get("withdrawn")}
    assert "AWAY-BREAK-LONG" in live  # while it could still be a break, it is judged as one
    out = f.play("17:00")
    withdrawn = [v for ch, v in out.updates if ch == "violation" and v.get("withdrawn")]
    assert withdrawn  # ...and withdrawn once the shift is over and it turned out a departure
    assert f.found() == {
        ("ROLL-EARLY-LEAVE", "early_leave", "10001", "A01", "15:30:00", "16:00:00"),
        ("AWAY-UNATTENDED", "unattended", "10001", "A01", "15:30:00", "16:00:00"),
        ("ROLL-EARLY-LEAVE", "early_leave", "10002", "A02", "15:50:00", "16:00:00"),
    }
    assert f.attendance("10002")[0]["signout"] == f.at("15:50")


def test_handover_waits_for_the_relief(make_floor):
    f = make_floor(start="08:00")
    f.roster([("10001", "day", "A01"), ("10009", "night", "A01"), ("10002", "day", "A02"), ("10010", "night", "A02")])
    for emp, seat in (("10001", "seat-a01"), ("10002", "seat-a02")):
        f.tap("kiosk-k1", badge_of(emp), "08:15")
        f.sit(seat, badge_of(emp), "08:25")
    # A01: the relief taps in while the day agent is still seated; the day agent leaves at 16:00:05
    f.tap("kiosk-k1", badge_of("10009"), "15:45")
    f.tap("seat-a01", badge_of("10009"), "15:58")
    f.occupy("seat-a01", False, "16:00:05")
    f.occupy("seat-a01", True, "16:00:15")
    # A02: the day agent walks off at 16:01, the relief only signs in at 16:06:20
    f.tap("kiosk-k1", badge_of("10010"), "15:50")
    f.occupy("seat-a02", False, "16:01")
    f.sit("seat-a02", badge_of("10010"), "16:06")
    f.occupy("seat-a01", False, "23:30:30")
    f.occupy("seat-a02", False, "23:30:30")
    f.play("+1 00:30")
    assert f.found() == {
        ("ROLL-HANDOVER", "no_handover", "10002", "A02", "16:01:00", "16:06:20"),
        ("ROLL-SEAT-SIGNIN", "seat_signin_late", "10010", "A02", "16:00:00", "16:06:20"),
    }
    assert f.attendance("10001")[0]["signout"] == f.at("16:00:05")


def test_working_someone_elses_shift_needs_an_approved_swap(make_floor):
    f = make_floor()
    f.roster([("10001", "day", "A01"), ("10002", "day", "A02")])
    Lead(f.site, f.store).swap(date=DAY.isoformat(), shift="day", from_employee_no="10002", to_employee_no="10004",
                               actor="lead1", now_ms=f.at("07:00"))
    f.tap("kiosk-k1", badge_of("10003"), "08:15")  # 10003 has no shift today and takes 10001's seat
    f.sit("seat-a01", badge_of("10003"), "08:25", "16:00:30")
    f.tap("kiosk-k1", badge_of("10004"), "08:15")  # 10004 works 10002's shift with an approved swap
    f.sit("seat-a02", badge_of("10004"), "08:25", "16:00:30")
    out = f.play("17:00")
    assert f.found() == {
        ("SWAP-UNAPPROVED", "unapproved_swap", "10003", "A01", "08:25:20", "16:00:00"),
        ("ROLL-ABSENT", "absent", "10001", "A01", "08:30:00", "16:00:00"),
    }
    assert {t["agent"]["employee_no"]: t["verdict"] for t in taps(out) if t["device"] == "kiosk-k1"} == {
        "10003": "no_shift", "10004": "on_time"}
    assert f.attendance("10004")[0]["rollcall"] == "on_time"
    extra = f.attendance("10003")
    assert [(r["shift"], r["unrostered"], r["seats_used"]) for r in extra] == [("day", 1, ["A01"])]
    assert f.attendance("10002") == []


def test_night_shift_across_midnight(make_floor):
    f = make_floor(start="21:30")
    f.roster([("10011", "overnight", "A03", "02:00")])
    f.tap("kiosk-k1", badge_of("10011"), "22:52")  # 8 minutes before 23:00
    f.sit("seat-a03", badge_of("10011"), "22:55", "+1 01:00")
    f.occupy("seat-a03", True, "+1 01:12")  # a 12-minute break after midnight
    f.occupy("seat-a03", False, "+1 02:00")  # the meal, in the slot
    f.occupy("seat-a03", True, "+1 02:25")
    f.occupy("seat-a03", False, "+1 06:50")  # leaves 10 minutes early
    f.play("+1 08:00")
    assert f.found() == {
        ("ROLL-EARLY", "roll_call_late", "10011", "A03", "22:52:00", "22:52:00"),
        ("AWAY-BREAK-LONG", "break_long", "10011", "A03", "+1 01:00:00", "+1 01:12:00"),
        ("AWAY-UNATTENDED", "unattended", "10011", "A03", "+1 01:00:00", "+1 01:12:00"),
        ("ROLL-EARLY-LEAVE", "early_leave", "10011", "A03", "+1 06:50:00", "+1 07:00:00"),
    }
    (row,) = f.attendance("10011")
    assert (row["date"], row["shift"], row["breaks_minutes"], row["meal_minutes"]) == ("2026-03-10", "overnight", 12.0, 25.0)
    assert {v["shift"] for v in f.violations() if v["employee_no"]} == {"2026-03-10/overnight"}


def test_europe_berlin_night_of_the_spring_change(make_floor):
    """23:00-07:00 over the night clocks go 02:00 -> 03:00: seven real hours. A break from 01:55
    to 03:05 on the wall clock is ten real minutes: not too long."""
    f = make_floor(day=dt.date(2026, 3, 28), tz="Europe/Berlin", start="22:00")
    f.roster([("10011", "overnight", "A03")])
    f.tap("kiosk-k1", badge_of("10011"), "22:45")
    f.sit("seat-a03", badge_of("10011"), "22:50", "+1 01:55")
    f.occupy("seat-a03", True, "+1 03:05")
    f.occupy("seat-a03", False, "+1 06:30")
    f.play("+1 08:00")
    assert f.found() == {
        ("ROLL-EARLY-LEAVE", "early_leave", "10011", "A03", "+1 06:30:00", "+1 07:00:00"),
        ("AWAY-UNATTENDED", "unattended", "10011", "A03", "+1 06:30:00", "+1 07:00:00"),
    }
    (row,) = f.attendance("10011")
    assert row["breaks_count"] == 1 and row["breaks_minutes"] == 10.0
    assert row["minutes_worked"] == 380.0  # 23:00 CET-01:55 CET and 03:05 CEST-06:30 CEST
    (leave,) = f.violations("ROLL-EARLY-LEAVE")
    assert leave["end"] - leave["start"] == 30 * 60_000
