"""Rest-day placement aware of weekends and holidays: an agent's next rest brought forward.

Why: 做六休一 on a 14-day cycle rests every seventh day, so each agent keeps one rest weekday
for ever; whoever rests on Wednesdays works every weekend, whoever rests on Saturdays half of
them. With at most six days in a row there is no slack to move one rest day on its own (every
gap is already seven), and exchanging days between two such agents always leaves one of them a
gap of more than seven. What does work is what a lead does by hand: bring an agent's next rest
forward to a day they would work, and let the rotation carry on from that rest. Every gap stays
at most seven (the one before the moved rest gets shorter), the shift blocks keep their order
(白班 → rest → 晚班), the agent's rest weekday moves from that day on, and the phase carried into
next month moves with it, so next month continues the rotation where this one left it (稳定性).
It costs at most one extra rest day in the month, so a move is taken only while every coverage
target it touches stays met.

The moves are chosen greedily per team: the agent furthest from the team's mean (most special-day
duties first) takes the move that lands them nearest the mean, until max - min per agent is at
most one or no move helps. Holidays are balanced first, then weekends without undoing holidays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hub.roster.patterns import REST


@dataclass
class Coverage:
    """Agents on shift per slot (day * 24 + hour) and the targets, per scope (None: the floor);
    agents per (day, shift) and the seats they sit at."""

    have: dict[str | None, list[int]]
    need: dict[str | None, list[int]]
    slots: Callable[[list[str]], list[int]]
    crowd: dict[tuple[int, str], int]
    seats: int

    def crowding(self, *changes: tuple[list[str], list[str]]) -> dict[tuple[int, str], int]:
        """(day, shift) -> agents added (negative: taken off) by the changes."""
        out: dict[tuple[int, str], int] = {}
        for old, new in changes:
            for d, (o, n) in enumerate(zip(old, new, strict=True)):
                if o != n:
                    if o != REST:
                        out[(d, o)] = out.get((d, o), 0) - 1
                    if n != REST:
                        out[(d, n)] = out.get((d, n), 0) + 1
        return out

    def allows(self, team: str, *changes: tuple[list[str], list[str]]) -> bool:
        """True if replacing each change's old cells by its new ones leaves every met target met."""
        lost: dict[int, int] = {}
        for old, new in changes:
            for s in self.slots(old):
                lost[s] = lost.get(s, 0) + 1
            for s in self.slots(new):
                lost[s] = lost.get(s, 0) - 1
        for scope in (None, team):
            if scope not in self.need:
                continue
            have, need = self.have[scope], self.need[scope]
            if any(n > 0 and have[s] - n < need[s] for s, n in lost.items()):
                return False
        return all(n <= 0 or self.crowd.get(k, 0) + n <= self.seats for k, n in self.crowding(*changes).items())

    def apply(self, team: str, old: list[str], new: list[str]) -> None:
        for k, n in self.crowding((old, new)).items():
            self.crowd[k] = self.crowd.get(k, 0) + n
        for scope in (None, team):
            if scope in self.have:
                for s in self.slots(old):
                    self.have[scope][s] -= 1
                for s in self.slots(new):
                    self.have[scope][s] += 1


@dataclass
class Agent:
    """An agent's month while rests are placed: cells, the phase advance so far, the last move's day."""

    cycle: list[str]
    phase: int  # cycle index on the month's first day
    cells: list[str]
    advance: int = 0  # cycle cells skipped by brought-forward rests (the next month's phase moves by it)
    after: int = -1  # a later move starts after this day (its head is what earlier moves made)

    def moved(self, day: int) -> tuple[list[str], int] | None:
        """Cells with the next rest brought forward to `day` (a day they work), and the cells skipped."""
        if self.cells[day] == REST or day <= self.after:
            return None
        n = len(self.cycle)
        index = (self.phase + self.advance + day) % n
        skip = next((k for k in range(1, n) if self.cycle[(index + k) % n] == REST), None)
        if skip is None:
            return None
        start = self.phase + self.advance + day + skip
        tail = [self.cycle[(start + k) % n] for k in range(len(self.cells) - day)]
        return self.cells[:day] + tail, skip


