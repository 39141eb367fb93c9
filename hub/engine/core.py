"""The rule engine: events and a clock in; seat states, attendance and violations out.

How it stays deterministic (live processing == a rebuild from the log):

1. Every event is placed on timelines at its *effective time* (DEV-CLOCK decides which clock to
   believe, folded over the log in log order, which live processing and a rebuild share).
2. Judgments are made per *unit* (one duty, one seat-day, one zone-day, one tag, one door-day,
   one badge-day, one device-day, the live state of one seat) by pure functions of the timelines
   and `now` (hub.engine.rollcall, badge, away, equipment, facilities, devices).
3. A unit is recomputed when an event touches it, or at the moment its answer would change by
   itself (a deadline the unit declared). Results never depend on when they were computed, so an
   event that arrives late (within the reorder tolerance, or a spool replay hours later) is simply
   inserted at its device time and the units it touches are recomputed, in device-time order.
4. Each unit's rows replace its previous rows; violation ids are hashes of what anchors them, so
   a rebuild writes the same ids and keeps the leads' excuses.
5. The engine consumes one ordered input log (hub.store: events, statuses, contact-center
   counts, the hub's session marks and idle ticks, each with its receipt time) by sequence, live,
   after a restart and in a rebuild alike. Its time is the log's watermark (the receipt time of
   the last input consumed), never the wall clock, so the same log gives the same judgments.
6. Judgments settle: dates before `frozen_before` (pruned from memory, or before what a start
   without checkpoint replayed) are never recomputed, whatever arrives late. The engine's state
   is checkpointed against a log position, in the transaction of the rows it derived, so a
   restart loads it and replays only the tail.
"""

from __future__ import annotations

import bisect
import datetime as dt
import heapq
import logging
import pickle
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

from edge import wire
from edge.clock import Clock
from hub.engine import badge, devices, equipment, facilities, rollcall
from hub.engine.context import Ctx, Facts, Limits, Memo, Statics, Tappers
from hub.engine.facts import DeviceTrack, Fact, ReportRuns, TagTrack, Timeline
from hub.engine.plans import Plans
from hub.engine.site_time import ARRIVAL_LOOKBACK_MS, HOUR_MS, local_date
from hub.roster.effective import install as install_roster
from hub.site import Site
from hub.store import LoggedInput, Store, StoredEvent
from hub.store.derived import COLUMNS, KEYS, DerivedStore, encode_row

log = logging.getLogger(__name__)

HORIZON_MS = 36 * HOUR_MS  # events older than this (by device time, at receipt) are logged, not judged
PRUNE_EVERY_MS = 10 * 60_000  # memory is pruned when the watermark crosses a multiple of this
CHECKPOINT_FORMAT = 1  # a checkpoint of another format is ignored (the engine replays instead)
CHECKPOINT_EVERY_S = 120.0  # wall time between checkpoints while inputs flow
CHECKPOINT_EVERY_INPUTS = 100_000  # ...and at least this often while catching up
READ_BATCH = 2000  # inputs read and judged per flush
# While far behind (a backlog after an outage), inputs judged per flush: on a catch-up every device
# of the floor reports within a few minutes of log, so each flush recomputes most of the floor
# whatever its size; fewer, larger flushes judge the same log (any batching gives the same rows).
CATCHUP_BATCH = 20_000
AHEAD_EVERY = 250  # inputs judged between two looks for fresh taps to answer ahead (while behind)
AHEAD_EVERY_UNITS = 500  # ...and units recomputed between two looks during a flush
FRESH_TAP_MS = 30_000  # a tap this close to the log's newest input gets feedback; older ones are history

Unit = tuple


@dataclass
class Outcome:
    """What one call decided: commands for devices and updates for the live views."""

    commands: list[wire.Command] = field(default_factory=list)
    updates: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def extend(self, other: Outcome) -> None:
        self.commands.extend(other.commands)
        self.updates.extend(other.updates)


def progress_of(seq: int, watermark: int, last_seq: int, last_received: int) -> dict[str, Any]:
    """/api/health's engine block: inputs judged, pending (stored, not judged yet), lag of its time."""
    return {"seq": seq, "pending": max(0, last_seq - seq), "watermark": watermark,
            "lag_s": round(max(0, last_received - watermark) / 1000, 3) if last_seq > seq else 0.0}


def unit_name(unit: Unit) -> str:
    return "|".join(str(p) for p in unit)


def violation_json(row: dict[str, Any]) -> dict[str, Any]:
    """A violation as the API and the live view show it."""
    return {
        "id": row["id"], "rule": row["rule"], "kind": row["kind"], "agent": row.get("employee_no"),
        "team": row.get("team"), "seat": row.get("seat"), "zone": row.get("zone"), "device": row.get("device"),
        "shift": row.get("shift"), "date": row.get("date"), "start": row["start"], "end": row.get("end"),
        "evidence": row.get("evidence") or [], "excused": bool(row.get("excused")),
        "excuse_reason": row.get("excuse_reason"), "details": row.get("details") or {},
        "amount": row.get("amount"),
    }


class _UnitState:
    __slots__ = ("rows", "deadline")

    def __init__(self) -> None:
        self.rows: dict[str, dict[tuple, tuple]] | None = None  # None: not written by this engine yet
        self.deadline: int | None = None


