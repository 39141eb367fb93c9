"""Builders for export tests: rows in the engine's derived tables, shaped by the shared contract
(/tmp/prompts/contract.md). The engine (hub/store/derived.py) owns these tables; until it is in
the tree the builders create them from the contract's column list, and the test at the bottom
checks that every column the exports read exists in whatever schema is in use."""

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

_DDL = """
CREATE TABLE IF NOT EXISTS violations (id TEXT PRIMARY KEY, rule TEXT, kind TEXT, employee_no TEXT, team TEXT,
  seat TEXT, zone TEXT, device TEXT, shift TEXT, date TEXT, start INTEGER, "end" INTEGER, evidence TEXT,
  details TEXT, amount REAL, excused INTEGER DEFAULT 0, excuse_reason TEXT, excused_by TEXT, excused_at INTEGER);
CREATE TABLE IF NOT EXISTS attendance (date TEXT, shift TEXT, employee_no TEXT, name TEXT, team TEXT,
  rostered_seat TEXT, seats_used TEXT, first_arrival INTEGER, arrival_minutes_before REAL, rollcall TEXT,
  seat_signin INTEGER, signout INTEGER, minutes_worked REAL, breaks_count INTEGER, breaks_minutes REAL,
  meal_minutes REAL, violation_ids TEXT, leave TEXT, excused TEXT, unrostered INTEGER,
  PRIMARY KEY (date, shift, employee_no));
CREATE TABLE IF NOT EXISTS occupancy_intervals (id TEXT PRIMARY KEY, seat TEXT, device TEXT, start INTEGER,
  "end" INTEGER, occupied_by TEXT);
CREATE TABLE IF NOT EXISTS equipment_incidents (id TEXT PRIMARY KEY, tag TEXT, kind TEXT, home_seat TEXT,
  rule TEXT, opened INTEGER, closed INTEGER, last_seen INTEGER, last_seen_device TEXT, price REAL, liable TEXT,
  evidence TEXT);
CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY, ts INTEGER, actor TEXT, action TEXT, target TEXT,
  details TEXT);
"""


def ensure_tables(store: Store) -> None:
    """The derived tables: the engine's own schema when it exists, else the contract's."""
    try:
        from hub.store import derived  # type: ignore[attr-defined]
    except ImportError:
        derived = None
    for name in ("ensure_schema", "create_tables", "migrate", "ensure_tables"):
        fn = getattr(derived, name, None) if derived is not None else None
        if callable(fn):
            try:
                fn(store)
            except TypeError:
                fn(store.db)
            return
    with store.lock:
        store.conn.executescript(_DDL)


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
    base = {"id": "v-" + uuid.uuid4().hex[:10], "kind": None, "team": None, "seat": None, "zone": None, "device": None,
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
        present = {r[1] for r in store.conn.execute(f"PRAGMA table_info({table})")}
        missing = [c for c in columns if c not in present]
        assert not missing, f"{table} lacks {missing}"
