"""Planning a month (当月排班表): rotations, coverage, rest days and fairness. Pure: no store.

Method (greedy, documented so a lead can predict it):
1. Stability (稳定性): an agent whose rotation phase is known (carried from last month's
   published plan, else from their assignment) keeps it: their month is their rotation.
2. Coverage (灵活性): every other agent of a team with a pattern gets the phase with the largest
   share of its (day, hour) slots still under the [[coverage]] targets, ties going to the phase
   fewest teammates hold (an even spread when no target binds), then the lowest phase.
3. Fairness (公平性): within a team, cells are exchanged between two agents on the same day,
   which leaves every hour's coverage and everyone's rest days unchanged: holiday duties, then
   weekend duties (a worked holiday/weekend day for a rested one, paid back on a working day,
   never past max_consecutive_days), then evening shifts (晚班 for 白班), each until its spread
   (max - min per agent) reaches its lower bound (0 if the team's total divides evenly, else 1)
   or no exchange helps.
The plan reports its gap to lower bounds: fairness spread minus bound per team, and the coverage
shortfall minus a bound (per hour of day, target agent-days minus the most any phases could give).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from hub.roster import restsolver
from hub.roster.patterns import REST, Pattern, Rotation
from hub.roster.restdays import Agent, Coverage, place_rests
from hub.roster.roster_files import RosterConfig

METRICS = ("holiday", "weekend", "evening")


@dataclass(frozen=True)
class Carried:
    """An agent's rotation at the first day of the month (from last month or an assignment)."""

    pattern: str
    phase: int
    seat: str | None


@dataclass
class MonthPlan:
    month: str
    days: list[dt.date]
    agents: list[str]  # planned agents, in grid order (team, employee_no)
    teams: dict[str, str]
    cells: dict[str, list[str]]  # employee_no -> shift id or REST per day
    seats: dict[str, list[str | None]]  # employee_no -> seat per day (None on rest)
    meal: dict[str, str | None]
    phases: dict[str, Carried]  # at the month's first day
    next_phases: dict[str, Carried]  # at the next month's first day
    chosen: set[str]  # agents whose phase the planner chose (no carried phase)
    coverage: dict[tuple[str | None, int, int], tuple[int, int]] = field(default_factory=dict)  # (team, day, hour) -> (have, need)
    fairness: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)  # metric -> team -> emp -> count
    rest_days: dict[str, int] = field(default_factory=dict)
    rest_problems: list[str] = field(default_factory=list)
    unseated: list[tuple[str, str, str]] = field(default_factory=list)  # (date, shift, employee_no)
    shortfall_bound: int = 0
    exchanges: int = 0
    advance: dict[str, int] = field(default_factory=dict)  # rotation cells skipped by rests brought forward
    rest_moves: int = 0
    method: str = "greedy"  # how rests were placed: cpsat (hub.roster.restsolver) or greedy (hub.roster.restdays)
    solver: str = ""  # CP-SAT's status

    def shortfall(self) -> list[tuple[str, str | None, int, int, int]]:
        """(date, team or None for the floor, hour, have, need) wherever coverage misses its target."""
        return sorted((self.days[d].isoformat(), t, h, have, need)
                      for (t, d, h), (have, need) in self.coverage.items() if have < need)

    def total_shortfall(self) -> int:
        return sum(need - have for _, _, _, have, need in self.shortfall())

    def spread(self, metric: str) -> dict[str, tuple[int, int]]:
        """"floor" and each team -> (max - min per agent, lower bound) for a fairness metric."""
        out = {}
        groups = self.fairness.get(metric, {})
        floor = {e: n for counts in groups.values() for e, n in counts.items()}
        for team, counts in ([("floor", floor)] if len(groups) > 1 else []) + sorted(groups.items()):
            if counts:
                v = list(counts.values())
                out[team] = (max(v) - min(v), 0 if sum(v) % len(v) == 0 else 1)
        return out


def month_days(month: str) -> list[dt.date]:
    first = dt.date.fromisoformat(month + "-01")
    nxt = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return [first + dt.timedelta(days=k) for k in range((nxt - first).days)]


