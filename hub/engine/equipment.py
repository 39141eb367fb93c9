"""Equipment: EQUIP-MOVED, EQUIP-MISSING, EQUIP-EXIT, EQUIP-LIABILITY.

A tag's history is a list of sightings by place. Seen at a seat other than its home seat is a
move (charged to whoever was signed in there); seen at an exit door is an exit; not seen for
equipment_missing_cycles inventory periods is a loss, but only once the home seat's reader has
reported without it after that time (positive proof, so a reader that is off never "loses"
anything). The end-of-shift audit (损坏和遗失…照价赔偿: headsets and mice stay at their seat) is
the other way a loss is found: equipment_audit_grace_min after each shift at the home seat ends,
a tag not seen by any reader for a whole inventory period is lost, again only once the home
reader has reported without it (so a site may set a long cycle limit for flaky readers and still
audit every shift end). Whichever way opens first opens the loss. A loss is charged to the agent signed in at the home seat when the tag was last seen,
else split equally across the team on shift (落实责任人照价赔偿;若无法落实责任人,则由当班班组共同承担).
"""

from __future__ import annotations

from typing import Any

from hub.engine.context import Ctx, rid
from hub.engine.site_time import ARRIVAL_LOOKBACK_MS


def split_cents(total: float, n: int) -> list[float]:
    """Equal parts to the cent; the first parts take the leftover cents."""
    cents = round(total * 100)
    base, extra = divmod(cents, n)
    return [(base + (1 if i < extra else 0)) / 100 for i in range(n)]


def liable_for(ctx: Ctx, home: str, t: int) -> tuple[list[str], str]:
    """Who pays for a tag last seen at t: the agent signed in at the home seat, else the team on
    shift (the team of the home seat's duty; its members on duty at t who had arrived)."""
    s = ctx.session_at(home, t)
    if s is not None:
        return [s.emp], "signed_in"
    duty = ctx.plans.seat_duty_at(home, t)
    if duty is None:
        before = [d for d in ctx.plans.at_seat(home) if d.start <= t]
        duty = before[-1] if before else None
    team = duty.team if duty else None
    on_shift = [d for ds in ctx.plans.by_date.values() for d in ds
                if d.start <= t < d.end and not d.leave and (team is None or d.team == team)]
    arrived = [d.emp for d in on_shift if ctx.agent_taps(d.emp, d.start - ARRIVAL_LOOKBACK_MS, t + 1)]
    members = sorted(set(arrived or [d.emp for d in on_shift]))
    return members, "team"


