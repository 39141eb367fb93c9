"""Raw exports: taps from the event log, occupancy intervals, violations with their evidence,
equipment incidents with who pays, the audit trail; filters mean "rows about these people"."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest

from hub.cards import seen_uid
from hub.engine.scenario import badge_of
from hub.exports import ExportQuery, render_export, write_file
from tests.test_exports_data import (
    add_audit,
    add_badge_event,
    add_incident,
    add_occupancy,
    add_violation,
    ensure_tables,
    local_ms,
)

D = dt.date(2026, 11, 3)

# what the kiosk's desk reader (32 bits) reports for the cards sitegen gives 10001 and 10003
KIOSK_10001 = seen_uid(badge_of("10001"), 32)
KIOSK_10003 = seen_uid(badge_of("10003"), 32)


def _rows(site, store, kind, fmt="json", lang="zh", **q):
    query = ExportQuery(q.pop("date_from", D), q.pop("date_to", D), **q)
    buf = io.BytesIO()
    write_file(render_export(kind, site, store, query, fmt, lang), buf)
    if fmt == "json":
        return [json.loads(line) for line in buf.getvalue().decode().splitlines()]
    return list(csv.DictReader(io.StringIO(buf.getvalue().decode("utf-8-sig"))))


@pytest.fixture
def raw(site, store):
    ensure_tables(store)
    tz = site.tz
    t = lambda hhmm, day=D: local_ms(tz, day, hhmm)  # noqa: E731
    ids = {
        "tap_10001": add_badge_event(store, "seat-a01", badge_of("10001").lower(), t("08:21"), 1),  # lower case: still 10001
        "tap_unknown": add_badge_event(store, "door-d1", "DEADBEEF", t("08:22"), 1),
        "tap_10003": add_badge_event(store, "kiosk-k1", KIOSK_10003, t("08:23"), 1),
        "tap_yesterday": add_badge_event(store, "kiosk-k1", KIOSK_10001, t("23:59", D - dt.timedelta(days=1)), 2),
        "tap_midnight": add_badge_event(store, "kiosk-k1", KIOSK_10001, t("00:00", D + dt.timedelta(days=1)), 3),
    }
    add_occupancy(store, id="o1", seat="A01", device="seat-a01", start=t("08:21"), end=t("10:00"), occupied_by="10001")
    add_occupancy(store, id="o2", seat="A03", device="seat-a03", start=t("07:00", D - dt.timedelta(days=1)), end=None,
                  occupied_by="10003")  # still open: overlaps
    add_occupancy(store, id="o3", seat="B01", device="seat-b01", start=t("08:00", D - dt.timedelta(days=2)),
                  end=t("09:00", D - dt.timedelta(days=2)), occupied_by=None)  # long before
    add_violation(store, id="v1", rule="AWAY-BREAK-LONG", kind="break_long", employee_no="10001", team="T1", seat="A01",
                  date=D.isoformat(), start=t("10:00"), end=t("10:15"), evidence=[ids["tap_10001"]], details={"minutes": 15})
    add_violation(store, id="v2", rule="ROLL-EARLY", kind="late", employee_no="10003", team="T2", date=D.isoformat(),
                  start=t("08:40"), evidence=[], excused=1, excuse_reason="=cmd|' /C calc'!A0", excused_by="10021",
                  excused_at=t("12:00"))
    with store.lock:  # a damaged cell must not stop an export
        store.conn.execute("UPDATE violations SET details = 'not json' WHERE id = 'v2'")
    add_incident(store, id="i1", tag="E1", kind="headset", home_seat="A01", opened=t("16:30"), last_seen=t("15:00"),
                 price=180.0, liable=[{"employee_no": "10001", "share": 0.5, "amount": 90.0},
                                      {"employee_no": "10003", "share": 0.5, "amount": 90.0}])
    add_incident(store, id="i2", tag="E2", kind="mouse", home_seat="A02", opened=t("17:00"), closed=t("17:30"),
                 last_seen=t("16:00"), price=60.0, liable=[{"employee_no": "10002", "share": 1.0}])
    add_audit(store, id=1, ts=t("12:00"), actor="lead-t2", action="excuse", target="10003", details={"violation": "v2"})
    add_audit(store, id=2, ts=t("12:05"), actor="admin", action="reassign", target="10001", details={"seat": "A02"})
    return ids


def test_taps_name_the_agent_place_and_keep_unknown_badges(site, store, raw):
    rows = _rows(site, store, "taps")
    assert [r["event_id"] for r in rows] == [raw["tap_10001"], raw["tap_unknown"], raw["tap_10003"]]  # local day only
    first = rows[0]
    assert (first["employee_no"], first["place"], first["place_kind"], first["ts"]) == ("10001", "A01", "seat", "2026-11-03T08:21:00+08:00")
    assert rows[1]["employee_no"] is None and rows[1]["uid"] == "DEADBEEF"
    assert [r["event_id"] for r in _rows(site, store, "taps", agent="10003")] == [raw["tap_10003"]]
    assert [r["employee_no"] for r in _rows(site, store, "taps", team="T1")] == ["10001"]
    two_days = _rows(site, store, "taps", date_from=D - dt.timedelta(days=1), date_to=D + dt.timedelta(days=1))
    assert len(two_days) == 5


def test_occupancy_overlapping_the_range(site, store, raw):
    rows = _rows(site, store, "occupancy")
    assert [r["id"] for r in rows] == ["o2", "o1"]
    assert rows[1]["minutes"] == 99.0 and rows[1]["zone"] == "A"
    assert rows[0]["end"] is None and rows[0]["minutes"] is None
    assert [r["id"] for r in _rows(site, store, "occupancy", agent="10001")] == ["o1"]
    assert [r["id"] for r in _rows(site, store, "occupancy", team="T2")] == ["o2"]


def test_violations_carry_points_and_resolved_evidence(site, store, raw):
    rows = _rows(site, store, "violations")
    v2, v1 = rows  # by start time
    assert (v1["points"], v1["minutes"], v1["evidence"]) == (2, 15.0, [raw["tap_10001"]])
    assert [e["event_id"] for e in v1["evidence_events"]] == [raw["tap_10001"]]
    assert "11-03 08:21:00 seat-a01 badge" in v1["evidence_summary"]
    assert (v2["points"], v2["excused"], v2["details"]) == (0, True, {})
    text = _rows(site, store, "violations", "csv", "en")
    assert text[0]["Excuse reason"].startswith("'=")  # defused for Excel
    assert text[1]["Rule name"] == "break too long"
    assert [r["id"] for r in _rows(site, store, "violations", agent="10003")] == ["v2"]


def test_incidents_show_who_pays(site, store, raw):
    rows = _rows(site, store, "incidents")
    assert [r["id"] for r in rows] == ["i1", "i2"]
    assert rows[0]["charges"] == ["10001 王伟 90.00", "10003 张杰红 90.00"]
    assert rows[1]["charges"] == []  # found again: nobody pays
    assert [r["id"] for r in _rows(site, store, "incidents", agent="10003")] == ["i1"]
    assert _rows(site, store, "incidents", agent="10002") == []


def test_audit_trail(site, store, raw):
    rows = _rows(site, store, "audit", "csv")
    assert [r["操作"] for r in rows] == ["excuse", "reassign"]
    assert json.loads(rows[0]["详情"]) == {"violation": "v2"}
    assert [r["id"] for r in _rows(site, store, "audit", agent="10001")] == [2]


def test_an_empty_database_exports_headers_only(site, tmp_path):
    from hub.store import Store

    st = Store(tmp_path / "empty.db")  # no derived tables at all yet
    for kind in ("attendance", "taps", "occupancy", "violations", "incidents", "audit"):
        assert _rows(site, st, kind) == []
        assert _rows(site, st, kind, "csv") == []
    st.close()
