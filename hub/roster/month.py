"""A lead's month: propose it from the rotations, review it, publish it (audited).

Publishing writes the month's cells and each agent's rotation phase for the next month (so next
month's plan keeps the rotation: 稳定性), in one transaction with its audit row. A published day
never changes by re-planning: a lead changes it through day overrides (rest, extra duty, leave,
an approved swap).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

from hub.errors import PublishedError
from hub.roster.patterns import REST
from hub.roster.planner import METRICS, Carried, MonthPlan, month_days, plan_month, summary
from hub.roster.roster_files import load_roster_config

_METHODS = {"cpsat": "OR-Tools CP-SAT, hub/roster/restsolver.py",
            "greedy": "the greedy of hub/roster/restdays.py; install ortools for CP-SAT"}


@dataclass
class Proposal:
    plan: MonthPlan
    seconds: float
    audit_id: int | None = None


def next_month(month: str) -> str:
    last = month_days(month)[-1]
    return last.fromordinal(last.toordinal() + 1).strftime("%Y-%m")


def propose(site, store, month: str, *, method: str = "auto") -> Proposal:
    """The planner's month for `month`, with the phases last month's publication carried."""
    from hub.store.rosters import RosterStore  # noqa: PLC0415

    config, _ = load_roster_config(site)
    carried = {e: Carried(r["pattern"], r["phase"], r["seat"]) for e, r in RosterStore(store).phases(month).items()}
    t0 = time.perf_counter()
    plan = plan_month(site, config, month, carried, method=method)
    return Proposal(plan, time.perf_counter() - t0)


def publish(site, store, plan: MonthPlan, *, actor: str, now_ms: int) -> int:
    """Publish a reviewed plan; returns the audit id. Refuses a month with a published day."""
    from hub.store.rosters import RosterStore  # noqa: PLC0415

    rosters = RosterStore(store)
    dates = [d.isoformat() for d in plan.days]
    already = sorted(rosters.published(dates))
    if already:
        raise PublishedError(f"{plan.month} is already published ({already[0]} first): change a day through an override")
    cells = [{"date": dates[d], "employee_no": e, "shift": c, "seat": plan.seats[e][d], "meal_start": plan.meal.get(e)}
             for e in plan.agents for d, c in enumerate(plan.cells[e]) if c != REST and plan.seats[e][d]]
    nxt = next_month(plan.month)
    phases = [{"month": nxt, "employee_no": e, "pattern": p.pattern, "phase": p.phase, "seat": p.seat or ""}
              for e, p in plan.next_phases.items()]
    return rosters.publish(plan.month, cells, dates, phases, actor=actor, now_ms=now_ms, details=summary(plan))


def roster_plan(site, store, month: str, *, publish_it: bool = False, actor: str = "cli",
                now_ms: int | None = None) -> Proposal:
    """`floorwatch roster plan`: propose the month, and publish it when asked."""
    proposal = propose(site, store, month)
    if publish_it:
        if now_ms is None:
            raise ValueError("publishing needs the time it happens (now_ms)")
        proposal.audit_id = publish(site, store, proposal.plan, actor=actor, now_ms=now_ms)
    return proposal


def report(p: Proposal) -> str:
    """What the lead reads before publishing: coverage, fairness, rest days, the method's gaps."""
    plan = p.plan
    lines = [f"roster plan {plan.month}: {len(plan.agents)} agents, {len(plan.chosen)} phases chosen by the planner,"
             f" {plan.exchanges} fairness exchanges, {plan.rest_moves} rests brought forward, planned in {p.seconds:.2f} s"
             f" (rest days placed by {_METHODS[plan.method]})"]
    short = plan.shortfall()
    if not plan.coverage:
        lines.append("coverage: rules.toml sets no [[coverage]] targets")
    elif not short:
        lines.append(f"coverage: every target met ({len(plan.coverage)} team-hours checked)")
    else:
        lines.append(f"coverage: {len(short)} hours short, {plan.total_shortfall()} agent-hours in all"
                     f" (lower bound {plan.shortfall_bound})")
        for date, team, hour, have, need in short:
            lines.append(f"  short {date} {hour:02d}:00 {team or 'floor'}: {have} of {need}")
    for metric in METRICS:
        spreads = plan.spread(metric)
        if spreads:
            worst = max(v[0] for v in spreads.values())
            detail = ", ".join(f"{t} {s} (bound {b})" for t, (s, b) in spreads.items())
            lines.append(f"fairness {metric}: max-min per agent {worst}: {detail}")
            per = Counter(n for counts in plan.fairness[metric].values() for n in counts.values())
            lines.append(f"  {metric} duties per agent: " + ", ".join(f"{n} x{k}" for n, k in sorted(per.items())))
    rests = sorted(plan.rest_days.values())
    if rests:
        lines.append(f"rest days: {rests[0]}..{rests[-1]} per agent")
    lines += [f"  rest: {r}" for r in plan.rest_problems]
    lines += [f"  no free seat: {d} {s} {e}" for d, s, e in plan.unseated[:20]]
    if p.audit_id is not None:
        lines.append(f"published {plan.month} (audit {p.audit_id})")
    return "\n".join(lines)
