"""`floorwatch hub rebuild`: recompute every derived table from the event log.

The event log (plus the device status and contact-center logs, and the leads' decisions) is the
source of truth. A rebuild empties the derived tables, replays the log in receipt order through a
fresh Engine whose clock follows the receipt times, then lets time run to `now`. Live processing
makes the same judgments from the same inputs, so the tables come out the same; excuses survive
because violation ids are reproducible. Run it with the hub stopped (the live engine keeps its
own picture of what it wrote).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from edge.clock import ManualClock, SystemClock
from hub.engine.core import Engine
from hub.site import Site
from hub.store import Store
from hub.store.derived import DERIVED_TABLES, DerivedStore


@dataclass
class RebuildReport:
    events: int
    statuses: int
    acd: int
    seconds: float
    removed: dict[str, int]
    rows: dict[str, int]
    now_ms: int

    def summary(self) -> str:
        rows = ", ".join(f"{t} {n}" for t, n in self.rows.items())
        rate = self.events / self.seconds if self.seconds > 0 else 0
        return f"rebuilt from {self.events} events in {self.seconds:.1f} s ({rate:,.0f} events/s): {rows}"


def rebuild(site: Site, store: Store, *, now_ms: int | None = None, batch: int = 5000) -> RebuildReport:
    """Recompute every derived table from the logs; `now_ms` is where time stops (default: now)."""
    started = time.perf_counter()
    derived = DerivedStore(store)
    removed = derived.clear_derived()
    statuses = derived.status_log()
    acds = derived.acd_log()
    first = next(store.iter_events(batch=1), None)
    start = min([x for x in (first.received if first else None,
                             statuses[0]["received"] if statuses else None,
                             acds[0]["received"] if acds else None) if x is not None], default=0)
    clock = ManualClock(start)
    engine = Engine(site, store, clock, warm=False, live=False)
    n = engine.replay(store.iter_events(), statuses, acds, batch=batch)
    end = now_ms if now_ms is not None else SystemClock().now_ms()
    clock.set(max(clock.now_ms(), end))
    engine.tick(clock.now_ms())
    return RebuildReport(
        events=n, statuses=len(statuses), acd=len(acds), seconds=time.perf_counter() - started, removed=removed,
        rows={t: derived.count(t) for t in DERIVED_TABLES}, now_ms=clock.now_ms(),
    )
