"""Which tap is each duty's arrival, and how punctual it was. Roll call (rollcall.py) and the
kiosk's tap answer (badge.py) both judge by it, so it is a module of its own that neither of
them owns."""

from __future__ import annotations

from hub.engine.context import Arrivals, Ctx
from hub.engine.facts import Fact
from hub.engine.site_time import ARRIVAL_LOOKBACK_MS


def arrival_taps(ctx: Ctx, emp: str) -> dict[tuple, Fact]:
    """Each duty's first arrival tap: taps go, in time order, to the earliest duty they can
    belong to that has no arrival yet (a 15:55 tap after a day shift is the evening's roll call).
    Resumed from the memo's walk (Arrivals): a tap's duty follows from the taps before it."""
    duties = ctx.plans.of_agent(emp)
    if not duties:
        return {}
    t0 = min(d.start for d in duties) - ARRIVAL_LOOKBACK_MS
    t1 = max(d.end for d in duties)
    tl = ctx.f.agent_taps.get(emp)
    items = tl.items if tl is not None else []
    walk = ctx.memo.arrivals.get(emp)
    if walk is None or walk.seen > len(items) or (walk.seen and items[walk.seen - 1] is not walk.last):
        walk = ctx.memo.arrivals[emp] = Arrivals()
    found = walk.found
    for f in items[walk.seen:]:
        if not t0 <= f.t < t1 or ctx.is_repeat(f) or not ctx.arrival_places(f):
            continue
        cands = [d for d in duties if d.covers(f.t)]
        for d in cands:
            if d.unit not in found:
                found[d.unit] = f
                break
    walk.seen, walk.last = len(items), items[-1] if items else None
    return dict(found)


def minutes_before(start: int, a: int) -> int:
    """Whole minutes before (+) or after (-) the start, rounded towards 'less punctual'."""
    x = (start - a) / 60_000
    return int(x) if x >= 0 else -int(-x + 0.999999999)
