"""Judgments that survive restarts and outages (issue: judgments that survive anything).

Each scenario plays a shift through the real input log and Engine on a manual clock and checks
what a lead would see: no accusation built on a time the hub had to guess, and nothing settled
taken back by something that happened later.
"""

from __future__ import annotations

import datetime as dt

import pytest

from hub.engine import Engine
from hub.engine.scenario import ScriptedFloor, badge_of, scenario_site
from hub.ingest import CLAIM_PROBES, PROBE_EVERY_S
from hub.store import Store
from tests.conftest import SCENARIO_DAY

DAY = SCENARIO_DAY  # the make_floor/floor fixtures' day


def test_heartbeats_queued_during_a_30_minute_hub_outage_mark_no_clock_behind(make_floor):
    f = make_floor()
    f.roster([("10001", "day", "A01"), ("10002", "day", "A02")])
    f.tap("kiosk-k1", badge_of("10001"), "08:15")
    f.sit("seat-a01", badge_of("10001"), "08:22", "16:00:30")
    f.hub_outage("10:00", "10:30")  # the broker holds everything sent meanwhile
    f.occupy("seat-a01", False, "10:05")  # a five-minute break inside the outage: no violation
    f.occupy("seat-a01", True, "10:10")
    f.tap("kiosk-k1", badge_of("10002"), "10:12")  # an absent agent's tap, queued with the rest
    f.play("17:00")
    assert f.violations("DEV-CLOCK") == []
    assert f.violations("DEV-OFFLINE") == []  # the devices kept reporting: the hub was away
    (row,) = f.attendance("10001")
    assert row["rollcall"] == "on_time" and row["breaks_count"] == 1 and row["breaks_minutes"] == 5
    # the queued tap keeps its device time: 10002 arrived at 10:12, an absence that ended then
    (absent,) = f.violations("ROLL-ABSENT")
    assert (absent["employee_no"], f.local(absent["end"])) == ("10002", "10:12:00")
    assert {v["rule"] for v in f.violations() if v["employee_no"] == "10001"} == set()


def test_a_dead_hubs_last_caught_up_does_not_speak_for_the_hub_left_reading(make_floor):
    """Two hubs share the site, each reading every event and probing itself every 10 s. Hub a is
    SIGKILLed at 09:59:55, its last word 'caught up'; hub b is cut off from 10:00 to 10:30 and
    gets the half hour's heartbeats late, from the broker's queue. That lateness is queueing, not
    clocks behind: a's claim lapsed with the probes that stopped renewing it."""
    f = make_floor()
    f.roster([("10001", "day", "A01")])
    f.tap("kiosk-k1", badge_of("10001"), "08:15")
    f.sit("seat-a01", badge_of("10001"), "08:22", "16:00:30")
    for t in range(f.at("08:00"), f.at("09:59:55"), 10_000):
        for hub in ("a", "b"):
            f.session("caught_up", t, hub=hub, delay_ms=5, valid_ms=int(CLAIM_PROBES * PROBE_EVERY_S * 1000))
    f.hub_outage("10:00", "10:30", hub="b")
    f.play("17:00")
    assert f.violations("DEV-CLOCK") == []
    (row,) = f.attendance("10001")
    assert row["rollcall"] == "on_time"
    assert {v["rule"] for v in f.violations() if v["employee_no"] == "10001"} == set()


@pytest.mark.parametrize("synced", [False, True])
def test_a_pi_whose_clock_is_unsynchronised_produces_no_violation_from_its_events(make_floor, synced):
    f = make_floor()
    f.roster([("10001", "day", "A01")])
    # two minutes late for roll call, by a kiosk whose kernel says its clock is (not) synchronised
    f.event("kiosk-k1", "badge", "08:22", {"uid": badge_of("10001"), "reader": "badge", "clock_sync": synced})
    f.sit("seat-a01", badge_of("10001"), "08:25", "16:00:30")
    f.play("17:00")
    charged = {v["rule"] for v in f.violations() if v["employee_no"]}
    assert charged == ({"ROLL-EARLY"} if synced else set())
    assert [v["kind"] for v in f.violations("DEV-CLOCK")] == ([] if synced else ["clock_unknown"])


def test_a_signin_violation_at_0900_stays_after_the_seat_device_goes_offline_at_1100(make_floor):
    f = make_floor()
    f.roster([("10001", "day", "A01")])
    f.tap("kiosk-k1", badge_of("10001"), "08:10")  # on time for roll call, never signs in at the seat
    f.offline("seat-a01", "11:00", "18:00")  # the seat's Pi is unplugged at 11:00
    f.play("10:00")
    (signin,) = f.violations("ROLL-SEAT-SIGNIN")
    f.play("17:00")
    assert [v["id"] for v in f.violations("ROLL-SEAT-SIGNIN")] == [signin["id"]]