def tag_unit(ctx: Ctx, tag: str) -> dict[str, list[dict[str, Any]]]:
    equip = ctx.site_equipment.get(tag)
    if equip is None:
        return {}
    home = ctx.plans.equipment_home.get(tag, equip.home_seat)
    home_device = ctx.seat_device.get(home)
    price = ctx.prices.get(equip.kind, 0.0)
    track = ctx.f.tags.get(tag)
    runs = track.runs if track else []
    incidents: list[dict[str, Any]] = []
    vios: list[dict[str, Any]] = []
    base = {"tag": tag, "kind": equip.kind, "home_seat": home, "price": price}

    # EQUIP-MOVED and EQUIP-EXIT
    i = 0
    while i < len(runs):
        r = runs[i]
        nxt = runs[i + 1] if i + 1 < len(runs) else None
        if r.role == "seat" and r.place != home:
            closed = nxt.first if nxt else None
            s = ctx.session_at(r.place, r.first)
            emp = s.emp if s else None
            incidents.append({**base, "id": rid("i", tag, "moved", r.first_event), "rule": "EQUIP-MOVED", "opened": r.first,
                              "closed": closed, "last_seen": r.first, "last_seen_device": r.device,
                              "liable": [{"employee_no": emp, "share": 1.0}] if emp else [],
                              "evidence": [r.first_event] + ([nxt.first_event] if nxt else [])})
            if ctx.enabled("EQUIP-MOVED"):
                vios.append(ctx.violation(
                    "EQUIP-MOVED", "moved", (tag, r.first_event), start=r.first, end=closed,
                    evidence=[r.first_event] + ([nxt.first_event] if nxt else []), emp=emp, seat=r.place,
                    device=r.device, details={"tag": tag, "kind": equip.kind, "home_seat": home, "seen_at": r.place}))
        elif r.role == "door" and ctx.door_kind.get(r.place, "both") in ("exit", "both"):
            closed = nxt.first if nxt is not None and nxt.role == "seat" else None
            emp = _carrier(ctx, r.place, r.first, home)
            incidents.append({**base, "id": rid("i", tag, "exit", r.first_event), "rule": "EQUIP-EXIT", "opened": r.first,
                              "closed": closed, "last_seen": r.last, "last_seen_device": r.device,
                              "liable": [{"employee_no": emp, "share": 1.0}] if emp else [],
                              "evidence": [r.first_event]})
            if ctx.enabled("EQUIP-EXIT"):
                vios.append(ctx.violation(
                    "EQUIP-EXIT", "exit", (tag, r.first_event), start=r.first, end=closed, evidence=[r.first_event],
                    emp=emp, device=r.device, details={"tag": tag, "kind": equip.kind, "door": r.place, "home_seat": home}))
        i += 1

    # EQUIP-MISSING and EQUIP-LIABILITY
    stretches: list[tuple[int, str | None, str | None, int | None, str | None]] = []  # U, last event, device, next, next event
    if runs:
        for r, nxt in zip(runs, runs[1:] + [None], strict=True):
            stretches.append((r.last, r.last_event, r.device, nxt.first if nxt else None, nxt.first_event if nxt else None))
    elif home_device in ctx.f.inv_runs:  # never seen since its reader started reporting
        stretches.append((ctx.f.inv_runs[home_device].first(), None, None, None, None))
    limit = ctx.lim.missing_cycles * ctx.lim.inventory_period
    state, since = "home", None
    if runs:
        last = runs[-1]
        if last.role == "door" and ctx.door_kind.get(last.place, "both") in ("exit", "both"):
            state, since = "exit", last.first
        elif last.place != home:
            state, since = "moved", last.first
    audits = shift_end_audits(ctx, home)
    for u, u_event, u_device, found, found_event in stretches:
        opened, basis = _opened(ctx, home_device, u + limit), "cycles"
        audit = next((a for a in audits if a - ctx.lim.inventory_period > u), None)
        audit_opened = _opened(ctx, home_device, audit) if audit is not None else None
        if audit_opened is not None and (opened is None or audit_opened < opened):
            opened, basis = audit_opened, "shift_end_audit"
        if opened is None or (found is not None and found <= opened) or not ctx.reached(opened):
            continue
        if found is None:
            state, since = "missing", opened
        members, how = liable_for(ctx, home, u)
        shares = split_cents(price, len(members)) if members else []
        liable = [{"employee_no": m, "share": round(1 / len(members), 6), "amount": a} for m, a in zip(members, shares, strict=True)]
        evidence = [e for e in (u_event, found_event) if e]
        incidents.append({**base, "id": rid("i", tag, "missing", u), "rule": "EQUIP-MISSING", "opened": opened,
                          "closed": found, "last_seen": u, "last_seen_device": u_device, "liable": liable,
                          "evidence": evidence})
        if ctx.enabled("EQUIP-MISSING"):
            vios.append(ctx.violation(
                "EQUIP-MISSING", "missing", (tag, u), start=opened, end=found, evidence=evidence,
                emp=members[0] if len(members) == 1 and how == "signed_in" else None, seat=home,
                details={"tag": tag, "kind": equip.kind, "last_seen": u, "price": price, "liability": how,
                         "found_by": basis}))
        if found is None and ctx.enabled("EQUIP-LIABILITY"):
            for m, amount in zip(members, shares, strict=True):
                vios.append(ctx.violation(
                    "EQUIP-LIABILITY", "liability", (tag, u, m), start=opened, end=None, evidence=evidence, emp=m,
                    seat=home, amount=amount,
                    details={"tag": tag, "kind": equip.kind, "price": price, "split": len(members), "basis": how}))
    last = runs[-1] if runs else None
    live = {"tag": tag, "kind": equip.kind, "home_seat": home, "seen_at": last.place if last else None,
            "seen_device": last.device if last else None, "last_seen": None, "state": state, "since": since}
    return {"equipment_incidents": incidents, "violations": vios, "equipment_state": [live]}


def shift_end_audits(ctx: Ctx, seat: str) -> list[int]:
    """When the equipment of a seat is audited: equipment_audit_grace_min after each shift
    rostered there ends, in time order. The tag unit is recomputed once the home reader's first
    report after the next audit can have arrived (a long cycle limit would not wake it up)."""
    settle = ctx.lim.inventory_period * 3 // 2 + 1000  # a report after the audit has arrived by then
    audits = sorted({d.end + ctx.lim.audit_grace for d in ctx.plans.at_seat(seat)})
    upcoming = next((a for a in audits if a + settle > ctx.now), None)
    if upcoming is not None:
        ctx.need(upcoming + settle)
    return audits


def _opened(ctx: Ctx, device: str | None, due: int) -> int | None:
    """When a tag unseen since `due - limit` counts as lost: at `due` if its home reader was
    reporting inventories then, else when the reader next reported one without it. A reader that
    is off, or reports nothing, loses nothing."""
    runs = ctx.f.inv_runs.get(device or "")
    if runs is None:
        return None
    opened = runs.reporting_from(due)
    if opened is None:
        return None
    return opened


def _carrier(ctx: Ctx, door: str, t: int, home: str) -> str | None:
    """Who took a tag out: the last valid badge tap at that door within the tailgate window,
    else the agent signed in at the tag's home seat."""
    w = ctx.lim.tailgate_window
    tl = ctx.f.door_taps.get(door)
    taps = [f for f in (tl.between(t - w, t + w + 1) if tl else []) if ctx.owner_emp(f)]
    if taps:
        return ctx.owner_emp(min(taps, key=lambda f: abs(f.t - t)))
    s = ctx.session_at(home, t)
    return s.emp if s else None
