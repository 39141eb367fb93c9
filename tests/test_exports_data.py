"""Builders for export tests: rows in the engine's derived tables, shaped by the shared contract
(/tmp/prompts/contract.md). The engine (hub/store/derived.py) owns and creates these tables; the
test at the bottom checks that every column the exports read exists in its schema."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from hub.store import IncomingEvent, Store

CONTRACT_COLUMNS = {
    "violations": [
        "id", "rule", "kind", "employee_no", "team", "seat", "zone", "device", "shift", "date", "start", "end",
        "evidence", "details", "amount", "excused", "excuse_reason", "excused_by", "excused_at",
    ],
    "attendance": [
        "date", "shift", "employee_no", "name", "team", "rostered_seat", "seats_used", "first_arrival",
        "arrival_minutes_before", "rollcall", "seat_signin", "signout", "minutes_worked", "breaks_count",
        "breaks_minutes", "meal_minutes", "violation_ids", "leave", "excused", "unrostered",
    ],
    "occupancy_intervals": ["id", "seat", "device", "start", "end", "occupied_by"],
    "equipment_incidents": [
        "id", "tag", "kind", "home_seat", "rule", "opened", "closed", "last_seen", "last_seen_device", "price",
        "liable", "evidence",
    ],
    "audit": ["id", "ts", "actor", "action", "target", "details"],
}  # fmt: skip


def ensure_tables(store: Store) -> None:
    """The derived tables, created by the engine's own schema (hub/store/derived.py)."""
    from hub.store.derived import DerivedStore

    DerivedStore(store)


def local_ms(tz, day: dt.date, hhmm: str, seconds: int = 0) -> int:
    h, m = (int(x) for x in hhmm.split(":"))
    return int(dt.datetime.combine(day, dt.time(h, m, seconds), tz).timestamp() * 1000)


def _insert(store: Store, table: str, row: dict[str, Any]) -> None:
    cols = list(row)
    quoted = ",".join(f'"{c}"' for c in cols)
    with store.lock:
        store.conn.execute(f'INSERT INTO {table} ({quoted}) VALUES ({",".join("?" * len(cols))})', [row[c] for c in cols])


def add_attendance(store: Store, **row: Any) -> dict[str, Any]:
    base = {
        "seats_used": [], "first_arrival": None, "arrival_minutes_before": None, "rollcall": "on_time",
        "seat_signin": None, "signout": None, "minutes_worked": 0.0, "breaks_count": 0, "breaks_minutes": 0.0,
        "meal_minutes": 0.0, "violation_ids": [], "leave": None, "excused": [], "unrostered": 0,
    }  # fmt: skip
    base.update(row)
    stored = {k: json.dumps(v, ensure_ascii=False) if isinstance(v, list) else v for k, v in base.items()}
    _insert(store, "attendance", stored)
    return base


def add_violation(store: Store, **row: Any) -> dict[str, Any]:
    base = {"id": "v-" + uuid.uuid4().hex[:10], "kind": "test", "team": None, "seat": None, "zone": None, "device": None,
            "shift": None, "end": None, "evidence": [], "details": {}, "amount": None, "excused": 0,
            "excuse_reason": None, "excused_by": None, "excused_at": None}
    base.update(row)
    stored = dict(base, evidence=json.dumps(base["evidence"]), details=json.dumps(base["details"], ensure_ascii=False))
    _insert(store, "violations", stored)
    return base


def add_incident(store: Store, **row: Any) -> dict[str, Any]:
    base = {"id": "i-" + uuid.uuid4().hex[:10], "closed": None, "last_seen_device": None, "price": None,
            "liable": [], "evidence": [], "rule": "EQUIP-MISSING"}
    base.update(row)
    stored = dict(base, liable=json.dumps(base["liable"]), evidence=json.dumps(base["evidence"]))
    _insert(store, "equipment_incidents", stored)
    return base


def add_audit(store: Store, **row: Any) -> dict[str, Any]:
    base = dict(row)
    _insert(store, "audit", dict(base, details=json.dumps(base.get("details", {}), ensure_ascii=False)))
    return base


def add_occupancy(store: Store, **row: Any) -> dict[str, Any]:
    base = {"id": "o-" + uuid.uuid4().hex[:10], "end": None, "occupied_by": None}
    base.update(row)
    _insert(store, "occupancy_intervals", base)
    return base


def add_badge_event(store: Store, device: str, uid: str, ts: int, seq: int) -> str:
    event_id = str(uuid.uuid4())
    store.append_events([IncomingEvent(event_id, device, seq, ts, ts + 40, "badge", True, {"uid": uid, "reader": "badge"})])
    return event_id


def test_exports_read_only_contract_columns(store):
    """Every column the exports read exists in the schema the derived tables really have."""
    ensure_tables(store)
    for table, columns in CONTRACT_COLUMNS.items():
        present = store.dialect.columns(store.conn, table)
        missing = [c for c in columns if c not in present]
        assert not missing, f"{table} lacks {missing}"
