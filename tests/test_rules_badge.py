"""Scripted shifts for BADGE-NO-TAP, BADGE-UNKNOWN, BADGE-WRONG-SEAT, BADGE-SHARED and
BADGE-TAILGATE, and the verdicts a reader shows (including a repeated tap)."""

from __future__ import annotations

from hub.engine.scenario import badge_of
from hub.lead import Lead
from hub.roster.changes import replace_badge, revoke_badge
from tests.conftest import SCENARIO_DAY

DAY = SCENARIO_DAY  # the make_floor/floor fixtures' day


def taps(outcome):
    return [d for ch, d in outcome.updates if ch == "tap"]


def test_occupied_without_a_badge_past_the_grace(floor):
    f = floor
    f.roster([("10001", "day", "A01"), ("10003", "day", "A03")])
    for emp in ("10001", "10003"):
        f.tap("kiosk-k1", badge_of(emp), "08:15")
    f.occupy("seat-a01", True, "08:25")
    f.tap("seat-a01", badge_of("10001"), "08:28")  # three minutes after sitting down: too late
    f.occupy("seat-a01", False, "10:00")  # a break: back at the seat still signed in, no new tap needed
    f.occupy("seat-a01", True, "10:05")
    f.occupy("seat-a01", False, "16:00:30")
    f.occupy("seat-a03", True, "08:25")
    f.tap("seat-a03", badge_of("10003"), "08:26:59")  # inside the 2-minute grace
    f.occupy("seat-a03", False, "16:00:30")
    f.occupy("seat-a02", True, "10:00")  # somebody sits at A02 and never taps
    f.occupy("seat-a02", False, "10:30")
    f.play("10:10")
    seats = {s["seat"]: s for s in f.engine.seats()}
    assert seats["A02"]["state"] == "occupied_no_badge" and seats["A02"]["since"] == f.at("10:00")
    assert seats["A01"]["state"] == "signed_in" and seats["A01"]["agent"] == "10001"
    assert seats["A04"]["state"] == "vacant"
    f.play("17:00")
    assert f.found() == {
        ("BADGE-NO-TAP", "no_badge", "10001", "A01", "08:25:00", "08:28:00"),
        ("BADGE-NO-TAP", "no_badge", None, "A02", "10:00:00", "10:30:00"),
    }
    occupied = [(r["seat"], f.local(r["start"]), f.local(r["end"]), r["occupied_by"])
                for r in f.engine.derived.snapshot("occupancy_intervals")]
    assert sorted(occupied) == [("A01", "08:25:00", "10:00:00", "10001"), ("A01", "10:05:00", "16:00:30", "10001"),
                                ("A02", "10:00:00", "10:30:00", None), ("A03", "08:25:00", "16:00:30", "10003")]


def test_unknown_revoked_and_replaced_badges(floor):
    f = floor
    f.roster([("10003", "day", "A03")])
    revoke_badge(f.site, f.store, badge_of("10002"), actor="admin", reason="lost", now_ms=f.at("07:00"))
    replace_badge(f.site, f.store, "10003", "1E0000CAFE", actor="admin", now_ms=f.at("07:00"))
    f.tap("kiosk-k1", badge_of("10002"), "08:15")  # revoked
    f.tap("kiosk-k1", "1e0000cafe", "08:16")  # 10003's new badge (UIDs are case-insensitive)
    f.tap("kiosk-k1", badge_of("10003"), "08:17")  # 10003's old badge: revoked now
    f.sit("seat-a03", "1E0000CAFE", "08:25", "16:00:30")
    f.tap("kiosk-k1", "DEADBEEF01", "09:00:00")  # nobody's
    f.tap("kiosk-k1", "DEADBEEF01", "09:00:01")  # the same card again within tap_hold_off_s
    out = f.play("17:00")
    assert f.found() == {
        ("BADGE-UNKNOWN", "revoked_badge", None, None, "08:15:00", "08:15:00"),
        ("BADGE-UNKNOWN", "revoked_badge", None, None, "08:17:00", "08:17:00"),
        ("BADGE-UNKNOWN", "unknown_badge", None, None, "09:00:00", "09:00:00"),
    }
    seen = [(t["verdict"], t["result"], t["repeat"], (t["agent"] or {}).get("employee_no")) for t in taps(out)
            if t["device"] == "kiosk-k1"]
    assert seen == [("revoked_badge", "deny", False, None), ("on_time", "ok", False, "10003"),
                    ("revoked_badge", "deny", False, None), ("unknown_badge", "deny", False, None),
                    ("unknown_badge", "deny", True, None)]
    revoked = [v for v in f.violations("BADGE-UNKNOWN") if v["kind"] == "revoked_badge"]
    assert sorted(v["details"]["former_owner"] for v in revoked) == ["10002", "10003"]
    assert [c.result for c in out.commands if c.device == "kiosk-k1"] == ["deny", "ok", "deny", "deny", "deny"]
    actions = [(a["action"], a["target"]) for a in f.engine.derived.audit_rows()]
    assert ("badge.revoke", badge_of("10002")) in actions and ("badge.replace", "10003") in actions