def count(cells: list[str], days: list[int]) -> int:
    return sum(1 for d in days if cells[d] != REST)


def place_rests(agents: dict[str, Agent], team: str, special: list[int], cover: Coverage, *,
                keep: list[int] | None = None, max_rests: int | None = None) -> int:
    """Balance duties on `special` days across one team's agents; returns the moves made.

    keep: other special days whose per-agent counts must stay within their present min..max;
    max_rests: no agent ends with more rest days than this."""
    members = sorted(agents)
    if len(members) < 2 or not special:
        return 0
    kept = [count(agents[e].cells, keep) for e in members] if keep else []
    kept_lo, kept_hi = (min(kept), max(kept)) if kept else (0, 0)
    moves = 0
    stuck: set[str] = set()
    for _ in range(len(members) * 8):
        counts = {e: count(agents[e].cells, special) for e in members}
        lo, hi = min(counts.values()), max(counts.values())
        total = sum(counts.values())
        if hi - lo <= (0 if total % len(members) == 0 else 1):
            break
        mean = total / len(members)
        rule = (special, team, cover, keep, kept_lo, kept_hi, max_rests)
        # furthest from the mean first; an agent no move helps is not tried again this pass
        # the busiest first: their new rest days free working-day hours the idlest then take
        order = sorted((e for e in members if e not in stuck and counts[e] in (lo, hi)),
                       key=lambda e: (-counts[e], e))
        done = None
        for e in order:
            got = _moves(agents[e], counts[e], mean, rule)
            best = next((m for m in got if cover.allows(team, (agents[e].cells, m[0]))), None)
            if best is not None:
                done = [(e, best)]
                break
            stuck.add(e)
        if done is None:
            done = _pair(agents, counts, mean, lo, hi, rule)
        if done is None:
            break
        for e, (cells, skip, day) in done:
            cover.apply(team, agents[e].cells, cells)
            agents[e].cells, agents[e].advance, agents[e].after = cells, agents[e].advance + skip, day
            moves += 1
        stuck.clear()
    return moves


PAIRS = 8  # agents per side and moves per agent tried together when no single move fits


def _pair(agents: dict[str, Agent], counts: dict[str, int], mean: float, lo: int, hi: int, rule):
    """A busiest and an idlest agent's moves together: one's new rest day frees the hours the
    other's takes (coverage is often exactly met on the day a single move needs)."""
    team, cover = rule[1], rule[2]
    busy = [e for e in sorted(agents) if counts[e] == hi][:PAIRS]
    idle = [e for e in sorted(agents) if counts[e] == lo][:PAIRS]
    opts = {e: _moves(agents[e], counts[e], mean, rule)[:PAIRS] for e in busy + idle}
    for h in busy:
        for lo_e in idle:
            for mh in opts[h]:
                for ml in opts[lo_e]:
                    if cover.allows(team, (agents[h].cells, mh[0]), (agents[lo_e].cells, ml[0])):
                        return [(h, mh), (lo_e, ml)]
    return None

def _moves(a: Agent, now: int, mean: float, rule) -> list[tuple[list[str], int, int]]:
    """This agent's moves that bring their count strictly nearer the mean, best first: nearest the
    mean, then the fewest cells skipped (least churn), then the latest day."""
    special, _, _, keep, kept_lo, kept_hi, max_rests = rule
    options = []
    for day in range(len(a.cells)):
        got = a.moved(day)
        if got is None:
            continue
        cells, skip = got
        c = count(cells, special)
        if abs(c - mean) >= abs(now - mean) - 1e-9:
            continue
        if keep and not kept_lo <= count(cells, keep) <= kept_hi:
            continue
        if max_rests is not None and cells.count(REST) > max_rests:
            continue
        options.append(((abs(c - mean), skip, -day), (cells, skip, day)))
    return [m for _, m in sorted(options, key=lambda o: o[0])]
