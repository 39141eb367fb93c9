"""Who is supposed to be where: duties from the roster and the leads' decisions, badge owners.

A *duty* is one agent's shift on one date at one seat, after the leads' decisions are applied:
an approved swap (换班) hands the duty to another agent, a seat reassignment moves it, granted
leave excuses it, a meal slot sets its meal time. The engine judges duties, never raw roster
rows, so a lead's decision changes the verdict the moment it is recorded.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
from dataclasses import dataclass
from typing import Any

from hub.cards import CardIndex, parse_card, tap_key
from hub.engine.site_time import ARRIVAL_LOOKBACK_MS, shift_key, shift_window, slot_ms
from hub.site import Agent, Site
from hub.store.derived import DerivedStore


@dataclass(frozen=True)
class Duty:
    date: str
    shift: str
    shift_name: str
    emp: str
    name: str
    team: str
    seat: str  # where the agent should sit (after a lead's reassignment)
    rostered_seat: str  # what the roster said
    start: int
    end: int
    meal_start: int | None
    meal_end: int | None
    meal_minutes: int
    leave: str | None
    swapped_from: str | None  # the rostered agent when an approved swap handed this duty over
    reassigned: bool

    @property
    def key(self) -> str:
        return shift_key(self.date, self.shift)

    @property
    def unit(self) -> tuple:
        return ("duty", self.date, self.shift, self.emp)

    def covers(self, t: int, before: int = ARRIVAL_LOOKBACK_MS, after: int = 0) -> bool:
        return self.start - before <= t < self.end + after


@dataclass(frozen=True)
class Owner:
    status: str  # ok | unknown | revoked | ambiguous (the reader cannot tell two cards apart)
    agent: Agent | None


class Plans:
    """Duties for the local dates the engine has seen, loaded lazily from the derived store."""

    def __init__(self, site: Site, derived: DerivedStore) -> None:
        self.site = site
        self.derived = derived
        self.tz = site.tz
        self.agents: dict[str, Agent] = {a.employee_no: a for a in site.agents}
        self.templates = {s.id: s for s in site.info.shifts}
        self.loaded: set[str] = set()
        self._last_bucket = -1
        self.duties: dict[tuple, Duty] = {}
        self.by_agent: dict[str, list[Duty]] = {}
        self.by_seat: dict[str, list[Duty]] = {}
        self.by_date: dict[str, list[Duty]] = {}
        self._badges_static: dict[str, Agent] = {}
        self._badges_inactive: dict[str, Agent] = {}
        self._badge_changes: dict[str, list[tuple[int, str, str | None]]] = {}
        self._upgraded_from: dict[str, list[tuple[int, str]]] = {}
        self.enrolment_taps: dict[str, dict] = {}  # event id -> the enrolment that tap answered
        self.cards = CardIndex(())
        self.equipment_home: dict[str, str] = {}
        self.positions: dict[str, list[str]] = {}
        self._position_of: dict[str, str] = {}
        self.version = 0  # bumped whenever duties or badges change: what callers may cache by
        self._owner_memo: dict[tuple[str, int], Owner] = {}
        self._duty_memo: dict[tuple[str, int, int, int], Duty | None] = {}
        for seat in site.info.seats:
            self.positions.setdefault(seat.position or seat.id, []).append(seat.id)
            self._position_of[seat.id] = seat.position or seat.id
        self.load_badges()

    # ------------------------------------------------------------ badges and equipment

    def load_badges(self) -> None:
        """Cards by canonical text (hub.cards): agents.csv, then the leads' replacements, revocations
        and upgrades. An upgraded card is matched by its full id only (its weaker form would make
        every read of it ambiguous) and owned, before the upgrade, as its weaker form was."""
        self._changed()
        self._badges_static = {c.text: a for a in self.site.agents if a.active for c in a.cards}
        self._badges_inactive = {c.text: a for a in self.site.agents if not a.active for c in a.cards}
        changes: dict[str, list[tuple[int, str, str | None]]] = {}
        for row in self.derived.badge_changes():
            changes.setdefault(_card_text(row["uid"]), []).append((row["at"], row["action"], row["employee_no"]))
        self._badge_changes = changes
        self._upgraded_from = _upgrades(changes)
        superseded = {old for pairs in self._upgraded_from.values() for _, old in pairs}
        known = [c for c in self.site.card_index().cards if c.text not in superseded]
        for text in changes.keys() - superseded:
            with contextlib.suppress(ValueError):  # a change recorded before cards had forms
                known.append(parse_card(text))
        self.cards = CardIndex(known)
        self.enrolment_taps = self.derived.enrolment_taps()
        homes = {e.tag.upper(): e.home_seat for e in self.site.equipment}
        homes.update({t.upper(): s for t, s in self.derived.equipment_assignments().items()})
        self.equipment_home = homes

    def _changed(self) -> None:
        """Duties or badges changed: what was memoized from them goes."""
        self.version += 1
        self._owner_memo.clear()
        self._duty_memo.clear()

    def tap_key(self, device: str, body: dict) -> str:
        """The card a badge event is, as the engine files it (hub.cards.tap_key): the card's
        canonical text when the bits this reader sees match exactly one card; otherwise the
        read, marked unknown or ambiguous."""
        declared = self.site.reader_bits(device, body.get("reader"))
        return tap_key(self.cards, str(body["uid"]), declared, body.get("card_bits"))

    def owner(self, uid: str, t: int) -> Owner:
        """Whose badge `uid` (a card key, see tap_key) was at time t (a revoked badge was valid
        before its revocation). Memoized: every evaluation asks it again of each tap of the day."""
        key = (uid, t)
        memo = self._owner_memo.get(key)
        if memo is None:
            memo = self._owner_memo[key] = self._owner(uid, t)
        return memo

    def _owner(self, uid: str, t: int) -> Owner:
        if uid.startswith("ambiguous:"):
            return Owner("ambiguous", None)
        for at, old in self._upgraded_from.get(uid, ()):
            if t < at:  # before the upgrade the registry knew this card by its weaker form
                return self._owner(old, t)
        agent = self._badges_static.get(uid)
        status = "ok" if agent is not None else "unknown"
        if agent is None and uid in self._badges_inactive:
            agent, status = self._badges_inactive[uid], "revoked"
        for at, action, emp in self._badge_changes.get(uid, ()):
            if at > t:
                break
            if action == "revoke":
                status = "revoked"
            elif action == "assign" and emp in self.agents:
                agent, status = self.agents[emp], "ok"
        return Owner(status, agent)

    def rekey(self, key: str) -> str:
        """A tap filed as unknown or ambiguous (hub.cards.Match.key), matched again against the
        cards known now; a key that is no read (the reader's width was not known) stays."""
        for prefix in ("unknown:", "ambiguous:"):
            if key.startswith(prefix) and "?" not in key:
                try:
                    read = parse_card(key[len(prefix):])
                except ValueError:
                    return key
                return self.cards.match(read).key
        return key

    def holder(self, uid: str, t: int) -> Agent | None:
        """Who held card `uid` at time t, for attributing a tap in a report: the owner while the
        card was valid; nobody after a recorded revocation (a found badge is not its old holder);
        an agent who has left (agents.csv active=false, no recorded change) keeps their history."""
        owner = self.owner(uid, t)
        if owner.status == "ok":
            return owner.agent
        if owner.status == "revoked" and not any(a == "revoke" and at <= t for at, a, _ in self._badge_changes.get(uid, ())):
            return owner.agent
        return None

    # ------------------------------------------------------------ duties

    def ensure(self, dates: set[str]) -> set[str]:
        """Load plans for dates not loaded yet; returns the newly loaded dates."""
        fresh = {d for d in dates if d not in self.loaded}
        if fresh:
            self._load(fresh)
        return fresh

    def ensure_around(self, t: int) -> set[str]:
        """Plans for the local day of t and the days either side (night shifts, handovers)."""
        bucket = t // 3_600_000
        if bucket == self._last_bucket:
            return set()
        self._last_bucket = bucket
        day = dt.datetime.fromtimestamp(t / 1000, self.tz).date()
        return self.ensure({(day + dt.timedelta(days=k)).isoformat() for k in (-1, 0, 1)})

    def badge_state(self) -> tuple[Any, ...]:
        """What decides who holds which badge when (static cards, dated changes, enrolments): the
        engine compares it across a reload to know whether every tap must be re-attributed."""
        return (self._badges_static, self._badge_changes, self.enrolment_taps)

    def reload(self) -> set[tuple]:
        """Re-read every loaded date; returns the units of duties that changed, appeared or went."""
        before = dict(self.duties)
        dates = set(self.loaded)
        self._last_bucket = -1
        self.loaded.clear()
        self.duties.clear()
        self.by_agent.clear()
        self.by_seat.clear()
        self.by_date.clear()
        self.load_badges()
        self._load(dates)
        changed = {k for k in before.keys() | self.duties.keys() if before.get(k) != self.duties.get(k)}
        return {("duty", *k) for k in changed}

    def _load(self, dates: set[str]) -> None:
        plans = self.derived.plans_for(dates)
        leave = {(r["date"], r["employee_no"]): r["kind"] for r in plans["leave"]}
        swaps = {(r["date"], r["shift"], r["from_employee_no"]): r for r in plans["swaps"]}
        moves = {(r["date"], r["shift"], r["employee_no"]): r["seat"] for r in plans["seat_assignments"]}
        for r in plans["roster"]:
            tmpl = self.templates.get(r["shift"])
            if tmpl is None:
                continue
            day = dt.date.fromisoformat(r["date"])
            w = shift_window(day, tmpl, self.tz)
            emp = r["employee_no"]
            swap = swaps.get((r["date"], r["shift"], emp))
            swapped_from = None
            if swap is not None and swap["to_employee_no"] in self.agents:
                swapped_from, emp = emp, swap["to_employee_no"]
            agent = self.agents.get(emp)
            if agent is None:
                continue
            seat = moves.get((r["date"], r["shift"], emp), r["seat"])
            meal_start = meal_end = None
            if r.get("meal_start"):
                meal_start = slot_ms(day, r["meal_start"], w.start, self.tz)
                meal_end = meal_start + tmpl.meal_minutes * 60_000
            duty = Duty(
                date=r["date"], shift=r["shift"], shift_name=tmpl.name, emp=emp, name=agent.name, team=agent.team,
                seat=seat, rostered_seat=r["seat"], start=w.start, end=w.end, meal_start=meal_start,
                meal_end=meal_end, meal_minutes=tmpl.meal_minutes, leave=leave.get((r["date"], emp)),
                swapped_from=swapped_from, reassigned=seat != r["seat"],
            )
            self.duties[(duty.date, duty.shift, duty.emp)] = duty
            self._index(duty)
        self.loaded |= dates
        self._changed()

    def _index(self, duty: Duty) -> None:
        for index, k in ((self.by_agent, duty.emp), (self.by_seat, duty.seat)):
            lst = index.setdefault(k, [])
            bisect.insort(lst, duty, key=lambda d: (d.start, d.emp))
        self.by_date.setdefault(duty.date, []).append(duty)

    def get(self, unit: tuple) -> Duty | None:
        return self.duties.get(unit[1:])

    def of_agent(self, emp: str) -> list[Duty]:
        return self.by_agent.get(emp, [])

    def at_seat(self, seat: str) -> list[Duty]:
        return self.by_seat.get(seat, [])

    def agent_duty_at(self, emp: str, t: int, before: int = ARRIVAL_LOOKBACK_MS, after: int = 0) -> Duty | None:
        """The agent's duty a moment belongs to: the earliest one not yet over (lookback before start).
        Memoized (sessions and taps ask it of every tap, every evaluation)."""
        key = (emp, t, before, after)
        if key in self._duty_memo:
            return self._duty_memo[key]
        found = next((d for d in self.of_agent(emp) if d.covers(t, before, after)), None)
        self._duty_memo[key] = found
        return found

    def seat_duty_at(self, seat: str, t: int) -> Duty | None:
        """The duty running at a seat at t (the later one when two overlap, e.g. at handover)."""
        found = None
        for d in self.at_seat(seat):
            if d.start <= t < d.end:
                found = d
        return found

    def duties_near(self, seat: str, t: int, margin: int) -> list[Duty]:
        return [d for d in self.at_seat(seat) if d.start - margin <= t < d.end + margin]

    def relief(self, duty: Duty) -> Duty | None:
        """The next duty at the same position: who takes over this seat at the end of the shift."""
        position = self._position_of.get(duty.seat, duty.seat)
        best = None
        for seat_id in self._seats_at_position(position):
            for d in self.at_seat(seat_id):
                if d.emp == duty.emp or d.start <= duty.start:
                    continue
                if abs(d.start - duty.end) <= 3_600_000 and (best is None or d.start < best.start):
                    best = d
        return best

    def _seats_at_position(self, position: str) -> list[str]:
        return self.positions.get(position, [position])

    def snapshot(self) -> dict:
        """What a checkpoint keeps: which dates are loaded (their plans are re-read on restore)."""
        return {"dates": sorted(self.loaded), "bucket": self._last_bucket}

    def restore(self, snap: dict) -> None:
        self.ensure(set(snap["dates"]))
        self._last_bucket = snap["bucket"]

    def drop_dates_before(self, date: str) -> None:
        """Forget plans for old dates (memory); they are reloaded if an event needs them."""
        old = {d for d in self.loaded if d < date}
        if not old:
            return
        self._last_bucket = -1
        for d in old:
            for duty in self.by_date.pop(d, []):
                self.duties.pop((duty.date, duty.shift, duty.emp), None)
        self.loaded -= old
        self._changed()
        self.by_agent.clear()
        self.by_seat.clear()
        for duty in self.duties.values():
            for index, k in ((self.by_agent, duty.emp), (self.by_seat, duty.seat)):
                lst = index.setdefault(k, [])
                bisect.insort(lst, duty, key=lambda d: (d.start, d.emp))


def _card_text(uid: str) -> str:
    """A recorded badge change's card in canonical text (its own text if it is not a card form)."""
    try:
        return parse_card(uid).text
    except ValueError:
        return uid.upper()


def _upgrades(changes: dict[str, list[tuple[int, str, str | None]]]) -> dict[str, list[tuple[int, str]]]:
    """Full form -> [(when, weaker form)]: an upgrade supersedes a weaker form and assigns, at the
    same moment and to the same agent, a stronger form agreeing with it (hub.roster.plan_binding)."""
    assigned: dict[tuple[int, str | None], list[str]] = {}
    for text, rows in changes.items():
        for at, action, emp in rows:
            if action == "assign":
                assigned.setdefault((at, emp), []).append(text)
    out: dict[str, list[tuple[int, str]]] = {}
    for old, rows in changes.items():
        for at, action, emp in rows:
            if action != "supersede":
                continue
            with contextlib.suppress(ValueError):
                weak = parse_card(old)
                for new in assigned.get((at, emp), ()):
                    strong = parse_card(new)
                    if strong.bits > weak.bits and strong.agrees(weak):
                        out.setdefault(new, []).append((at, old))
    return out