def shift_hours(site) -> dict[str, list[tuple[int, int]]]:
    """Shift id -> (day offset, hour) slots it covers: an hour counts when the shift runs at its half past."""
    out = {}
    for s in site.info.shifts:
        start = s.start_time.hour * 60 + s.start_time.minute
        end = s.end_time.hour * 60 + s.end_time.minute
        if end <= start:
            end += 24 * 60
        out[s.id] = [divmod(h, 24) for h in range(48) if start <= h * 60 + 30 < end]
    return out


def plan_month(site, config: RosterConfig, month: str, carried: dict[str, Carried], *,
               method: str = "auto") -> MonthPlan:
    """Propose a month for every agent of a team with a pattern (see the module's method)."""
    days = month_days(month)
    first, n_days = days[0], len(days)
    cal = config.calendar
    types = [cal.day_type(d) for d in days]
    policy = site.rules.roster
    hours = shift_hours(site)
    agents = sorted((a for a in site.agents if a.active and a.role == "agent"
                     and (config.team_patterns(a.team) or a.employee_no in carried
                          or config.assignment_on(a.employee_no, first))),
                    key=lambda a: (a.team, a.employee_no))
    teams = {a.employee_no: a.team for a in agents}

    # targets per scope (None: the floor, else a team): slot = day * 24 + hour
    scopes: dict[str | None, list[int]] = {}
    for c in site.rules.coverage:
        need = scopes.setdefault(c.team, [0] * (n_days * 24))
        for d, day in enumerate(days):
            if c.applies(day.weekday(), types[d]):
                for h in c.hour_range:
                    need[d * 24 + h] = max(need[d * 24 + h], c.min_agents)

    def slots(cells: list[str]) -> list[int]:
        out = []
        for d, shift in enumerate(cells):
            for off, h in hours.get(shift, ()):
                if d + off < n_days:
                    out.append((d + off) * 24 + h)
        return out

    def cells_of(rot: Rotation) -> list[str]:
        return [rot.shift_on(d, cal) for d in days]

    # 1. stability: carried phases
    phases: dict[str, Carried] = {}
    meal: dict[str, str | None] = {}
    for a in agents:
        emp = a.employee_no
        asg = config.assignment_on(emp, first)
        meal[emp] = asg.meal_start if asg else None
        if emp in carried and carried[emp].pattern in config.patterns:
            phases[emp] = carried[emp]
        elif asg is not None and asg.pattern in config.patterns:
            rot = config.rotation(asg).moved_to(first, cal)
            phases[emp] = Carried(asg.pattern, rot.phase, asg.seat)
    have = {scope: [0] * (n_days * 24) for scope in scopes}
    cells: dict[str, list[str]] = {}

    def add(emp: str, c: list[str]) -> None:
        cells[emp] = c
        for s in slots(c):
            for scope in (None, teams[emp]):
                if scope in have:
                    have[scope][s] += 1

    for emp, ph in phases.items():
        add(emp, cells_of(Rotation(config.patterns[ph.pattern], first, ph.phase)))

    # 2. coverage: greedy phases for the rest
    masks: dict[str, list[tuple[list[str], int]]] = {}

    def options(p: Pattern) -> list[tuple[list[str], int]]:
        if p.id not in masks:
            opts = []
            for ph in range(len(p.cycle)):
                c = cells_of(Rotation(p, first, ph))
                opts.append((c, sum(1 << s for s in set(slots(c)))))
            masks[p.id] = opts
        return masks[p.id]

    def under(scope: str | None) -> int:
        need, got = scopes[scope], have[scope]
        return sum(1 << s for s in range(len(need)) if got[s] < need[s])

    under_mask = {scope: under(scope) for scope in scopes}
    held: dict[tuple[str, str, int], int] = {}
    for emp, ph in phases.items():
        held[(teams[emp], ph.pattern, ph.phase)] = held.get((teams[emp], ph.pattern, ph.phase), 0) + 1
    chosen: set[str] = set()
    for a in agents:
        emp = a.employee_no
        if emp in phases:
            continue
        pattern = config.team_patterns(a.team)[0]
        best = None
        for ph, (c, mask) in enumerate(options(pattern)):
            gain = sum((mask & under_mask[s]).bit_count() for s in (None, a.team) if s in under_mask)
            # the share of the phase's hours still needed: a phase that happens to work one more
            # day this month must not win every tie (phases would cluster)
            key = (round(gain / max(1, mask.bit_count()), 9), -held.get((a.team, pattern.id, ph), 0), -ph)
            if best is None or key > best[0]:
                best = (key, ph, c)
        _, ph, c = best
        phases[emp] = Carried(pattern.id, ph, None)
        held[(a.team, pattern.id, ph)] = held.get((a.team, pattern.id, ph), 0) + 1
        chosen.add(emp)
        add(emp, list(c))
        for scope in (None, a.team):
            if scope in under_mask:
                under_mask[scope] = under(scope) if under_mask[scope] & options(pattern)[ph][1] else under_mask[scope]

    plan = MonthPlan(month, days, [a.employee_no for a in agents], teams, cells, {}, meal, phases, {}, chosen)
    # 3. fairness: rests brought forward onto special days (hub.roster.restdays), then exchanges
    # within a team on one day
    evening = set(policy.evening_shifts)
    by_team: dict[str, list[str]] = {}
    for emp in plan.agents:
        by_team.setdefault(teams[emp], []).append(emp)
    holidays = [d for d, t in enumerate(types) if t == "holiday"]
    weekends = [d for d, t in enumerate(types) if t == "weekend"]
    crowd: dict[tuple[int, str], int] = {}
    for c in cells.values():
        for d, shift in enumerate(c):
            if shift != REST:
                crowd[(d, shift)] = crowd.get((d, shift), 0) + 1
    cover = Coverage(have, scopes, slots, crowd, len(site.info.seats))
    plan.method = method if method != "auto" else ("cpsat" if restsolver.available() else "greedy")
    movable = {e: Agent(config.patterns[phases[e].pattern].cycle, phases[e].phase, cells[e]) for e in plan.agents
               if config.patterns[phases[e].pattern].steps == "days"}
    if movable:
        most = max(c.count(REST) for c in (cells[e] for e in movable)) + 1
        if plan.method == "cpsat":
            plan.rest_moves, plan.solver = restsolver.solve(movable, teams, holidays, weekends, cover, max_rests=most)
        else:
            for team, members in by_team.items():
                mine = {e: movable[e] for e in members if e in movable}
                plan.rest_moves += place_rests(mine, team, holidays, cover, max_rests=most)
                plan.rest_moves += place_rests(mine, team, weekends, cover, keep=holidays, max_rests=most)
        for e, a in movable.items():
            cells[e] = a.cells
            if a.advance:
                plan.advance[e] = a.advance
    for members in by_team.values():
        plan.exchanges += _balance_days(cells, members, [d for d, t in enumerate(types) if t == "holiday"], types,
                                        policy.max_consecutive_days)
        plan.exchanges += _balance_days(cells, members, [d for d, t in enumerate(types) if t == "weekend"], types,
                                        policy.max_consecutive_days)
        if any(scope is not None for scope in scopes):  # team targets: exchanges stay within a team
            plan.exchanges += _balance_evenings(cells, members, evening)
    if not any(scope is not None for scope in scopes):  # the floor's targets only: fair across the floor
        plan.exchanges += _balance_evenings(cells, plan.agents, evening)
    _finish(plan, site, config, types, scopes, slots, options)
    return plan


