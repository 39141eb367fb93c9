"""Scripted shifts for EQUIP-MOVED (a headset at the neighbour's seat), EQUIP-MISSING with
EQUIP-LIABILITY (charged to the agent signed in at the home seat, or split across the team on shift
when nobody was), and EQUIP-EXIT."""

from __future__ import annotations

import datetime as dt

import pytest

from hub.engine.scenario import ScriptedFloor, badge_of, scenario_site
from hub.lead import Lead
from hub.store import Store

DAY = dt.date(2026, 3, 10)
# sitegen: every seat has a headset and a mouse; A01: E000B000000/1, A02: ..2/3, A03: ..4/5, A04: ..6/7
HEADSET = {"A01": "E000B000000", "A02": "E000B000002", "A03": "E000B000004", "A04": "E000B000006"}
MOUSE = {"A01": "E000B000001", "A02": "E000B000003", "A03": "E000B000005", "A04": "E000B000007"}


@pytest.fixture
def floor(tmp_path):
    site = scenario_site(tmp_path / "site", day=DAY)
    store = Store(tmp_path / "hub.db")
    yield ScriptedFloor(site, store, day=DAY, start="07:30")
    store.close()


def inventories(f, seats, start, end, where):
    """Every seat reader reports each minute; where(tag, t) says where a tag is (default: home)."""
    t, stop = f.at(start), f.at(end)
    while t <= stop:
        for seat in seats:
            tags = [tag for tag in (HEADSET[seat], MOUSE[seat]) if where(tag, t) in (None, seat)]
            tags += [tag for home in seats for tag in (HEADSET[home], MOUSE[home]) if home != seat and where(tag, t) == seat]
            f.inventory(f"seat-{seat.lower()}", sorted(tags), t)
        t += 60_000


def arrive(f, emp, seat):
    f.tap("kiosk-k1", badge_of(emp), "08:15")
    f.sit(f"seat-{seat.lower()}", badge_of(emp), "08:25", "16:00:30")


def test_headset_at_the_neighbours_seat(floor):
    f = floor
    f.roster([("10001", "day", "A01"), ("10002", "day", "A02")])
    arrive(f, "10001", "A01")
    arrive(f, "10002", "A02")
    moved = (f.at("10:00"), f.at("10:30"))
    inventories(f, ["A01", "A02"], "09:00", "11:00",
                lambda tag, t: "A02" if tag == HEADSET["A01"] and moved[0] <= t < moved[1] else None)
    f.play("10:10")
    eq = {e["tag"]: e for e in f.engine.equipment()}
    assert (eq[HEADSET["A01"]]["state"], eq[HEADSET["A01"]]["seen_at"]) == ("moved", "A02")
    assert eq[MOUSE["A01"]]["state"] == "home"
    f.play("17:00")
    assert f.found() == {("EQUIP-MOVED", "moved", "10002", "A02", "10:00:00", "10:30:00")}
    (inc,) = f.engine.derived.snapshot("equipment_incidents")
    assert (inc["rule"], inc["tag"], inc["home_seat"], f.local(inc["closed"])) == ("EQUIP-MOVED", HEADSET["A01"], "A01", "10:30:00")


def test_a_reassigned_tag_is_not_moved(floor):
    f = floor
    f.roster([("10002", "day", "A02")])
    arrive(f, "10002", "A02")
    Lead(f.site, f.store).reassign_equipment(tag=HEADSET["A01"], seat="A02", actor="lead1", now_ms=f.at("07:00"))
    inventories(f, ["A01", "A02"], "09:00", "10:00", lambda tag, t: "A02" if tag == HEADSET["A01"] else None)
    f.play("17:00")
    assert f.found() == set()


def test_missing_while_an_agent_was_signed_in_at_the_home_seat(floor):
    f = floor
    f.roster([("10001", "day", "A01")])
    arrive(f, "10001", "A01")
    gone = f.at("10:00:30")
    inventories(f, ["A01"], "09:00", "11:00", lambda tag, t: "gone" if tag == MOUSE["A01"] and t >= gone else None)
    f.play("10:01:30")
    assert not f.violations("EQUIP-MISSING")  # one cycle unseen is not yet a loss
    f.play("17:00")
    assert f.found() == {
        ("EQUIP-MISSING", "missing", "10001", "A01", "10:02:00", None),
        ("EQUIP-LIABILITY", "liability", "10001", "A01", "10:02:00", None),
    }
    (liab,) = f.violations("EQUIP-LIABILITY")
    assert liab["amount"] == 60.0
    (inc,) = f.engine.derived.snapshot("equipment_incidents")
    assert (inc["rule"], f.local(inc["last_seen"]), inc["price"]) == ("EQUIP-MISSING", "10:00:00", 60.0)
    assert inc["liable"] == [{"amount": 60.0, "employee_no": "10001", "share": 1.0}]
    assert {e["tag"]: e["state"] for e in f.engine.equipment()}[MOUSE["A01"]] == "missing"


def test_a_tag_vanishing_with_nobody_signed_in_is_split_across_the_team(floor):
    """10003 is on leave, so nobody sits at A03; its headset vanishes: team T2 on shift pays."""
    f = floor
    f.roster([("10001", "day", "A01"), ("10003", "day", "A03"), ("10004", "day", "A04"),
              ("10011", "day", "B03"), ("10012", "day", "B04")])
    Lead(f.site, f.store).grant_leave(date=DAY.isoformat(), employee_no="10003", kind="annual", reason="holiday",
                                      actor="lead2", now_ms=f.at("07:00"))
    for emp, seat in (("10001", "A01"), ("10004", "A04"), ("10011", "B03"), ("10012", "B04")):
        arrive(f, emp, seat)
    gone = f.at("13:00:30")
    inventories(f, ["A03"], "12:00", "14:00", lambda tag, t: "gone" if tag == HEADSET["A03"] and t >= gone else None)
    f.play("17:00")
    assert f.found() == {
        ("EQUIP-MISSING", "missing", None, "A03", "13:02:00", None),
        ("EQUIP-LIABILITY", "liability", "10004", "A03", "13:02:00", None),
        ("EQUIP-LIABILITY", "liability", "10011", "A03", "13:02:00", None),
        ("EQUIP-LIABILITY", "liability", "10012", "A03", "13:02:00", None),
    }
    assert sorted(v["amount"] for v in f.violations("EQUIP-LIABILITY")) == [60.0, 60.0, 60.0]
    (inc,) = f.engine.derived.snapshot("equipment_incidents")
    assert [p["employee_no"] for p in inc["liable"]] == ["10004", "10011", "10012"]
    assert {v["team"] for v in f.violations("EQUIP-LIABILITY")} == {"T2"}


def test_a_tag_seen_at_the_exit_door(floor):
    f = floor
    f.roster([("10004", "day", "A04")])
    arrive(f, "10004", "A04")
    out_at = f.at("16:05")
    inventories(f, ["A04"], "15:00", "16:10", lambda tag, t: "gone" if tag == MOUSE["A04"] and t >= out_at else None)
    f.inventory("door-d2", [MOUSE["A04"]], "16:05:00")
    f.tap("door-d2", badge_of("10004"), "16:05:03")
    f.play("17:00")
    assert f.found() == {
        ("EQUIP-EXIT", "exit", "10004", None, "16:05:00", None),
        ("EQUIP-MISSING", "missing", "10004", "A04", "16:07:00", None),
        ("EQUIP-LIABILITY", "liability", "10004", "A04", "16:07:00", None),
    }
    (ex,) = f.violations("EQUIP-EXIT")
    assert ex["device"] == "door-d2" and ex["details"]["door"] == "D2"
