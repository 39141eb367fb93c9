"""Every `floorwatch` command meets a malformed value, and every `--out` an unwritable path, with
one line naming the option and exit code 2, never a traceback; and the audit trail records an
export only once it has happened."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from hub.cli import build_parser, main
from hub.site import example_site_dir

NOWHERE = "missing/dir/file.csv"  # relative to the test's own folder, which has no missing/


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield " ".join(path)
    for s in subs:
        for name, child in s.choices.items():
            yield from _leaves(child, (*path, name))


def _cases(tmp: Path) -> dict[str, list[list[str]]]:
    """Per leaf command, argument lists each with one bad value (the rest right)."""
    a_file = tmp / "a-file"
    a_file.write_text("x")
    device = str(next((example_site_dir() / "devices").glob("seat-*.toml")))
    db = ["--db", str(tmp / "hub.db")]
    return {
        "check-config": [["check-config", str(tmp / "no-such-site")]],
        "hub": [["hub", "--broker", "foo", *db], ["hub", "--web", "localhost:http", *db],
                ["hub", "rebuild", "--until", "yesterday", *db], ["hub", "--db", str(tmp)],
                ["hub", "--db", str(a_file / "hub.db")], ["hub", "--checkpoint-every", "-5", *db],
                ["hub", "--ingest-workers", "0", *db]],
        "quarantine": [["quarantine", "--limit", "0", *db], ["quarantine", "--db", str(tmp / "none.db")]],
        "demo": [["demo", "--web-port", "eighty"], ["demo", "--speed", "0"], ["demo", "--dir", str(a_file)]],
        "roster import": [["roster", "import", str(tmp / "none.csv"), *db]],
        "roster plan": [["roster", "plan", "--month", "2026-13", *db], ["roster", "plan", "--month", "2026-11",
                                                                          "--site", str(tmp / "no-site"), *db]],
        "holidays import": [["holidays", "import", str(tmp / "none.csv")]],
        "roster import-grid": [["roster", "import-grid", str(tmp / "none.xlsx"), *db]],
        "roster export": [["roster", "export", "--month", "2026-11", "--out", NOWHERE, *db],
                          ["roster", "export", "--month", "11/2026", "--out", "x.csv", *db]],
        "badge revoke": [["badge", "revoke", "AB12CD34", "--reason", "lost", "--at", "monday", *db]],
        "badge replace": [["badge", "replace", "10001", "AB12CD34", "--at", "9am", *db]],
        "edge": [["edge", "--config", device, "--broker", "foo"]],
        "sim": [["sim", "--broker", "foo:bar"], ["sim", "--start", "25:99"], ["sim", "--truth", NOWHERE]],
        "export": [["export", "attendance", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "csv",
                    "--out", NOWHERE, *db],
                   ["export", "attendance", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "csv",
                    "--out", str(tmp), *db],
                   ["export", "attendance", "--from", "1 Nov", "--to", "2026-11-30", "--format", "csv",
                    "--out", "x.csv", *db]],
        "assess": [["assess", "--month", "2026-11", "--format", "csv", "--out", NOWHERE, *db],
                   ["assess", "--month", "2026-13", "--format", "csv", "--out", "x.csv", *db]],
        "provision": [["provision", "--out", str(a_file / "out")], ["provision", "--out", str(tmp / "p"),
                                                                     "--tls-port", "99999"]],
        "user add": [["user", "add", "ann", "--role", "boss", *db]],
        "user passwd": [["user", "passwd", "ann", "--db", str(tmp)]],
        "user disable": [["user", "disable", "ann", "--db", str(tmp)]],
        "user enable": [["user", "enable", "ann", "--db", str(tmp)]],
        "user list": [["user", "list", "--db", str(tmp)]],
        "token issue": [["token", "issue", "ann", "--name", "payroll", "--days", "-1", *db]],
        "token list": [["token", "list", "--db", str(a_file / "x.db")]],
        "token revoke": [["token", "revoke", "seven", *db]],
        "purge": [["purge", "--site", str(tmp / "no-site"), *db]],
        "privacy export-agent": [["privacy", "export-agent", "10001", "--out", NOWHERE, *db]],
    }


def test_every_command_refuses_a_malformed_value_in_one_line_with_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    cases = _cases(tmp_path)
    assert set(cases) == set(_leaves(build_parser())), "a new command needs its case here"
    for argvs in cases.values():
        for argv in argvs:
            code = main(argv)
            err = capsys.readouterr().err.strip()
            assert code == 2, (argv, code, err)
            assert len(err.splitlines()) == 1 and "error" in err and "Traceback" not in err, (argv, err)
    assert not (tmp_path / "missing").exists() and not (tmp_path / "hub.db").exists()


def test_the_installed_command_ends_a_bad_broker_with_a_line_not_a_traceback(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run([sys.executable, "-m", "hub.cli", "hub", "--broker", "foo", "--db", str(tmp_path / "h.db")],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "floorwatch hub: error: argument --broker: expected host:port, got 'foo' (see floorwatch hub --help)"]


def test_the_agents_own_command_refuses_a_bad_broker_as_a_usage_error(tmp_path):
    """`floorwatch-edge` on a Pi (no hub installed): exit 2 and argparse's message, no traceback."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run([sys.executable, "-m", "edge", "--config", str(tmp_path / "seat.toml"), "--broker", "foo"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "floorwatch-edge: error: argument --broker: expected host:port, got 'foo'"


def test_an_export_is_audited_only_once_written_and_not_at_all_if_it_cannot_be(site_dir, store, tmp_path, capsys):
    db = store.location  # a file or a PostgreSQL URL: the CLI takes either
    argv = ["export", "taps", "--site", str(site_dir), "--db", db, "--from", "2026-11-01", "--to", "2026-11-30",
            "--format", "csv"]

    def audited() -> list[str]:
        return [r[0] for r in store.conn.execute("SELECT target FROM audit WHERE action = 'export'")]

    assert main([*argv, "--out", str(tmp_path / "gone" / "t.csv")]) == 2
    assert audited() == []
    assert main([*argv, "--out", str(tmp_path / "t.csv")]) == 0
    assert audited() == ["taps"] and (tmp_path / "t.csv").is_file()
    # an audit trail that refuses the row: no file, no row, exit 1
    if store.dialect.name == "sqlite":
        store.conn.execute("CREATE TRIGGER no_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'audit full'); END")
    else:
        store.conn.execute("CREATE FUNCTION no_audit() RETURNS trigger LANGUAGE plpgsql AS"
                           " $$ BEGIN RAISE EXCEPTION 'audit full'; END $$")
        store.conn.execute("CREATE TRIGGER no_audit BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION no_audit()")
    assert main([*argv, "--out", str(tmp_path / "u.csv")]) == 1
    assert "audit full" in capsys.readouterr().err
    assert audited() == ["taps"] and not (tmp_path / "u.csv").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []
