"""The soak checker: ground truth against the hub's database, separate from the hub's code.

    python -m bench.checker RUN_DIR [--json FILE]

It shares no judging code with floorwatch: it reads the site folder with tomllib and csv, the
simulator's ground truth (truth/*.jsonl, written by bench/soak_worker.py as each device spooled
each event), the orchestrator's chaos log, and the hub database with plain SELECTs
(bench/hub_db.py: only the connection is the hub's, so a SQLite file and a PostgreSQL URL read
alike; the run's database is in run.json, `db`). It prints:

- delivery: events the devices recorded that the hub's event log lacks (lost), events stored
  twice (duplicated), events the log holds that no device recorded (unexpected), and whether
  every injected malformed message was quarantined.
- judgments: an independent reference judge computes, from the ground truth and the roster,
  which violations each agent deserved (roll call, seat sign-in, breaks, meals, early leave,
  unattended seats, wrong seat, no badge, unknown badges), following RULES.md. Every violation
  the hub charged to an agent that the truth does not justify is a false accusation; every one
  the truth justifies that the hub lacks is missed (split into "during a data gap", which the
  rules tell the hub not to judge, and the rest; a violation the truth began during a device's
  data gap matches the hub's when the hub's starts later, at the first data after that gap). A
  violation within a second of a threshold is
  indeterminate and counted neither way. Rules the soak's workload never provokes (shared badge,
  tailgating, handover, swaps, equipment, peak) must not charge anyone.

Event times: the true simulated time when the device's clock was right; when the device clock
was skewed or unset, the hub can only know its receipt time (DEV-CLOCK), so the judge uses the
receipt time from the events table too, the best any judge could do. A device that reported its
clock unsynchronised (clock_sync false) is no data for the hub while it does: a data gap here too.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import datetime as dt
import json
import sys
import tomllib
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.hub_db import HubDb  # the hub's connection, nothing of its judging

INF = 1 << 62
MIN = 60_000
LOOKBACK = 3 * 3_600_000  # an arrival tap counts for a shift from 3 h before its start
TOL = 1_000  # within this of a threshold a judgment is indeterminate (ms of simulated time)
MATCH_TOL = 1_000

AGENT_RULES_JUDGED = {"ROLL-EARLY", "ROLL-ABSENT", "ROLL-SEAT-SIGNIN", "ROLL-EARLY-LEAVE", "AWAY-BREAK-LONG",
                      "AWAY-BREAK-TOTAL", "AWAY-MEAL-LONG", "AWAY-MEAL-SLOT", "AWAY-UNATTENDED", "BADGE-WRONG-SEAT",
                      "BADGE-NO-TAP", "BADGE-UNKNOWN"}


# ---------------------------------------------------------------- the site, read independently


@dataclass
class SiteFacts:
    tz: ZoneInfo
    shifts: dict[str, tuple[str, str]]
    door_kind: dict[str, str]
    seat_zone: dict[str, str]
    devices: dict[str, tuple[str, str]]  # device -> (role, place)
    seat_device: dict[str, str]
    badge_owner: dict[tuple[int, int], str]  # (known bits, value) of each active card -> employee_no
    reader_bits: dict[str, int]  # device -> how many bits of a card its badge reader sees
    th: dict[str, float]
    roster: list[dict[str, str]]
    max_shift: int
    card_index: dict[int, dict[int, dict[int, list[str]]]] = field(default_factory=dict)  # built by card_owner

    def ms(self, key: str, unit: int) -> int:
        return int(float(self.th[key]) * unit)


def read_site(root: Path) -> SiteFacts:
    site = tomllib.loads((root / "site.toml").read_text(encoding="utf-8"))
    rules = tomllib.loads((root / "rules.toml").read_text(encoding="utf-8"))
    devices = {}
    reader_bits = {}
    for p in sorted((root / "devices").glob("*.toml")):
        d = tomllib.loads(p.read_text(encoding="utf-8"))
        devices[d["id"]] = (d["role"], d[d["role"]])
        for r in d.get("readers", []):
            if r.get("role", "badge") == "badge" and _reader_bits(r):
                reader_bits[d["id"]] = _reader_bits(r)
    owners = {}
    with (root / "agents.csv").open(encoding="utf-8-sig") as f:
        for row in csv.DictReader(f):
            if (row.get("active") or "true").lower() in ("0", "false", "no", "n"):
                continue
            for b in (row.get("badges") or "").split(";"):
                if b.strip():
                    owners[_card(b.strip())] = row["employee_no"]
    with (root / "roster.csv").open(encoding="utf-8-sig") as f:
        roster = list(csv.DictReader(f))
    shifts = {s["id"]: (s["start"], s["end"]) for s in site["shifts"]}
    longest = 0
    for a, b in shifts.values():
        m0 = int(a[:2]) * 60 + int(a[3:])
        m1 = int(b[:2]) * 60 + int(b[3:])
        longest = max(longest, (m1 - m0) % 1440 or 1440)
    return SiteFacts(
        tz=ZoneInfo(site.get("timezone", "Asia/Shanghai")), shifts=shifts,
        door_kind={d["id"]: d.get("kind", "both") for d in site.get("doors", [])},
        seat_zone={s["id"]: s["zone"] for s in site["seats"]}, devices=devices,
        seat_device={place: dev for dev, (role, place) in devices.items() if role == "seat"},
        badge_owner=owners, reader_bits=reader_bits, th=rules.get("thresholds", {}), roster=roster, max_shift=longest * MIN,
    )


def _reader_bits(r: dict) -> int | None:
    """The bits of a card a reader sees, read from its device file independently of the hub
    (docs/edge.md): card_bits, else RDM6300 40, W26 24, W34 32, decimal line reader 32."""
    if "card_bits" in r:
        return int(r["card_bits"])
    kind = r.get("kind")
    if kind == "rdm6300":
        return 40
    if kind == "wiegand" and r.get("bits"):
        return int(r["bits"]) - 2
    if kind == "line" and "(?P<facility>" in (r.get("pattern") or ""):
        return 24
    if kind == "line" and r.get("number_format") == "decimal":
        return 32
    return None


def _card(text: str) -> tuple[int, int]:
    """A card as agents.csv writes it -> (known bits, value)."""
    if text.lower().startswith("dec:"):
        return 32, int(text[4:])
    if "," in text:
        facility, card = text.split(",")
        return 24, (int(facility) << 16) | int(card)
    if "/" in text:
        value, bits = text.split("/")
        return int(bits), int(value, 16)
    return 40, int(text, 16)


def card_owner(site: SiteFacts, device: str, uid: str) -> str | None:
    """Whose card a tap is: the one active card equal on the bits this reader sees and the card
    is known by (none, or several: nobody's)."""
    bits = site.reader_bits.get(device)
    try:
        value = int(uid, 16)
    except ValueError:
        return None
    if bits is None or value >> bits:
        return None
    index = site.card_index.get(bits)
    if index is None:  # per reader width: known bits -> low bits -> owners of matching cards
        index = site.card_index[bits] = {}
        for (k, v), emp in site.badge_owner.items():
            index.setdefault(min(k, bits), {}).setdefault(_low(v, min(k, bits)), []).append(emp)
    found = [emp for m, table in index.items() for emp in table.get(_low(value, m), ())]
    return found[0] if len(found) == 1 else None


def _low(value: int, bits: int) -> int:
    return value & ((1 << bits) - 1)


def local_ms(day: dt.date, hhmm: str, tz: ZoneInfo) -> int:
    return int(dt.datetime.combine(day, dt.time.fromisoformat(hhmm), tzinfo=tz).timestamp() * 1000)


# ---------------------------------------------------------------- truth and the hub's log


@dataclass
class Ev:
    device: str
    seq: int
    id: str
    type: str
    body: dict[str, Any]
    ts: int
    t: int  # true simulated time
    clock_ok: bool
    k: int = 0  # the time a judge can know (set after reading the hub's receipt times)
    role: str = ""
    place: str = ""

    @property
    def key(self) -> tuple:
        return (self.k, self.device, self.seq)


@dataclass
class Truth:
    events: dict[tuple[str, int], Ev] = field(default_factory=dict)
    gone: set[tuple[str, int]] = field(default_factory=set)
    twice: int = 0  # the same (device, seq) recorded with two different event ids
    starts: int = 0


def truth_records(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a worker's truth file (JSON lines), past a last line cut by a SIGKILL."""
    with path.open(encoding="utf-8") as f:
        for line in f:
            try:
                yield json.loads(line)
            except ValueError:
                continue


def read_truth(run: Path) -> Truth:
    truth = Truth()
    for path in sorted((run / "truth").glob("*.jsonl")):
        for o in truth_records(path):
            if "start" in o:
                truth.starts += 1
            if "seq" not in o:
                continue
            key = (o["device"], o["seq"])
            if o.get("gone"):
                truth.gone.add(key)
                continue
            e = Ev(o["device"], o["seq"], o["id"], o["type"], o.get("body") or {}, o["ts"], o["t"],
                   bool(o.get("clock_ok", True)))
            old = truth.events.get(key)
            if old is not None and old.id != e.id:
                truth.twice += 1
            truth.events[key] = e
    return truth


@dataclass
class HubLog:
    events: dict[tuple[str, int], tuple[str, int, int]]  # (device, seq) -> (event id, received, ts)
    id_counts: Counter
    quarantine: list[tuple[str, str, str]]  # (topic, payload, reason)
    violations: list[dict[str, Any]]


def read_hub(db: str | Path, ignore_devices: set[str]) -> HubLog:
    """The hub's log, quarantine and violations, from a SQLite file or a PostgreSQL URL."""
    hub = HubDb(db)
    try:
        events = {}
        ids: Counter = Counter()
        for device, seq, eid, received, ts in hub.events():
            if device in ignore_devices:
                continue
            events[(device, seq)] = (eid, received, ts)
            ids[eid] += 1
        quarantine = hub.quarantine()
        violations = hub.violations()
    finally:
        hub.close()
    return HubLog(events, ids, quarantine, violations)


# ---------------------------------------------------------------- outages (for classifying misses)


@dataclass
class Outages:
    by_device: dict[str, list[tuple[int, int]]] = field(default_factory=dict)

    def add(self, device: str, a: int, b: int) -> None:
        self.by_device.setdefault(device, []).append((a, b))

    def hit(self, devices: list[str], a: int, b: int) -> bool:
        return any(x <= b and a <= y for d in devices for x, y in self.by_device.get(d, ()))


def read_outages(run: Path, meta: dict[str, Any], heartbeat_ms: int, truth: Truth) -> Outages:
    """When each device had no data at the hub: before its first report, while its worker was
    dead, while its cable was cut. From its last report before (the hub only knows a device was
    alive when it last reported) to its first report after."""
    out = Outages()
    times: dict[str, list[int]] = defaultdict(list)
    for e in truth.events.values():
        times[e.device].append(e.t)
    for ts in times.values():
        ts.sort()

    def span(dev: str, a: int, b: int) -> None:
        ts = times.get(dev, [])
        i = bisect.bisect_left(ts, a)
        j = bisect.bisect_right(ts, b)
        before = ts[i - 1] if i > 0 else meta["start_ms"] - heartbeat_ms
        after = ts[j] if j < len(ts) else INF
        out.add(dev, min(before, a - heartbeat_ms), after + MIN)

    for dev, ts in times.items():
        out.add(dev, meta["start_ms"] - heartbeat_ms, ts[0] + MIN)
    shards = meta["shards"]
    log_path = run / "chaos-log.jsonl"
    if log_path.exists():
        for line in log_path.read_text(encoding="utf-8").splitlines():
            c = json.loads(line)
            if c["kind"] == "worker_kill":
                for dev in shards[str(c["arg"])]:
                    span(dev, c["sim_start"], c["sim_end"])
    for path in sorted((run / "scripts").glob("*.jsonl")):
        cuts: dict[str, int] = {}
        with path.open(encoding="utf-8") as f:
            for line in f:
                t, _, dev, kind, *_ = json.loads(line)
                if kind == "cut":
                    cuts[dev] = t
                elif kind == "uncut" and dev in cuts:
                    span(dev, cuts.pop(dev), t)
    return out


# ---------------------------------------------------------------- the reference judge


@dataclass
class Expect:
    rule: str
    kind: str
    emp: str | None
    shift: str | None
    start: int
    who: str  # seat or device when there is no agent
    maybe: bool = False  # within TOL of a threshold: either answer is right
    gap: bool = False  # a device it depends on had no data around then


@dataclass
class Session:
    seat: str
    emp: str
    start: int
    end: int | None = None
    reason: str | None = None


class Judge:
    def __init__(self, site: SiteFacts, events: list[Ev], now: int, outages: Outages) -> None:
        self.s = site
        self.now = now
        self.out = outages
        th = site
        self.lead = th.ms("roll_call_lead_min", MIN)
        self.absent_after = th.ms("absent_after_min", MIN)
        self.break_max = th.ms("break_max_min", MIN)
        self.break_total = th.ms("break_total_min", MIN)
        self.meal_max = th.ms("meal_max_min", MIN)
        self.slot_tol = th.ms("meal_slot_tolerance_min", MIN)
        self.grace = th.ms("badge_grace_s", 1000)
        self.early_grace = th.ms("early_leave_grace_min", MIN)
        self.hold_off = th.ms("tap_hold_off_s", 1000)
        self.expects: list[Expect] = []
        self.occ: dict[str, list[Ev]] = defaultdict(list)
        self.buttons: dict[str, list[Ev]] = defaultdict(list)
        self.seat_taps: dict[str, list[Ev]] = defaultdict(list)
        self.agent_taps: dict[str, list[Ev]] = defaultdict(list)
        self.unknown: list[Ev] = []
        last_tap: dict[tuple[str, str], int] = {}
        for e in sorted(events, key=lambda e: e.key):
            if e.role == "seat" and e.type == "occupancy":
                self.occ[e.place].append(e)
            elif e.role == "seat" and e.type == "button":
                self.buttons[e.place].append(e)
            elif e.type == "badge":
                uid = str(e.body.get("uid", "")).upper()
                prev = last_tap.get((uid, e.device))
                if prev is not None and e.k - prev < self.hold_off:
                    continue  # a repeat: same verdict, no new record
                last_tap[(uid, e.device)] = e.k
                emp = card_owner(site, e.device, uid)
                if emp is None:
                    self.unknown.append(e)
                    continue
                e.body["emp"] = emp
                self.agent_taps[emp].append(e)
                if e.role == "seat":
                    self.seat_taps[e.place].append(e)
        self.duties = self._duties()
        self.duty_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for d in self.duties:
            self.duty_of[d["emp"]].append(d)
        self.sessions = {seat: self._sessions(seat) for seat in self.seat_taps}

    # ---- plans

    def _duties(self) -> list[dict[str, Any]]:
        out = []
        for r in self.s.roster:
            day = dt.date.fromisoformat(r["date"])
            a, b = self.s.shifts[r["shift"]]
            start = local_ms(day, a, self.s.tz)
            end = local_ms(day + dt.timedelta(days=1) if b <= a else day, b, self.s.tz)
            meal = local_ms(day, r["meal_start"], self.s.tz) if r.get("meal_start") else None
            if meal is not None and meal < start:
                meal += 86_400_000
            out.append({"emp": r["employee_no"], "seat": r["seat"], "start": start, "end": end, "meal": meal,
                        "key": f"{r['date']}/{r['shift']}"})
        return out

    def duty_at(self, emp: str, t: int) -> dict[str, Any] | None:
        for d in self.duty_of.get(emp, ()):
            if d["start"] - LOOKBACK <= t < d["end"]:
                return d
        return None

    # ---- sessions and occupancy

    def _sessions(self, seat: str) -> list[Session]:
        out: list[Session] = []
        cur: Session | None = None
        limit = (INF, "")
        for f in self.seat_taps.get(seat, []):
            emp = f.body["emp"]
            if cur is not None and limit[0] <= f.k:
                cur.end, cur.reason = limit
                out.append(cur)
                cur = None
            if cur is not None and cur.emp == emp:
                cur.end, cur.reason = f.k, "signout"
                out.append(cur)
                cur = None
                continue
            if cur is not None:
                cur.end, cur.reason = f.k, "takeover"
                out.append(cur)
            cur = Session(seat, emp, f.k)
            duty = self.duty_at(emp, f.k)
            expiry = duty["end"] + self.absent_after if duty else f.k + self.s.max_shift
            move = next((g.k for g in self.agent_taps[emp] if g.key > f.key and g.role == "seat" and g.place != seat), None)
            limit = (move, "move") if move is not None and move < expiry else (expiry, "expired")
        if cur is not None:
            if self.now >= limit[0]:
                cur.end, cur.reason = limit
            out.append(cur)
        return out

    def session_at(self, seat: str, t: int) -> Session | None:
        for s in self.sessions.get(seat, []):
            if s.start <= t and (s.end is None or t < s.end):
                return s
        return None

    def intervals(self, seat: str) -> list[tuple[bool | None, int, int | None]]:
        """(occupied, start, end) over all time; None before the first report."""
        out: list[tuple[bool | None, int, int | None]] = []
        cur: bool | None = None
        start = -INF
        for e in self.occ.get(seat, []):
            v = bool(e.body.get("occupied"))
            if v == cur:
                continue
            out.append((cur, start, e.k))
            cur, start = v, e.k
        out.append((cur, start, None))
        return out

    def occupied_at(self, seat: str, t: int) -> bool | None:
        for occ, a, b in self.intervals(seat):
            if a <= t and (b is None or t < b):
                return occ
        return None

    def _button(self, seat: str, v: int) -> str | None:
        found = None
        for b in self.buttons.get(seat, []):
            if v - 10 * MIN <= b.k <= v + MIN and b.body.get("button") in ("break", "meal"):
                found = b.body["button"]
        return found

    # ---- judging

    def expect(self, rule: str, kind: str, emp: str | None, shift: str | None, start: int, who: str, *,
               maybe: bool = False, devices: list[str] = (), window: tuple[int, int] | None = None) -> None:
        gap = bool(devices) and window is not None and self.out.hit(list(devices), *window)
        self.expects.append(Expect(rule, kind, emp, shift, start, who, maybe, gap))

    def run(self) -> list[Expect]:
        arrival_devices = [d for d, (role, place) in self.s.devices.items()
                           if role == "kiosk" or role == "door" and self.s.door_kind.get(place, "both") in ("entry", "both")]
        for d in self.duties:
            self._duty(d, arrival_devices)
        self._no_tap()
        for e in self.unknown:
            self.expect("BADGE-UNKNOWN", "unknown_badge", None, None, e.k, e.device)
        return self.expects

    def _duty(self, d: dict[str, Any], arrival_devices: list[str]) -> None:
        emp, start, end, key, seat = d["emp"], d["start"], d["end"], d["key"], d["seat"]
        seat_dev = [self.s.seat_device.get(seat, "")]
        deadline = start + self.absent_after
        taps = [f for f in self.agent_taps.get(emp, []) if start - LOOKBACK <= f.k < end]
        arrivals = [f for f in taps if f.role == "kiosk" or f.role == "door" and self.s.door_kind.get(f.place, "both") in ("entry", "both")]
        sessions = sorted((s for seat_id in {f.place for f in taps if f.role == "seat"}
                           for s in self.sessions.get(seat_id, []) if s.emp == emp and self.duty_at(emp, s.start) is d),
                          key=lambda s: (s.start, s.seat))
        a = arrivals[0].k if arrivals else None
        if a is None and sessions and sessions[0].start < end:
            a = sessions[0].start
        roll_window = (start - self.lead, deadline)
        if a is None:
            status = "absent"
        elif a <= start - self.lead:
            status = "on_time"
        elif a <= start:
            status = "roll_call_late"
        elif a <= deadline:
            status = "late"
        else:
            status = "absent"
        near = a is not None and min(abs(a - (start - self.lead)), abs(a - start), abs(a - deadline)) < TOL
        if status in ("roll_call_late", "late"):
            self.expect("ROLL-EARLY", status, emp, key, a, seat, maybe=near, devices=arrival_devices, window=roll_window)
        if status == "absent":
            self.expect("ROLL-ABSENT", "absent", emp, key, start, seat, maybe=near, devices=arrival_devices + seat_dev,
                        window=roll_window)
        on_duty = status != "absent"
        if on_duty and a is not None and a <= start:
            s_t = sessions[0].start if sessions else None
            if s_t is None or s_t > start:
                self.expect("ROLL-SEAT-SIGNIN", "seat_signin_late", emp, key, start, seat,
                            maybe=near or (s_t is not None and abs(s_t - start) < TOL), devices=seat_dev,
                            window=(start - 3 * MIN, s_t if s_t is not None else end))
        for s in sessions:
            if s.seat != seat:
                self.expect("BADGE-WRONG-SEAT", "wrong_seat", emp, key, s.start, s.seat)
        dep = self._away(d, sessions)
        # ROLL-EARLY-LEAVE
        if on_duty and dep is not None and dep < end - self.early_grace:
            where = sessions[-1].seat if sessions else seat
            self.expect("ROLL-EARLY-LEAVE", "early_leave", emp, key, dep, where, maybe=abs(dep - end) < TOL,
                        devices=[self.s.seat_device.get(where, "")], window=(dep, end))
        # AWAY-UNATTENDED for the rostered seat: empty from the start, or from an early departure
        spans = []
        first = sessions[0].start if sessions else None
        if (first is None or first > start) and self.occupied_at(seat, start) is not True:
            spans.append(start)
        if dep is not None and dep < end - self.early_grace:
            spans.append(dep)
        for v in spans:
            o = next((a0 for occ, a0, _ in self.intervals(seat) if occ and a0 >= v), None)
            if o is not None and o >= end:
                o = None
            stop = o if o is not None else end
            if stop - v > self.break_max:
                self.expect("AWAY-UNATTENDED", "unattended", emp, key, v, seat, maybe=abs(stop - v - self.break_max) < TOL,
                            devices=seat_dev, window=(v, stop))

    def _away(self, d: dict[str, Any], sessions: list[Session]) -> int | None:
        """Breaks and meals of one duty (their violations), and the departure time."""
        emp, start, end, key = d["emp"], d["start"], d["end"], d["key"]
        dep = None
        if sessions:
            last = sessions[-1]
            if last.reason == "signout" and last.end is not None:
                dep = last.end
            else:
                upto = last.end if last.end is not None else self.now
                state = self.occupied_at(last.seat, upto - 1)
                if state is False:
                    iv_start = next(a0 for occ, a0, b0 in self.intervals(last.seat) if a0 <= upto - 1 and (b0 is None or upto - 1 < b0))
                    v = max(iv_start, last.start)
                    if last.end is not None or v >= end or self.now >= end:
                        dep = v
                elif last.end is not None:
                    dep = last.end
        aways = []
        for s in sessions:
            w0, w1 = max(s.start, start), min(s.end if s.end is not None else INF, end)
            if w0 >= w1:
                continue
            for occ, a0, b0 in self.intervals(s.seat):
                a = max(a0, w0)
                if occ is not False or a >= w1 or (b0 is not None and b0 <= w0):
                    continue
                if b0 is None or b0 >= w1:
                    continue  # vacant to the end: a departure
                button = self._button(s.seat, a)
                kind = "meal" if button == "meal" else "break"
                if button is None and d["meal"] is not None and abs(a - d["meal"]) <= self.slot_tol:
                    kind = "meal"
                aways.append((kind, s.seat, a, b0, button))
        cum = 0
        total_hit = False
        for kind, seat, a, b, button in aways:
            dur = b - a
            dev = [self.s.seat_device.get(seat, "")]
            win = (a, b)
            limit = self.break_max if kind == "break" else self.meal_max
            rule = "AWAY-BREAK-LONG" if kind == "break" else "AWAY-MEAL-LONG"
            if dur > limit:
                maybe = abs(dur - limit) < TOL
                self.expect(rule, f"{kind}_long", emp, key, a, seat, maybe=maybe, devices=dev, window=win)
                self.expect("AWAY-UNATTENDED", "unattended", emp, key, a, seat, maybe=maybe, devices=dev, window=win)
            elif dur > limit - TOL:
                self.expect(rule, f"{kind}_long", emp, key, a, seat, maybe=True)
                self.expect("AWAY-UNATTENDED", "unattended", emp, key, a, seat, maybe=True)
            if kind == "meal" and button == "meal" and d["meal"] is not None:
                off = abs(a - d["meal"])
                if off > self.slot_tol or off > self.slot_tol - TOL:
                    self.expect("AWAY-MEAL-SLOT", "meal_outside_slot", emp, key, a, seat, maybe=abs(off - self.slot_tol) < TOL,
                                devices=dev, window=win)
            if kind != "break":
                continue
            if not total_hit:
                room = self.break_total - cum
                if dur > room - TOL:  # crossed (or too close to call)
                    total_hit = dur > room
                    self.expect("AWAY-BREAK-TOTAL", "break_total", emp, key, a + room, seat, maybe=abs(dur - room) < TOL,
                                devices=dev, window=win)
            cum += dur
        return dep

    def _no_tap(self) -> None:
        for seat in self.occ:
            dev = self.s.seat_device.get(seat, "")
            for occ, a, b in self.intervals(seat):
                if occ is not True or a == -INF:
                    continue
                if self.session_at(seat, a) is not None:
                    continue
                first = next((s for s in self.sessions.get(seat, []) if a <= s.start and (b is None or s.start < b)), None)
                bound = min(first.start if first else INF, b if b is not None else INF)
                if bound == INF:
                    bound = self.now
                if bound - a <= self.grace - TOL:
                    continue
                self.expect("BADGE-NO-TAP", "no_badge", first.emp if first else None, None, a, seat,
                            maybe=abs(bound - a - self.grace) < TOL, devices=[dev], window=(a, a + self.grace))


# ---------------------------------------------------------------- comparing


@dataclass
class Verdicts:
    false_accusations: list[dict[str, Any]] = field(default_factory=list)
    false_alerts: list[dict[str, Any]] = field(default_factory=list)
    missed: list[Expect] = field(default_factory=list)
    missed_in_gap: list[Expect] = field(default_factory=list)
    matched: int = 0
    indeterminate: int = 0
    by_rule: Counter = field(default_factory=Counter)


def _group_key(rule: str, emp: str | None, shift: str | None, who: str) -> tuple:
    if rule == "BADGE-NO-TAP":
        return (rule, who)
    if rule == "BADGE-UNKNOWN":
        return (rule, who)
    return (rule, emp, shift)


def compare(expects: list[Expect], violations: list[dict[str, Any]], skewed: set[str], outages: Outages) -> Verdicts:
    v = Verdicts()
    want: dict[tuple, list[Expect]] = defaultdict(list)
    for x in expects:
        want[_group_key(x.rule, x.emp, x.shift, x.who)].append(x)
    used: set[int] = set()
    for row in violations:
        rule = row["rule"]
        v.by_rule[rule] += 1
        emp = row.get("employee_no")
        liable = emp is not None
        if rule not in AGENT_RULES_JUDGED:
            if liable:
                v.false_accusations.append(row)  # the workload never gives cause for these
            elif rule == "DEV-CLOCK" and row.get("device") not in skewed:
                v.false_alerts.append(row)
            continue
        who = row.get("seat") if rule == "BADGE-NO-TAP" else row.get("device") if rule == "BADGE-UNKNOWN" else None
        cands = want.get(_group_key(rule, emp, row.get("shift"), who or ""), [])
        best = None
        for x in cands:
            if id(x) in used or x.kind != row["kind"] or (rule == "BADGE-NO-TAP" and x.emp != emp):
                continue
            if abs(x.start - row["start"]) <= MATCH_TOL and (best is None or abs(x.start - row["start"]) < abs(best.start - row["start"])):
                best = x
        if best is None and rule in ("ROLL-EARLY", "ROLL-ABSENT", "ROLL-SEAT-SIGNIN", "ROLL-EARLY-LEAVE", "AWAY-BREAK-TOTAL"):
            best = next((x for x in cands if id(x) not in used and x.kind == row["kind"]), None)
        if best is None and row.get("device"):
            # the same violation anchored later: the truth's began during a data gap of the device,
            # and the hub (which must not judge a gap) counts from the first data after it
            best = next((x for x in cands if id(x) not in used and x.kind == row["kind"] and x.gap
                         and x.start <= row["start"] and outages.hit([row["device"]], x.start, row["start"])), None)
        if best is not None:
            used.add(id(best))
            v.matched += 1
            continue
        (v.false_accusations if liable else v.false_alerts).append(row)
    for x in expects:
        if id(x) in used:
            continue
        if x.maybe:
            v.indeterminate += 1
        elif x.gap:
            v.missed_in_gap.append(x)
        else:
            v.missed.append(x)
    return v


# ---------------------------------------------------------------- the whole check


def check(run: Path, *, db: str | Path | None = None) -> dict[str, Any]:
    """`db`: the hub database (a path or a postgresql:// URL); default RUN/hub.db when the run has
    one (a run folder moved since), else the run's own (run.json `db`)."""
    meta = json.loads((run / "run.json").read_text(encoding="utf-8"))
    site = read_site(Path(meta["site_dir"]))
    truth = read_truth(run)
    probe_devices = {"soak-probe"}
    hub = read_hub(db or (run / "hub.db" if (run / "hub.db").exists() else meta["db"]), probe_devices)
    skew_max = site.ms("clock_skew_max_s", 1000)
    heartbeat = site.ms("heartbeat_s", 1000)
    # delivery
    lost = [k for k in truth.events if k not in hub.events]
    mismatched = [k for k, e in truth.events.items() if k in hub.events and hub.events[k][0] != e.id]
    unexpected = [k for k in hub.events if k not in truth.events and k not in truth.gone]
    duplicated = sum(n - 1 for n in hub.id_counts.values() if n > 1) + truth.twice
    injected = []
    log_path = run / "chaos-log.jsonl"
    chaos = [json.loads(line) for line in log_path.read_text(encoding="utf-8").splitlines()] if log_path.exists() else []
    for c in chaos:
        if c["kind"] == "malformed" and c.get("delivered"):
            injected.append(c["marker"])
    quarantined_text = "\n".join(p for _, p, _ in hub.quarantine)
    not_quarantined = [m for m in injected if m not in quarantined_text]
    reasons_missing = sum(1 for _, _, r in hub.quarantine if not (r or "").strip())
    # judgments
    events = []
    skewed: set[str] = set()
    timed_by_receipt = untimeable = 0
    for key, e in truth.events.items():
        got = hub.events.get(key)
        if got is None:
            continue
        role, place = site.devices.get(e.device, ("", ""))
        e.role, e.place = role, place
        trusted = e.clock_ok and abs(e.ts - e.t) <= skew_max // 2
        if not trusted:
            skewed.add(e.device)
            timed_by_receipt += 1
            if abs(got[1] - e.t) > 2 * MIN:  # reached the hub late: its receipt time is not when it happened
                untimeable += 1
        e.k = e.ts if trusted else got[1]
        events.append(e)
    outages = read_outages(run, meta, heartbeat, truth)
    # A device whose kernel said its clock was unsynchronised (clock_sync false) is no data at
    # the hub from that report's receipt on, joined like the hub's DEV-CLOCK episodes.
    offline_after = site.ms("offline_after_s", 1000)
    unsynced: dict[str, list[int]] = defaultdict(list)
    for key, e in truth.events.items():
        got = hub.events.get(key)
        if got is not None and e.body.get("clock_sync") is False:
            unsynced[e.device].append(got[1])
    for dev, times in unsynced.items():
        times.sort()
        a = b = times[0]
        for t in times[1:] + [None]:
            if t is not None and t - b <= offline_after:
                b = t
                continue
            outages.add(dev, a - heartbeat, b + MIN)
            if t is not None:
                a = b = t
    now = meta["end_ms"]
    judge = Judge(site, events, now, outages)
    expects = judge.run()
    verdicts = compare(expects, hub.violations, skewed, outages)
    accusations = [r for r in hub.violations if r.get("employee_no")]
    return {
        "truth_events": len(truth.events), "hub_events": len(hub.events), "lost": len(lost),
        "duplicated": duplicated, "unexpected": len(unexpected), "mismatched": len(mismatched),
        "recovered_gone": len(truth.gone), "worker_starts": truth.starts,
        "malformed_injected": len(injected), "malformed_not_quarantined": len(not_quarantined),
        "quarantined": len(hub.quarantine), "quarantine_without_reason": reasons_missing,
        "timed_by_receipt": timed_by_receipt, "untimeable": untimeable, "skewed_devices": len(skewed),
        "violations": len(hub.violations), "accusations": len(accusations),
        "expected": sum(1 for x in expects if not x.maybe), "matched": verdicts.matched,
        "false_accusations": len(verdicts.false_accusations), "false_alerts": len(verdicts.false_alerts),
        "missed": len(verdicts.missed), "missed_in_data_gap": len(verdicts.missed_in_gap),
        "indeterminate": verdicts.indeterminate, "violations_by_rule": dict(sorted(verdicts.by_rule.items())),
        "examples": {
            "lost": [list(k) for k in lost[:5]], "unexpected": [list(k) for k in unexpected[:5]],
            "false_accusations": [_short(r) for r in verdicts.false_accusations[:8]],
            "false_alerts": [_short(r) for r in verdicts.false_alerts[:5]],
            "missed": [x.__dict__ for x in verdicts.missed[:8]],
            "not_quarantined": not_quarantined[:5],
        },
    }


def _short(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in ("rule", "kind", "employee_no", "seat", "device", "shift", "start", "end", "evidence")}


def summary(r: dict[str, Any]) -> str:
    lines = [
        f"events: {r['truth_events']} recorded by devices, {r['hub_events']} in the hub's log",
        f"lost {r['lost']}, duplicated {r['duplicated']}, unexpected {r['unexpected']}, mismatched {r['mismatched']}"
        f" (recovered from spools after kills: {r['recovered_gone']})",
        f"malformed injected {r['malformed_injected']}, not quarantined {r['malformed_not_quarantined']}"
        f" (quarantine rows {r['quarantined']}, without reason {r['quarantine_without_reason']})",
        f"violations {r['violations']} ({r['accusations']} charged to agents); judge expected {r['expected']},"
        f" matched {r['matched']}, indeterminate {r['indeterminate']}",
        f"false accusations {r['false_accusations']}, false alerts {r['false_alerts']},"
        f" missed {r['missed']} (+{r['missed_in_data_gap']} during data gaps)",
        f"events timed by hub receipt (skewed device clocks): {r['timed_by_receipt']} from {r['skewed_devices']} devices,"
        f" {r['untimeable']} of them delivered over 2 min late (no judge can time those)",
    ]
    for k, v in r["examples"].items():
        if v:
            lines.append(f"  e.g. {k}: {json.dumps(v[:3], ensure_ascii=False, default=str)[:600]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--db", help="the hub database, a path or a postgresql:// URL (default: the run's)")
    ap.add_argument("--json", type=Path, help="write the full result here")
    args = ap.parse_args(argv)
    result = check(args.run, db=args.db)
    print(summary(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    bad = result["lost"] + result["duplicated"] + result["unexpected"] + result["false_accusations"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