def test_wrong_seat_unless_a_lead_reassigned_it(floor):
    f = floor
    f.roster([("10001", "day", "A01"), ("10003", "day", "A03")])
    Lead(f.site, f.store).reassign(date=DAY.isoformat(), shift="day", employee_no="10003", seat="A04",
                                   actor="lead1", now_ms=f.at("07:00"))
    for emp in ("10001", "10003"):
        f.tap("kiosk-k1", badge_of(emp), "08:15")
    f.sit("seat-a02", badge_of("10001"), "08:25", "16:00:30")  # not A01
    f.sit("seat-a04", badge_of("10003"), "08:25", "16:00:30")  # A04 as the lead decided
    out = f.play("17:00")
    assert f.found() == {("BADGE-WRONG-SEAT", "wrong_seat", "10001", "A02", "08:25:20", "16:00:00")}
    verdicts = {t["agent"]["employee_no"]: t for t in taps(out) if t["device"].startswith("seat-")}
    assert verdicts["10001"]["verdict"] == "wrong_seat" and verdicts["10001"]["result"] == "warn"
    assert "A01" in verdicts["10001"]["text_en"] and "A01" in verdicts["10001"]["text_zh"]
    assert verdicts["10003"]["verdict"] == "signed_in" and verdicts["10003"]["seat"] == "A04"
    rows = {r["employee_no"]: r for r in f.engine.derived.attendance(DAY.isoformat())}
    assert rows["10003"]["rostered_seat"] == "A04" and rows["10001"]["seats_used"] == ["A02"]


def test_one_badge_at_two_seats_and_faster_than_walking(floor):
    f = floor
    f.roster([("10001", "day", "A01")])
    f.tap("kiosk-k1", badge_of("10001"), "08:15")
    f.sit("seat-a01", badge_of("10001"), "08:25", "09:30")  # someone stays at A01 until 09:30...
    f.occupy("seat-b01", True, "08:59:50")
    f.tap("seat-b01", badge_of("10001"), "09:00")  # ...while the same badge signs in at B01
    f.occupy("seat-b01", False, "16:00:30")
    f.tap("seat-a03", badge_of("10005"), "10:00:00")  # zone A
    f.tap("seat-b03", badge_of("10005"), "10:00:20")  # zone B, 20 s later (30 s is the fastest walk)
    f.play("17:00")
    assert f.found() == {
        ("BADGE-SHARED", "two_seats", "10001", "B01", "09:00:00", "09:30:00"),
        ("BADGE-WRONG-SEAT", "wrong_seat", "10001", "B01", "09:00:00", "16:00:00"),
        ("BADGE-SHARED", "impossible_travel", "10005", "B03", "10:00:00", "10:00:20"),
    }
    (two,) = [v for v in f.violations("BADGE-SHARED") if v["kind"] == "two_seats"]
    assert two["details"]["other_seat"] == "A01" and len(two["evidence"]) == 2


def test_more_people_through_the_door_than_badges(floor):
    f = floor
    f.tap("door-d1", badge_of("10001"), "08:10:00")
    f.passage("door-d1", "08:10:02")
    f.passage("door-d1", "08:10:04")  # a second person on one badge
    f.tap("door-d1", badge_of("10002"), "08:20:00")
    f.passage("door-d1", "08:20:01")
    for i, emp in enumerate(("10003", "10004", "10005")):
        f.tap("door-d1", badge_of(emp), f"08:30:0{i}")
    f.passage("door-d1", "08:30:03", count=3)  # a counter reporting three at once
    f.play("09:00")
    assert f.found() == {("BADGE-TAILGATE", "tailgate", "10001", None, "08:10:02", "08:10:04")}
    (v,) = f.violations("BADGE-TAILGATE")
    assert v["details"]["passed"] == 2 and v["details"]["badges"] == 1 and v["device"] == "door-d1"


def test_a_repeated_tap_repeats_the_verdict_and_records_nothing_new(floor):
    f = floor
    f.roster([("10001", "day", "A01")])
    f.tap("kiosk-k1", badge_of("10001"), "08:25:00")
    f.tap("kiosk-k1", badge_of("10001"), "08:25:01.500")
    f.tap("kiosk-k1", badge_of("10001"), "08:25:04")  # past the hold-off: a tap of its own
    out = f.play("08:29")
    seen = [(t["verdict"], t["repeat"], t["minutes"]) for t in taps(out)]
    assert seen == [("roll_call_late", False, 5), ("roll_call_late", True, 5), ("roll_call_late", False, 5)]
    assert len(f.violations("ROLL-EARLY")) == 1