def _count(cells: list[str], days: list[int], pred) -> int:
    return sum(1 for d in days if pred(cells[d]))


def _max_run(cells: list[str]) -> int:
    best = run = 0
    for c in cells:
        run = run + 1 if c != REST else 0
        best = max(best, run)
    return best


def _balance_days(cells: dict[str, list[str]], members: list[str], special: list[int], types: list[str],
                  max_run: int) -> int:
    """Even out duties on special days (holidays or weekends): the busiest agent rests a special day
    the idlest works, and works a working day the idlest rests instead."""
    if not special or len(members) < 2:
        return 0
    workdays = [d for d, t in enumerate(types) if t == "workday"]
    done = 0
    for _ in range(len(members) * len(special)):
        count = {e: _count(cells[e], special, lambda c: c != REST) for e in members}
        hi = max(members, key=lambda e: (count[e], e))
        lo = min(members, key=lambda e: (count[e], e))
        if count[hi] - count[lo] <= (0 if sum(count.values()) % len(members) == 0 else 1):
            break
        if not _exchange_day(cells, hi, lo, special, workdays, max_run):
            # try a few other busier/idler pairs before giving up (bounded: 2,000-agent floors)
            ranked = sorted(members, key=lambda e: count[e])
            pairs = [(h, lo2) for h in ranked[-8:] for lo2 in ranked[:8] if count[h] - count[lo2] >= 2]
            if not any(_exchange_day(cells, h, lo2, special, workdays, max_run) for h, lo2 in pairs):
                break
        done += 1
    return done


