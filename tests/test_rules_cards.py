"""One card, every reader (issue 17), on the example site's own hardware mix: a Wiegand 26 entry
door (door-d1), RDM6300 seats and a desk reader printing the decimal number at the kiosk. Each
reader's uid here is what its own decoder makes of the card (W26 frame, RDM6300 frame, decimal
line), so the test covers the path from the driver's output to the hub's attribution."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from edge.drivers import rdm6300, wiegand
from edge.drivers.line_reader import LineDecoder
from hub.cards import parse_card
from hub.cli import main
from hub.engine.scenario import ScriptedFloor
from hub.enrolment import EnrolmentError, open_enrolment
from hub.errors import SiteConfigError
from hub.roster.changes import BadgeError, replace_badge
from hub.site import example_site_dir, load_site
from hub.store import Store
from hub.store.derived import DerivedStore

DAY = dt.date(2026, 3, 10)


def w26(card: str) -> str:
    """What door-d1's Wiegand 26 reader reports for the card."""
    value = int(card, 16) & 0xFFFFFF
    dec = wiegand.WiegandDecoder(26, hold_off_s=0)
    for i, bit in enumerate(wiegand.encode_frame(value, 26)):
        dec.edge(bit, i * 0.002)
    [uid] = dec.poll(1.0)
    return uid


def rdm(card: str) -> str:
    [uid] = rdm6300.Rdm6300Decoder(0).feed(rdm6300.encode_frame(card), 0.0)
    return uid


def desk(card: str) -> str:
    """The kiosk's desk reader prints the card's 10-digit number (its lower 32 bits)."""
    [uid] = LineDecoder(number_format="decimal", hold_off_s=0).feed(f"{int(card, 16) & 0xFFFFFFFF:010d}\r\n".encode(), 0.0)
    return uid


@pytest.fixture
def example(tmp_path):
    root = shutil.copytree(example_site_dir(), tmp_path / "site")
    (root / "roster.csv").unlink()
    (root / "assignments.csv").unlink()  # no rotations either: each test writes the roster it judges
    return root


@pytest.fixture
def floor(example, tmp_path):
    site = load_site(example)
    store = Store(tmp_path / "hub.db")
    yield ScriptedFloor(site, store, day=DAY, start="07:30")
    store.close()


def card_of(floor, emp: str) -> str:
    [card] = next(a for a in floor.site.agents if a.employee_no == emp).badges
    return card


def test_one_card_at_the_w26_door_the_rdm6300_seat_and_the_decimal_kiosk_is_one_agent(floor):
    f = floor
    f.roster([("10001", "day", "A01"), ("10002", "day", "A02")])
    c1, c2 = card_of(f, "10001"), card_of(f, "10002")
    assert int(c1[:2], 16) != 0 and w26(c1) != c1 and desk(c1) != c1  # the readers really differ
    f.tap("door-d1", w26(c1), "08:10", as_read=True)
    f.tap("kiosk-k1", desk(c1), "08:12", as_read=True)
    f.occupy("seat-a01", True, "08:20")
    f.tap("seat-a01", rdm(c1), "08:20:30", as_read=True)
    f.tap("door-d1", w26(c2), "08:11", as_read=True)  # 10002 arrives by the door only: no kiosk
    f.occupy("seat-a02", True, "08:21")
    f.tap("seat-a02", rdm(c2), "08:21:30", as_read=True)
    f.occupy("seat-a01", False, "16:00:30")
    f.occupy("seat-a02", False, "16:00:30")
    out = f.play("17:00")
    assert f.found() == set()  # no ROLL-ABSENT, ROLL-EARLY, BADGE-UNKNOWN, BADGE-NO-TAP
    verdicts = [(t["device"], t["verdict"], (t["agent"] or {}).get("employee_no"))
                for ch, t in out.updates if ch == "tap"]
    assert ("kiosk-k1", "on_time", "10001") in verdicts
    assert ("door-d1", "on_time", "10002") in verdicts
    assert ("seat-a01", "signed_in", "10001") in verdicts and ("seat-a02", "signed_in", "10002") in verdicts
    assert all(emp in ("10001", "10002") for _, _, emp in verdicts)


