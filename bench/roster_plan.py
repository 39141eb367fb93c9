"""Planning a month for a big floor: `roster plan` on a generated site of 2,000 agents.

Builds a generated site (1,000 seats: 2,000 agents in four teams, plus leads) with the 白晚班轮换
做六休一 pattern for every team and coverage targets, then times the planner twice: every phase
chosen by the greedy (a first month: no assignments) and every phase carried (a later month),
each with rest days placed by the greedy (the baseline) and by CP-SAT (the default when ortools
is installed). Prints plan time, the coverage shortfall against its lower bound and the floor's
fairness spreads (max - min per agent, with their lower bound).

    python bench/roster_plan.py [--agents 2000] [--month 2026-10] [--publish]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.roster.month import propose, publish  # noqa: E402
from hub.roster.planner import METRICS  # noqa: E402
from hub.site import load_site  # noqa: E402
from hub.sitegen import generate_site  # noqa: E402
from hub.store import Store  # noqa: E402

PATTERN = """[[patterns]]
id = "d6n6"
name = "白晚班轮换·做六休一"
teams = ["T1", "T2", "T3", "T4"]
cycle = ["day", "day", "day", "day", "day", "day", "rest", "night", "night", "night", "night", "night", "night", "rest"]
"""


def build(root: Path, agents: int) -> Path:
    seats = agents // 2
    site = generate_site(root, site="bench", seats=seats, zones=max(2, seats // 100))
    (site / "roster.csv").unlink()
    (site / "patterns.toml").write_text(PATTERN, encoding="utf-8")
    shutil_copy_holidays(site)
    per_shift = int(agents * 6 / 14 * 0.95)  # 95% of what an even spread gives each shift
    with (site / "rules.toml").open("a", encoding="utf-8") as f:
        for kind in ("workday", "weekend", "holiday"):
            f.write(f'\n[[coverage]]\ndays = "{kind}"\nhours = "08-23"\nmin_agents = {per_shift}\n')
    return site


def shutil_copy_holidays(site: Path) -> None:
    from hub.site import example_site_dir  # noqa: PLC0415

    (site / "holidays.csv").write_bytes((example_site_dir() / "holidays.csv").read_bytes())


def show(label: str, prop) -> None:
    plan = prop.plan
    spreads = {m: plan.spread(m).get("floor", (0, 0))[0] for m in METRICS}
    bounds = {m: plan.spread(m).get("floor", (0, 0))[1] for m in METRICS}
    print(f"{label} [{plan.method}]: {len(plan.agents)} agents x {len(plan.days)} days planned in {prop.seconds:.2f} s;"
          f" phases chosen {len(plan.chosen)}; shortfall {plan.total_shortfall()} agent-hours"
          f" (lower bound {plan.shortfall_bound}); fairness max-min (bound) "
          + ", ".join(f"{m} {spreads[m]} ({bounds[m]})" for m in METRICS)
          + f"; exchanges {plan.exchanges}; rests brought forward {plan.rest_moves} {plan.solver}"
          + f"; rest days {min(plan.rest_days.values())}..{max(plan.rest_days.values())}; unseated {len(plan.unseated)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, default=2000)
    ap.add_argument("--month", default="2026-10")  # 国庆节 and a 调休 Saturday: holidays count
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        site = load_site(build(Path(tmp) / "site", args.agents))
        print(f"site: {len(site.agents)} agents, {len(site.info.seats)} seats (built in {time.perf_counter() - t0:.1f} s)")
        store = Store(Path(tmp) / "hub.db")
        # the baseline: rest days placed by the greedy, in the same run
        show("first month (greedy phases), baseline", propose(site, store, args.month, method="greedy"))
        first = propose(site, store, args.month)
        show("first month (greedy phases)", first)
        t0 = time.perf_counter()
        publish(site, store, first.plan, actor="bench", now_ms=0)
        print(f"publish: {time.perf_counter() - t0:.2f} s")
        y, m = (int(x) for x in args.month.split("-"))
        nxt = f"{y + m // 12}-{m % 12 + 1:02d}"
        show(f"next month {nxt} (carried phases), baseline", propose(site, store, nxt, method="greedy"))
        show(f"next month {nxt} (carried phases)", propose(site, store, nxt))
        store.close()


if __name__ == "__main__":
    main()
