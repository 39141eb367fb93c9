"""The floor simulator: the day's plan is plausible and reproducible, and a simulated floor of
real agents on simulated drivers reaches a real hub (the demo's acceptance: events from at least
20 devices within 15 s), with a ground-truth file that matches the hub's event log exactly."""

from __future__ import annotations

import collections
import datetime as dt
import json
import random
import time

import pytest

from edge.clock import ScaledClock
from hub.ingest import Ingest
from hub.simfloor import SimFloor, default_start_ms, local_ms, plan_floor
from hub.site import load_site
from hub.sitegen import generate_site
from tests.waiting import wait_until

DAY = dt.date(2026, 11, 30)


@pytest.fixture(scope="module")
def floor_site(tmp_path_factory):
    """The demo's floor: 40 seats, 2 doors, 1 kiosk, today's two shifts."""
    root = tmp_path_factory.mktemp("floor")
    return load_site(generate_site(root / "site", site="simfloor", sim_devices=True))  # the site's today


@pytest.fixture(scope="module")
def dated_site(tmp_path_factory):
    root = tmp_path_factory.mktemp("dated")
    return load_site(generate_site(root / "site", site="dated", roster_date=DAY, sim_devices=True))


def test_the_plan_is_plausible(dated_site):
    site = dated_site
    start = local_ms(DAY, "07:50", site.tz)
    plan = plan_floor(site, start, random.Random(11))
    assert plan == sorted(plan) and plan == plan_floor(site, start, random.Random(11))
    assert plan != plan_floor(site, start, random.Random(12))
    shift_start = {r.employee_no: local_ms(DAY, site.shift(r.shift).start, site.tz) for r in site.roster}
    roll = {a.who: a.t_ms for a in plan if a.note == "roll_call"}
    assert 0.85 * len(site.roster) <= len(roll) < len(site.roster)  # a few are absent
    early_min = [(shift_start[who] - t) / 60000 for who, t in roll.items()]
    assert sum(10 <= m <= 20 for m in early_min) >= 0.6 * len(roll)  # most arrive 10-20 min early
    assert any(0 < m < 10 for m in early_min) and any(m < 0 for m in early_min)  # roll-call late, late
    badges = {b.upper() for a in site.agents for b in a.badges}
    taps = [a for a in plan if a.kind == "tap"]
    unknown = [a for a in taps if a.note == "unknown"]
    assert unknown and all(a.value not in badges for a in unknown)
    assert all(a.value in badges for a in taps if a.note != "unknown")
    # every seat's occupancy alternates: nobody sits down twice without leaving
    by_seat = collections.defaultdict(list)
    for a in plan:
        if a.kind == "occupancy":
            by_seat[a.device].append(a.value)
    for device, values in by_seat.items():
        assert values[0] is True and all(x != y for x, y in zip(values, values[1:], strict=False)), device
    breaks = [a for a in plan if a.kind == "occupancy" and a.note == "break"]
    backs = {(a.device, a.who): a.t_ms for a in plan if a.note == "break_back" and a.kind == "occupancy"}
    assert len(breaks) > 40 and len(backs) > 0
    assert {a.value for a in plan if a.kind == "button"} == {"break", "meal", "back"}
    moves = [a for a in plan if a.kind == "tag_move"]  # a headset borrowed by a neighbour, and back
    assert moves and len(moves) % 2 == 0 and all(a.value[1] != a.device for a in moves)
    assert all(a.t_ms >= start for a in plan)


def test_a_floor_started_mid_shift_is_already_seated(dated_site):
    site = dated_site
    start = local_ms(DAY, "14:00", site.tz)
    plan = plan_floor(site, start, random.Random(5))
    day_agents = {r.employee_no for r in site.roster if r.shift == "day"}
    assert not [a for a in plan if a.note == "roll_call" and a.who in day_agents]
    sits = [a for a in plan if a.note == "sit" and a.who in day_agents]
    assert len(sits) >= 0.85 * len(day_agents) and all(a.t_ms <= start + 90_000 for a in sits)


def test_the_sim_clock_starts_before_roll_call(dated_site):
    site = dated_site
    assert default_start_ms(site, local_ms(DAY, "05:00", site.tz)) == local_ms(DAY, "07:50", site.tz)
    assert default_start_ms(site, local_ms(DAY, "14:00", site.tz)) == local_ms(DAY, "14:00", site.tz)
    other_day = DAY + dt.timedelta(days=3)  # a dated roster is replayed on any day
    assert default_start_ms(site, local_ms(other_day, "05:00", site.tz)) == local_ms(other_day, "07:50", site.tz)


def test_sim_floor_reaches_the_hub_and_matches_its_truth(broker, store, floor_site, tmp_path):
    site = floor_site
    ingest = Ingest(store, site.id, broker.host, broker.port, client_id=f"hub-{site.id}-{time.time_ns()}").start()
    today = dt.datetime.now(site.tz).date()
    clock = ScaledClock(local_ms(today, "08:05", site.tz), speed=300)  # 20 s of real time: 08:05 to 09:45
    truth = tmp_path / "truth.jsonl"
    floor = SimFloor(site, broker.host, broker.port, spool_dir=tmp_path / "spool", clock=clock, seed=3,
                     truth_path=truth)
    started = time.monotonic()
    floor.start()
    try:
        assert len(floor.agents) == 43 and floor.clock is clock
        assert wait_until(lambda: store.distinct_event_devices() >= 20, timeout=15), "demo acceptance: 20 devices in 15 s"
        first_devices_s = time.monotonic() - started
        kiosk = [a for a in floor.plan if a.device == "kiosk-k1" and a.t_ms < local_ms(today, "08:30", site.tz)]
        assert kiosk, "nobody planned at the kiosk before 08:30"
        assert wait_until(lambda: len(store.recent_events(device="kiosk-k1", type="badge", limit=1000)) >= len(kiosk),
                          timeout=60)
        assert wait_until(lambda: store.recent_events(type="occupancy", limit=1)
                          and store.recent_events(type="inventory", limit=1), timeout=30)
    finally:
        floor.stop()
    assert ingest.wait_idle(30)
    time.sleep(0.5)
    ingest.wait_idle(30)
    lines = [json.loads(line) for line in truth.read_text(encoding="utf-8").splitlines()]
    hub = {(e.device, e.seq): e for e in store.iter_events()}
    assert len(lines) == len(hub), "every generated event reached the hub, nothing else did"
    for t in lines:
        e = hub[(t["device"], t["seq"])]
        assert (e.event_id, e.type, e.ts, e.body) == (t["id"], t["type"], t["ts"], t["body"])
        assert e.body["clock_sync"] is True  # a simulated clock is the simulation's: synchronised
    assert all(d["state"] == "offline" for d in store.devices())  # a clean stop: offline statuses
    ingest.stop()
    print(f"first 20 devices after {first_devices_s:.2f} s; {len(lines)} events")
