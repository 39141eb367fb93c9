"""`floorwatch check-config`: the shipped example is valid, and each kind of mistake is named
by file, key (or CSV row and column) and reason."""

from __future__ import annotations

from hub.cli import main
from hub.site import example_site_dir, load_site


def test_shipped_example_site_is_valid(capsys):
    site = load_site(example_site_dir())
    assert len(site.info.zones) >= 2 and len(site.info.seats) == 40
    assert len(site.info.doors) == 2 and len(site.info.kiosks) == 1
    assert len(site.devices) == 44  # one file per Pi: 40 seats, 2 doors, 1 kiosk, zone A's A/C relay
    zone_a = site.devices[site.info.zones[0].ac_relay_device]
    assert (zone_a.role, zone_a.zone, zone_a.relay.active_high) == ("zone", "A", False)
    assert {r.shift for r in site.roster} == {"day", "night"}
    t = site.rules.thresholds
    assert (t.break_max_min, t.break_total_min, t.meal_max_min, t.roll_call_lead_min) == (10, 30, 30, 10)
    assert main(["check-config", str(example_site_dir())]) == 0
    assert "ok: site example" in capsys.readouterr().out


def _check(path, capsys) -> str:
    assert main(["check-config", str(path)]) == 1
    return capsys.readouterr().err


def test_errors_name_file_key_and_reason(site_dir, capsys):
    site_toml = site_dir / "site.toml"
    site_toml.write_text(site_toml.read_text().replace('timezone = "Asia/Shanghai"', 'timezone = "Mars/Olympus"'))
    rules = site_dir / "rules.toml"
    rules.write_text(rules.read_text().replace("break_max_min = 10 ", 'break_max_min = "ten" '))
    agents = site_dir / "agents.csv"
    lines = agents.read_text().splitlines()
    lines[3] = ",nameless,T1,agent,00FF,true"
    agents.write_text("\n".join(lines) + "\n")
    dev = site_dir / "devices" / "seat-a01.toml"
    dev.write_text(dev.read_text().replace('role = "seat"', 'role = "chair"'))
    err = _check(site_dir, capsys)
    assert f"{site_toml}: timezone: Value error, unknown time zone 'Mars/Olympus'" in err
    assert f"{rules}: thresholds.break_max_min: Input should be a valid number" in err
    assert f"{agents}: row 4, column employee_no: String should have at least 1 character" in err
    assert f"{dev}: role: Input should be 'seat', 'door', 'kiosk' or 'zone'" in err
    assert "4 error(s)" in err


def test_cross_file_references_are_checked(site_dir, capsys):
    eq = site_dir / "equipment.csv"
    eq.write_text(eq.read_text() + "E999,headset,Z99\n")
    roster = site_dir / "roster.csv"
    roster.write_text(roster.read_text() + "2026-11-30,99999,day,A01,11:00\n")
    (site_dir / "devices" / "seat-a02.toml").write_text("this is = not toml =")
    err = _check(site_dir, capsys)
    assert f"{eq}: tag E999: unknown home_seat 'Z99'" in err
    assert f"{roster}: 2026-11-30 99999: unknown employee_no '99999'" in err
    assert "seat-a02.toml: -: not valid TOML" in err


def test_zone_relay_devices_are_checked(site_dir, capsys):
    """A zone's ac_relay_device must be a device file with a [relay] section, one zone each."""
    site_toml = site_dir / "site.toml"
    text = site_toml.read_text()
    text = text.replace('id = "A"\n', 'id = "A"\nac_relay_device = "zone-a"\n', 1)
    text = text.replace('id = "B"\n', 'id = "B"\nac_relay_device = "seat-b01"\n', 1)
    site_toml.write_text(text)
    zone_a = site_dir / "devices" / "zone-a.toml"
    zone_a.write_text(f'id = "zone-a"\nsite = "{_site_id(site_dir)}"\n'
                      'role = "zone"\nzone = "Q"\n[relay]\npin = 22\nactive_high = "no"\n')
    err = _check(site_dir, capsys)
    assert f"{zone_a}: relay.active_high: Input should be a valid boolean" in err
    assert f"{site_toml}: zones.0.ac_relay_device: unknown device 'zone-a' (no valid devices/zone-a.toml)" in err
    seat_b01 = site_dir / "devices" / "seat-b01.toml"
    assert f"{seat_b01}: relay: zone B switches its A/C with this device, which has no [relay] section" in err
    zone_a.write_text(zone_a.read_text().replace('active_high = "no"', "active_high = false"))
    err = _check(site_dir, capsys)
    assert f"{zone_a}: zone: unknown zone 'Q'" in err
    zone_a.write_text(zone_a.read_text().replace('zone = "Q"', 'zone = "A"'))
    site_toml.write_text(text.replace('ac_relay_device = "seat-b01"', 'ac_relay_device = "zone-a"'))
    err = _check(site_dir, capsys)
    assert f"{site_toml}: zones.1.ac_relay_device: 'zone-a' already switches zone A's A/C" in err
    site_toml.write_text(text.replace('\nac_relay_device = "seat-b01"', ""))
    assert main(["check-config", str(site_dir)]) == 0


def _site_id(site_dir) -> str:
    return next(line.split('"')[1] for line in (site_dir / "site.toml").read_text().splitlines() if line.startswith("id ="))


def test_device_file_alone(site_dir, capsys):
    assert main(["check-config", str(site_dir / "devices" / "kiosk-k1.toml")]) == 0
    assert "ok: device kiosk-k1 (kiosk K1)" in capsys.readouterr().out
