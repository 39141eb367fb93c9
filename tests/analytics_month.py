"""A generated month of the engine's own output for the analytics tests: a sitegen site (8 seats,
2 zones, 2 teams), eight day-shift agents played through the real Engine by ScriptedFloor
(hub.engine.scenario, as test_assess_month does) on every weekday from 26 October to 20
November 2026, with seeded random behaviour: on time, late for roll call, late, absent, long
breaks, long meals, early departures. October's week gives the month-over-month chart its
"before"."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

from hub.site import Site, load_site
from hub.sitegen import generate_site
from hub.store import Store

FIRST = dt.date(2026, 10, 26)
DAYS = [FIRST + dt.timedelta(days=i) for i in range(26) if (FIRST + dt.timedelta(days=i)).weekday() < 5]
AGENTS = [f"1000{i}" for i in range(1, 9)]
SEATS = ["A01", "A02", "A03", "A04", "B01", "B02", "B03", "B04"]
MEALS = ["11:00", "11:30", "12:00", "12:30"]
COVERAGE = '\n[[coverage]]\ndays = "workday"\nhours = "08-16"\nmin_agents = 7\n'


def _hm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def play_month(root: Path, site_id: str, seed: int = 15) -> tuple[Site, Store]:
    from hub.engine.scenario import ScriptedFloor

    site_dir = generate_site(root / "site", site=site_id, seats=8, zones=2, teams=2, doors=1, kiosks=1)
    rows = ["date,employee_no,shift,seat,meal_start"]
    rows += [f"{d},{emp},day,{seat},{MEALS[i % 4]}" for d in DAYS for i, (emp, seat) in enumerate(zip(AGENTS, SEATS, strict=True))]
    (site_dir / "roster.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    with (site_dir / "rules.toml").open("a", encoding="utf-8") as fh:
        fh.write(COVERAGE)
    site = load_site(site_dir)
    store = Store(root / "hub.db")
    devices = sorted(site.devices)
    floor = ScriptedFloor(site, store, day=DAYS[0], start="07:30", tick_s=300, devices=devices)
    uid = {a.employee_no: a.badges[0] for a in site.agents}
    rng = random.Random(seed)
    for day in DAYS:
        n = (day - DAYS[0]).days
        p = f"+{n} " if n else ""
        for i, (emp, seat) in enumerate(zip(AGENTS, SEATS, strict=True)):
            dev = f"seat-{seat.lower()}"
            r = rng.random()
            if r < 0.07:
                continue  # absent
            arrive = rng.randint(515, 522) if r < 0.15 else rng.randint(501, 507) if r < 0.27 else rng.randint(485, 497)
            floor.tap("kiosk-k1", uid[emp], p + _hm(arrive))
            floor.sit(dev, uid[emp], p + _hm(arrive + 3))
            if rng.random() < 0.25:  # a break, sometimes too long
                out = rng.randint(590, 620)
                floor.occupy(dev, False, p + _hm(out))
                floor.occupy(dev, True, p + _hm(out + rng.choice([6, 8, 13, 18, 25])))
            meal = int(MEALS[i % 4][:2]) * 60 + int(MEALS[i % 4][3:])
            floor.occupy(dev, False, p + _hm(meal + 1))
            floor.occupy(dev, True, p + _hm(meal + 1 + rng.choice([22, 25, 28, 28, 36, 45])))
            leave = rng.randint(870, 940) if rng.random() < 0.06 else 965
            floor.occupy(dev, False, p + _hm(leave))
        floor.play(until=p + "17:00")
        nxt = next((d for d in DAYS if d > day), None)
        if nxt is not None:
            for dev in devices:  # the floor is switched off overnight and at weekends
                floor.offline(dev, p + "17:30", f"+{(nxt - DAYS[0]).days} 05:00", last_will=False)
    return site, store