def test_a_spool_replayed_35_hours_late_changes_no_settled_day(make_floor):
    f = make_floor(start="07:30", tick_s=600)
    for day in (DAY, DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2)):
        f.roster([("10001", "day", "A01"), ("10002", "day", "A02")], day=day)
    for n in range(3):
        f.tap("kiosk-k1", badge_of("10001"), f"+{n} 08:10")
        f.tap("kiosk-k1", badge_of("10002"), f"+{n} 08:25")  # late for roll call each day
        for emp, dev in (("10001", "seat-a01"), ("10002", "seat-a02")):
            f.sit(dev, badge_of(emp), f"+{n} 08:27", f"+{n} 16:00:30")
    f.play("+2 17:00")

    def day_rows(d: dt.date) -> tuple:
        return (sorted((v["id"], v["start"], v["end"]) for v in f.violations() if v["date"] == d.isoformat()),
                f.engine.derived.attendance(d.isoformat()))

    first = day_rows(DAY)
    assert first[0] and all(r["rollcall"] != "pending" for r in first[1])
    # seat-a02's Pi spooled a stand-up on day one at 10:00 and delivers it 35 hours later
    f.occupy("seat-a02", False, "10:00", delay_s=35 * 3600)
    f.occupy("seat-a02", True, "10:20", delay_s=35 * 3600 - 20 * 60)
    f.play("+2 23:00")
    assert day_rows(DAY) == first


def test_a_restarted_engine_resumes_from_its_checkpoint_and_judges_the_tail(make_floor):
    f = make_floor()
    f.roster([("10001", "day", "A01"), ("10002", "day", "A02")])
    f.tap("kiosk-k1", badge_of("10001"), "08:15")
    f.sit("seat-a01", badge_of("10001"), "08:22", "16:00:30")
    f.play("09:00")
    f.engine.checkpoint()
    f.tap("kiosk-k1", badge_of("10002"), "09:05")  # after the checkpoint: only in the log's tail
    f.play("09:10")  # ... and the hub is killed here
    saved = f.engine.derived.checkpoint()["seq"]
    f.engine = Engine(f.site, f.store, f.clock)  # the new process: checkpoint + tail
    assert saved < f.engine.seq == f.store.input_position()[0] and f.engine.progress()["pending"] == 0
    f.play("17:00")
    (absent,) = f.violations("ROLL-ABSENT")
    assert (absent["employee_no"], f.local(absent["end"])) == ("10002", "09:05:00")


@pytest.mark.parametrize("damage", ["format", "bytes"])
def test_a_checkpoint_of_another_format_or_damaged_is_ignored_and_the_log_replayed(make_floor, damage):
    f = make_floor()
    f.roster([("10001", "day", "A01"), ("10002", "day", "A02")])
    f.tap("kiosk-k1", badge_of("10001"), "08:25")  # late for roll call
    f.sit("seat-a01", badge_of("10001"), "08:27", "16:00:30")
    f.play("12:00")
    f.engine.checkpoint()
    before = f.violations()
    sql, args = (("UPDATE engine_checkpoint SET format = format + 1", ()) if damage == "format"
                 else ("UPDATE engine_checkpoint SET state = ?", (b"\x00\xff",)))
    with f.store.lock:
        f.store.conn.execute(sql, args)
    f.engine = Engine(f.site, f.store, f.clock)  # replays the log instead
    assert f.engine.seq == f.store.input_position()[0]
    assert f.violations() == before
    f.play("17:00")
    assert "ROLL-ABSENT" in {v["rule"] for v in f.violations() if v["employee_no"] == "10002"}  # judged on


def test_a_clean_shutdown_after_the_shift_keeps_the_evenings_early_leave(tmp_path):
    """Found by the week soak: seat Pis that report every two hours (offline after six) were shut
    down cleanly at 01:00; the gap then ran from each one's last report, before the 23:30 end of the
    night shift, and withdrew four early leaves judged at the end of the shift."""
    site_dir = tmp_path / "site"
    scenario_site(site_dir, day=DAY)
    rules = (site_dir / "rules.toml").read_text(encoding="utf-8")
    (site_dir / "rules.toml").write_text(rules.replace("heartbeat_s = 30", "heartbeat_s = 7200")
                                         .replace("offline_after_s = 90", "offline_after_s = 21600"), encoding="utf-8")
    from hub.site import load_site

    store = Store(tmp_path / "hub.db")
    try:
        f = ScriptedFloor(load_site(site_dir), store, day=DAY, start="07:30", heartbeat_s=7200)
        f.roster([("10001", "day", "A01")])
        f.tap("kiosk-k1", badge_of("10001"), "08:15")
        f.sit("seat-a01", badge_of("10001"), "08:22", "15:30")  # gone half an hour early
        f.tap("seat-a01", badge_of("10001"), "15:29:50")  # signing out
        f.shutdown("seat-a01", "17:00")  # the floor is closed for the night
        f.play("18:00")
        (leave,) = f.violations("ROLL-EARLY-LEAVE")
        assert (leave["employee_no"], f.local(leave["start"])) == ("10001", "15:29:50")
    finally:
        store.close()