def test_an_unknown_card_stays_unknown_at_every_reader(floor):
    f = floor
    stranger = "0F02A34B7C"
    assert stranger not in {b for a in f.site.agents for b in a.badges}
    f.tap("door-d1", w26(stranger), "09:00", as_read=True)
    f.tap("kiosk-k1", desk(stranger), "09:01", as_read=True)
    f.tap("seat-a05", rdm(stranger), "09:02", as_read=True)
    out = f.play("09:30")
    assert {(r, k) for r, k, *_ in f.found()} == {("BADGE-UNKNOWN", "unknown_badge")}
    assert len(f.found()) == 3
    assert [t["verdict"] for ch, t in out.updates if ch == "tap"] == ["unknown_badge"] * 3


def test_a_tap_two_cards_match_is_ambiguous_and_attributed_to_nobody(floor):
    # check-config keeps the site's own readers unambiguous; a third-party device outside the
    # site's files that reads only 6 bits (stated on the wire) meets several of 88 cards at once
    f = floor
    f.roster([("10001", "day", "A01")])
    low = int(card_of(f, "10001"), 16) & 0x3F
    twins = [a.employee_no for a in f.site.agents if int(a.badges[0], 16) & 0x3F == low]
    assert len(twins) >= 2
    f.event("esp-gate", "badge", "08:10", {"uid": f"{low:02X}", "reader": "badge", "card_bits": 6})
    f.tap("kiosk-k1", desk(card_of(f, "10001")), "08:12", as_read=True)
    out = f.play("08:20")
    verdicts = [(t["device"], t["verdict"], t["agent"]) for ch, t in out.updates if ch == "tap"]
    assert ("esp-gate", "ambiguous_badge", None) in verdicts
    assert [v for v in verdicts if v[0] == "kiosk-k1"][0][1] == "on_time"
    assert {(r, k, emp) for r, k, emp, *_ in f.found()} == {("BADGE-UNKNOWN", "ambiguous_badge", None)}


def test_the_device_file_and_the_wire_must_agree_on_what_a_reader_sees(floor):
    f = floor
    card = card_of(f, "10001")
    f.event("door-d1", "badge", "09:00", {"uid": w26(card), "reader": "badge", "card_bits": 32})
    f.event("esp-gate", "badge", "09:01", {"uid": w26(card), "reader": "badge"})  # says nothing: no guess
    f.event("esp-gate", "badge", "09:02", {"uid": w26(card), "reader": "badge", "card_bits": 24})
    out = f.play("09:30")
    assert [(t["verdict"], (t["agent"] or {}).get("employee_no")) for ch, t in out.updates if ch == "tap"] == [
        ("unknown_badge", None), ("unknown_badge", None), ("no_shift", "10001")]


def _set_badge(root, emp: str, card: str) -> None:
    path = root / "agents.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    out = []
    for line in lines:
        cols = line.split(",")
        if cols[0] == emp:
            cols[4] = card
        out.append(",".join(cols))
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


def test_cards_equal_in_their_lower_24_bits_fail_check_config_only_with_a_w26_reader(example):
    site = load_site(example)
    c1 = card_of_site(site, "10001")
    twin = f"22{int(c1[2:4], 16) ^ 0x55:02X}{c1[4:]}"
    _set_badge(example, "10002", twin)
    with pytest.raises(SiteConfigError) as exc:
        load_site(example)
    msg = str(exc.value)
    assert "10001" in msg and "10002" in msg and "door-d" in msg and "24 bits" in msg
    for door in ("door-d1", "door-d2"):  # the doors get RDM6300 readers: nothing sees only 24 bits
        path = example / "devices" / f"{door}.toml"
        text = path.read_text(encoding="utf-8")
        text = text.replace('kind = "wiegand"\nd0_pin = 14\nd1_pin = 15\nbits = 26',
                            'kind = "rdm6300"\nport = "/dev/floorwatch-reader"')
        path.write_text(text, encoding="utf-8")
    assert load_site(example).reader_widths().keys() == {40, 32}


def test_a_badge_reader_that_does_not_say_what_it_sees_fails_check_config(example):
    path = example / "devices" / "kiosk-k1.toml"
    path.write_text(path.read_text(encoding="utf-8").replace('number_format = "decimal"', 'number_format = "hex"'),
                    encoding="utf-8")
    with pytest.raises(SiteConfigError, match=r"kiosk-k1.toml: readers.0.card_bits"):
        load_site(example)


def card_of_site(site, emp: str) -> str:
    [card] = next(a for a in site.agents if a.employee_no == emp).badges
    return card


