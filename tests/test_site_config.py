"""`floorwatch check-config`: the shipped example is valid, and each kind of mistake is named
by file, key (or CSV row and column) and reason."""

from __future__ import annotations

from hub.cli import main
from hub.site import example_site_dir, load_site


def test_shipped_example_site_is_valid(capsys):
    site = load_site(example_site_dir())
    assert len(site.info.zones) >= 2 and len(site.info.seats) == 40
    assert len(site.info.doors) == 2 and len(site.info.kiosks) == 1
    assert len(site.devices) == 43  # one file per Pi: 40 seats, 2 doors, 1 kiosk
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
    assert f"{dev}: role: Input should be 'seat', 'door' or 'kiosk'" in err
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


def test_device_file_alone(site_dir, capsys):
    assert main(["check-config", str(site_dir / "devices" / "kiosk-k1.toml")]) == 0
    assert "ok: device kiosk-k1 (kiosk K1)" in capsys.readouterr().out
