"""Scripted shifts for AWAY-BREAK-LONG (10:00 vs 10:01), AWAY-BREAK-TOTAL (10 + 10 + 11),
AWAY-MEAL-LONG, AWAY-MEAL-SLOT, AWAY-PEAK, AWAY-UNATTENDED, and a seat device that goes offline
in the middle of a break (no violation: no data)."""

from __future__ import annotations

from hub.engine.scenario import badge_of
from tests.conftest import SCENARIO_DAY

DAY = SCENARIO_DAY  # the make_floor/floor fixtures' day


def arrive(f, emp, seat_device, end="16:00:30"):
    f.tap("kiosk-k1", badge_of(emp), "08:15")
    f.sit(seat_device, badge_of(emp), "08:25", end)


def away(f, seat_device, start, back):
    f.occupy(seat_device, False, start)
    f.occupy(seat_device, True, back)


def test_a_break_of_ten_minutes_is_fine_ten_minutes_one_second_is_not(floor):
    f = floor
    f.roster([("10001", "day", "A01"), ("10002", "day", "A02")])
    arrive(f, "10001", "seat-a01")
    arrive(f, "10002", "seat-a02")
    away(f, "seat-a01", "10:00:00", "10:10:00")
    away(f, "seat-a02", "10:00:00", "10:10:01")
    f.play("10:05")
    seats = {s["seat"]: s for s in f.engine.seats()}
    assert seats["A01"]["state"] == "break" and seats["A01"]["break_used_s"] == 300
    f.play("10:10:00.500")
    seats = {s["seat"]: s for s in f.engine.seats()}
    assert (seats["A01"]["state"], seats["A02"]["state"], seats["A02"]["agent"]) == ("signed_in", "unattended", "10002")
    f.play("17:00")
    assert f.found() == {
        ("AWAY-BREAK-LONG", "break_long", "10002", "A02", "10:00:00", "10:10:01"),
        ("AWAY-UNATTENDED", "unattended", "10002", "A02", "10:00:00", "10:10:01"),
    }
    periods = [(p["employee_no"], p["kind"], f.local(p["start"]), f.local(p["end"]))
               for p in f.engine.derived.snapshot("away_periods")]
    assert sorted(periods) == [("10001", "break", "10:00:00", "10:10:00"), ("10002", "break", "10:00:00", "10:10:01")]


def test_breaks_of_ten_ten_and_eleven_minutes_pass_the_daily_thirty(floor):
    f = floor
    f.roster([("10003", "day", "A03")])
    arrive(f, "10003", "seat-a03")
    away(f, "seat-a03", "09:00", "09:10")
    away(f, "seat-a03", "11:00", "11:10")
    away(f, "seat-a03", "14:00", "14:11")
    f.play("17:00")
    assert f.found() == {
        ("AWAY-BREAK-TOTAL", "break_total", "10003", "A03", "14:10:00", "14:11:00"),
        ("AWAY-BREAK-LONG", "break_long", "10003", "A03", "14:00:00", "14:11:00"),
        ("AWAY-UNATTENDED", "unattended", "10003", "A03", "14:00:00", "14:11:00"),
    }
    (row,) = f.attendance("10003")
    assert (row["breaks_count"], row["breaks_minutes"], row["minutes_worked"]) == (3, 31.0, 450 - 31)


def test_meals_long_and_outside_the_slot(floor):
    f = floor
    f.roster([("10001", "day", "A01", "11:00"), ("10002", "day", "A02", "11:30"), ("10004", "day", "A04", "12:30"),
              ("10005", "office", "B01", "12:00")])
    for emp, dev in (("10001", "seat-a01"), ("10002", "seat-a02"), ("10004", "seat-a04"), ("10005", "seat-b01")):
        arrive(f, emp, dev, "16:00:30" if emp != "10005" else "18:00:30")
    f.button("seat-a01", "meal", "11:00")
    away(f, "seat-a01", "11:00:10", "11:31:10")  # 31 minutes
    away(f, "seat-a02", "11:32", "12:00")  # no button, but inside the slot (5-minute tolerance): a meal
    f.button("seat-a04", "meal", "11:00")
    away(f, "seat-a04", "11:00:30", "11:25")  # a meal, an hour and a half before the slot
    f.button("seat-b01", "meal", "12:00")
    away(f, "seat-b01", "12:00:20", "12:50")  # the office shift's lunch is an hour
    f.play("19:00")
    assert f.found() == {
        ("AWAY-MEAL-LONG", "meal_long", "10001", "A01", "11:00:10", "11:31:10"),
        ("AWAY-UNATTENDED", "unattended", "10001", "A01", "11:00:10", "11:31:10"),
        ("AWAY-MEAL-SLOT", "meal_outside_slot", "10004", "A04", "11:00:30", "11:25:00"),
    }
    meals = {r["employee_no"]: r["meal_minutes"] for r in f.engine.derived.attendance(DAY.isoformat())}
    assert meals == {"10001": 31.0, "10002": 28.0, "10004": 24.5, "10005": 49.67}


def test_no_break_when_the_line_is_full(floor):
    f = floor
    f.roster([("10001", "day", "A01"), ("10002", "day", "A02"), ("10003", "day", "A03"), ("10004", "day", "A04")])
    for emp, dev in (("10001", "seat-a01"), ("10002", "seat-a02"), ("10003", "seat-a03"), ("10004", "seat-a04")):
        arrive(f, emp, dev)
    f.acd(2, "10:00")  # two idle agents: 满线
    away(f, "seat-a01", "10:01", "10:06")
    f.button("seat-a04", "meal", "10:00:30")
    away(f, "seat-a04", "10:00:40", "10:20")  # a meal is not a break
    f.acd(8, "11:00")
    away(f, "seat-a02", "11:01", "11:06")
    away(f, "seat-a03", "14:00", "14:05")  # the feed went quiet hours ago: the rule is off
    f.play("17:00")
    assert f.found() == {("AWAY-PEAK", "break_at_peak", "10001", "A01", "10:01:00", "10:01:00")}
    (v,) = f.violations("AWAY-PEAK")
    assert v["details"]["idle"] == 2


def test_a_seat_device_offline_mid_shift_is_no_data_not_a_violation(floor):
    f = floor
    f.roster([("10001", "day", "A01")])
    arrive(f, "10001", "seat-a01")
    f.occupy("seat-a01", False, "10:02")  # goes on a break...
    f.offline("seat-a01", "10:05", "10:40")  # ...and the seat's Pi drops off the network
    f.occupy("seat-a01", True, "10:40")  # back online: the agent is back
    f.play("10:20")
    seats = {s["seat"]: s for s in f.engine.seats()}
    assert seats["A01"]["state"] == "no_data"
    f.play("17:00")
    assert f.found() == set()
    assert [(v["device"], f.local(v["start"]), f.local(v["end"])) for v in f.violations("DEV-OFFLINE")] == [
        ("seat-a01", "10:04:00", "10:40:00")]
    (row,) = f.attendance("10001")
    assert row["rollcall"] == "on_time" and row["signout"] == f.at("16:00:30")
