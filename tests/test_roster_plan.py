"""`floorwatch roster plan`: the example site's month meets its coverage or lists each short hour,
reports fairness spreads, keeps rotations across months and publishes with an audit row."""

from __future__ import annotations

import contextlib
import shutil

import pytest

from hub.cli import main
from hub.roster.effective import install
from hub.roster.month import PublishedError, propose, publish
from hub.site import example_site_dir, load_site
from hub.store import Store
from hub.store.derived import DerivedStore
from hub.store.rosters import RosterStore


@pytest.fixture
def site_copy(tmp_path):
    return shutil.copytree(example_site_dir(), tmp_path / "site")


def test_example_month_meets_coverage_and_spreads_evenings_evenly(tmp_path, capsys):
    db = tmp_path / "hub.db"
    assert main(["roster", "plan", "--month", "2026-12", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "coverage: every target met (465 team-hours checked)" in out  # 31 days x 08..22
    assert "fairness evening: max-min per agent 1: T1 1 (bound 1), T2 1 (bound 1), T3 1 (bound 1), T4 1 (bound 1)" in out
    assert "rest days: 4..5 per agent" in out
    site = load_site(example_site_dir())
    with contextlib.closing(Store(db)) as store:
        plan = propose(site, store, "2026-12").plan
    assert len(plan.agents) == 80 and plan.chosen == set()  # every phase carried from assignments.csv
    assert all(n >= 4 for n in plan.rest_days.values()) and plan.rest_problems == []
    evenings = [n for team in plan.fairness["evening"].values() for n in team.values()]
    assert sum(evenings) == sum(c == "night" for cells in plan.cells.values() for c in cells)
    # the weekend spread is reported honestly with its bound (做六休一 on a 14-day cycle fixes each
    # agent's rest weekday; no exchange that keeps six days in a row at most evens it out)
    assert {t: v[1] for t, v in plan.spread("weekend").items()} == {"T1": 1, "T2": 1, "T3": 1, "T4": 1}


def test_a_target_the_floor_cannot_meet_is_listed_per_hour(site_copy, tmp_path, capsys):
    rules = site_copy / "rules.toml"
    rules.write_text(rules.read_text(encoding="utf-8").replace("min_agents = 32", "min_agents = 36"), encoding="utf-8")
    assert main(["roster", "plan", "--month", "2026-12", "--site", str(site_copy), "--db", str(tmp_path / "h.db")]) == 0
    out = capsys.readouterr().out
    # 1 December (Tuesday): 34 of the 40 seat pairs work, each shift covers its own hours
    lines = [ln.strip() for ln in out.splitlines() if ln.strip().startswith("short 2026-12-01 ")]
    assert lines == [f"short 2026-12-01 {h:02d}:00 floor: 34 of 36" for h in range(8, 23)]
    site = load_site(site_copy)
    with contextlib.closing(Store(tmp_path / "h.db")) as store:
        plan = propose(site, store, "2026-12").plan
    assert plan.total_shortfall() >= plan.shortfall_bound >= 0
    assert f"(lower bound {plan.shortfall_bound})" in out


def test_the_planner_chooses_phases_for_agents_without_one(site_copy, tmp_path):
    (site_copy / "assignments.csv").unlink()
    site = load_site(site_copy)
    with contextlib.closing(Store(tmp_path / "h.db")) as store:
        plan = propose(site, store, "2026-12").plan
    assert len(plan.chosen) == 80
    # 80 agents on a 14-day cycle give 34 or 35 a shift on an even spread: the greedy meets 32 every hour
    assert plan.shortfall() == [] and plan.shortfall_bound == 0
    assert all(len(set(plan.cells[e])) == 3 for e in plan.agents)  # everyone has day, night and rest
    assert all(s <= 1 for s, _ in plan.spread("evening").values())
    assert plan.total_shortfall() >= plan.shortfall_bound
    assert plan.unseated == [] or all(d.startswith("2026-12-") for d, _, _ in plan.unseated)


def test_publishing_is_audited_keeps_the_rotation_and_changes_only_by_override(tmp_path):
    site = load_site(example_site_dir())
    with contextlib.closing(Store(tmp_path / "h.db")) as store:
        nov = propose(site, store, "2026-11").plan
        audit_id = publish(site, store, nov, actor="lead1", now_ms=1_000)
        row = DerivedStore(store).audit_rows(1)[0]
        assert (row["id"], row["action"], row["actor"], row["target"]) == (audit_id, "roster.publish", "lead1", "2026-11")
        assert row["details"]["agents"] == 80
        with pytest.raises(PublishedError, match="2026-11 is already published"):
            publish(site, store, propose(site, store, "2026-11").plan, actor="lead1", now_ms=2_000)
        # December's plan starts from the phases November's publication carried
        dec = propose(site, store, "2026-12").plan
        carried = RosterStore(store).phases("2026-12")
        assert len(carried) == 80 and {e: p.phase for e, p in dec.phases.items()} == {e: r["phase"] for e, r in carried.items()}
        install(site, store)
        derived = DerivedStore(store)
        day = [r for r in derived.roster_for(["2026-11-20"]) if r["employee_no"] == nov.agents[0]]
        assert [(r["shift"], r["source"]) for r in day] == [(nov.cells[nov.agents[0]][19], "plan")]
        RosterStore(store).add_override({"date": "2026-11-20", "employee_no": nov.agents[0], "kind": "rest",
                                         "reason": "病假调休"}, actor="lead1", now_ms=3_000)
        assert [r for r in derived.roster_for(["2026-11-20"]) if r["employee_no"] == nov.agents[0]] == []
