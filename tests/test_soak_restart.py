"""Found by the 2,000-seat soak: a hub restarted after a SIGKILL must keep what it judged before.

The soak's checker saw whole days of attendance turn to "pending" and their violations vanish
after the hub's second restart: the old warm start replayed only the last 24 hours of the log,
then recomputed every duty of the dates around them, including duties whose events it did not
replay. This test plays two days of a 100-seat floor (bench/soak_plan.py, heartbeats included)
into the engine, restarts it the evening of the second day, and compares every derived table
before and after: once from a checkpoint written that morning (the tail replayed), once with no
checkpoint at all (the engine replays what it keeps in memory and leaves older dates settled).
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from bench.soak_plan import SoakConfig, make_site, plan, write_run
from edge.clock import ManualClock
from hub.engine import Engine
from hub.site import load_site
from hub.store import IncomingEvent, Store
from hub.store.derived import DERIVED_TABLES

CHARGED = "SELECT count(*) FROM violations WHERE date = '2026-03-02' AND employee_no IS NOT NULL"
JUDGED = "SELECT count(*) FROM attendance WHERE date = '2026-03-02' AND rollcall != 'pending'"


@pytest.mark.parametrize("checkpoint", [True, False], ids=["checkpoint", "no-checkpoint"])
def test_a_restart_the_next_evening_keeps_the_first_days_judgments(tmp_path, checkpoint):
    cfg = SoakConfig(seats=100, zones=4, days=2, workers=1, broker_kills=0, hub_kills=0, worker_kills=0, cuts=0,
                     skews=0, malformed=0, duplicates=0)
    site_dir = make_site(tmp_path / "site", cfg, 1883, tmp_path / "spool")
    p, roster = plan(cfg)
    write_run(tmp_path, p, roster, site_dir, {})
    site = load_site(site_dir)
    seq: dict[str, int] = {}
    events = []

    def add(t: int, device: str, type_: str, body: dict) -> None:
        seq[device] = seq.get(device, 0) + 1
        events.append(IncomingEvent(str(uuid.uuid4()), device, seq[device], t, t + 100, type_, True, body))

    for a in p.acts:
        if a.kind == "tap":
            add(a.t, a.device, "badge", {"uid": a.value, "reader": "badge"})
        elif a.kind == "occupancy":
            add(a.t, a.device, "occupancy", {"occupied": a.value, "sensor": "seat"})
        elif a.kind == "button":
            add(a.t, a.device, "button", {"button": a.value})
    for device in site.devices:  # every device reporting all along: no data gaps
        for t in range(p.start_ms, p.end_ms, 1_800_000):
            add(t, device, "heartbeat", {"uptime_s": 1, "spooled": 0, "dropped": 0})
    events.sort(key=lambda e: e.received)
    restart = int(dt.datetime(2026, 3, 3, 20, 0, tzinfo=site.tz).timestamp() * 1000)
    morning = int(dt.datetime(2026, 3, 3, 9, 0, tzinfo=site.tz).timestamp() * 1000)

    store = Store(tmp_path / "hub.db")
    try:
        clock = ManualClock(p.start_ms)
        engine = Engine(site, store, clock, checkpoints=False)
        live = [e for e in events if e.received < restart]
        saved = False
        for i in range(0, len(live), 200):
            batch = live[i:i + 200]
            clock.set(batch[-1].received)
            engine.process(store.append_events(batch))
            engine.tick(batch[-1].received)
            if checkpoint and not saved and batch[-1].received >= morning:
                engine.checkpoint()
                saved = True
        engine.tick(restart)
        before = store.conn.execute(CHARGED).fetchone()[0], store.conn.execute(JUDGED).fetchone()[0]
        assert before[0] > 20 and before[1] > 90  # a day's worth was judged
        tables = {t: engine.derived.snapshot(t) for t in DERIVED_TABLES}
        assert (engine.derived.checkpoint() is not None) == checkpoint

        restarted = Engine(site, store, ManualClock(restart))  # SIGKILL, then the hub starts again
        restarted.tick(restart + 1000)
        after = store.conn.execute(CHARGED).fetchone()[0], store.conn.execute(JUDGED).fetchone()[0]
        assert after == before
        for t in DERIVED_TABLES:
            if t not in ("seat_state", "equipment_state"):  # live states: a second later is a later state
                assert restarted.derived.snapshot(t) == tables[t], t
    finally:
        store.close()
