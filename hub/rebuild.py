"""`floorwatch hub rebuild`: recompute every derived table from the input log.

The ordered input log (events, device statuses, contact-center counts, the hub's session marks
and ticks), plus the leads' decisions, is the source of truth. A rebuild empties the derived
tables and the engine's checkpoint, then feeds the whole log by sequence through a fresh Engine,
exactly as the live engine consumed it, so the tables come out the same; excuses survive
because violation ids are reproducible. Time stops at the log's last input unless `now_ms` says
later. Run it with the hub stopped (the live engine keeps its own picture of what it wrote).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from edge.clock import ManualClock
from hub.engine.core import Engine
from hub.site import Site
from hub.store import Store
from hub.store.derived import DERIVED_TABLES, DerivedStore


@dataclass
class RebuildReport:
    inputs: int
    events: int
    seconds: float
    removed: dict[str, int]
    rows: dict[str, int]
    now_ms: int

    def summary(self) -> str:
        rows = ", ".join(f"{t} {n}" for t, n in self.rows.items())
        rate = self.inputs / self.seconds if self.seconds > 0 else 0
        return (f"rebuilt from {self.inputs} inputs ({self.events} events) in {self.seconds:.1f} s"
                f" ({rate:,.0f} inputs/s): {rows}")


# Inputs per consume() call when someone is watching the progress: small enough for a live
# line (a second or so of work each), large enough that the slicing costs nothing.
PROGRESS_SLICE = 5000

Progress = Callable[[int, int], None]  # (inputs consumed, inputs in the log)


def rebuild(site: Site, store: Store, *, now_ms: int | None = None, progress: Progress | None = None) -> RebuildReport:
    """Recompute every derived table from the log; `now_ms` is where time stops (default: the
    log's last input). `progress(done, total)` hears how far the engine has read the log: the
    log's position is read before, and the engine's `seq` after each slice of consume()."""
    started = time.perf_counter()
    derived = DerivedStore(store)
    removed = derived.clear_derived()
    last_seq, last_received = store.input_position()
    engine = Engine(site, store, ManualClock(last_received), warm=False, live=False, checkpoints=False)
    if progress is None:
        engine.consume()
    else:
        progress(engine.seq, last_seq)
        while engine.seq < last_seq:
            before = engine.seq
            engine.consume(limit=PROGRESS_SLICE)
            progress(engine.seq, last_seq)
            if engine.seq == before:  # nothing more to read (the log ends early): done
                break
    if now_ms is not None and now_ms > engine.now():
        engine.advance_to(now_ms)
    engine.checkpoint()  # the hub started after this resumes here instead of replaying
    return RebuildReport(
        inputs=last_seq, events=engine.stats["events"], seconds=time.perf_counter() - started, removed=removed,
        rows={t: derived.count(t) for t in DERIVED_TABLES}, now_ms=engine.now(),
    )
