"""Scripted days for FAC-ZONE-EMPTY, DEV-OFFLINE and DEV-CLOCK, and the reorder rules: a device
whose clock is wrong is timed by the hub, one that delivers late (a spool replayed after an outage,
or a slow link) keeps its own time, so its events land where they happened."""

from __future__ import annotations

import pytest

from hub.engine.scenario import ScriptedFloor, badge_of, scenario_site
from hub.store import Store
from tests.conftest import SCENARIO_DAY

DAY = SCENARIO_DAY  # the make_floor/floor fixtures' day


def zone_spells(f):
    return sorted((v["zone"], f.local(v["start"]), f.local(v["end"])) for v in f.violations("FAC-ZONE-EMPTY"))


def test_empty_zone_in_opening_hours_and_unknown_is_not_empty(make_floor):
    f = make_floor(start="06:30")
    f.roster([("10001", "day", "A01"), ("10005", "day", "B01")])
    for emp, dev in (("10001", "seat-a01"), ("10005", "seat-b01")):
        f.tap("kiosk-k1", badge_of(emp), "08:15")
        f.sit(dev, badge_of(emp), "08:25", "16:00:30")
    f.occupy("seat-a01", False, "12:00")  # zone A empty 9 minutes: below the 15-minute limit
    f.occupy("seat-a01", True, "12:09")
    f.occupy("seat-b01", False, "10:00")  # zone B empty 20 minutes
    f.occupy("seat-b01", True, "10:20")
    f.offline("seat-b04", "16:30", "17:30")  # B04 might be occupied then: zone B not known empty
    out = f.play("10:16")
    zone_updates = [d for ch, d in out.updates if ch == "zone"]
    assert {"zone": "B", "empty": True, "since": f.at("10:00")} in zone_updates
    f.play("18:00")
    assert zone_spells(f) == [
        ("A", "07:00:00", "08:25:00"), ("A", "16:00:30", None),
        ("B", "07:00:00", "08:25:00"), ("B", "10:00:00", "10:20:00"), ("B", "16:00:30", "16:29:00"),
        ("B", "17:30:00", None),
    ]
    assert all(v["employee_no"] is None for v in f.violations("FAC-ZONE-EMPTY"))


def test_device_silent_past_the_heartbeat_timeout_is_offline_and_no_data(make_floor):
    f = make_floor()
    f.offline("seat-b02", "09:00", "09:20", last_will=False)
    out = f.play("09:10")
    dev = [d for ch, d in out.updates if ch == "device" and d["device"] == "seat-b02"]
    assert dev and dev[-1]["state"] == "offline" and dev[-1]["since"] == f.at("08:59")
    assert {s["seat"]: s["state"] for s in f.engine.seats()}["B02"] == "no_data"
    out = f.play("10:00")
    assert [d["state"] for ch, d in out.updates if ch == "device" and d["device"] == "seat-b02"] == ["online"]
    assert {s["seat"]: s["state"] for s in f.engine.seats()}["B02"] == "vacant"
    assert [(v["device"], f.local(v["start"]), f.local(v["end"]), v["seat"]) for v in f.violations("DEV-OFFLINE")] == [
        ("seat-b02", "08:59:00", "09:20:00", "B02")]


def test_clock_behind_is_timed_by_the_hub_and_a_late_delivery_keeps_device_time(make_floor):
    f = make_floor()
    f.roster([("10001", "day", "A01"), ("10002", "day", "A02"), ("10003", "day", "A03")])
    f.skew("kiosk-k1", -600)  # the kiosk's clock is ten minutes slow all day
    f.tap("kiosk-k1", badge_of("10001"), "08:19")  # its own clock says 08:09: the hub's time counts
    f.tap("door-d1", badge_of("10002"), "08:20:00", delay_s=40)  # a slow link: arrives 40 s late
    f.tap("door-d1", badge_of("10003"), "08:20:01")  # same door, on time
    for emp, dev in (("10001", "seat-a01"), ("10002", "seat-a02"), ("10003", "seat-a03")):
        f.sit(dev, badge_of(emp), "08:25", "16:00:30")
    f.play("17:00")
    rows = {r["employee_no"]: r for r in f.engine.derived.attendance(DAY.isoformat())}
    assert (rows["10001"]["rollcall"], rows["10001"]["first_arrival"]) == ("on_time", f.at("08:19"))
    assert (rows["10002"]["rollcall"], rows["10002"]["first_arrival"]) == ("on_time", f.at("08:20:00"))
    assert rows["10003"]["rollcall"] == "roll_call_late"
    assert f.found() == {("ROLL-EARLY", "roll_call_late", "10003", "A03", "08:20:01", "08:20:01")}
    (clock,) = f.violations("DEV-CLOCK")
    assert (clock["kind"], clock["device"], clock["details"]["max_skew_s"]) == ("clock_behind", "kiosk-k1", 600.0)


