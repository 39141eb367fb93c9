"""The terminal progress line (hub.progress) and `hub rebuild` read in slices for it."""

from __future__ import annotations

import datetime as dt
import io
import os
import pty
import subprocess
import sys
from pathlib import Path

from hub import rebuild as rebuild_module
from hub.engine.scenario import ScriptedFloor, badge_of, scenario_site
from hub.progress import Progress
from hub.site import load_site
from hub.sitegen import generate_site
from hub.store import Store
from hub.store.derived import DerivedStore
from tests.test_exports_data import add_attendance, ensure_tables

DAY = dt.date(2026, 3, 10)
ROOT = Path(__file__).resolve().parent.parent
TABLES = ("violations", "attendance", "away_periods", "occupancy_intervals", "seat_state")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_line_is_drawn_on_a_terminal_only():
    piped = io.StringIO()
    p = Progress("export attendance", stream=piped)
    for i in range(0, 5000, 1000):
        p.update(i)
    p.close()
    assert piped.getvalue() == ""  # pipes, logs and tests see nothing new

    tty = _Terminal()
    p = Progress("rebuild", 200, unit="inputs", stream=tty, interval_s=0)
    for i in (0, 100, 200):
        p.update(i)
    p.close()
    out = tty.getvalue()
    assert out.count("\r") == 4 and out.endswith("\n")
    assert "200/200 inputs" in out.splitlines()[-1].split("\r")[-1] and "100%" in out


def test_rebuild_in_slices_reports_its_progress_and_builds_the_same_tables(tmp_path, monkeypatch):
    site = scenario_site(tmp_path / "site", day=DAY)
    store = Store(tmp_path / "hub.db")
    f = ScriptedFloor(site, store, day=DAY, start="07:30")
    f.roster([("10001", "day", "A01"), ("10002", "day", "A02", "11:30")])
    f.tap("kiosk-k1", badge_of("10001"), "08:22")
    f.tap("kiosk-k1", badge_of("10002"), "08:10")
    f.sit("seat-a01", badge_of("10001"), "08:25", "15:00")
    f.sit("seat-a02", badge_of("10002"), "08:25", "16:00:30")
    f.play("17:00")
    derived = DerivedStore(store)
    whole = rebuild_module.rebuild(site, store, now_ms=f.at("17:00"))
    expected = {t: derived.snapshot(t) for t in TABLES}

    monkeypatch.setattr(rebuild_module, "PROGRESS_SLICE", 7)
    calls: list[tuple[int, int]] = []
    sliced = rebuild_module.rebuild(site, store, now_ms=f.at("17:00"), progress=lambda done, total: calls.append((done, total)))
    total = store.input_position()[0]
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls) and len(calls) >= total // 7
    assert sliced.events == whole.events and sliced.rows == whole.rows
    assert {t: derived.snapshot(t) for t in TABLES} == expected
    store.close()


def _run_on(stderr_tty: bool, argv: list[str], cwd: Path) -> tuple[int, str]:
    """`floorwatch ARGV` in a child whose stderr is a pseudo-terminal or a pipe; what it wrote there."""
    cmd = [sys.executable, "-c", "import sys; from hub.cli import main; sys.exit(main(sys.argv[1:]))", *argv]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if not stderr_tty:
        p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd, env=env, timeout=120)
        return p.returncode, p.stderr.decode()
    controller, terminal = pty.openpty()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=terminal, stdin=subprocess.DEVNULL, cwd=cwd, env=env)
    os.close(terminal)
    out = b""
    while True:  # read until the child closes its end (EIO on Linux)
        try:
            data = os.read(controller, 4096)
        except OSError:
            break
        if not data:
            break
        out += data
    os.close(controller)
    return p.wait(timeout=120), out.decode(errors="replace")


def test_exports_and_rebuild_draw_a_bar_on_a_terminal_and_nothing_into_a_pipe(tmp_path):
    """Through a real pseudo-terminal, as a person at a shell sees it: the progress line is on
    stderr when it is a terminal, and a pipe (a script, cron, a log) gets none of it."""
    site_dir = generate_site(tmp_path / "site", site="pty", seats=4, zones=1)
    store = Store(tmp_path / "hub.db")
    ensure_tables(store)
    for i in range(30):
        add_attendance(store, date="2026-11-03", shift="day", employee_no=f"1{i:04d}", name="王伟", team="T1",
                       rostered_seat="A01", seats_used=["A01"], rollcall="on_time")
    f = ScriptedFloor(load_site(site_dir), store, day=DAY, start="07:30")
    f.tap("kiosk-k1", badge_of("10001"), "08:22")
    store.close()
    common = ["--site", str(site_dir), "--db", str(tmp_path / "hub.db")]
    export = ["export", "attendance", *common, "--from", "2026-11-01", "--to", "2026-11-30", "--format", "csv"]
    for name, argv, line in [("export", [*export, "--out", str(tmp_path / "a.csv")], "export attendance"),
                             ("rebuild", ["hub", "rebuild", *common], "rebuild")]:
        code, seen = _run_on(True, argv, tmp_path)
        assert code == 0, (name, seen)
        assert "\r" + line in seen and ("30 rows" in seen if name == "export" else "inputs" in seen), (name, seen)
        code, piped = _run_on(False, argv, tmp_path)
        assert code == 0, (name, piped)
        assert "\r" not in piped and line not in piped, (name, piped)
