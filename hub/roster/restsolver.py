"""Where rests are brought forward, chosen by OR-Tools CP-SAT (hub.roster.restdays' moves).

Why a solver: the floor's coverage is often met with a seat or two to spare, so most single moves
fit only together with another agent's move that frees the hours they take. The greedy in
restdays.place_rests tries pairs, and on the example site still stops at a weekend spread of 4;
CP-SAT chooses every agent's move at once and reaches the bound (1) there.

Model: each agent picks one option, their rotation as it is or their next rest brought forward to
one day of the month (one move at most: least churn). Hard: every coverage target met where it
was met (never worse where it was short), no more agents on a shift than seats, no more rest
days than `max_rests`. Fairness is the floor's: a band [low, low + 1] of holiday and of weekend
duties per agent, the two nearest the present mean tried; minimised, in this order: holiday
duties outside the band, weekend duties outside it, churn (moves, weighted by the cycle cells they
skip). A floor over CHUNK agents is solved a team at a time towards the band the first team
reached. One search worker, a fixed seed and a deterministic budget: the same month gives the
same plan.

Its limit (measured, bench/roster_plan.py): one move per agent shifts a rest weekday only
forward in time, so capacity freed late in the month cannot pay for rests moved early; on big
generated floors with 95% coverage targets some agents stay outside the band (the report says
"aimed at").
"""

from __future__ import annotations

from hub.roster.patterns import REST
from hub.roster.restdays import Agent, Coverage, count

TIME_LIMIT_S = 20.0


def available() -> bool:
    try:
        import ortools.sat.python.cp_model  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


def solve(agents: dict[str, Agent], teams: dict[str, str], holidays: list[int], weekends: list[int],
          cover: Coverage, *, max_rests: int, time_limit_s: float = TIME_LIMIT_S) -> tuple[int, str]:
    """Choose each agent's move; applies them to `agents` and `cover`. Returns (moves, a note on
    the band reached); with no band feasible in time the month is left as it was."""
    members = sorted(agents)
    if len(members) < 2:
        return 0, "trivial"
    options: dict[str, list[tuple[list[str], int, int, int, int]]] = {}  # cells, skip, day, holidays, weekends
    for e in members:
        a = agents[e]
        opts = [(a.cells, 0, a.after)]
        for day in range(len(a.cells)):
            got = a.moved(day)
            if got is not None and got[0].count(REST) <= max_rests:
                opts.append((got[0], got[1], day))
        options[e] = [(c, k, d, count(c, holidays), count(c, weekends)) for c, k, d in opts]
    bands = [(bh, bw) for bh in _bands([o[0][3] for o in options.values()])[:2 if holidays else 1]
             for bw in _bands([o[0][4] for o in options.values()])[:2]]
    # a big floor is solved a team at a time (the others as they stand), towards the floor's band
    chunks = [members] if len(members) <= CHUNK else [
        [e for e in members if teams[e] == t] for t in sorted({teams[e] for e in members})]
    covering = _covering(cover, len(agents[members[0]].cells))
    share = time_limit_s / (len(bands) + len(chunks) - 1)  # deterministic units per model
    best = None
    for band_h, band_w in bands:
        left = share
        got = _solve_band(agents, teams, cover, covering, {e: options[e] for e in chunks[0]}, band_h, band_w, left)
        if got is not None and (best is None or got[0] < best[0]):
            best = (*got, band_h, band_w)
    if best is None:
        return 0, "no solution in time: rotations kept"
    _, picked, status, band_h, band_w = best
    moves = _apply(agents, teams, cover, options, picked)
    for chunk in chunks[1:]:
        got = _solve_band(agents, teams, cover, covering, {e: options[e] for e in chunk}, band_h, band_w, share)
        if got is not None:
            picked |= got[1]
            moves += _apply(agents, teams, cover, options, got[1])
    held = all(band_h[0] <= count(agents[e].cells, holidays) <= band_h[1]
               and band_w[0] <= count(agents[e].cells, weekends) <= band_w[1] for e in members)
    return moves, (f"{status.lower()}: holidays {band_h[0]}..{band_h[1]}, weekends {band_w[0]}..{band_w[1]} per agent"
                   + ("" if held else " aimed at (not every agent reached it)"))


