"""SQL of privacy: the retention purge (hub.privacy decides the cut-offs; this deletes) and the
rows held about one agent (the access right).

Each category names its tables and the column that dates a row. A table the hub has not created
(yet), or one without the dating column, is skipped and reported as -1 rather than guessed at.
Open rows (an occupancy interval or incident that has not ended) are never purged. Deletes run
in chunks, each its own short transaction, so ingest is not held up by a large purge.
"""

from __future__ import annotations

import json
from typing import Any

from hub.store import COUNT_EVENTS_ADDED, Store

CHUNK = 5000

# category -> (table, dating column, cut-off attribute of hub.privacy.Cutoffs, extra condition)
PLAN: dict[str, list[tuple[str, str, str, str]]] = {
    "raw_events": [
        ("events", "received", "raw_events_ms", ""),
        ("input_log", "received", "raw_events_ms", ""),
        ("quarantine", "received", "raw_events_ms", ""),
    ],
    "occupancy": [
        ("occupancy_intervals", "end", "occupancy_ms", '"end" IS NOT NULL'),
        ("away_periods", "end", "occupancy_ms", '"end" IS NOT NULL'),
    ],
    "attendance": [
        ("attendance", "date", "attendance_date", ""),
        ("violations", "date", "attendance_date", ""),
        ("equipment_incidents", "closed", "attendance_ms", "closed IS NOT NULL"),
        ("roster", "date", "attendance_date", ""),
        ("leave", "date", "attendance_date", ""),
        ("swaps", "date", "attendance_date", ""),
        ("seat_assignments", "date", "attendance_date", ""),
        ("roster_cells", "date", "attendance_date", ""),
        ("roster_overrides", "date", "attendance_date", ""),
        ("roster_published", "date", "attendance_date", ""),
        ("swap_forms", "date", "attendance_date", ""),  # the signed scans go with the duty they changed
    ],
    "audit": [
        ("audit", "ts", "audit_ms", ""),
    ],
}


def _columns(store: Store, table: str) -> set[str]:
    with store.lock:
        return store.dialect.columns(store.conn, table)


def purge_before(store: Store, cut: Any, *, dry_run: bool = False) -> dict[str, int]:
    """Delete (or with dry_run count) rows older than `cut` (a hub.privacy.Cutoffs)."""
    counts: dict[str, int] = {}
    rid = store.dialect.row_id
    for plan in PLAN.values():
        for table, column, attr, extra in plan:
            if column not in _columns(store, table):
                counts[table] = -1
                continue
            where = f'"{column}" < ?' + (f" AND {extra}" if extra else "")
            value = getattr(cut, attr)
            if dry_run:
                with store.lock:
                    counts[table] = store.conn.execute(f'SELECT count(*) FROM "{table}" WHERE {where}', (value,)).fetchone()[0]
                continue
            total = 0
            while True:
                with store.lock:
                    store.conn.execute("BEGIN IMMEDIATE")
                    try:
                        n = store.conn.execute(
                            f'DELETE FROM "{table}" WHERE {rid} IN (SELECT {rid} FROM "{table}" WHERE {where} LIMIT {CHUNK})',
                            (value,),
                        ).rowcount
                        if table == "events" and n:  # Store.count_events' counter, in the same transaction
                            store.conn.execute(COUNT_EVENTS_ADDED, (-n,))
                        store.conn.execute("COMMIT")
                    except BaseException:
                        store.conn.execute("ROLLBACK")
                        raise
                total += n
                if n < CHUNK:
                    break
            counts[table] = total
    return counts


# table -> columns that hold an employee number (rows about that agent)
AGENT_TABLES: dict[str, tuple[str, ...]] = {
    "roster": ("employee_no",),
    "attendance": ("employee_no",),
    "violations": ("employee_no",),
    "away_periods": ("employee_no",),
    "occupancy_intervals": ("occupied_by",),
    "seat_assignments": ("employee_no",),
    "leave": ("employee_no",),
    "swaps": ("from_employee_no", "to_employee_no"),
    "roster_cells": ("employee_no",),
    "roster_overrides": ("employee_no",),
    "roster_phases": ("employee_no",),
}


def agent_rows(store: Store, employee_no: str, badges: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Every row the hub holds about one agent, table by table (tables not created are absent)."""
    out: dict[str, list[dict[str, Any]]] = {}
    rid = store.dialect.row_id
    for table, cols in AGENT_TABLES.items():
        have = _columns(store, table)
        use = [c for c in cols if c in have]
        if not use:
            continue
        where = " OR ".join(f'"{c}" = ?' for c in use)
        out[table] = store.query(f'SELECT * FROM "{table}" WHERE {where} ORDER BY {rid}', [employee_no] * len(use))
    if "liable" in _columns(store, "equipment_incidents"):  # few rows; liable is a JSON list
        rows = store.query(f"SELECT * FROM equipment_incidents ORDER BY {rid}", [])
        out["equipment_incidents"] = [r for r in rows if _liable(r.get("liable"), employee_no)]
    if badges:
        marks = ",".join("?" * len(badges))
        out["badge_events"] = store.query(
            "SELECT id, event_id, device, seq, ts, received, type, body FROM events"
            f" WHERE type = 'badge' AND upper({store.dialect.json_field('body', 'uid')}) IN ({marks}) ORDER BY id",
            [b.upper() for b in badges],
        )
    if "sha256" in _columns(store, "swap_forms"):  # forms of their swaps, either side; the scan by its sha256
        out["swap_forms"] = store.query(
            'SELECT f.id, f.date, f.shift, f.from_employee_no, s.to_employee_no, f.sha256, f.media_type, f.size, f."by", f.at'
            " FROM swap_forms f LEFT JOIN swaps s USING (date, shift, from_employee_no)"
            " WHERE f.from_employee_no = ? OR s.to_employee_no = ? ORDER BY f.id",
            [employee_no, employee_no],
        )
    if "target" in _columns(store, "audit"):
        out["audit"] = store.query("SELECT * FROM audit WHERE target = ? ORDER BY id", [employee_no])
    return out


def badge_event_rows(store: Store) -> list[dict[str, Any]]:
    """Every badge tap in the log, for matching taps to cards in Python (a reader reports its own
    form of a card, so a card's taps are not one uid string)."""
    return store.query("SELECT id, event_id, device, seq, ts, received, type, body FROM events"
                        " WHERE type = 'badge' ORDER BY id", [])


def _liable(raw: Any, employee_no: str) -> bool:
    try:
        return any(isinstance(x, dict) and x.get("employee_no") == employee_no for x in json.loads(raw or "[]"))
    except ValueError:
        return False
