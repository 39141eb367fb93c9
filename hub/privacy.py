"""Privacy: badge UIDs masked for everyone but admins, retention per data category with a purge
(command and schedule), and an agent's own data export (the access right of PIPL art. 45 /
GDPR art. 15).

Attendance data is personal data. What the hub keeps, and for how long, is set per category in
the site's rules.toml `[retention]` (defaults: raw events and occupancy 90 days, aggregated
attendance and the audit trail 2 years, the legal minimum in the seed's rules):

  raw_events_days   events (badge taps, sensor changes...) and quarantined payloads
  occupancy_days    occupancy intervals and away periods (who sat where, minute by minute)
  attendance_days   attendance, violations, equipment incidents, roster, leave, swaps,
                    seat assignments (what assessments and payroll are based on)
  audit_days        the audit trail

A purge deletes rows strictly older than the cut-off of their category and nothing else; the
derived tables that a rebuild would recompute from events keep their rows, so after raw events
are gone a rebuild must only cover the period the log still holds.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from edge.clock import Clock, SystemClock
from hub.site import Retention, Site
from hub.store import Store

log = logging.getLogger(__name__)

UID_KEYS = frozenset({"uid", "badge_uid", "badge", "badges"})
MASK_KEEP = 4  # trailing characters left visible, enough to tell two cards of one agent apart


def mask_uid(uid: str, *, reveal: bool = False) -> str:
    """'0A00000007' -> '******0007'; short values are masked entirely."""
    if reveal or not isinstance(uid, str) or not uid:
        return uid
    if len(uid) <= MASK_KEEP + 2:
        return "*" * len(uid)
    return "*" * (len(uid) - MASK_KEEP) + uid[-MASK_KEEP:]


def mask_tree(data: Any) -> tuple[Any, bool]:
    """Mask badge UIDs anywhere in a JSON value (keys uid, badge_uid, badge, badges).

    Returns (masked copy, whether anything changed). Event-type strings like {"type": "badge"}
    are values, not keys, and stay as they are.
    """
    changed = False

    def walk(v: Any) -> Any:
        nonlocal changed
        if isinstance(v, dict):
            out = {}
            for k, x in v.items():
                if k in UID_KEYS and isinstance(x, str):
                    out[k] = mask_uid(x)
                    changed = changed or out[k] != x
                elif k in UID_KEYS and isinstance(x, list) and all(isinstance(i, str) for i in x):
                    out[k] = [mask_uid(i) for i in x]
                    changed = changed or out[k] != x
                else:
                    out[k] = walk(x)
            return out
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    result = walk(data)
    return result, changed


HUB_LOGGERS = ("hub", "kiosk_ui", "edge")  # the hub process's own code (the demo runs edge agents in it)


class UidMaskingFilter(logging.Filter):
    """Masks badge UIDs in log records: every card form the site knows, any `uid=`/`uid:` value,
    and, in records of the hub's own loggers, any 10-hex-digit token: what a reader reports is
    the lower bits of a card (a W26 door reads 0F02A34B7C as 0000A34B7C), which is no registry
    form, and a desk reader's 10-digit decimal number is one too. (A 10-digit number that is not a
    card, e.g. a time in seconds, is masked as well: a log loses little by it.)

    Install on the handlers of the hub's process (install_log_masking) so that logs, which
    outlive every retention period in practice, never hold a readable badge number.
    """

    _UID_FIELD = re.compile(r"(\buid['\"]?\s*[=:]\s*['\"]?)([A-Za-z0-9]{4,64})")
    _WIRE_UID = re.compile(r"(?<![0-9A-Za-z])[0-9A-Fa-f]{10}(?![0-9A-Za-z])")

    def __init__(self, known_uids: Iterable[str] = ()) -> None:
        super().__init__()
        uids = sorted({u for u in known_uids if len(u) >= 4}, key=len, reverse=True)
        self._known = re.compile("|".join(re.escape(u) for u in uids), re.IGNORECASE) if uids else None

    def mask(self, text: str, *, wire: bool = False) -> str:
        """`wire`: also mask every 10-hex-digit token (a reader's uid as it reported it)."""
        text = self._UID_FIELD.sub(lambda m: m.group(1) + mask_uid(m.group(2)), text)
        if self._known is not None:
            text = self._known.sub(lambda m: mask_uid(m.group(0)), text)
        if wire:
            text = self._WIRE_UID.sub(lambda m: mask_uid(m.group(0)), text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the logger's problem, not ours
            return True
        masked = self.mask(message, wire=record.name.split(".", 1)[0] in HUB_LOGGERS)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def install_log_masking(site: Site, logger: logging.Logger | None = None) -> UidMaskingFilter:
    """Add the UID filter to every handler of `logger` (default: the root logger)."""
    flt = UidMaskingFilter(site.badge_owner().keys())
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, UidMaskingFilter) for f in handler.filters):
            handler.addFilter(flt)
    return flt


# ---------------------------------------------------------------- retention


CATEGORIES = ("raw_events", "occupancy", "attendance", "audit")


