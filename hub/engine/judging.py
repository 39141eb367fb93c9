"""The engine's life on a hub, wherever it runs (its own process, hub.engine.process, or the hub's
thread on a simulated clock, hub.service): judge the input log while this hub holds the site's
engine lease (hub.store.lease), stand by while another hub does.

Standing by, the hub tries for the lease every LEASE_RETRY_S. Once it holds it, the engine is
built from what the database holds then (another hub's engine may have written since) and resumes
from the shared checkpoint. Judging, it consumes the log at every wake or tick and checks the
lease each time: one whose database connection dropped went with it, so the engine stops judging
and stands by, and two engines never write one site's rows.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

LEASE_RETRY_S = 0.5  # a standby's tries for the engine lease (the time a failover waits at most for it)


def judge_while_leased(lease: Any, build: Callable[[], Any], *, stop: threading.Event, wake: threading.Event,
                       tick_s: float, emit: Any, on_standby: Callable[[], None],
                       on_judging: Callable[[Any], None], engine: Any = None, site: str = "", name: str = "hub") -> Any:
    """Run until `stop`; returns the engine judging then (None: standing by). `lease` None: an
    engine handed to the hub, judged without one. `engine`: one built already while holding the lease.
    `site`, `name`: the site and this hub, for the log."""
    while not stop.is_set():
        if engine is None:
            if lease is not None and not lease.still_held() and not lease.try_acquire():
                log.info("engine: another hub runs site %s's engine, or none can yet; %s stands by", site, name)
                on_standby()
                while not lease.try_acquire():
                    if stop.wait(LEASE_RETRY_S):
                        return None
                log.info("engine: %s took over site %s's engine", name, site)
            try:
                engine = build()
            except Exception:  # the database went while it was read (a failover): the lease is checked again
                log.exception("engine: building the engine failed; again in 1 s")
                stop.wait(1.0)
                continue
        try:
            engine.resume(emit=emit)  # taps made while it catches up are answered meanwhile
        except Exception:
            log.exception("engine: resume failed; judging from here on")
        on_judging(engine)
        while not stop.is_set():
            wake.wait(tick_s)
            wake.clear()
            if stop.is_set():
                break
            if lease is not None and not lease.still_held():
                log.error("engine: %s lost site %s's engine lease (its database connection dropped)", name, site)
                engine = None  # built anew once it holds the lease again (told standing by if it waits)
                break
            try:
                engine.consume(emit=emit)  # what each batch decided, as soon as it is decided
            except Exception:
                log.exception("engine: failed on the input log; retrying")
                stop.wait(1.0)
    return engine
