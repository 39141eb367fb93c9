"""Scripted floors for tests and benches: a shift written as events at local times, played
through the real event log and a real Engine on a manual clock in milliseconds.

    floor = ScriptedFloor(site, store, day=dt.date(2026, 3, 10))
    floor.tap("kiosk-k1", badge_of("10001"), "08:15")
    floor.occupy("seat-a01", True, "08:20")
    floor.play(until="17:00")

Every device sends heartbeats (so it counts as reporting) unless the script takes it offline;
the engine is ticked every `tick_s` of scenario time, as HubService does every second.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge import wire
from edge.clock import ManualClock
from hub.cards import seen_uid
from hub.engine.core import Engine, Outcome
from hub.engine.site_time import local_ms
from hub.site import Site, load_site
from hub.sitegen import card_id, generate_site
from hub.store import IncomingEvent, Store
from hub.store.derived import DerivedStore

# Alerts about devices and rooms rather than agents; scenario assertions usually look at the rest.
FLOOR_ALERTS = ("FAC-ZONE-EMPTY", "DEV-OFFLINE", "DEV-CLOCK")


def scenario_site(root: Path, *, day: dt.date, tz: str = "Asia/Shanghai", seats: int = 8, zones: int = 2,
                  site_id: str = "t") -> Site:
    """A generated site (sim devices) with an empty roster: each scenario writes its own."""
    generate_site(root, site=site_id, seats=seats, zones=zones, roster_date=day, sim_devices=True, tz=tz)
    (root / "roster.csv").unlink()
    return load_site(root)


def badge_of(emp: str) -> str:
    """The card sitegen gives an agent (employee numbers start at 10001)."""
    return card_id(int(emp) - 10001)


def read_by(site: Site, device: str, card: str) -> str:
    """What `device`'s badge reader reports for `card` (a W26 door its lower 24 bits...), as a
    real driver of that kind would; a uid that is no card form is sent as given."""
    bits = site.reader_bits(device, "badge")
    if bits is not None:
        with contextlib.suppress(ValueError):
            return seen_uid(card, bits)
    return card


@dataclass(order=True)
class _Item:
    received: int
    order: int
    kind: str = field(compare=False)  # event | status | acd | mark
    payload: Any = field(compare=False)


class ScriptedFloor:
    def __init__(self, site: Site, store: Store, *, day: dt.date, heartbeat_s: float | None = None,
                 tick_s: float = 60, start: str = "06:00", devices: list[str] | None = None,
                 engine: Engine | None = None) -> None:
        self.site = site
        self.store = store
        self.day = day
        self.tz = site.tz
        self.t0 = self.at(start)
        self.clock = ManualClock(self.t0)
        self.engine = engine or Engine(site, store, self.clock)
        if engine is not None:
            self.engine.clock = self.clock
        # one report a minute keeps a device "reporting" (offline after 90 s) at half the events
        self.heartbeat_ms = int((heartbeat_s or min(60.0, site.rules.thresholds.offline_after_s * 2 / 3)) * 1000)
        self.tick_ms = int(tick_s * 1000)
        self.devices = devices if devices is not None else sorted(site.devices)
        self.seqs: dict[str, int] = {}
        self._items: list[_Item] = []
        self._order = 0
        self._n = 0
        self._offline: dict[str, list[tuple[int, int]]] = {}
        self._spooling: dict[str, list[tuple[int, int]]] = {}
        self._skew: dict[str, int] = {}
        self.played_until = self.t0
        self._outages: list[tuple[int, int]] = []
        # the scripted hub is connected and caught up from the start (a hub restart can be scripted)
        self.session("connected", self.t0)
        self.session("caught_up", self.t0)
        self.outcomes: list[Outcome] = []
        self.ids: dict[str, str] = {}  # label -> event id

    # ------------------------------------------------------------ time

    def at(self, when: str | int, day: dt.date | None = None) -> int:
        """UTC ms of a local "HH:MM[:SS]" on the scenario day ("+1 01:00" for the next day)."""
        if isinstance(when, int):
            return when
        d = day or self.day
        if when.startswith("+"):
            n, when = when[1:].split(" ", 1)
            d = d + dt.timedelta(days=int(n))
        return local_ms(d, dt.time.fromisoformat(when), self.tz)

    # ------------------------------------------------------------ script

    def _push(self, received: int, kind: str, payload: Any, order: int | None = None) -> None:
        self._order += 1
        self._items.append(_Item(received, self._order if order is None else order, kind, payload))

    def event(self, device: str, etype: str, when: str | int, body: dict[str, Any], *, delay_s: float = 0,
              ts: int | None = None, clock_ok: bool = True, label: str | None = None) -> str:
        t = self.at(when)
        seq = self.seqs.get(device, 0) + 1
        self.seqs[device] = seq
        eid = str(uuid.uuid4())
        if label:
            self.ids[label] = eid
        dev_ts = t + self._skew.get(device, 0) if ts is None else ts
        self._push(t + int(delay_s * 1000), "event", (eid, device, seq, dev_ts, etype, clock_ok, body))
        return eid

    def tap(self, device: str, uid: str, when: str | int, *, as_read: bool = False, **kw: Any) -> str:
        """A card presented at the device's badge reader, which reports what it sees of it (a W26
        door the lower 24 bits...); `as_read` sends `uid` exactly as given instead."""
        if not as_read:
            uid = read_by(self.site, device, uid)
        return self.event(device, "badge", when, {"uid": uid, "reader": "badge"}, **kw)

    def occupy(self, device: str, occupied: bool, when: str | int, **kw: Any) -> str:
        return self.event(device, "occupancy", when, {"occupied": occupied, "sensor": "mat"}, **kw)

    def button(self, device: str, which: str, when: str | int, **kw: Any) -> str:
        return self.event(device, "button", when, {"button": which}, **kw)

    def inventory(self, device: str, tags: list[str], when: str | int, **kw: Any) -> str:
        return self.event(device, "inventory", when, {"tags": tags, "reader": "tags"}, **kw)

    def passage(self, device: str, when: str | int, count: int = 1, **kw: Any) -> str:
        """A door's presence counter: people passing."""
        return self.event(device, "occupancy", when, {"occupied": True, "sensor": "counter", "count": count}, **kw)

    def skew(self, device: str, seconds: float) -> None:
        """The device's clock is this far ahead (+) or behind (-) the hub's, from now on."""
        self._skew[device] = int(seconds * 1000)

    def shutdown(self, device: str, when: str | int) -> None:
        """The device is stopped cleanly at `when` (its own `offline` status, stamped then) and
        stays silent."""
        t = self.at(when)
        self._offline.setdefault(device, []).append((t, 1 << 62))
        self._push(t, "status", wire.Status(v=1, device=device, state="offline", ts=t, fw="t", config="t"))

    def offline(self, device: str, start: str | int, end: str | int, *, last_will: bool = True,
                spool: bool = False) -> None:
        """The device is cut off from start to end (its last will fires 45 s in). With spool, it
        keeps recording (heartbeats too, queued behind a backlog: spooled > 0) and delivers
        everything when it comes back; events scripted in the span should be given delay_s."""
        a, b = self.at(start), self.at(end)
        (self._spooling if spool else self._offline).setdefault(device, []).append((a, b))
        if last_will:
            self._push(a + 45_000, "status", wire.Status(v=1, device=device, state="offline", ts=a, fw="t", config="t"))
        self._push(b, "status", wire.Status(v=1, device=device, state="online", ts=b, fw="t", config="t"))

    def hub_outage(self, start: str | int, end: str | int, *, backlog_s: float = 1.0, hub: str | None = None) -> None:
        """The hub is down from start to end: the broker queues everything sent meanwhile
        (heartbeats still say nothing is spooled on the device) and delivers it when the hub
        reconnects at end; the hub is caught up backlog_s later. Play past `end` in one go. `hub`:
        the hub that was away, when several share the site (its marks name it)."""
        a, b = self.at(start), self.at(end)
        self._outages.append((a, b))
        named = {"hub": hub} if hub else {}
        self.session("disconnected", a, **named)
        self._push(b, "mark", {"mark": "connected", **named}, order=-1)  # before the backlog
        self.session("caught_up", b + int(backlog_s * 1000), **named)

    def session(self, mark: str, when: str | int, **body: Any) -> None:
        """The hub's own session mark in the input log: connected, disconnected, caught_up; `body`:
        what else a mark says (the hub that wrote it when several share the site, its validity)."""
        self._push(self.at(when), "mark", {"mark": mark, **body})

    def acd(self, idle: int, when: str | int) -> None:
        t = self.at(when)
        self._push(t, "acd", wire.AcdFeed(v=1, ts=t, idle=idle))

    def sit(self, seat_device: str, uid: str, start: str | int, end: str | int | None = None, *,
            tap_delay_s: float = 20) -> None:
        """Sit down at `start`, tap in after tap_delay_s; stand up (vacant) at `end`."""
        a = self.at(start)
        self.occupy(seat_device, True, a)
        self.tap(seat_device, uid, a + int(tap_delay_s * 1000))
        if end is not None:
            self.occupy(seat_device, False, end)

    # ------------------------------------------------------------ play

    def _silent(self, device: str, t: int) -> bool:
        return any(a <= t < b for a, b in self._offline.get(device, ()))

    def play(self, until: str | int, *, batch: int = 500) -> Outcome:
        """Feed everything scripted up to `until` (plus heartbeats), ticking as time passes."""
        end = self.at(until)
        items = sorted(i for i in self._items if i.received <= end)
        self._items = [i for i in self._items if i.received > end]
        hb: list[_Item] = []
        start = self.played_until
        first_hb = start - start % self.heartbeat_ms + self.heartbeat_ms
        for dev in self.devices:
            t = first_hb
            while t <= end:
                spooled = next((b for a, b in self._spooling.get(dev, ()) if a <= t < b), None)
                if spooled is not None:  # recorded now, delivered when the link is back
                    hb.append(_Item(spooled + 1, 0, "hb", (dev, t, 1)))
                elif not self._silent(dev, t):
                    hb.append(_Item(t, 0, "hb", (dev, t, 0)))
                t += self.heartbeat_ms
        for item in items + hb:  # what the broker held while the hub was down arrives at its return
            if item.kind != "mark":
                for a, b in self._outages:
                    if a <= item.received < b:
                        if b > end:
                            raise ValueError("play past the end of a hub outage")
                        item.received = b
        merged = sorted(items + hb)
        total = Outcome()
        next_tick = start - start % self.tick_ms + self.tick_ms
        pending: list[IncomingEvent] = []

        def flush_pending() -> None:
            if pending:
                stored = self.store.append_events(pending)
                pending.clear()
                total.extend(self.engine.process(stored))

        def down(t: int) -> bool:  # a hub that is down logs no ticks
            return any(a <= t < b for a, b in self._outages)

        for item in merged:
            while next_tick <= item.received:
                flush_pending()
                self.clock.set(max(self.clock.now_ms(), next_tick))
                if not down(next_tick):
                    total.extend(self.engine.tick(next_tick))
                next_tick += self.tick_ms
            if item.kind in ("status", "acd", "mark"):
                flush_pending()
            self.clock.set(max(self.clock.now_ms(), item.received))
            if item.kind == "hb":
                dev, at, backlog = item.payload
                seq = self.seqs.get(dev, 0) + 1
                self.seqs[dev] = seq
                self._n += 1
                pending.append(IncomingEvent(f"00000000-0000-4000-8000-{self._n:012x}", dev, seq,
                                             at + self._skew.get(dev, 0), item.received, "heartbeat", True,
                                             {"uptime_s": 1, "spooled": backlog, "dropped": 0}))
            elif item.kind == "event":
                eid, device, seq, ts, etype, clock_ok, body = item.payload
                pending.append(IncomingEvent(eid, device, seq, ts, item.received, etype, clock_ok, body))
            elif item.kind == "status":
                total.extend(self.engine.on_status(item.payload, received=item.received))
            elif item.kind == "mark":
                self.store.log_input("mark", item.received, item.payload)
            else:
                total.extend(self.engine.on_acd(item.payload, received=item.received))
            if len(pending) >= batch:
                flush_pending()
        flush_pending()
        while next_tick <= end:
            self.clock.set(max(self.clock.now_ms(), next_tick))
            total.extend(self.engine.tick(next_tick))
            next_tick += self.tick_ms
        self.clock.set(max(self.clock.now_ms(), end))
        total.extend(self.engine.tick(end))
        self.played_until = end
        self.outcomes.append(total)
        return total

    def roster(self, rows: list[tuple], day: dt.date | None = None) -> None:
        """Roster rows (employee_no, shift, seat[, meal_start]) for the scenario day."""
        d = (day or self.day).isoformat()
        DerivedStore(self.store).insert_roster(
            [{"date": d, "employee_no": r[0], "shift": r[1], "seat": r[2], "meal_start": r[3] if len(r) > 3 else None}
             for r in rows])

    # ------------------------------------------------------------ results

    def local(self, ms: int | None) -> str | None:
        """A UTC ms time as local HH:MM:SS (with +N for later days), for readable assertions."""
        if ms is None:
            return None
        t = dt.datetime.fromtimestamp(ms / 1000, self.tz)
        days = (t.date() - self.day).days
        return (f"+{days} " if days else "") + t.strftime("%H:%M:%S")

    def found(self, *, alerts: bool = False, rule: str | None = None) -> set[tuple]:
        """Violations as (rule, kind, agent, seat, local start, local end) for exact assertions."""
        return {
            (v["rule"], v["kind"], v["employee_no"], v["seat"], self.local(v["start"]), self.local(v["end"]))
            for v in self.violations(rule)
            if alerts or v["rule"] not in FLOOR_ALERTS
        }

    def violations(self, rule: str | None = None) -> list[dict[str, Any]]:
        return self.engine.derived.violations(rule=rule)

    def attendance(self, emp: str) -> list[dict[str, Any]]:
        rows = [r for d in {self.day.isoformat(), (self.day - dt.timedelta(days=1)).isoformat()}
                for r in self.engine.derived.attendance(d) if r["employee_no"] == emp]
        return sorted(rows, key=lambda r: (r["date"], r["shift"]))