class Engine:
    """The hub's rule engine. Thread-safe: HubService calls it from ingest and ticker threads."""

    def __init__(self, site: Site, store: Store, clock: Clock, *, warm: bool = True, live: bool = True,
                 checkpoints: bool = True, checkpoint_every_s: float = CHECKPOINT_EVERY_S) -> None:
        self.site = site
        self.store = store
        self.clock = clock  # only for the timestamps of commands sent to devices
        self.live = live
        self.checkpoints = checkpoints
        self.checkpoint_every_s = checkpoint_every_s  # wall time between checkpoints (`hub --checkpoint-every`)
        self.seq = 0  # the last input consumed
        self.watermark = 0  # the engine's time: receipt time of the newest input consumed
        self.frozen_before = ""  # dates before this are settled: never recomputed
        self.caught_up = False  # the hub's last probe came back in time: what arrives now is not late by queueing
        self._sessions: dict[str, bool] = {}  # with ingest workers: each broker session's caught_up
        self._claims: dict[str, int] = {}  # several hubs: "hub/session" -> receipt time its caught_up lapses
        self._checkpoint_at = time.monotonic()
        self._inputs_since_checkpoint = 0
        self.derived = DerivedStore(store)
        self.lim = Limits.from_site(site)
        self.statics = Statics.from_site(site)
        self.facts = Facts()
        self.memo = Memo()  # what evaluations reuse across flushes (hub.engine.context.Memo)
        self.plans = Plans(site, self.derived)
        self.excuses = self.derived.excuses()
        self.lock = threading.RLock()
        self.units: dict[Unit, _UnitState] = {}
        self.dirty: set[Unit] = set()
        self._dates: dict[int, str] = {}  # minute -> local date (_date)
        self._seat_spans: dict[str, list[int]] = {}  # seat -> [lo, hi]: its data changed then (dirtied at flush)
        self._heap: list[tuple[int, Unit]] = []
        self._dev_heap: list[tuple[int, str]] = []
        self._dev_online: dict[str, bool] = {}
        self._dev_scheduled: set[str] = set()
        self._owner_of_violation: dict[str, Unit] = {}
        self._away_starts: dict[Unit, list[int]] = {}
        self._rows_cache: dict[Unit, dict[str, list[dict[str, Any]]]] = {}
        self._last_prune = 0
        self._pending_updates: list[tuple[str, dict[str, Any]]] = []
        self._provisional: dict[str, tuple[int, str, str]] = {}  # taps answered ahead: event id -> (seq, result, verdict)
        self._ahead_scanned = 0  # the log was looked through for fresh taps up to this seq
        self._emit: Any = None  # consume's emit, while it runs
        self._windows: dict[str, tuple[list, int, tuple]] = {}  # day -> (Plans' list, its length, duty windows)
        self.stats = {"events": 0, "units_computed": 0, "ignored_old": 0}
        self.derived.seed_roster([r.model_dump(mode="json") | {"source": "site"} for r in site.roster])
        install_roster(site, store)  # rotations and published months reach Plans through the roster table
        self._plans_version = self.derived.plans_version()
        self.enrolling: dict[str, int] = self.derived.enrolling_devices(0)  # device -> open until
        self.seats_by_position: dict[str, list[str]] = self.plans.positions
        self._positions = {s.id: s.position or s.id for s in site.info.seats}
        # units that wrote rows before this engine started (a restart): their first result here
        # replaces those rows; every other unit starts from nothing
        self._units_in_db = self.derived.units_with_rows()
        self.tags_at_seat: dict[str, list[str]] = {}
        for tag, e in self.statics.site_equipment.items():
            self.tags_at_seat.setdefault(self.plans.equipment_home.get(tag, e.home_seat), []).append(tag)
        self._seatnow_all()
        if warm:
            self.resume()

    # ------------------------------------------------------------ consuming the input log

    def consume(self, limit: int | None = None, emit: Any = None) -> Outcome:
        """Judge what the input log holds after the last input consumed (at most `limit` inputs),
        one bounded batch per flush. Returns commands for fresh taps and updates for live views;
        with `emit` (the hub's live loop), hands them over after every batch instead, and answers
        fresh taps ahead of a backlog first (`_answer_ahead`), so a person at a reader is not kept
        waiting while history catches up."""
        out = Outcome()
        done = 0
        self._emit = emit
        try:
            return self._consume(limit, emit, out, done)
        finally:
            self._emit = None

    def _consume(self, limit: int | None, emit: Any, out: Outcome, done: int) -> Outcome:
        while limit is None or done < limit:
            if emit is not None and self.live:
                self._answer_ahead(out)
            n = READ_BATCH
            if limit is None and self.store.input_position()[0] - self.seq > READ_BATCH:
                n = CATCHUP_BATCH
            elif limit is not None:
                n = min(READ_BATCH, limit - done)
            rows = self.store.read_inputs(after_seq=self.seq, limit=n)
            if not rows:
                break
            with self.lock:
                if rows[0].seq <= self.seq:  # another thread consumed them meanwhile
                    continue
                self._consume_batch(rows, out)
            done += len(rows)
            if emit is not None and (out.commands or out.updates):
                emit(out)
                out = Outcome()
        if emit is not None:
            emit(out)
            return Outcome()
        return out

    def _answer_ahead(self, out: Outcome, *, mid_batch: bool = False) -> None:
        """While the engine is behind, a tap made just now (device time within FRESH_TAP_MS of its
        receipt) waits in the log behind the backlog. Answer it now with a provisional verdict from
        the state judged so far. Nothing is filed: the log order stays the truth, the tap is judged
        in its place later (and answered again only if that verdict differs). In the middle of a
        batch (`mid_batch`) even a tap the next batch reaches would wait for the rest of this one
        (its flush, perhaps a checkpoint): it is answered ahead too."""
        last_seq, last_received = self.store.input_position()
        if last_seq - self.seq <= READ_BATCH and not mid_batch:  # the next batch reaches it soon anyway
            return
        after = max(self.seq, self._ahead_scanned)
        if after >= last_seq:
            return
        rows = self.store.fresh_taps(after_seq=after, upto_seq=last_seq, since_received=last_received - FRESH_TAP_MS,
                                     within_ms=FRESH_TAP_MS)
        self._ahead_scanned = last_seq
        if not rows:
            return
        with self.lock:
            ctx = None
            for inp in rows:
                e = inp.event
                if e is None or e.event_id in self._provisional:
                    continue
                f = self._provisional_fact(e)
                if f is None:
                    continue
                ctx = ctx or self._ctx(max(self.now(), f.t), private=True)  # f is not filed: nothing memoized
                tap = self._feedback(ctx, f, out, provisional=True)
                if tap is not None:
                    self._provisional[e.event_id] = (inp.seq, tap["result"], tap["verdict"])

    def _answer_ahead_now(self) -> None:
        """Answer fresh taps ahead in the middle of a batch and hand the verdicts over at once."""
        early = Outcome()
        self._answer_ahead(early, mid_batch=True)
        if early.commands or early.updates:
            self._emit(early)

    def _provisional_fact(self, e: StoredEvent) -> Fact | None:
        """The fact a fresh tap will be, as far as the state judged so far tells (not filed)."""
        cfg = self.site.devices.get(e.device)
        if cfg is None or self.enrolling.get(e.device, 0) > e.received:  # enrolment binds in log order
            return None
        track = self.facts.devices.get(e.device)
        trusted = e.clock_ok and e.body.get("clock_sync") is not False and (track is None or track.verified is not False)
        t, timing = (e.ts, "device") if trusted and abs(e.ts - e.received) <= self.lim.clock_skew_max else (e.received, "hub")
        day = local_date(t, self.site.tz)
        if any((day + dt.timedelta(days=k)).isoformat() not in self.plans.loaded for k in (-1, 0, 1)):
            return None  # the duties of its day are not loaded yet: answered in order
        try:
            f = Fact(t, e.event_id, e.device, e.seq, e.type, cfg.role, cfg.place, e.received, timing, e.body)
            f.uid = self.plans.tap_key(e.device, e.body)
        except (KeyError, TypeError, ValueError):
            return None
        return f

    def _consume_batch(self, rows: list[LoggedInput], out: Outcome) -> None:
        taps = []
        self._check_plans()  # a reader a lead just put in enrolment mode enrols the taps of this batch
        for i, inp in enumerate(rows):
            if self._emit is not None and i % AHEAD_EVERY == AHEAD_EVERY - 1 and self.live:
                self._answer_ahead_now()  # a person at a reader is not kept waiting for the whole batch
            self.seq = inp.seq
            if inp.received > self.watermark:
                self.watermark = inp.received
            f = self._apply(inp)
            if f is not None and f.kind == "badge":
                taps.append(f)
            now = self.now()
            if now - now % PRUNE_EVERY_MS > self._last_prune:
                # a prune point: judge everything up to exactly this input, then settle what the
                # prune cuts, so the same log settles the same rows however it was batched
                self._plans_around(now)
                self._flush(now, out)
                self._prune_at_fixed_points(now)
        self._inputs_since_checkpoint += len(rows)
        now = self.now()
        self._plans_around(now)
        self._flush(now, out, checkpoint=self._checkpoint_due())
        # feedback for a person at the reader, not for history the engine is catching up on: a
        # tap received lately and made lately (a spool's tap from hours ago has nobody waiting)
        if self.live and taps:
            fresh = self.store.input_position()[1] - FRESH_TAP_MS
            taps = [f for f in taps if f.received >= fresh and f.t >= f.received - FRESH_TAP_MS]
        if self.live and taps:
            ctx = self._ctx(now)
            for f in taps:
                prov = self._provisional.pop(f.event_id, None)
                self._feedback(ctx, f, out, answered=prov[1:] if prov else None)
        if self._provisional:  # answered ahead, judged since (not fresh any more by then)
            self._provisional = {k: v for k, v in self._provisional.items() if v[0] > self.seq}

    def _apply(self, inp: LoggedInput) -> Fact | None:
        if self._claims and inp.received > min(self._claims.values()):
            self._lapse_claims(inp.received)
        if inp.kind == "event":
            return self._ingest(inp.event) if inp.event is not None else None  # None: purged since
        body = inp.body or {}
        if inp.kind == "status":
            self._apply_status(str(body.get("device")), str(body.get("state")), int(body.get("ts") or 0), inp.received)
        elif inp.kind == "acd":
            self._apply_acd(int(body.get("ts") or inp.received), int(body.get("idle") or 0), inp.received)
        elif inp.kind == "mark":
            mark = body.get("mark")
            if mark in ("caught_up", "connected", "disconnected"):
                # a probe came back; late enough, it says the hub itself lags
                ok = mark == "caught_up" and int(body.get("delay_ms") or 0) <= self.lim.clock_skew_max // 2
                self._session_mark(body.get("session"), int(body.get("workers") or 0), ok, body.get("hub"),
                                   inp.received, body.get("valid_ms"))
        return None  # ticks only move the watermark

    def _session_mark(self, session: str | None, workers: int, ok: bool, hub: str | None = None,
                      received: int = 0, valid_ms: object = None) -> None:
        """The hub is caught up when every broker session it reads through is: one session when one
        ingest reads everything; with ingest workers (hub.ingest_workers), the hub's own ("hub":
        statuses, counts) and each worker's ("w0".."w{n-1}": the events the broker spread over
        them), every mark naming its session and how many workers the hub runs.

        Several hubs on one database (marks naming their `hub`) each read every event, so events
        arrive in time when any one of them is caught up (all of its own sessions). A hub's word
        holds for `valid_ms` (a few of its probe intervals): a hub that was killed says nothing
        more, and its last "caught up" must not speak for the hubs left reading (_lapse_claims)."""
        if hub is not None:
            mine = [f"{hub}/{s}" for s in ("hub", *(f"w{i}" for i in range(workers)))]
            self._sessions = {k: v for k, v in self._sessions.items() if not k.startswith(f"{hub}/")} | {
                k: self._sessions.get(k, False) for k in mine}
            self._claims = {k: v for k, v in self._claims.items() if k in self._sessions}
            key = f"{hub}/{session or 'hub'}"
            self._sessions[key] = ok
            if ok and isinstance(valid_ms, int) and valid_ms > 0:
                self._claims[key] = received + valid_ms
            else:
                self._claims.pop(key, None)
            self.caught_up = self._any_hub_caught_up()
            return
        self._claims = {}  # one hub: its word holds until its next mark
        if session is None:
            self._sessions = {}
            self.caught_up = ok
            return
        expected = ["hub", *(f"w{i}" for i in range(workers))]
        self._sessions = {s: self._sessions.get(s, False) for s in expected}
        if session in self._sessions:
            self._sessions[session] = ok
        self.caught_up = all(self._sessions.values())

    def _any_hub_caught_up(self) -> bool:
        hubs: dict[str, bool] = {}
        for k, v in self._sessions.items():
            name = k.rpartition("/")[0]
            hubs[name] = hubs.get(name, True) and v
        return any(hubs.values())

    def _lapse_claims(self, now: int) -> None:
        """Sessions whose last caught_up was not renewed in time (their hub died, or its probes
        wait behind a backlog) are caught up no longer."""
        for key, until in list(self._claims.items()):
            if now > until:
                del self._claims[key]
                self._sessions[key] = False
        self.caught_up = self._any_hub_caught_up()

    def process(self, events: list[StoredEvent] | None = None) -> Outcome:
        """New events are in the log (Store.append_events logs them): judge them."""
        return self.consume()

    def tick(self, now_ms: int) -> Outcome:
        """Time passes with nothing else received: log a tick, judge up to it (deadlines fire)."""
        if now_ms > self.store.input_position()[1]:
            self.store.log_input("tick", now_ms)
        return self.consume()

    def on_status(self, status: wire.Status, received: int | None = None) -> Outcome:
        """A device's status (`online` with its clock, or `offline`: its last will), logged and judged."""
        received = self.clock.now_ms() if received is None else received
        self.store.log_input("status", received, status.model_dump(mode="json"))
        return self.consume()

    def on_acd(self, feed: wire.AcdFeed, received: int | None = None) -> Outcome:
        """The contact center's idle-agent count (AWAY-PEAK), logged and judged."""
        received = self.clock.now_ms() if received is None else received
        self.store.log_input("acd", received, feed.model_dump(mode="json"))
        return self.consume()

    def now(self) -> int:
        return max(self.watermark, self.facts.latest)

    def advance_to(self, now_ms: int) -> Outcome:
        """Judge as if time were `now_ms`, without logging anything (a rebuild's end)."""
        with self.lock:
            out = Outcome()
            self.watermark = max(self.watermark, now_ms)
            now = self.now()
            self._plans_around(now)
            self._flush(now, out)
            return out

    def refresh(self) -> Outcome:
        """Re-read plans, badges and excuses now (after a lead action in this process)."""
        with self.lock:
            self._plans_version = -1
            out = Outcome()
            self._check_plans()
            self._flush(self.now(), out)
            return out

    def progress(self) -> dict[str, Any]:
        """How far the engine has judged the log (/api/health)."""
        # no lock: health must answer while a batch is judged
        return progress_of(self.seq, self.watermark, *self.store.input_position())

    # ------------------------------------------------------------ restart: checkpoint + tail

    def resume(self, emit: Any = None) -> None:
        """After a restart: load the checkpoint and judge the log's tail after it; without a usable
        checkpoint, replay what the engine keeps in memory and settle everything older. `emit`
        as for consume: the hub's live loop gets the verdicts of taps made during the catch-up."""
        cp = self.derived.checkpoint()
        restored = cp is not None and cp["format"] == CHECKPOINT_FORMAT and self._restore(cp)
        if not restored:
            last_seq, last_received = self.store.input_position()
            if last_seq == 0:
                return
            since = last_received - self._memory_ms()
            first = self.store.first_input_seq_received_since(since)
            self.seq = (first or last_seq + 1) - 1
            if first != 1:  # not the whole log: what starts before the replay is settled
                first_row = self.store.read_inputs(after_seq=self.seq, limit=1)
                self.frozen_before = self._settled_before(first_row[0].received if first_row else since)
        started = time.perf_counter()
        seq0 = self.seq
        self.consume(emit=emit)
        log.info("engine: %s, judged %d inputs in %.1f s", "checkpoint loaded" if restored else "no checkpoint",
                 self.seq - seq0, time.perf_counter() - started)

    def _memory_ms(self) -> int:
        return HORIZON_MS + ARRIVAL_LOOKBACK_MS + self.lim.max_shift

    def _checkpoint_due(self) -> bool:
        if not self.checkpoints:
            return False
        return (self._inputs_since_checkpoint >= CHECKPOINT_EVERY_INPUTS
                or time.monotonic() - self._checkpoint_at >= self.checkpoint_every_s)

    def checkpoint(self) -> None:
        """Write a checkpoint now (a clean shutdown, tests)."""
        with self.lock:
            self._flush(self.now(), Outcome(), checkpoint=True, force=True)

    def _state(self) -> bytes:
        state = {
            "facts": self.facts, "deadlines": {u: st.deadline for u, st in self.units.items()},
            "heap": self._heap, "dev_heap": self._dev_heap, "dev_online": self._dev_online,
            "dev_scheduled": self._dev_scheduled, "owner_of_violation": self._owner_of_violation,
            "away_starts": self._away_starts, "rows_cache": self._rows_cache, "last_prune": self._last_prune,
            "stats": self.stats, "plans": self.plans.snapshot(), "plans_version": self._plans_version,
            "frozen_before": self.frozen_before, "caught_up": self.caught_up, "sessions": self._sessions,
            "claims": self._claims,
        }
        return zlib.compress(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL), 1)

    def _restore(self, cp: dict[str, Any]) -> bool:
        try:
            state = pickle.loads(zlib.decompress(cp["state"]))  # our own database, written by us
        except Exception:  # a damaged checkpoint is not fatal: the log is the truth
            log.exception("engine: checkpoint unreadable; replaying the log instead")
            return False
        self.facts = state["facts"]
        self.memo = Memo()
        self.memo.newest_tap = max((tl.items[-1].t for tl in self.facts.uid_taps.values() if len(tl)), default=-1)
        self.units = {}
        for unit, deadline in state["deadlines"].items():
            st = self.units[unit] = _UnitState()  # rows unknown: the first result replaces the unit's rows
            st.deadline = deadline
        self._heap = state["heap"]
        self._dev_heap = state["dev_heap"]
        self._dev_online = state["dev_online"]
        self._dev_scheduled = state["dev_scheduled"]
        self._owner_of_violation = state["owner_of_violation"]
        self._away_starts = state["away_starts"]
        self._rows_cache = state["rows_cache"]
        self._last_prune = state["last_prune"]
        self.stats = state["stats"]
        self.plans.restore(state["plans"])
        self.frozen_before = state["frozen_before"]
        self.caught_up = state["caught_up"]
        self._sessions = state.get("sessions", {})  # checkpoints from before ingest workers have none
        self._claims = state.get("claims", {})  # nor from before claims lapsed
        self.seq, self.watermark = cp["seq"], cp["watermark"]
        self._plans_version = state["plans_version"]
        if self.derived.plans_version() != self._plans_version:  # leads acted while the hub was down
            self._plans_version = -1
            self.dirty.update(u for u in self.units if not self._frozen(u))
        return True

    # ------------------------------------------------------------ reads for the web app

    def seats(self) -> list[dict[str, Any]]:
        """Every seat's live state (contract channel "seat" rows), computed at now."""
        with self.lock:
            now = self.now()
            self._flush(now, Outcome())
            out = []
            for seat in self.site.info.seats:
                st = self.units.get(("seatnow", seat.id))
                rows = self._rows_cache.get(("seatnow", seat.id), {}).get("seat_state") if st else None
                row = rows[0] if rows else {"seat": seat.id, "zone": seat.zone, "state": "no_data", "agent": None,
                                             "since": None, "used_before_s": 0.0}
                out.append(self._seat_update(row, now))
            return out

    def equipment(self) -> list[dict[str, Any]]:
        with self.lock:
            self._flush(self.now(), Outcome())
            out = []
            for tag, e in sorted(self.statics.site_equipment.items()):
                rows = self._rows_cache.get(("tag", tag), {}).get("equipment_state")
                row = dict(rows[0]) if rows else {"tag": tag, "kind": e.kind, "home_seat": e.home_seat, "seen_at": None,
                                                   "seen_device": None, "last_seen": None, "state": "home", "since": None}
                track = self.facts.tags.get(tag)
                last = track.last_seen() if track else None
                row["last_seen"] = last.last if last else None
                out.append(row)
            return out

    def device_states(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            now = self.now()
            out = {}
            for dev, track in self.facts.devices.items():
                last = track.runs[-1].end if track.runs else None
                out[dev] = {"device": dev, "reporting": track.online_at(now), "last_report": last,
                            "clock_trusted": bool(track.verified), "clock_skew_ms": track.last_skew_ms}
            return out

    # ------------------------------------------------------------ ingest

    def _track(self, device: str) -> DeviceTrack:
        t = self.facts.devices.get(device)
        if t is None:
            t = self.facts.devices[device] = DeviceTrack(device, self.lim.offline_after)
        return t

    def _date(self, t: int) -> str:
        """The site's local date of t, cached per minute (zone offsets are whole minutes)."""
        minute = t // 60_000
        day = self._dates.get(minute)
        if day is None:
            if len(self._dates) > 100_000:
                self._dates.clear()
            day = self._dates[minute] = local_date(t, self.site.tz).isoformat()
        return day

    def _ingest(self, e: StoredEvent) -> Fact | None:
        self.stats["events"] += 1
        track = self._track(e.device)
        episodes = len(track.episodes), (track.episodes[-1].count if track.episodes else 0)
        # A late heartbeat says the clock is behind only when nothing queued it: none spooled ahead
        # of it on the device, and the hub's session had delivered what the broker held (caught_up).
        live_probe = self.caught_up and e.type == "heartbeat" and e.body.get("spooled") == 0
        # The device's kernel may say its clock is not synchronised (clock_sync false): no data.
        clock_ok = e.clock_ok and e.body.get("clock_sync") is not False
        t, timing = track.effective_time(e.ts, e.received, clock_ok, e.event_id, self.lim.clock_skew_max, live_probe)
        if (len(track.episodes), (track.episodes[-1].count if track.episodes else 0)) != episodes:
            self.dirty.add(("device", e.device, self._date(track.episodes[-1].start)))
            if track.episodes[-1].kind == "clock_unknown":  # no data for that span: re-judge its users
                self._device_changed(e.device, e.received)
        if t < e.received - HORIZON_MS:
            self.stats["ignored_old"] += 1
            return None
        self._presence(e.device, track, t)
        self._watch_device(e.device, t)
        if t > self.facts.latest:
            self.facts.latest = t
        self._plans_around(t)
        if e.type == "heartbeat":  # proof of life is all it says: nothing else to place
            return None
        cfg = self.site.devices.get(e.device)
        role, place = (cfg.role, cfg.place) if cfg is not None else ("", None)
        try:
            f = Fact(t, e.event_id, e.device, e.seq, e.type, role, place, e.received, timing, e.body)
            if f.uid is not None:  # the card this tap is, matched on the bits its reader sees
                if self.enrolling.get(e.device, 0) > t:
                    self._enrol(e, t)
                f.uid = self.plans.tap_key(e.device, e.body)
        except (KeyError, TypeError, ValueError):
            log.warning("engine: event %s from %s has an unusable body; logged, not judged", e.event_id, e.device)
            return None
        kind = e.type
        if kind == "badge":
            self._on_badge(f)
        elif kind == "occupancy":
            self._on_occupancy(f)
        elif kind == "button":
            self._on_button(f)
        elif kind == "inventory":
            self._on_inventory(f)
        return f

    def _enrol(self, e: StoredEvent, t: int) -> None:
        """A tap at a reader a lead put in enrolment mode binds its card first (hub.enrolment), so
        the tap is then filed, judged and answered with the card bound."""
        from hub.cards import reader_width  # noqa: PLC0415
        from hub.enrolment import enrol_tap, read_of  # noqa: PLC0415

        bits = reader_width(self.site.reader_bits(e.device, e.body.get("reader")), e.body.get("card_bits"))
        done = enrol_tap(self.site, self.derived, e.device, e.event_id, t, read_of(str(e.body["uid"]), bits))
        if done is not None:
            log.info("engine: enrolment %s at %s for %s: %s %s", done.enrolment_id, e.device, done.employee_no,
                     done.state, done.action or done.reason)
            self._plans_version = -1
            self._check_plans()

    def _plans_around(self, t: int) -> None:
        """Load the duties of the days around t (first time seen): they are judged from now on."""
        fresh = self.plans.ensure_around(t)
        for d in fresh:
            for duty in self.plans.by_date.get(d, []):
                self.dirty.add(duty.unit)

    def _on_badge(self, f: Fact) -> None:
        facts = self.facts
        uid = f.uid or ""
        facts.line(facts.uid_taps, uid).add(f)
        self.memo.filed(f)
        date = self._date(f.t)
        self.dirty.add(("badge", uid, date))
        owner = self.plans.owner(uid, f.t)
        emp = owner.agent.employee_no if owner.status == "ok" and owner.agent else None
        if emp is not None:
            facts.line(facts.agent_taps, emp).add(f)
            self._dirty_agent(emp, f.t)
        if f.role == "seat" and f.place:
            facts.line(facts.seat_taps, f.place).add(f)
            self._dirty_seat(f.place, f.t)
            if emp is not None:  # seats this agent used lately: a sign-in here ends a sign-in there
                others = {g.place for g in facts.agent_taps[emp].between(f.t - self.lim.max_shift, f.t + 1)
                          if g.role == "seat" and g.place and g.place != f.place}
                for seat in others:
                    self._dirty_seat(seat, f.t)
        elif f.role == "door" and f.place:
            facts.line(facts.door_taps, f.place).add(f)
            self.dirty.add(("door", f.place, date))

    def _on_occupancy(self, f: Fact) -> None:
        facts = self.facts
        if f.role == "seat" and f.place:
            tl = facts.line(facts.seat_occ, f.place)
            prev = tl.last_before(f.t)
            tl.add(f)
            self._dirty_seat(f.place, f.t)
            if prev is not None:
                self.dirty.add(("seat", f.place, self._date(prev.t)))
            zone = self.statics.zone_of.get(f.place)
            if zone:
                self.dirty.add(("zone", zone, self._date(f.t)))
        elif f.role == "door" and f.place:
            facts.line(facts.door_pass, f.place).add(f)
            self.dirty.add(("door", f.place, self._date(f.t)))

    def _on_button(self, f: Fact) -> None:
        if f.role == "seat" and f.place:
            self.facts.line(self.facts.seat_buttons, f.place).add(f)
            self._dirty_seat(f.place, f.t)

    def _on_inventory(self, f: Fact) -> None:
        facts = self.facts
        runs = facts.inv_runs.get(f.device)
        if runs is None:
            runs = facts.inv_runs[f.device] = ReportRuns(self.lim.inventory_period * 3 // 2 + 1000)
            if f.role == "seat" and f.place:
                for tag in self.tags_at_seat.get(f.place, ()):
                    self.dirty.add(("tag", tag))
        runs.add(f.t)
        seen = set()
        for tag in f.tags:
            if tag not in self.statics.site_equipment:
                continue
            seen.add(tag)
            track = facts.tags.get(tag)
            if track is None:
                track = facts.tags[tag] = TagTrack(tag)
                self.dirty.add(("tag", tag))
            # A sighting that only extends the last run changes nothing the unit shows while the
            # tag is at home (its loss is judged when the home reader reports without it), but
            # away from home the run's end is the incident's last_seen (EQUIP-EXIT).
            if track.add(f) or tag not in self.tags_at_seat.get(f.place or "", ()):
                self.dirty.add(("tag", tag))
        if f.role == "seat" and f.place:
            limit = self.lim.missing_cycles * self.lim.inventory_period
            for tag in self.tags_at_seat.get(f.place, ()):
                if tag in seen:
                    continue
                track = facts.tags.get(tag)
                last = track.last_seen() if track else None
                if last is None or last.last <= f.t - limit or last.place != f.place:
                    self.dirty.add(("tag", tag))

    def _apply_status(self, device: str, state: str, ts: int, received: int) -> None:
        track = self._track(device)
        if state == "online":
            track.probe(ts, received, self.lim.clock_skew_max)
            changed = self._presence(device, track, received)
            self._watch_device(device, received)
        else:
            # A device shutting down cleanly says `offline` stamped with its own clock: it was there
            # until then (a clean shutdown at 01:00 does not unmake the evening's data). A last will
            # carries the time it was set, at connect, so it proves nothing about when the device
            # died (the broker may publish it minutes later, when a new connection takes over), and
            # neither does a status that waited in a backlog.
            if (self.caught_up and track.runs and abs(received - ts) <= self.lim.clock_skew_max
                    and track.runs[-1].end < ts <= received and self._presence(device, track, ts)):
                self._watch_device(device, ts)
            changed = track.add_mark(received)
            if self._dev_online.get(device):  # a last will acts at once
                self._dev_online[device] = False
                self._device_update(device, False, received)
        if changed:
            self._device_changed(device, received)
        self.dirty.add(("device", device, self._date(received)))

    def _presence(self, device: str, track: DeviceTrack, t: int) -> bool:
        """A report at t; when it opens, splits or closes a gap, what trusts the device around t is
        recomputed, and so is what is around the gap's start: the gap belongs to the day it starts
        (DEV-OFFLINE), which may be another day than t's when the report came late."""
        gap_start = track.end_before(t)
        if not track.add_presence(t):
            return False
        self._device_changed(device, t)
        if gap_start is not None and gap_start < t:
            self._device_changed(device, gap_start)
        return True

    def _apply_acd(self, ts: int, idle: int, received: int) -> None:
        t = ts if abs(received - ts) <= self.lim.clock_skew_max else received
        bisect.insort(self.facts.acd, (t, idle))
        for unit, starts in self._away_starts.items():
            if any(t <= s <= t + self.lim.offline_after for s in starts):
                self.dirty.add(unit)

    # ------------------------------------------------------------ what an event touches

    def _dirty_agent(self, emp: str, t: int) -> None:
        for d in self.plans.of_agent(emp):
            if d.covers(t, ARRIVAL_LOOKBACK_MS + self.lim.max_shift, self.lim.absent_after + self.lim.max_shift):
                self.dirty.add(d.unit)
        self.dirty.add(("free", emp, self._date(t)))

    def _dirty_seat(self, seat: str, t: int) -> None:
        """What a seat's data at t touches is recomputed at the next flush. The moments are kept as
        one span per seat and fanned out once per flush (`_dirty_seat_spans`): a catch-up extends
        each seat's runs report by report, and fanning out every report was a fifth of its time."""
        span = self._seat_spans.get(seat)
        if span is None:
            self._seat_spans[seat] = [t, t]
        elif t < span[0]:
            span[0] = t
        elif t > span[1]:
            span[1] = t

    def _dirty_seat_spans(self) -> None:
        spans, self._seat_spans = self._seat_spans, {}
        for seat, (lo, hi) in spans.items():
            self._dirty_seat_span(seat, lo, hi)

    def _dirty_seat_span(self, seat: str, lo: int, hi: int) -> None:
        """Every unit a seat's data at any moment in [lo, hi] touches (a point when lo == hi)."""
        d = self.dirty
        first, last = local_date(lo, self.site.tz), local_date(hi, self.site.tz)
        day = first
        while day <= last:
            d.add(("seat", seat, day.isoformat()))
            day += dt.timedelta(days=1)
        d.add(("seatnow", seat))
        margin = ARRIVAL_LOOKBACK_MS + self.lim.absent_after
        for s in self.seats_by_position.get(self._position(seat), [seat]):
            for duty in self.plans.at_seat(s):
                if duty.start - margin <= hi and lo < duty.end + margin:
                    d.add(duty.unit)
        tl = self.facts.seat_taps.get(seat)
        if tl is not None:
            emps: set[str] = set()  # each agent's duties once, however often they tapped here
            a, b = lo - self.lim.max_shift - self.lim.absent_after, hi + 1
            for (uid, gd, emp), times in self._tappers(seat, tl).items():
                i = bisect.bisect_left(times, a)
                if i < len(times) and times[i] < b:
                    d.add(("badge", uid, gd))
                    if emp is not None:
                        emps.add(emp)
                        d.add(("free", emp, gd))
            for emp in emps:
                for duty in self.plans.of_agent(emp):
                    if duty.start - margin - self.lim.max_shift <= hi and lo < duty.end + margin:
                        d.add(duty.unit)
        for tag in self.tags_at_seat.get(seat, ()):
            d.add(("tag", tag))

    def _tappers(self, seat: str, tl: Timeline) -> dict[tuple[str, str, str | None], list[int]]:
        """The seat's taps by (badge, local date, the agent who held it then), kept in the memo
        and extended by the taps filed since."""
        self.memo.check(self.plans.version, self.excuses)
        items = tl.items
        w = self.memo.tappers.get(seat)
        if w is None or w.seen > len(items) or (w.seen and items[w.seen - 1] is not w.last):
            w = self.memo.tappers[seat] = Tappers()
        for g in items[w.seen:]:
            owner = self.plans.owner(g.uid or "", g.t)
            emp = owner.agent.employee_no if owner.status == "ok" and owner.agent is not None else None
            w.times.setdefault((g.uid or "", self._date(g.t), emp), []).append(g.t)
        w.seen, w.last = len(items), items[-1] if items else None
        return w.times

    def _position(self, seat: str) -> str:
        return self._positions.get(seat, seat)

    def _device_changed(self, device: str, t: int) -> None:
        """A device's data gaps changed: everything that trusts it is recomputed."""
        d = self.dirty
        date = self._date(t)
        d.add(("device", device, date))
        cfg = self.site.devices.get(device)
        if cfg is None:
            return
        if cfg.role == "seat" and cfg.seat:
            self._dirty_seat(cfg.seat, t)
            zone = self.statics.zone_of.get(cfg.seat)
            if zone:
                d.add(("zone", zone, date))
        else:
            # kiosks and doors: every roll call around that time
            for day in {self._date(t - ARRIVAL_LOOKBACK_MS - self.lim.absent_after), date}:
                for start, end, units in self._duty_windows(day):
                    if start - ARRIVAL_LOOKBACK_MS <= t <= end + self.lim.absent_after:
                        d.update(units)
            if cfg.role == "door" and cfg.door:
                d.add(("door", cfg.door, date))

    def _duty_windows(self, day: str) -> tuple[tuple[int, int, list[Unit]], ...]:
        """The day's duties grouped by (start, end): a kiosk's or door's report looks at a few shift
        windows instead of every duty of the floor. Cached while Plans keeps the same list (it
        rebuilds its lists on reload and restore; the cache holds the list, so its id is not reused)."""
        lst = self.plans.by_date.get(day)
        if not lst:
            return ()
        cached = self._windows.get(day)
        if cached is not None and cached[0] is lst and cached[1] == len(lst):
            return cached[2]
        groups: dict[tuple[int, int], list[Unit]] = {}
        for duty in lst:
            groups.setdefault((duty.start, duty.end), []).append(duty.unit)
        windows = tuple((start, end, units) for (start, end), units in groups.items())
        if len(self._windows) > 8:
            self._windows = {k: v for k, v in self._windows.items() if self.plans.by_date.get(k) is v[0]}
        self._windows[day] = (lst, len(lst), windows)
        return windows

    def _watch_device(self, device: str, t: int) -> None:
        """Wake up when the device would count as offline if it stays silent."""
        was = self._dev_online.get(device)
        if not was:
            self._dev_online[device] = True
            self._device_changed(device, t)
            if was is False:
                self._device_update(device, True, t)
        if device not in self._dev_scheduled:  # one wake-up per device at a time
            self._dev_scheduled.add(device)
            heapq.heappush(self._dev_heap, (t + self.lim.offline_after + 1, device))

    def _check_devices(self, now: int) -> None:
        heap = self._dev_heap
        while heap and heap[0][0] <= now:
            _, device = heapq.heappop(heap)
            self._dev_scheduled.discard(device)
            track = self.facts.devices.get(device)
            if track is None:
                continue
            online = track.online_at(now)
            if online:  # it reported meanwhile: look again when that report runs out
                deadline = track.offline_deadline(now)
                if deadline is not None:
                    self._dev_scheduled.add(device)
                    heapq.heappush(heap, (deadline, device))
                continue
            if self._dev_online.get(device):
                self._dev_online[device] = False
                last = track.runs[-1].end if track.runs else now
                self._device_changed(device, last)
                self._device_update(device, False, last)

    def _device_update(self, device: str, online: bool, since: int) -> None:
        if self.live:
            self._pending_updates.append(("device", {"device": device, "state": "online" if online else "offline",
                                                     "reporting": online, "since": since, "source": "engine"}))

    # ------------------------------------------------------------ plans

    def _check_plans(self) -> None:
        version = self.derived.plans_version()
        if version == self._plans_version:
            return
        self._plans_version = version
        old_excuses = self.excuses
        self.excuses = self.derived.excuses()
        for vid_ in old_excuses.keys() ^ self.excuses.keys():
            unit = self._owner_of_violation.get(vid_)
            if unit is not None:
                self.dirty.add(unit)
        self.enrolling = self.derived.enrolling_devices(0)
        old_badges = self.plans.badge_state()
        changed = self.plans.reload()
        self.tags_at_seat = {}
        for tag, e in self.statics.site_equipment.items():
            self.tags_at_seat.setdefault(self.plans.equipment_home.get(tag, e.home_seat), []).append(tag)
        if self.plans.badge_state() != old_badges:
            self._reindex_agent_taps()
            self.dirty.update(self.units.keys())
            return
        for unit in changed:
            self.dirty.add(unit)
            duty = self.plans.get(unit)
            _, date, shift, emp = unit
            self.dirty.add(("free", emp, date))
            seats = {duty.seat, duty.rostered_seat} if duty else set()
            old = self._rows_cache.get(unit, {}).get("attendance")
            if old:
                seats.add(old[0].get("rostered_seat"))
            for seat in seats - {None}:
                self.dirty.add(("seatnow", seat))
                for d in self.plans.at_seat(seat):
                    if d.date == date:
                        self.dirty.add(d.unit)
                        self.dirty.add(("free", d.emp, date))
        for tag, unit in ((t, ("tag", t)) for t in self.statics.site_equipment):
            if unit in self.units and self.plans.equipment_home.get(tag) != self._rows_cache.get(unit, {}).get(
                    "equipment_state", [{}])[0].get("home_seat"):
                self.dirty.add(unit)

    def _reindex_agent_taps(self) -> None:
        """After badge changes: taps of a card nobody held when they came (a replacement recorded
        late, dated back with --at) are filed under the card now, then every tap goes to whoever
        held its card at that moment."""
        facts = self.facts
        self.memo.reset()
        for uid in [u for u in facts.uid_taps if u.startswith(("unknown:", "ambiguous:"))]:
            key = self.plans.rekey(uid)
            if key == uid:
                continue
            for f in facts.uid_taps.pop(uid):
                f.uid = key
                facts.line(facts.uid_taps, key).add(f)
                self.dirty.add(("badge", key, self._date(f.t)))
        facts.agent_taps.clear()
        for uid, tl in facts.uid_taps.items():
            for f in tl:
                owner = self.plans.owner(uid, f.t)
                if owner.status == "ok" and owner.agent is not None:
                    facts.line(facts.agent_taps, owner.agent.employee_no).add(f)

    # ------------------------------------------------------------ evaluation

    def _ctx(self, now: int, *, private: bool = False) -> Ctx:
        return Ctx(self.site, self.plans, self.facts, self.lim, now, self.excuses, self.statics,
                   None if private else self.memo)

    def _seatnow_all(self) -> None:
        for seat in self.site.info.seats:
            self.dirty.add(("seatnow", seat.id))

    def _compute(self, ctx: Ctx, unit: Unit) -> dict[str, list[dict[str, Any]]]:
        kind = unit[0]
        if kind == "duty":
            duty = self.plans.get(unit)
            if duty is None:
                return {}
            return rollcall.duty_unit(ctx, duty).records
        if kind == "seat":
            return badge.seat_unit(ctx, unit[1], unit[2])
        if kind == "seatnow":
            return {"seat_state": [facilities.seat_now(ctx, unit[1])]}
        if kind == "zone":
            return facilities.zone_unit(ctx, unit[1], unit[2])
        if kind == "tag":
            return equipment.tag_unit(ctx, unit[1])
        if kind == "door":
            return badge.door_unit(ctx, unit[1], unit[2])
        if kind == "badge":
            return badge.badge_unit(ctx, unit[1], unit[2])
        if kind == "device":
            return devices.device_unit(ctx, unit[1], unit[2])
        if kind == "free":
            return rollcall.free_unit(ctx, unit[1], unit[2]).records
        raise ValueError(f"unknown unit {unit!r}")

    def _frozen(self, unit: Unit) -> bool:
        """A unit of a settled date: its rows stand, nothing recomputes them."""
        if not self.frozen_before:
            return False
        kind = unit[0]
        if kind == "duty":
            return unit[1] < self.frozen_before
        if kind in ("seat", "zone", "door", "badge", "device", "free"):
            return unit[2] < self.frozen_before
        return False

    def _flush(self, now: int, out: Outcome, *, checkpoint: bool = False, force: bool = False) -> None:
        """Recompute every unit that is dirty or due, write what changed (and, when asked, the
        checkpoint of the state after it, in the same transaction), emit live updates."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            t, unit = heapq.heappop(heap)
            st = self.units.get(unit)
            if st is not None and st.deadline == t:
                st.deadline = None
                self.dirty.add(unit)
        self._check_devices(now)
        self._dirty_seat_spans()
        if self.frozen_before:
            self.dirty = {u for u in self.dirty if not self._frozen(u)}
        pending, self._pending_updates = self._pending_updates, []
        if not self.dirty and not force:
            out.updates.extend(pending)
            if checkpoint:
                self._write_checkpoint({}, {}, {})
            return
        ctx = self._ctx(now)
        upserts: dict[str, list[tuple]] = {}
        deletes: dict[str, list[tuple]] = {}
        scope: dict[str, list[tuple[str, list[tuple]]]] = {}
        updates: list[tuple[str, dict[str, Any]]] = pending
        todo = sorted(self.dirty, key=unit_name)
        self.dirty = set()
        ahead = self._emit is not None and self.live and (len(todo) > AHEAD_EVERY_UNITS or checkpoint)
        for i, unit in enumerate(todo):
            if ahead and i % AHEAD_EVERY_UNITS == AHEAD_EVERY_UNITS - 1:
                self._answer_ahead_now()  # a person at a reader is not kept waiting for the whole flush
            ctx.deadline = None
            try:
                records = self._compute(ctx, unit)
            except Exception:  # one bad unit must not stop the floor
                log.exception("engine: unit %s failed", unit_name(unit))
                continue
            self.stats["units_computed"] += 1
            self._write_unit(unit, records, ctx.deadline, upserts, deletes, scope, updates, now)
        if ahead:  # ...nor for the writes (a checkpoint at 2,000 seats takes about a second)
            self._answer_ahead_now()
        if checkpoint:
            self._write_checkpoint(upserts, deletes, scope)
        else:
            try:
                self.derived.apply(upserts, deletes, scope)
            except Exception:
                log.exception("engine: writing derived rows failed")
        if self.live:
            out.updates.extend(updates)
            # FAC-ZONE-EMPTY's A/C relay (issue 11 item 6): a changed judgement is a command
            out.commands.extend(facilities.relay_command(d, now) for ch, d in updates if ch == "relay")

    def _write_checkpoint(self, upserts: dict, deletes: dict, scope: dict) -> None:
        started = time.perf_counter()
        try:
            state = self._state()
            self.derived.apply(upserts, deletes, scope,
                               checkpoint=(CHECKPOINT_FORMAT, self.seq, self.watermark, self.clock.now_ms(), state))
        except Exception:
            log.exception("engine: writing derived rows and checkpoint failed")
            return
        self._checkpoint_at = time.monotonic()
        self._inputs_since_checkpoint = 0
        log.info("engine: checkpoint at input %d (%d kB, %.2f s)", self.seq, len(state) // 1024,
                 time.perf_counter() - started)

    def _write_unit(self, unit: Unit, records: dict[str, list[dict[str, Any]]], deadline: int | None,
                    upserts: dict, deletes: dict, scope: dict, updates: list, now: int) -> None:
        st = self.units.get(unit)
        if st is not None and st.rows is not None and self._rows_cache.get(unit) == records:
            self._set_deadline(unit, st, deadline)  # the same answer: nothing to encode or write
            return
        if st is None:
            st = self.units[unit] = _UnitState()
        name = unit_name(unit)
        first = st.rows is None
        old = st.rows or {}
        new: dict[str, dict[tuple, tuple]] = {}
        old_records = {} if first else self._rows_cache.get(unit, {})
        for table, rows in records.items():
            if table.startswith("_"):
                new[table] = {(r["key"],): tuple(sorted(r.items())) for r in rows}
                continue
            keys, stored = KEYS[table], old.get(table, {})
            # a row equal to the one this unit wrote last time keeps its encoding: no JSON again
            before = {tuple(r[k] for k in keys): r for r in old_records.get(table, ())} if stored else {}
            enc = {}
            for r in rows:
                key = tuple(r[k] for k in keys)
                prev = before.get(key)
                enc[key] = stored[key] if prev is not None and prev == r and key in stored else encode_row(
                    table, {**r, "unit": name})
            new[table] = enc
        for table in new.keys() | old.keys():
            n, o = new.get(table, {}), old.get(table, {})
            pseudo = table.startswith("_")
            changed = [k for k, v in n.items() if o.get(k) != v]
            gone = [k for k in o if k not in n]
            if not pseudo:
                if changed:
                    upserts.setdefault(table, []).extend(n[k] for k in changed)
                if gone and not first:
                    deletes.setdefault(table, []).extend(gone)
                if first and name in self._units_in_db:
                    scope.setdefault(table, []).append((name, list(n.keys())))
            if self.live:
                self._live_updates(table, records.get(table, []), changed, gone, updates, now)
        if first and name in self._units_in_db:  # tables it produced nothing for may hold old rows
            for table in COLUMNS:
                if table not in new:
                    scope.setdefault(table, []).append((name, []))
        st.rows = new
        self._rows_cache[unit] = records
        for r in records.get("violations", ()):
            self._owner_of_violation[r["id"]] = unit
        if unit[0] == "duty":
            self._away_starts[unit] = [p["start"] for p in records.get("away_periods", ())]
        self._set_deadline(unit, st, deadline)

    def _set_deadline(self, unit: Unit, st: _UnitState, deadline: int | None) -> None:
        if deadline is not None and deadline != st.deadline:
            heapq.heappush(self._heap, (deadline, unit))
        st.deadline = deadline

    def _live_updates(self, table: str, rows: list[dict[str, Any]], changed: list[tuple], gone: list[tuple],
                      updates: list, now: int) -> None:
        if not changed and not gone:
            return
        if table == "violations":
            by_key = {(r["id"],): r for r in rows}
            for k in changed:
                updates.append(("violation", violation_json(by_key[k])))
            for k in gone:
                updates.append(("violation", {"id": k[0], "withdrawn": True}))
        elif table == "seat_state":
            for r in rows:
                updates.append(("seat", self._seat_update(r, now)))
        elif table == "equipment_state":
            for r in rows:
                updates.append(("equipment", {k: r[k] for k in ("tag", "kind", "home_seat", "seen_at", "state", "since")}))
        elif table == "_rollcall":
            by_key = {(r["key"],): r for r in rows}
            for k in changed:
                r = by_key[k]
                updates.append(("rollcall", {k2: v for k2, v in r.items() if k2 != "key"}))
        elif table == "_zone":
            by_key = {(r["key"],): r for r in rows}
            for k in changed:
                updates.append(("zone", {k2: v for k2, v in by_key[k].items() if k2 != "key"}))
            for k in gone:
                updates.append(("zone", {"zone": k[0], "empty": False, "since": None}))
        elif table == "_relay":  # FAC-ZONE-EMPTY's A/C relay (issue 11 item 6); _flush sends it
            by_key = {(r["key"],): r for r in rows}
            for k in changed:
                updates.append(("relay", {k2: v for k2, v in by_key[k].items() if k2 != "key"}))

    def _seat_update(self, row: dict[str, Any], now: int) -> dict[str, Any]:
        used = row.get("used_before_s") or 0.0
        if row.get("state") in ("break", "unattended") and row.get("since") is not None and row.get("agent"):
            used += max(0, now - row["since"]) / 1000
        return {"seat": row["seat"], "zone": row.get("zone"), "state": row["state"], "agent": row.get("agent"),
                "since": row.get("since"), "break_used_s": round(used, 1)}

    # ------------------------------------------------------------ tap feedback

    def _feedback(self, ctx: Ctx, f: Fact, out: Outcome, *, provisional: bool = False,
                  answered: tuple[str, str] | None = None) -> dict[str, Any] | None:
        """The verdict for a person at the reader: a live update and a feedback command. A tap
        answered ahead of the backlog (`answered`: its provisional result and verdict) is answered
        again only when its verdict in log order differs (marked `corrected`)."""
        try:
            tap = badge.verdict(ctx, f)
        except Exception:
            log.exception("engine: no verdict for tap %s", f.event_id)
            return None
        if answered is not None:
            if answered == (tap["result"], tap["verdict"]):
                return tap
            tap["corrected"] = True
        if provisional:
            tap["provisional"] = True
        out.updates.append(("tap", tap))
        text = f"{tap['text_zh']} / {tap['text_en']}"[:120]
        out.commands.append(wire.Command(v=1, device=f.device, ts=self.clock.now_ms(), cmd="feedback",
                                         result=tap["result"], text=text, re=f.event_id))
        return tap

    # ------------------------------------------------------------ memory

    def _prune_at_fixed_points(self, now: int) -> None:
        """Prune when the watermark crosses a multiple of PRUNE_EVERY_MS, at that multiple: the
        same log prunes at the same points however it was batched."""
        point = now - now % PRUNE_EVERY_MS
        if point > self._last_prune:
            self._prune(point)

    def _prune(self, now: int) -> None:
        """Forget what no future event can change any more; its dates are settled from now on."""
        self._last_prune = now
        cutoff = now - self._memory_ms()
        facts = self.facts
        taps = [*facts.uid_taps.values(), *facts.agent_taps.values(), *facts.seat_taps.values()]
        kept = sum(map(len, taps))
        for index in (facts.seat_occ, facts.seat_taps, facts.seat_buttons, facts.agent_taps, facts.uid_taps,
                      facts.door_pass, facts.door_taps):
            for tl in index.values():
                tl.prune_before(cutoff)
        if sum(map(len, taps)) != kept:
            self.memo.reset()  # a tap whose predecessors are cut is judged differently
        for track in facts.devices.values():
            track.prune_before(cutoff)
        for runs in facts.inv_runs.values():
            runs.prune_before(cutoff)
        for tag in facts.tags.values():
            tag.prune_before(cutoff)
        i = 0
        while i < len(facts.acd) - 1 and facts.acd[i + 1][0] < cutoff:
            i += 1
        del facts.acd[:i]
        # a date whose units need facts from before the cut-off can no longer be recomputed: settled
        settled = self._settled_before(cutoff)
        self.frozen_before = max(self.frozen_before, settled)
        for unit in [u for u in self.units if self._frozen(u)]:
            st = self.units.pop(unit)
            st.deadline = None
            self._rows_cache.pop(unit, None)
            self._away_starts.pop(unit, None)
        self._owner_of_violation = {v: u for v, u in self._owner_of_violation.items() if u in self.units}
        self.plans.drop_dates_before(self.frozen_before)

    def _settled_before(self, t: int) -> str:
        """The first date all of whose units' facts come after t (a day's units look back up to
        ARRIVAL_LOOKBACK_MS before it starts): every earlier date is settled once facts before t
        are gone."""
        return (local_date(t + ARRIVAL_LOOKBACK_MS, self.site.tz) + dt.timedelta(days=1)).isoformat()

