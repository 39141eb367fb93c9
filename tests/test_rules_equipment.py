"""Scripted shifts for EQUIP-MOVED (a headset at the neighbour's seat), EQUIP-MISSING with
EQUIP-LIABILITY (charged to the agent signed in at the home seat, or split across the team on shift
when nobody was), and EQUIP-EXIT."""

from __future__ import annotations

import pytest

from hub.engine.scenario import ScriptedFloor, badge_of, scenario_site
from hub.lead import Lead
from hub.store import Store
from tests.conftest import SCENARIO_DAY

DAY = SCENARIO_DAY  # the make_floor/floor fixtures' day
# sitegen: every seat has a headset and a mouse; A01: E000B000000/1, A02: ..2/3, A03: ..4/5, A04: ..6/7
HEADSET = {"A01": "E000B000000", "A02": "E000B000002", "A03": "E000B000004", "A04": "E000B000006"}
MOUSE = {"A01": "E000B000001", "A02": "E000B000003", "A03": "E000B000005", "A04": "E000B000007"}


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


# ---------------------------------------------------------------- EQUIP-MISSING: the end-of-shift audit


@pytest.fixture
def audited_floor(tmp_path):
    """A site that tolerates an hour of unseen cycles (flaky readers): only the end-of-shift audit
    (equipment_audit_grace_min = 5 after a shift ends) finds a loss within the day."""
    root = tmp_path / "site"
    scenario_site(root, day=DAY)
    rules = root / "rules.toml"
    rules.write_text(rules.read_text().replace("equipment_missing_cycles = 2 ", "equipment_missing_cycles = 60 "))
    from hub.site import load_site

    site = load_site(root)
    assert site.rules.thresholds.equipment_missing_cycles == 60
    store = Store(tmp_path / "hub.db")
    yield ScriptedFloor(site, store, day=DAY, start="07:30")
    store.close()


def test_end_of_shift_audit_charges_what_is_not_at_its_seat(audited_floor):
    f = audited_floor
    f.roster([("10001", "day", "A01"), ("10002", "day", "A02")])  # 08:30-16:00
    arrive(f, "10001", "A01")
    arrive(f, "10002", "A02")
    taken, out, back = f.at("15:58:30"), f.at("15:50:30"), f.at("16:03")
    inventories(f, ["A01", "A02"], "15:00", "16:30", lambda tag, t: (
        "gone" if tag == HEADSET["A01"] and t >= taken or tag == MOUSE["A02"] and out <= t < back else None))
    f.play("16:05:59")
    assert not f.violations("EQUIP-MISSING")  # the audit's report is not in yet
    f.play("16:07")  # no event wakes the headset up (an hour of cycles): the audit's deadline does
    assert f.found() == {
        ("EQUIP-MISSING", "missing", "10001", "A01", "16:05:00", None),
        ("EQUIP-LIABILITY", "liability", "10001", "A01", "16:05:00", None),
    }
    f.play("18:00")
    assert len(f.violations("EQUIP-MISSING")) == 1  # the mouse was back at A02 before the audit
    (miss,) = f.violations("EQUIP-MISSING")
    assert (miss["details"]["found_by"], f.local(miss["details"]["last_seen"])) == ("shift_end_audit", "15:58:00")
    (liab,) = f.violations("EQUIP-LIABILITY")
    assert liab["amount"] == 180.0  # the headset's price in prices.csv
    assert {e["tag"]: e["state"] for e in f.engine.equipment()}[HEADSET["A01"]] == "missing"


def test_no_audit_without_a_report_after_the_shift(audited_floor):
    """The home reader stops at 16:00 (switched off with the desk): no proof, no loss, ever."""
    f = audited_floor
    f.roster([("10001", "day", "A01")])
    arrive(f, "10001", "A01")
    taken = f.at("15:58:30")
    inventories(f, ["A01"], "15:00", "16:00", lambda tag, t: "gone" if tag == HEADSET["A01"] and t >= taken else None)
    f.play("+1 07:00")
    assert not f.violations("EQUIP-MISSING") and not f.violations("EQUIP-LIABILITY")


def test_audit_and_cycles_open_one_loss_whichever_comes_first(floor):
    """With the default two cycles, a headset taken a minute before the shift ends is found by the
    audit's report (16:05) only if the cycles have not found it first (16:01): one loss."""
    f = floor
    f.roster([("10001", "day", "A01")])
    arrive(f, "10001", "A01")
    taken = f.at("15:59:30")
    inventories(f, ["A01"], "15:00", "16:30", lambda tag, t: "gone" if tag == HEADSET["A01"] and t >= taken else None)
    f.play("18:00")
    (miss,) = f.violations("EQUIP-MISSING")
    assert (f.local(miss["start"]), miss["details"]["found_by"]) == ("16:01:00", "cycles")


def test_an_exit_incident_follows_the_tag_still_seen_at_the_door(floor):
    """Found by the live-vs-rebuild property (test_engine_rebuild): a second report of the tag at
    the exit only extends its run there, and the live engine kept the first report as the
    incident's last_seen while a rebuild showed the second."""
    f = floor
    f.roster([("10004", "day", "A04")])
    arrive(f, "10004", "A04")
    f.inventory("door-d2", [MOUSE["A04"]], "16:05:00")
    f.play("16:06")
    f.inventory("door-d2", [MOUSE["A04"]], "16:09:00")
    f.play("16:10")
    (inc,) = [i for i in f.engine.derived.snapshot("equipment_incidents") if i["rule"] == "EQUIP-EXIT"]
    assert (f.local(inc["opened"]), f.local(inc["last_seen"])) == ("16:05:00", "16:09:00")