@dataclass(frozen=True)
class Cutoffs:
    """Rows strictly older than these go. Times are UTC ms; `attendance_date` is a site date."""

    raw_events_ms: int
    occupancy_ms: int
    attendance_date: str
    attendance_ms: int
    audit_ms: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def cutoffs(retention: Retention, now_ms: int, tz: dt.tzinfo) -> Cutoffs:
    """Each category's cut-off; attendance rounds to the start of a site-local day."""
    day = 86_400_000
    today = dt.datetime.fromtimestamp(now_ms / 1000, tz).date()
    att_date = today - dt.timedelta(days=retention.attendance_days)
    att_ms = int(dt.datetime.combine(att_date, dt.time(0), tz).timestamp() * 1000)
    return Cutoffs(
        raw_events_ms=now_ms - retention.raw_events_days * day,
        occupancy_ms=now_ms - retention.occupancy_days * day,
        attendance_date=att_date.isoformat(),
        attendance_ms=att_ms,
        audit_ms=now_ms - retention.audit_days * day,
    )


def purge(site: Site, store: Store, now_ms: int, *, dry_run: bool = False, actor: str = "retention") -> dict[str, int]:
    """Delete what the site's retention policy says is too old; returns rows per table.

    The purge itself is written to the audit trail (who, when, cut-offs, counts).
    """
    from hub.store.access import AuthStore
    from hub.store.personal_data import purge_before

    cut = cutoffs(site.rules.retention, now_ms, site.tz)
    counts = purge_before(store, cut, dry_run=dry_run)
    if not dry_run:
        AuthStore(store).write_audit(now_ms, actor, "purge", "retention",
                                     {"cutoffs": cut.as_dict(), "deleted": counts,
                                      "policy": site.rules.retention.model_dump()})
    return counts


class PurgeSchedule:
    """Runs `purge` once soon after start and then every `every_s` seconds, on its own thread.

    Time for the cut-offs comes from the injected clock (the hub's), the pacing from real time.
    """

    def __init__(self, site: Site, store: Store, clock: Clock | None = None, *, every_s: float = 6 * 3600,
                 first_after_s: float = 60.0) -> None:
        self.site, self.store = site, store
        self.clock: Clock = clock or SystemClock()
        self.every_s, self.first_after_s = every_s, first_after_s
        self.runs = 0
        self.last: dict[str, int] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> PurgeSchedule:
        self._thread = threading.Thread(target=self._loop, name="hub-retention", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    @property
    def running(self) -> bool:
        """Whether the schedule's thread is alive (the hub starts it; stop() ends it)."""
        return self._thread is not None and self._thread.is_alive()

    def run_once(self) -> dict[str, int]:
        self.last = purge(self.site, self.store, self.clock.now_ms(), actor="retention-schedule")
        self.runs += 1
        if any(self.last.values()):
            log.info("retention purge: %s", ", ".join(f"{k} {v}" for k, v in self.last.items() if v))
        return self.last

    def _loop(self) -> None:
        wait = self.first_after_s
        while not self._stop.wait(wait):
            try:
                self.run_once()
            except Exception:  # a locked database now is no reason to stop purging later
                log.exception("retention purge failed; retrying at the next run")
            wait = self.every_s


# ---------------------------------------------------------------- the access right


def agent_data(site: Site, store: Store, employee_no: str, now_ms: int) -> dict[str, Any] | None:
    """Everything the hub holds about one agent, as one JSON document (None: no such agent).

    Unmasked: it is the agent's own data, handed to the agent. Includes what the data is for
    and how long each category is kept, as the access right asks.
    """
    from hub.engine.plans import Plans  # noqa: PLC0415
    from hub.store.derived import DerivedStore  # noqa: PLC0415
    from hub.store.personal_data import agent_rows, badge_event_rows

    agent = site.agent(employee_no)
    if agent is None:
        return None
    rows = agent_rows(store, employee_no, [])
    plans = Plans(site, DerivedStore(store))  # badge history: whose card each tap was at that moment
    rows["badge_events"] = []
    for e in badge_event_rows(store):
        with contextlib.suppress(ValueError, TypeError, KeyError):
            e["body"] = json.loads(e["body"])
            holder = plans.holder(plans.tap_key(e["device"], e["body"]), e["ts"])
            if holder is not None and holder.employee_no == employee_no:  # their taps, not a found card's
                rows["badge_events"].append(e)
    ret = site.rules.retention
    return {
        "generated": now_ms,
        "site": {"id": site.id, "name": site.info.name},
        "agent": agent.model_dump(),
        "purposes": {
            "badge_events": "roll call, seat sign-in and floor rules (RULES.md), raw evidence",
            "attendance": "attendance records, assessment and payroll",
            "violations": "floor-rule violations with their evidence; excusable by a lead",
            "occupancy_intervals": "seat occupancy while signed in (breaks, meals)",
            "audit": "who acted on this agent's records",
            "roster_cells": "the planned roster: shifts, seats and rest days",
            "swap_forms": "the signed 换班记录表 of an approved swap, the record of the change (kept as attendance)",
        },
        "retention_days": ret.model_dump(),
        "data": rows,
    }
