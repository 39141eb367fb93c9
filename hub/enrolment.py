"""Enrolment by tapping (issue 17): a lead puts a kiosk's or a seat's desk reader in enrolment
mode for one agent for a few minutes; the next tap there binds the card to that agent.

Binding is hub.roster.plan_binding, so the strongest form read wins (a 40-bit read upgrades a
stored facility,card form of the same card) and a card some reader of the site cannot tell from
another agent's is refused with the reason; the enrolment closes either way, with the tap that
answered it, and the reader shows "已登记 / enrolled" (or the refusal) instead of a roll-call
verdict.

The enrolment tap is otherwise a normal tap: the binding takes effect at the tap's own time, so
the engine then attributes that tap to the agent (a kiosk tap is their roll-call arrival, a seat
tap signs them in), as any later tap of the card. A refused tap stays what it was (usually an
unknown badge). Doors are refused: whoever walks in taps a door reader.

The engine calls `enrol_tap` while it files a badge event from an enrolling device (live only: on
a rebuild the enrolment is closed and its badge change already recorded, so the tap is attributed
the same way). Times are injected.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.cards import CardForm, reading
from hub.errors import InputError
from hub.roster.changes import BadgeError, plan_binding
from hub.site import Site
from hub.store import Store
from hub.store.derived import DerivedStore

DEFAULT_MINUTES = 2.0
MAX_MINUTES = 10.0
ROLES = ("kiosk", "seat")


class EnrolmentError(InputError):
    """A request to enrol that cannot be served; `field` names the input at fault."""


@dataclass(frozen=True)
class Enrolled:
    """How an enrolment tap was answered: state enrolled (action replace | upgrade | already) or
    refused (reason)."""

    enrolment_id: int
    employee_no: str
    state: str
    card: str | None
    action: str | None = None
    reason: str | None = None


def open_enrolment(site: Site, store: Store, device: object, employee_no: object, *, minutes: object = None,
                   actor: str, now_ms: int) -> dict:
    """Put `device`'s badge reader in enrolment mode for the agent; the enrolment row, or
    EnrolmentError naming the field and why."""
    if not isinstance(device, str) or device not in site.devices:
        raise EnrolmentError("device", f"{device!r} is not a device of this site")
    cfg = site.devices[device]
    if cfg.role not in ROLES:
        raise EnrolmentError("device", f"{device} is a {cfg.role} device: enrol at a kiosk or seat reader"
                                       " (whoever walks in taps a door reader)")
    if site.reader_bits(device, "badge") is None:
        raise EnrolmentError("device", f"{device} has no badge reader whose width the site knows")
    agent = site.agent(employee_no)
    if agent is None or not agent.active:
        raise EnrolmentError("employee_no", f"{employee_no!r} is not an active agent of this site")
    if minutes is None:
        minutes = DEFAULT_MINUTES
    if isinstance(minutes, bool) or not isinstance(minutes, int | float) or not 0 < minutes <= MAX_MINUTES:
        raise EnrolmentError("minutes", f"enrolment lasts more than 0 and at most {MAX_MINUTES:g} minutes")
    derived = DerivedStore(store)
    busy = derived.open_enrolment_at(device, now_ms)
    if busy is not None:
        raise EnrolmentError("device", f"{device} is already enrolling {busy['employee_no']} (enrolment {busy['id']})")
    eid = derived.open_enrolment(device, agent.employee_no, by=actor, opened_at=now_ms,
                                 expires_at=now_ms + int(minutes * 60_000))
    return enrolment_view(derived.enrolment(eid) or {}, now_ms)


def enrolment_view(row: dict, now_ms: int) -> dict:
    """An enrolment as the console shows it (an open one past its time is expired)."""
    state = row["state"]
    if state == "open" and now_ms >= row["expires_at"]:
        state = "expired"
    return {"id": row["id"], "device": row["device"], "employee_no": row["employee_no"], "by": row["by"],
            "opened_at": row["opened_at"], "expires_at": row["expires_at"], "state": state,
            "card": row["card"], "reason": row["reason"], "event_id": row["event_id"]}


def enrol_tap(site: Site, derived: DerivedStore, device: str, event_id: str, t: int, read: CardForm | None) -> Enrolled | None:
    """Answer an open enrolment at `device` covering moment t with this tap (`read`: what the reader
    saw, None when its width is unknown or the uid is not hex); None when nothing is enrolling."""
    row = derived.open_enrolment_at(device, t)
    if row is None:
        return None
    emp, actor = row["employee_no"], row["by"] or "unknown"
    try:
        if read is None:
            raise BadgeError("card", f"{device} did not say how many bits of the card it read")
        binding = plan_binding(site, derived, emp, read, actor=actor, now_ms=t, reason=f"enrolled at {device}",
                               field="card")
    except BadgeError as exc:
        card, reason = (read.text if read else None), exc.reason

        def refuse(conn) -> None:
            derived.close_enrolment(row["id"], state="refused", event_id=event_id, at=t, card=card, reason=reason,
                                    conn=conn)
            derived.bump_plans_version(conn)

        derived.transaction(refuse)
        return Enrolled(row["id"], emp, "refused", card, reason=reason)

    def write(conn) -> None:
        if binding.audit is not None:
            ts, who, action, target, details = binding.audit
            derived.change_badges(list(binding.changes),
                                  (ts, who, action, target, {**details, "enrolment": row["id"], "device": device}),
                                  conn=conn)
        else:
            derived.bump_plans_version(conn)
        derived.close_enrolment(row["id"], state="enrolled", event_id=event_id, at=t, card=binding.card,
                                reason=None, conn=conn)

    derived.transaction(write)
    return Enrolled(row["id"], emp, "enrolled", binding.card, action=binding.action)


def read_of(uid: str, bits: int | None) -> CardForm | None:
    """What the reader saw, as a card form (None if it cannot be one)."""
    if bits is None:
        return None
    try:
        return reading(uid, bits)
    except ValueError:
        return None
