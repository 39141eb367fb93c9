"""The terminal progress line (hub.progress) and `hub rebuild` read in slices for it."""

from __future__ import annotations

import datetime as dt
import io

from hub import rebuild as rebuild_module
from hub.engine.scenario import ScriptedFloor, badge_of, scenario_site
from hub.progress import Progress
from hub.store import Store
from hub.store.derived import DerivedStore

DAY = dt.date(2026, 3, 10)
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