def test_spooled_events_after_an_outage_land_at_device_time(make_floor):
    f = make_floor()
    f.roster([("10003", "day", "A03")])
    f.tap("kiosk-k1", badge_of("10003"), "08:15")
    f.sit("seat-a03", badge_of("10003"), "08:25", "16:00:30")
    f.offline("seat-a03", "10:00", "10:30", spool=True)  # the Pi keeps recording into its spool
    f.occupy("seat-a03", False, "10:05", delay_s=25 * 60 + 1)  # a 12-minute break, delivered at 10:30
    f.occupy("seat-a03", True, "10:17", delay_s=13 * 60 + 2)
    f.play("10:29")
    assert f.found() == set()  # nothing known yet
    f.play("17:00")
    assert f.found() == {
        ("AWAY-BREAK-LONG", "break_long", "10003", "A03", "10:05:00", "10:17:00"),
        ("AWAY-UNATTENDED", "unattended", "10003", "A03", "10:05:00", "10:17:00"),
    }
    assert not f.violations("DEV-CLOCK")


def test_unknown_clock_is_timed_by_the_hub_and_never_judged(make_floor):
    """A kiosk that booted without time: its taps carry the hub's receipt time, which could be
    late (a spool), so nothing is concluded from them but what cannot be worse for the agent."""
    f = make_floor()
    f.roster([("10002", "day", "A02"), ("10003", "day", "A03")])
    f.tap("kiosk-k1", badge_of("10002"), "08:15", clock_ok=False, ts=1_000)
    f.tap("kiosk-k1", badge_of("10003"), "08:25", clock_ok=False, ts=2_000)  # late by the hub's clock
    f.sit("seat-a02", badge_of("10002"), "08:25", "16:00:30")
    f.sit("seat-a03", badge_of("10003"), "08:26", "16:00:30")
    f.play("17:00")
    rows = {r["employee_no"]: r for r in f.engine.derived.attendance(DAY.isoformat())}
    assert (rows["10002"]["rollcall"], rows["10002"]["first_arrival"]) == ("on_time", f.at("08:15"))
    assert (rows["10003"]["rollcall"], rows["10003"]["first_arrival"]) == ("pending", f.at("08:25"))
    assert [(v["kind"], f.local(v["start"]), f.local(v["end"])) for v in f.violations("DEV-CLOCK")] == [
        ("clock_unknown", "08:15:00", "08:15:00"), ("clock_unknown", "08:25:00", "08:25:00")]
    assert f.found() == set()


# ---------------------------------------------------------------- FAC-ZONE-EMPTY's A/C relay


def relay_site(root, *, precool_min: float = 15):
    """The scenario site with zone A's A/C switched by a zone device (zone-a, relay on GPIO 22)."""
    from hub.site import load_site

    site = scenario_site(root, day=DAY)
    toml = root / "site.toml"
    toml.write_text(toml.read_text().replace('id = "A"\n', 'id = "A"\nac_relay_device = "zone-a"\n', 1))
    (root / "devices" / "zone-a.toml").write_text(
        f'id = "zone-a"\nsite = "{site.id}"\nrole = "zone"\nzone = "A"\n[relay]\npin = 22\n')
    rules = root / "rules.toml"
    rules.write_text(rules.read_text().replace("[thresholds]\n", f"[thresholds]\nac_precool_min = {precool_min}\n", 1))
    return load_site(root)