# ---------------------------------------------------------------- upgrading a printed form to the full id


def test_badge_replace_upgrades_a_printed_form_to_the_full_id_of_the_same_card(example, tmp_path, capsys):
    site = load_site(example)
    full = card_of_site(site, "10002")
    printed = parse_card(f"{int(full, 16) & 0xFFFFFF:X}/24").text  # facility,card as printed on it
    _set_badge(example, "10002", f'"{printed}"')
    floor = ScriptedFloor(load_site(example), Store(tmp_path / "hub.db"), day=DAY, start="07:30")
    f = floor
    f.roster([("10002", "day", "A02")])
    f.tap("seat-a02", rdm(full), "08:20:30", as_read=True, label="before")
    f.play("08:30")
    # a different card sharing those 24 bits: the RDM6300 cannot tell it from a facility,card form
    other = f"{int(full[:2], 16) ^ 0x5A:02X}{full[2:]}"
    assert f.engine.plans.tap_key("seat-a02", {"uid": rdm(other), "reader": "badge"}) == printed
    code = main(["badge", "replace", "10002", full, "--site", str(example), "--db", str(tmp_path / "hub.db"),
                 "--by", "lead-li"])
    assert code == 0, capsys.readouterr().err
    derived = DerivedStore(f.store)
    [audit] = [r for r in derived.audit_rows() if r["action"] == "badge.upgrade"]
    assert (audit["actor"], audit["target"], audit["details"]) == (
        "lead-li", "10002", {"new": full, "superseded": [printed], "at": audit["ts"]})  # no --at: when recorded
    assert {(r["uid"], r["action"]) for r in derived.badge_changes()} == {(printed, "supersede"), (full, "assign")}
    f.engine.refresh()
    plans = f.engine.plans
    assert plans.tap_key("seat-a02", {"uid": rdm(other), "reader": "badge"}) == f"unknown:{rdm(other)}"
    assert plans.tap_key("door-d1", {"uid": w26(full), "reader": "badge"}) == full  # nothing else shares its 24 bits
    before = f.at("08:20:30")
    assert plans.owner(full, before).agent.employee_no == "10002"  # a rebuild files the old tap under the full id
    assert plans.owner(printed, before).agent.employee_no == "10002"  # the live engine filed it under the printed form
    f.tap("seat-a02", rdm(other), "09:00", as_read=True)
    f.tap("kiosk-k1", desk(full), "09:01", as_read=True)
    out = f.play("09:30")
    assert [(t["device"], t["verdict"], (t["agent"] or {}).get("employee_no")) for ch, t in out.updates
            if ch == "tap"] == [("seat-a02", "unknown_badge", None), ("kiosk-k1", "late", "10002")]
    f.store.close()


def test_badge_replace_still_refuses_a_form_that_disagrees_with_the_card_it_would_upgrade(example, tmp_path):
    site = load_site(example)
    full, theirs = card_of_site(site, "10002"), card_of_site(site, "10003")
    store = Store(tmp_path / "hub.db")
    try:
        twin = f"{int(theirs[:2], 16) ^ 0x11:02X}{theirs[2:]}"  # 10003's lower 24 bits: the W26 door cannot tell
        with pytest.raises(BadgeError, match=r"10003's badge .* look the same to .*door-d"):
            replace_badge(site, store, "10002", twin, actor="lead-li", now_ms=0)
        with pytest.raises(BadgeError, match="already holds"):
            replace_badge(site, store, "10002", f"dec:{int(full, 16) & 0xFFFFFFFF:010d}", actor="lead-li", now_ms=0)
        assert DerivedStore(store).badge_changes() == []
    finally:
        store.close()


# ---------------------------------------------------------------- enrolment by tapping


