"""`floorwatch roster plan`: the example site's month meets its coverage or lists each short hour,
reports fairness spreads, keeps rotations across months and publishes with an audit row."""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil

import pytest

from hub.cli import main
from hub.errors import PublishedError
from hub.roster.effective import install
from hub.roster.month import propose, publish
from hub.roster.patterns import REST, Rotation
from hub.roster.planner import plan_month
from hub.roster.roster_files import load_roster_config
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
    # 做六休一 fixes each agent's rest weekday: the rotations alone give 4 or 8 weekend duties
    # (spread 4); CP-SAT brings 28 rests forward and reaches the bound, coverage still met
    assert "28 rests brought forward" in out and "OR-Tools CP-SAT" in out
    assert ("fairness weekend: max-min per agent 1: floor 1 (bound 1), T1 1 (bound 1), T2 1 (bound 1),"
            " T3 1 (bound 1), T4 1 (bound 1)") in out
    assert "  weekend duties per agent: 7 x23, 8 x57" in out
    assert "fairness evening: max-min per agent 1: floor 1 (bound 1)," in out
    assert "  evening duties per agent: 13 x74, 14 x6" in out
    assert "rest days: 4..5 per agent" in out
    site = load_site(example_site_dir())
    with contextlib.closing(Store(db)) as store:
        plan = propose(site, store, "2026-12").plan
    assert len(plan.agents) == 80 and plan.chosen == set()  # every phase carried from assignments.csv
    assert all(n >= 4 for n in plan.rest_days.values()) and plan.rest_problems == []
    evenings = [n for team in plan.fairness["evening"].values() for n in team.values()]
    assert sum(evenings) == sum(c == "night" for cells in plan.cells.values() for c in cells)
    assert plan.spread("weekend")["floor"] == (1, 1) and plan.unseated == []
    # the greedy (no solver) is the baseline: it stops where coverage leaves no single move
    greedy = plan_month(site, load_roster_config(site)[0], "2026-12", {}, method="greedy")
    assert greedy.spread("weekend")["floor"] == (4, 1) and greedy.spread("evening")["floor"][0] <= 1


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


def _run(cells: list[str]) -> int:
    best = run = 0
    for c in cells:
        run = run + 1 if c != REST else 0
        best = max(best, run)
    return best


def test_holiday_month_is_fair_and_the_rotation_carries_over_the_moved_rests(tmp_path):
    """October (国庆 7 days, a 调休 Saturday): holiday, weekend and evening duties within one of
    each other; the rests brought forward move next month's phase, so six days in a row at most
    holds across the month boundary too."""
    site = load_site(example_site_dir())
    with contextlib.closing(Store(tmp_path / "h.db")) as store:
        oct_ = propose(site, store, "2026-10").plan
        assert {m: oct_.spread(m)["floor"] for m in ("holiday", "weekend", "evening")} == {
            "holiday": (0, 0), "weekend": (1, 1), "evening": (1, 1)}
        assert oct_.shortfall() == [] and oct_.unseated == [] and oct_.rest_problems == []
        assert sorted({n for c in oct_.fairness["holiday"].values() for n in c.values()}) == [6]
        assert oct_.advance and all(0 < k < 14 for k in oct_.advance.values())
        publish(site, store, oct_, actor="lead1", now_ms=1_000)
        nov = propose(site, store, "2026-11").plan
        for e in oct_.agents:
            assert _run(oct_.cells[e] + nov.cells[e]) <= 6, e
            assert oct_.rest_days[e] >= 4 and nov.rest_days[e] >= 4
        # before November is published, the roster the engine reads goes on from October's phases
        install(site, store)
        dates = [f"2026-11-{d:02d}" for d in range(1, 15)]
        rows = DerivedStore(store).roster_for(dates)
        worked = {(r["employee_no"], r["date"]): r["shift"] for r in rows}
        effective = {e: [worked.get((e, d), REST) for d in dates] for e in oct_.agents}
        assert all(_run(oct_.cells[e] + effective[e]) <= 6 for e in oct_.agents)
        # (from the assignment's rotation instead, 14 agents would work 7 to 9 days in a row)
        config = load_roster_config(site)[0]
        carried = RosterStore(store).phases("2026-11")
        for e in oct_.advance:
            rot = Rotation(config.patterns[carried[e]["pattern"]], dt.date(2026, 11, 1), carried[e]["phase"])
            assert effective[e] == [rot.shift_on(dt.date.fromisoformat(d), config.calendar) for d in dates], e


GENERATED = """[[patterns]]
id = "d6n6"
name = "白晚班轮换·做六休一"
teams = ["T1", "T2", "T3", "T4"]
cycle = ["day", "day", "day", "day", "day", "day", "rest", "night", "night", "night", "night", "night", "night", "rest"]
"""


def test_a_generated_team_gets_weekend_duties_within_one(tmp_path):
    """40 agents whose phases the planner chooses (sitegen's site, 95% coverage targets)."""
    from hub.sitegen import generate_site  # noqa: PLC0415

    root = generate_site(tmp_path / "gen", site="gen", seats=20, zones=2)
    (root / "roster.csv").unlink()
    (root / "patterns.toml").write_text(GENERATED, encoding="utf-8")
    (root / "holidays.csv").write_bytes((example_site_dir() / "holidays.csv").read_bytes())
    with (root / "rules.toml").open("a", encoding="utf-8") as f:
        for kind in ("workday", "weekend", "holiday"):
            f.write(f'\n[[coverage]]\ndays = "{kind}"\nhours = "08-23"\nmin_agents = 16\n')
    site = load_site(root)
    config = load_roster_config(site)[0]
    for month, weekend in (("2026-10", (1, 1)), ("2026-11", (1, 1))):
        plan = plan_month(site, config, month, {}, method="cpsat")
        greedy = plan_month(site, config, month, {}, method="greedy")
        assert len(plan.agents) == 40 and plan.shortfall() == [] and plan.unseated == []
        assert plan.spread("weekend")["floor"] == weekend, month
        assert plan.spread("evening")["floor"][0] <= 1 and plan.spread("holiday")["floor"][0] <= 1
        assert greedy.spread("weekend")["floor"][0] >= 3  # the baseline's gap
        assert all(_run(c) <= 6 for c in plan.cells.values()) and min(plan.rest_days.values()) >= 4