def _exchange_day(cells: dict[str, list[str]], hi: str, lo: str, special: list[int], workdays: list[int],
                  max_run: int) -> bool:
    a, b = cells[hi], cells[lo]
    for d in special:
        if a[d] == REST or b[d] != REST:
            continue
        for w in workdays:
            if b[w] == REST or a[w] != REST:
                continue
            na, nb = list(a), list(b)
            na[d], nb[d] = REST, a[d]
            na[w], nb[w] = b[w], REST
            if _max_run(na) <= max_run and _max_run(nb) <= max_run:
                cells[hi], cells[lo] = na, nb
                return True
    return False


def _balance_evenings(cells: dict[str, list[str]], members: list[str], evening: set[str]) -> int:
    """Even out evening shifts: on one day the busiest agent's 晚班 goes to one on a day shift.

    Counts kept in buckets (count -> agents), so a 2,000-agent floor balances in seconds."""
    if len(members) < 2 or not evening:
        return 0
    count = {e: sum(1 for c in cells[e] if c in evening) for e in members}
    bound = 0 if sum(count.values()) % len(members) == 0 else 1
    buckets: dict[int, set[str]] = {}
    for e, n in count.items():
        buckets.setdefault(n, set()).add(e)

    def move(e: str, by: int) -> None:
        buckets[count[e]].discard(e)
        if not buckets[count[e]]:
            del buckets[count[e]]
        count[e] += by
        buckets.setdefault(count[e], set()).add(e)

    done = 0
    blocked: set[tuple[str, str]] = set()
    while True:
        top, low = max(buckets), min(buckets)
        if top - low <= bound:
            return done
        pair = None
        for hi in sorted(buckets[top]):
            for lo in sorted(buckets[low]):
                if (hi, lo) in blocked:
                    continue
                a, b = cells[hi], cells[lo]
                d = next((d for d in range(len(a)) if a[d] in evening and b[d] != REST and b[d] not in evening), None)
                if d is None:
                    blocked.add((hi, lo))
                    continue
                pair = (hi, lo, d)
                break
            if pair:
                break
        if pair is None:
            return done
        hi, lo, d = pair
        cells[hi][d], cells[lo][d] = cells[lo][d], cells[hi][d]
        move(hi, -1)
        move(lo, 1)
        done += 1