CHUNK = 500  # agents in one model at most


def _apply(agents, teams, cover: Coverage, options, picked: dict[str, int]) -> int:
    moves = 0
    for e, k in picked.items():
        if k:
            cells, skip, day, _, _ = options[e][k]
            a = agents[e]
            cover.apply(teams[e], a.cells, cells)
            a.cells, a.advance, a.after = cells, a.advance + skip, day
            moves += 1
    return moves


def _covering(cover: Coverage, n_days: int) -> dict[int, list[tuple[int, str]]]:
    """slot -> the (day, shift) cells that cover it."""
    shifts = {shift for (_, shift) in cover.crowd}
    out: dict[int, list[tuple[int, str]]] = {}
    for shift in shifts:
        for d in range(n_days):
            for s in cover.slots([REST] * d + [shift]):
                out.setdefault(s, []).append((d, shift))
    return out


def _bands(counts: list[int]) -> list[tuple[int, int]]:
    """Bands [low, low + 1] of duties per agent, nearest the present mean first."""
    if not counts:
        return [(0, 1)]
    mean = sum(counts) / len(counts)
    return sorted(((lo, lo + 1) for lo in range(min(counts), max(counts) + 1)),
                  key=lambda b: (abs(b[0] + 0.5 - mean), -b[0]))


def _off(n: int, band: tuple[int, int]) -> int:
    return max(0, band[0] - n, n - band[1])


def _solve_band(agents, teams, cover: Coverage, covering, options, band_h, band_w, time_limit_s: float):
    """(cost, each agent's option index, status) for one band, coverage and seats permitting: the
    duties outside the band first (holidays weigh most), then churn; None if nothing in time.
    An agent's options are their rotation as it is and the moves that land inside the band."""
    from ortools.sat.python import cp_model  # noqa: PLC0415

    model = cp_model.CpModel()
    choice: dict[str, dict[int, object]] = {}
    terms: dict[tuple[str | None, int, str], list[tuple[object, int]]] = {}  # (scope, day, shift) -> terms
    cost = []
    for e, opts in options.items():
        a = agents[e]
        ks = [0] + [k for k, o in enumerate(opts) if k and not _off(o[3], band_h) and not _off(o[4], band_w)]
        xs = {k: model.new_bool_var(f"x_{e}_{k}") for k in ks}
        model.add_exactly_one(xs.values())
        model.add_hint(xs[0], 1)
        choice[e] = xs
        for k, x in xs.items():
            cells, skip, _, h, w = opts[k]
            weight = 1_000_000 * _off(h, band_h) + 10_000 * _off(w, band_w) + (1 + skip if k else 0)
            if weight:
                cost.append(x * weight)
            if k == 0:
                continue
            for (d, shift), n in cover.crowding((a.cells, cells)).items():
                for scope in (None, teams[e]):
                    terms.setdefault((scope, d, shift), []).append((x, n))
    rules: dict[tuple[str | None, tuple], int] = {}  # (scope, covering cells) -> the least change allowed
    for scope, need in cover.need.items():
        have = cover.have[scope]
        for s, n in enumerate(need):
            if n:
                cells = tuple(c for c in covering.get(s, ()) if (scope, *c) in terms)
                if cells:
                    key = (scope, cells)
                    rules[key] = max(rules.get(key, -10**9), min(n, have[s]) - have[s])
    for (scope, cells), least in rules.items():
        model.add(sum(x * n for c in cells for x, n in terms[(scope, *c)]) >= least)
    for (scope, d, shift), ts in terms.items():
        if scope is None:
            have = cover.crowd.get((d, shift), 0)
            model.add(sum(x * n for x, n in ts) <= max(cover.seats, have) - have)
    model.minimize(sum(cost))
    solver = cp_model.CpSolver()
    # a deterministic budget: the same month gives the same plan on a busy or an idle machine
    # (the wall-clock limit is only a backstop)
    solver.parameters.max_deterministic_time = time_limit_s
    solver.parameters.max_time_in_seconds = 3 * time_limit_s
    solver.parameters.num_search_workers = 1
    solver.parameters.random_seed = 0
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    picked = {e: next(k for k, x in xs.items() if solver.value(x)) for e, xs in choice.items()}
    return solver.objective_value, picked, solver.status_name(status)