def test_a_tap_at_a_kiosk_in_enrolment_mode_binds_the_card_and_is_still_the_agents_arrival(floor):
    f = floor
    f.roster([("10003", "day", "A03")])
    lost = card_of(f, "10003")
    new = "3C00C0FFEE"
    assert f.site.card_index().match(parse_card(new)).status == "unknown"
    opened = open_enrolment(f.site, f.store, "kiosk-k1", "10003", minutes=2, actor="lead-li", now_ms=f.at("08:04"))
    assert (opened["state"], opened["expires_at"]) == ("open", f.at("08:06"))
    f.tap("kiosk-k1", desk(new), "08:05", as_read=True, label="enrol")
    f.tap("seat-a03", rdm(new), "08:20", as_read=True)  # the desk reader saw 32 bits; the RDM6300 sees 40
    f.tap("seat-a05", rdm(lost), "08:25", as_read=True)
    out = f.play("09:00")
    verdicts = [(t["device"], t["verdict"], (t["agent"] or {}).get("employee_no")) for ch, t in out.updates
                if ch == "tap"]
    assert verdicts == [("kiosk-k1", "enrolled", "10003"), ("seat-a03", "signed_in", "10003"),
                        ("seat-a05", "revoked_badge", None)]
    derived = DerivedStore(f.store)
    dec = f"dec:{int(new, 16) & 0xFFFFFFFF:010d}"
    assert [(r["at"], r["uid"], r["employee_no"], r["action"], r["by"]) for r in derived.badge_changes()] == [
        (f.at("08:05"), lost, "10003", "revoke", "lead-li"), (f.at("08:05"), dec, "10003", "assign", "lead-li")]
    audit = {r["action"]: r for r in derived.audit_rows()}
    assert audit["badge.replace"]["actor"] == "lead-li" and audit["badge.replace"]["details"]["device"] == "kiosk-k1"
    assert audit["badge.enrol_open"]["target"] == "10003"
    row = derived.enrolment(opened["id"])
    assert (row["state"], row["card"], row["event_id"]) == ("enrolled", dec, f.ids["enrol"])
    # the enrolment tap is a normal tap once bound: the agent's roll-call arrival
    [att] = f.attendance("10003")
    assert (att["first_arrival"], att["rollcall"]) == (f.at("08:05"), "on_time")
    assert {(r, emp) for r, _, emp, *_ in f.found()} == {("BADGE-UNKNOWN", None)}  # the revoked card at 08:25


def test_an_enrolment_tap_is_refused_when_a_reader_could_not_tell_the_card_from_anothers(floor):
    f = floor
    theirs = card_of(f, "10001")
    twin = f"{int(theirs[:2], 16) ^ 0x33:02X}{theirs[2:]}"  # the same lower 32 bits: the desk reader reads 10001
    opened = open_enrolment(f.site, f.store, "kiosk-k1", "10004", actor="lead-li", now_ms=f.at("08:00"))
    f.tap("kiosk-k1", desk(twin), "08:01", as_read=True)
    f.tap("kiosk-k1", desk("3C00C0FFEE"), "08:02", as_read=True)  # the enrolment is closed: an unknown card
    f.play("08:30")
    row = DerivedStore(f.store).enrolment(opened["id"])
    assert row["state"] == "refused" and "10001" in row["reason"] and "cannot tell them apart" in row["reason"]
    assert DerivedStore(f.store).badge_changes() == []
    verdicts = [(t["verdict"], (t["agent"] or {}).get("employee_no")) for o in f.outcomes for ch, t in o.updates
                if ch == "tap"]
    assert verdicts == [("enrol_refused", "10001"), ("unknown_badge", None)]


def test_an_enrolment_expires_and_doors_cannot_enrol(floor):
    f = floor
    with pytest.raises(EnrolmentError, match="door"):
        open_enrolment(f.site, f.store, "door-d1", "10004", actor="lead-li", now_ms=f.at("08:00"))
    for bad in (0, 11, "2", True):
        with pytest.raises(EnrolmentError, match="minutes"):
            open_enrolment(f.site, f.store, "kiosk-k1", "10004", minutes=bad, actor="lead-li", now_ms=f.at("08:00"))
    with pytest.raises(EnrolmentError, match="employee_no"):
        open_enrolment(f.site, f.store, "kiosk-k1", "99999", actor="lead-li", now_ms=f.at("08:00"))
    open_enrolment(f.site, f.store, "kiosk-k1", "10004", minutes=1, actor="lead-li", now_ms=f.at("08:00"))
    with pytest.raises(EnrolmentError, match="already enrolling 10004"):
        open_enrolment(f.site, f.store, "kiosk-k1", "10005", actor="lead-li", now_ms=f.at("08:00:30"))
    f.tap("kiosk-k1", desk("3C00C0FFEE"), "08:01:01", as_read=True)  # a second too late
    out = f.play("08:30")
    assert [t["verdict"] for ch, t in out.updates if ch == "tap"] == ["unknown_badge"]
    assert DerivedStore(f.store).badge_changes() == []