def _finish(plan: MonthPlan, site, config: RosterConfig, types: list[str], scopes, slots, options) -> None:
    """Seats, coverage, fairness counts, rest days, next month's phases and the shortfall bound."""
    days, n_days = plan.days, len(plan.days)
    policy = site.rules.roster
    evening = set(policy.evening_shifts)
    seat_order = [s.id for s in site.info.seats]
    # seats: home seats first, then the first free seat of that shift that day
    homes = {e: plan.phases[e].seat for e in plan.agents}
    for e in plan.agents:
        plan.seats[e] = [None] * n_days
    for d in range(n_days):
        by_shift: dict[str, list[str]] = {}
        for e in plan.agents:
            if plan.cells[e][d] != REST:
                by_shift.setdefault(plan.cells[e][d], []).append(e)
        for shift, emps in by_shift.items():
            taken: set[str] = set()
            later = []
            for e in emps:
                if homes[e] and homes[e] not in taken:
                    plan.seats[e][d] = homes[e]
                    taken.add(homes[e])
                else:
                    later.append(e)
            free = (s for s in seat_order if s not in taken)
            for e in later:
                seat = next(free, None)
                plan.seats[e][d] = seat
                if seat is None:
                    plan.unseated.append((days[d].isoformat(), shift, e))
                elif homes[e] is None:
                    homes[e] = seat  # a new agent keeps the seat they first get
    have = {scope: [0] * (n_days * 24) for scope in scopes}
    for e in plan.agents:
        for s in slots(plan.cells[e]):
            for scope in (None, plan.teams[e]):
                if scope in have:
                    have[scope][s] += 1
    for scope, need in scopes.items():
        for s, n in enumerate(need):
            if n:
                plan.coverage[(scope, s // 24, s % 24)] = (have[scope][s], n)
    # bound: per scope and hour of day, target agent-days minus the most the agents could give
    best: dict[tuple[str, int], int] = {}

    def best_of(pattern: str, h: int) -> int:
        """The most days any phase of a pattern covers hour h this month (cached: 2,000 agents)."""
        if (pattern, h) not in best:
            opts = options(config.patterns[pattern])
            best[(pattern, h)] = max(sum(1 for s in slots(c) if s % 24 == h) for c, _ in opts)
        return best[(pattern, h)]

    bound = 0
    for scope, need in scopes.items():
        members = [e for e in plan.agents if scope is None or plan.teams[e] == scope]
        for h in range(24):
            total = sum(need[d * 24 + h] for d in range(n_days))
            if not total:
                continue
            cap = 0
            for e in members:
                if e in plan.chosen:
                    cap += best_of(plan.phases[e].pattern, h)
                else:
                    cap += sum(1 for s in slots(plan.cells[e]) if s % 24 == h)
            bound += max(0, total - cap)
    plan.shortfall_bound = bound
    holidays = [d for d, t in enumerate(types) if t == "holiday"]
    weekends = [d for d, t in enumerate(types) if t == "weekend"]
    for metric, pred, ds in (("holiday", lambda c: c != REST, holidays), ("weekend", lambda c: c != REST, weekends),
                             ("evening", lambda c: c in evening, list(range(n_days)))):
        per: dict[str, dict[str, int]] = {}
        for e in plan.agents:
            per.setdefault(plan.teams[e], {})[e] = _count(plan.cells[e], ds, pred)
        plan.fairness[metric] = per
    nxt = days[-1] + dt.timedelta(days=1)
    for e in plan.agents:
        rest = sum(1 for c in plan.cells[e] if c == REST)
        plan.rest_days[e] = rest
        if rest < policy.min_rest_days:
            plan.rest_problems.append(f"{e}: {rest} rest days (at least {policy.min_rest_days})")
        if _max_run(plan.cells[e]) > policy.max_consecutive_days:
            plan.rest_problems.append(f"{e}: {_max_run(plan.cells[e])} days in a row (at most {policy.max_consecutive_days})")
        ph = plan.phases[e]
        rot = Rotation(config.patterns[ph.pattern], days[0], ph.phase + plan.advance.get(e, 0)).moved_to(nxt, config.calendar)
        plan.next_phases[e] = Carried(ph.pattern, rot.phase, homes[e])


def summary(plan: MonthPlan) -> dict[str, Any]:
    """The figures a lead reviews (and the audit row keeps)."""
    return {
        "month": plan.month, "agents": len(plan.agents), "phases_chosen": len(plan.chosen),
        "shortfall_agent_hours": plan.total_shortfall(), "shortfall_bound": plan.shortfall_bound,
        "spread": {m: {t: list(v) for t, v in plan.spread(m).items()} for m in METRICS},
        "rest_problems": len(plan.rest_problems), "unseated": len(plan.unseated), "exchanges": plan.exchanges,
        "rests_brought_forward": plan.rest_moves,
    }