@pytest.fixture
def relay_floor(tmp_path):
    stores = []

    def make(start: str = "06:30", **kw) -> ScriptedFloor:
        site = relay_site(tmp_path / f"site{len(stores)}", **kw)
        store = Store(tmp_path / f"hub{len(stores)}.db")
        stores.append(store)
        return ScriptedFloor(site, store, day=DAY, start=start)

    yield make
    for s in stores:
        s.close()


def relay_cmds(f, outcome) -> list[tuple[str, str, str]]:
    out = []
    for c in outcome.commands:
        if c.cmd == "relay":
            assert c.device == "zone-a"
            out.append((c.state, c.reason, f.local(c.since)))
    return out


def zone_a_day(f) -> None:
    f.roster([("10001", "day", "A01")])  # 08:30-16:00; nobody else rostered in zone A
    f.tap("kiosk-k1", badge_of("10001"), "08:15")
    f.sit("seat-a01", badge_of("10001"), "08:25", "16:00:30")
    f.occupy("seat-a01", False, "12:00")  # zone A empty 20 minutes over lunch
    f.occupy("seat-a01", True, "12:20")
    f.occupy("seat-a02", True, "14:00")  # a second person in the zone for a while: no command
    f.occupy("seat-a02", False, "14:10")
    f.offline("seat-a02", "16:30", "17:30")  # A02 might be occupied then: A/C on (no data)


def test_relay_follows_the_zone_judgement_with_precool(relay_floor):
    f = relay_floor()
    zone_a_day(f)
    assert relay_cmds(f, f.play("07:01")) == [("off", "zone_empty", "07:00:00")]  # empty at opening: off at once
    out = f.play("23:30")
    assert relay_cmds(f, out) == [
        ("on", "precool", "08:15:00"),  # 15 minutes before the rostered 08:30 start
        ("off", "zone_empty", "12:15:00"),  # empty since 12:00, past 15 minutes
        ("on", "occupied", "12:20:00"),
        ("off", "zone_empty", "16:15:30"),
        ("on", "no_data", "16:29:00"),  # A02's device went silent: the zone is not known empty
        ("off", "zone_empty", "17:45:00"),
    ]
    # the commands agree with the alert: each off is inside a FAC-ZONE-EMPTY spell past the limit
    spells = [(v["zone"], f.local(v["start"])) for v in f.violations("FAC-ZONE-EMPTY") if v["zone"] == "A"]
    assert spells == [("A", "07:00:00"), ("A", "12:00:00"), ("A", "16:00:30"), ("A", "17:30:00")]
    assert all(c.ts >= c.since for o in f.outcomes for c in o.commands if c.cmd == "relay")


def test_relay_after_a_precool_goes_off_again_only_after_the_limit(relay_floor):
    f = relay_floor(precool_min=30)
    f.roster([("10001", "day", "A01")])  # rostered but never comes
    f.play("23:30")
    assert [x for o in f.outcomes for x in relay_cmds(f, o)] == [
        ("off", "zone_empty", "07:00:00"), ("on", "precool", "08:00:00"),
        ("off", "zone_empty", "08:45:00"),  # the shift started at 08:30; still empty 15 minutes later
    ]


def test_a_hub_restart_or_a_rebuild_sends_no_relay_command(relay_floor):
    from hub.engine.core import Engine

    f = relay_floor()
    zone_a_day(f)
    assert [x for x in relay_cmds(f, f.play("12:17"))][-1] == ("off", "zone_empty", "12:15:00")
    f.engine = Engine(f.site, f.store, f.clock)  # a restarted hub: warm start from the log
    assert relay_cmds(f, f.play("12:19")) == []  # the relay stays off: nothing sent
    assert relay_cmds(f, f.play("13:00")) == [("on", "occupied", "12:20:00")]
    rebuilt = Engine(f.site, f.store, f.clock, warm=False, live=False)
    assert rebuilt.consume().commands == []  # the whole log, as `floorwatch hub rebuild` reads it
    assert rebuilt.advance_to(f.clock.now_ms()).commands == []
