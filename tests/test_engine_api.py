"""The engine's HTTP endpoints and lead actions (validated, audited, re-judged), roster import with
row-level errors (library and CLI), and a restarted hub picking up where it left off."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from edge.clock import ManualClock
from hub.engine import Engine
from hub.engine.scenario import ScriptedFloor, badge_of, scenario_site
from hub.errors import RosterError
from hub.roster.changes import import_roster
from hub.store import Store
from hub.store.derived import DerivedStore
from tests.conftest import issue_test_token

DAY = dt.date(2026, 3, 10)


@pytest.fixture
def world(tmp_path):
    site = scenario_site(tmp_path / "site", day=DAY)
    store = Store(tmp_path / "hub.db")
    f = ScriptedFloor(site, store, day=DAY, start="07:30")
    f.roster([("10001", "day", "A01"), ("10002", "day", "A02"), ("10003", "day", "A03"), ("10005", "day", "B01")])
    f.tap("kiosk-k1", badge_of("10001"), "08:15")
    f.tap("kiosk-k1", badge_of("10002"), "08:25")  # roll_call_late
    f.sit("seat-b02", badge_of("10001"), "08:25")  # not A01
    f.sit("seat-a02", badge_of("10002"), "08:27")
    f.play("09:05")
    from kiosk_ui import create_app

    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "hub.db"), "SITE_DIR": str(tmp_path / "site")})
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {issue_test_token(app, 'admin')}"
    yield f, client
    store.close()


def rules_of(f, emp):
    return sorted(v["rule"] for v in f.violations() if v["employee_no"] == emp)


def test_lead_actions_are_validated_audited_and_rejudged(world):
    f, client = world
    assert rules_of(f, "10001") == ["BADGE-WRONG-SEAT"]
    assert rules_of(f, "10003") == ["AWAY-UNATTENDED", "ROLL-ABSENT"]
    day = DAY.isoformat()

    r = client.post("/api/lead/reassign", json={"date": day, "shift": "day", "employee_no": "10001", "seat": "B02"})
    assert r.status_code == 200 and r.get_json()["ok"]
    r = client.post("/api/lead/leave", json={"date": day, "employee_no": "10003", "kind": "sick", "reason": "called in"})
    assert r.status_code == 200
    late = next(v for v in f.violations("ROLL-EARLY") if v["employee_no"] == "10002")
    r = client.post(f"/api/violations/{late['id']}/excuse", json={"reason": "kiosk queue"})
    body = r.get_json()
    assert r.status_code == 200 and body["excused"] is True and body["excuse_reason"] == "kiosk queue"
    assert body["id"] == late["id"] and body["rule"] == "ROLL-EARLY"
    r = client.post("/api/lead/meal-slot", json={"date": day, "shift": "day", "employee_no": "10002", "meal_start": "11:15"})
    assert r.status_code == 200
    r = client.post("/api/lead/swap", json={"date": day, "shift": "day", "seat": "B01", "from_employee_no": "10005",
                                            "to_employee_no": "10006"})
    assert r.status_code == 200

    f.play("12:00")  # the running engine notices the new plans at its next tick and re-judges
    assert rules_of(f, "10001") == []
    assert rules_of(f, "10003") == []
    assert rules_of(f, "10005") == [] and rules_of(f, "10006") == ["AWAY-UNATTENDED", "ROLL-ABSENT"]
    (v,) = [v for v in f.violations("ROLL-EARLY") if v["employee_no"] == "10002"]
    assert (v["id"], v["excused"], v["excuse_reason"]) == (late["id"], 1, "kiosk queue")  # kept, marked excused
    rows = {r["employee_no"]: r for r in client.get(f"/api/rollcall?date={day}&shift=day").get_json()}
    assert rows["10003"]["status"] == "leave" and rows["10001"]["seat"] == "B02"
    assert rows["10006"]["status"] == "absent" and "10005" not in rows
    assert rows["10002"]["excused"] == [late["id"]]
    actions = [(a["action"], a["target"], a["actor"]) for a in DerivedStore(f.store).audit_rows()]
    who = actions[0][2]
    assert who.startswith("test-admin")
    assert {a[:2] for a in actions} >= {("lead.reassign", "10001"), ("lead.leave", "10003"), ("lead.excuse", late["id"]),
                                        ("lead.meal_slot", "10002"), ("lead.swap", "10005")}
    assert all(a[2] == who for a in actions if a[0].startswith("lead."))


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/lead/reassign", {"date": "2026-03-10", "shift": "day", "employee_no": "10001", "seat": "Z99"}, "seat"),
    ("/api/lead/reassign", {"date": "2026-13-10", "shift": "day", "employee_no": "10001", "seat": "A01"}, "date"),
    ("/api/lead/reassign", {"date": "2026-03-10", "shift": "day", "employee_no": "10009", "seat": "A01"}, "employee_no"),
    ("/api/lead/meal-slot", {"date": "2026-03-10", "shift": "day", "employee_no": "10002", "meal_start": "25:00"}, "meal_start"),
    ("/api/lead/leave", {"date": "2026-03-10", "employee_no": "10002", "kind": "holiday", "reason": "x"}, "kind"),
    ("/api/lead/leave", {"date": "2026-03-10", "employee_no": "10002", "kind": "sick", "reason": ""}, "reason"),
    ("/api/lead/swap", {"date": "2026-03-10", "shift": "day", "from_employee_no": "10001", "to_employee_no": "10002"},
     "to_employee_no"),
    ("/api/lead/swap", {"date": "2026-03-10", "shift": "night", "from_employee_no": "10001", "to_employee_no": "10007"},
     "employee_no"),
    ("/api/violations/vnope/excuse", {"reason": "because"}, "violation_id"),
])
def test_bad_lead_actions_are_refused_naming_the_field(world, path, body, field):
    f, client = world
    before = DerivedStore(f.store).count("audit")
    r = client.post(path, json=body)
    assert r.status_code == 400, r.get_json()
    assert r.get_json()["field"] == field
    assert DerivedStore(f.store).count("audit") == before


def test_read_endpoints(world):
    f, client = world
    devices = {d["device"]: d for d in client.get("/api/devices").get_json()}
    assert devices["seat-a01"]["role"] == "seat" and devices["seat-a01"]["place"] == "A01"
    equipment = client.get("/api/equipment").get_json()
    assert {e["tag"] for e in equipment} >= {"E000B000000", "E000B000001"}
    seats = {s["seat"]: s for s in client.get("/api/seats").get_json()}
    assert seats["B02"]["state"] == "signed_in" and seats["B02"]["agent"] == "10001"
    assert set(seats["A01"]) == {"seat", "zone", "state", "agent", "since", "break_used_s"}
    v = client.get(f"/api/violations?from={DAY}&to={DAY}&agent=10001").get_json()
    assert [x["rule"] for x in v] == ["BADGE-WRONG-SEAT"]
    assert set(v[0]) >= {"id", "rule", "kind", "agent", "seat", "shift", "start", "end", "evidence", "excused"}
    assert client.get("/api/violations?from=yesterday").status_code == 400
    by_time = client.get(f"/api/violations?from={f.at('08:00')}&to={DAY}T09:00:00").get_json()
    assert {x["rule"] for x in by_time} == {x["rule"] for x in f.violations() if f.at("08:00") <= x["start"] <= f.at("09:00")}
    assert client.get("/api/rollcall?shift=lunch").status_code == 400


ROSTER_OK = "date,employee_no,shift,seat,meal_start\n2026-03-11,10001,day,A01,11:00\n2026-03-11,10002,day,A02,\n"
ROSTER_BAD = (
    "date,employee_no,shift,seat,meal_start\n"
    "2026-03-11,10001,day,A01,11:00\n"
    "2026-03-11,99999,day,A02,\n"  # unknown agent
    "2026-03-32,10003,day,A03,\n"  # no such date
    "2026-03-11,10004,day,A01,\n"  # A01 is already 10001's
    "2026-03-11,10005,lunch,B01,12:00\n"  # unknown shift
    "2026-03-11,10006,day,B02,25:00\n"  # bad meal time
)


def test_roster_import_all_or_nothing_with_row_and_column(tmp_path):
    site = scenario_site(tmp_path / "site", day=DAY)
    store = Store(tmp_path / "hub.db")
    bad = tmp_path / "bad.csv"
    bad.write_text(ROSTER_BAD, encoding="utf-8")
    with pytest.raises(RosterError) as exc:
        import_roster(site, store, bad, actor="lead1", now_ms=0)
    where = sorted(e.key for e in exc.value.errors)
    assert where == ["row 3, column employee_no", "row 4, column date", "row 5, column seat", "row 6, column shift",
                     "row 7, column meal_start"]
    assert DerivedStore(store).count("roster") == 0
    good = tmp_path / "good.csv"
    good.write_text(ROSTER_OK, encoding="utf-8")
    done = import_roster(site, store, good, actor="lead1", now_ms=0)
    assert (done.rows, done.dates) == (2, ["2026-03-11"])
    assert DerivedStore(store).count("roster") == 2
    store.close()
    run = subprocess.run([sys.executable, "-m", "hub.cli", "roster", "import", str(bad), "--site", str(tmp_path / "site"),
                          "--db", str(tmp_path / "hub.db")], capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and "row 3, column employee_no" in run.stderr and "nothing imported" in run.stderr
    run = subprocess.run([sys.executable, "-m", "hub.cli", "roster", "import", str(good), "--site", str(tmp_path / "site"),
                          "--db", str(tmp_path / "hub.db"), "--replace", "--by", "lead7"], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    assert "imported 2 roster rows" in run.stdout


def test_a_restarted_engine_replays_the_recent_log_and_carries_on(tmp_path):
    site = scenario_site(tmp_path / "site", day=DAY)
    store = Store(tmp_path / "hub.db")
    f = ScriptedFloor(site, store, day=DAY, start="07:30")
    f.roster([("10001", "day", "A01"), ("10002", "day", "A02")])
    f.tap("kiosk-k1", badge_of("10001"), "08:15")
    f.sit("seat-a01", badge_of("10001"), "08:25", "10:00")  # on a break when the hub restarts
    f.play("10:04")
    before = {t: DerivedStore(store).snapshot(t) for t in ("violations", "attendance", "away_periods")}
    seats = f.engine.seats()
    restarted = Engine(site, store, ManualClock(f.at("10:04")))  # warm start: replays the last day
    assert restarted.seats() == seats
    assert {t: DerivedStore(store).snapshot(t) for t in before} == before
    f2 = ScriptedFloor(site, store, day=DAY, start="10:04", engine=restarted)
    f2.seqs = dict(f.seqs)
    f2.occupy("seat-a01", True, "10:12")
    f2.play("11:00")
    assert f2.found() == {
        ("ROLL-ABSENT", "absent", "10002", "A02", "08:30:00", "16:00:00"),
        ("AWAY-UNATTENDED", "unattended", "10002", "A02", "08:30:00", None),
        ("AWAY-BREAK-LONG", "break_long", "10001", "A01", "10:00:00", "10:12:00"),
        ("AWAY-UNATTENDED", "unattended", "10001", "A01", "10:00:00", "10:12:00"),
    }
    store.close()
