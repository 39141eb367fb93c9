"""Privacy: retention purge removes exactly what the policy says, on command and on schedule;
an agent's own data export; badge UIDs masked in logs."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time

import pytest

from edge.clock import ManualClock
from hub.privacy import (
    PurgeSchedule,
    UidMaskingFilter,
    agent_data,
    cutoffs,
    install_log_masking,
    mask_uid,
    purge,
)
from hub.store import IncomingEvent
from hub.store.access import AuthStore
from hub.store.rosters import RosterStore

DAY = 86_400_000
NOW = int(dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC).timestamp() * 1000)


@pytest.fixture
def derived(store):
    from hub.store.derived import DerivedStore

    return DerivedStore(store)


def _event(i: int, received: int, uid: str = "0A00000001") -> IncomingEvent:
    return IncomingEvent(f"00000000-0000-4000-8000-{i:012d}", "seat-a01", i, received, received, "badge", True,
                         {"uid": uid, "reader": "badge"})


def _fill(site, store, derived) -> dict[str, dict[str, list]]:
    """For each category, rows just past its cut-off (must go) and at/after it (must stay)."""
    RosterStore(store)  # its tables: planned cells, overrides, publications, signed swap forms
    cut = cutoffs(site.rules.retention, NOW, site.tz)
    old_day = (dt.date.fromisoformat(cut.attendance_date) - dt.timedelta(days=1)).isoformat()
    keep_day = cut.attendance_date
    store.append_events([_event(1, cut.raw_events_ms - 1), _event(2, cut.raw_events_ms),
                         _event(3, NOW - DAY)])
    store.quarantine(cut.raw_events_ms - 1, "fw/v1/x/y/event", b"old", "bad")
    store.quarantine(cut.raw_events_ms + 1, "fw/v1/x/y/event", b"new", "bad")
    c = store.conn
    for i, (end, start) in enumerate([(cut.occupancy_ms - 1, cut.occupancy_ms - 10),
                                      (cut.occupancy_ms, cut.occupancy_ms - 10),
                                      (None, cut.occupancy_ms - 5 * DAY)]):  # still open: kept
        c.execute('INSERT INTO occupancy_intervals(id, seat, start, "end", occupied_by) VALUES (?,?,?,?,?)',
                  (f"o{i}", "A01", start, end, "10001"))
        c.execute('INSERT INTO away_periods(id, employee_no, seat, kind, start, "end") VALUES (?,?,?,?,?,?)',
                  (f"a{i}", "10001", "A01", "break", start, end))
    for day in (old_day, keep_day):
        c.execute("INSERT INTO attendance(date, shift, employee_no, rollcall) VALUES (?,?,?,?)",
                  (day, "day", "10001", "on_time"))
        c.execute("INSERT INTO violations(id, rule, kind, employee_no, date, start) VALUES (?,?,?,?,?,?)",
                  (f"v{day}", "ROLL-EARLY", "late", "10001", day, NOW))
        c.execute("INSERT INTO roster(date, employee_no, shift, seat) VALUES (?,?,?,?)", (day, "10001", "day", "A01"))
        c.execute("INSERT INTO leave(date, employee_no, kind) VALUES (?,?,?)", (day, "10002", "sick"))
        c.execute("INSERT INTO swaps(date, shift, from_employee_no, to_employee_no) VALUES (?,?,?,?)",
                  (day, "day", "10001", "10002"))
        c.execute("INSERT INTO seat_assignments(date, shift, employee_no, seat) VALUES (?,?,?,?)",
                  (day, "day", "10001", "A02"))
        c.execute("INSERT INTO roster_cells(date, employee_no, shift, seat, month) VALUES (?,?,?,?,?)",
                  (day, "10001", "day", "A01", day[:7]))
        c.execute("INSERT INTO roster_overrides(date, employee_no, kind, shift) VALUES (?,?,?,?)",
                  (day, "10001", "extra", "day"))
        c.execute('INSERT INTO roster_published(date, month, at, "by") VALUES (?,?,?,?)', (day, day[:7], NOW, "mgr"))
        c.execute('INSERT INTO swap_forms(date, shift, from_employee_no, sha256, media_type, size, data, "by", at)'
                  " VALUES (?,?,?,?,?,?,?,?,?)", (day, "day", "10001", f"sha-{day}", "application/pdf", 4, b"%PDF", "lead1", NOW))
    for i, closed in enumerate([cut.attendance_ms - 1, cut.attendance_ms, None]):
        c.execute("INSERT INTO equipment_incidents(id, tag, rule, opened, closed, liable) VALUES (?,?,?,?,?,?)",
                  (f"i{i}", "E1", "EQUIP-MISSING", cut.attendance_ms - 10 * DAY, closed,
                   json.dumps([{"employee_no": "10001", "share": 1.0}])))
    auth = AuthStore(store)
    auth.write_audit(cut.audit_ms - 1, "lead1", "reassign", "10001", {})
    auth.write_audit(cut.audit_ms, "lead1", "reassign", "10001", {})
    return {"cut": cut}


def _count(store, table: str) -> int:
    return store.conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]


def test_purge_removes_exactly_what_the_policy_says(site, store, derived):
    _fill(site, store, derived)
    other = {t: _count(store, t) for t in ("devices", "meta", "users", "seat_state", "engine_checkpoint", "excuses")}
    before = {t: _count(store, t) for t in ("events", "input_log", "quarantine", "occupancy_intervals", "away_periods",
                                            "attendance", "violations", "roster", "leave", "swaps",
                                            "seat_assignments", "equipment_incidents", "audit", "roster_cells",
                                            "roster_overrides", "roster_published", "swap_forms")}
    dry = purge(site, store, NOW, dry_run=True)
    assert {t: _count(store, t) for t in before} == before  # a dry run deletes nothing
    counts = purge(site, store, NOW)
    assert counts == dry
    expected = {"events": 1, "input_log": 1, "quarantine": 1, "occupancy_intervals": 1, "away_periods": 1, "attendance": 1,
                "violations": 1, "roster": 1, "leave": 1, "swaps": 1, "seat_assignments": 1,
                "equipment_incidents": 1, "audit": 1, "roster_cells": 1, "roster_overrides": 1, "roster_published": 1,
                "swap_forms": 1}
    assert counts == expected
    for table, n in expected.items():
        after = _count(store, table) - (1 if table == "audit" else 0)  # the purge audits itself
        assert after == before[table] - n, table
    assert [e.seq for e in store.iter_events()] == [2, 3]
    assert store.count_events() == 2  # the log's counter (what /api/health shows) follows the purge
    assert store.conn.execute("SELECT id FROM occupancy_intervals ORDER BY id").fetchall() == [("o1",), ("o2",)]
    assert store.conn.execute("SELECT id FROM equipment_incidents ORDER BY id").fetchall() == [("i1",), ("i2",)]
    assert {t: _count(store, t) for t in other} == other  # nothing outside the policy is touched
    last = AuthStore(store).audit_since(0)[-1]
    assert last["action"] == "purge" and last["details"]["deleted"] == expected
    assert purge(site, store, NOW) == dict.fromkeys(expected, 0)  # idempotent


def test_cutoffs_follow_the_site_policy(site):
    ret = site.rules.retention.model_copy(update={"raw_events_days": 7, "attendance_days": 365})
    cut = cutoffs(ret, NOW, site.tz)
    assert cut.raw_events_ms == NOW - 7 * DAY
    assert cut.attendance_date == "2025-06-15"  # a site-local day, 365 days back
    assert cut.occupancy_ms == NOW - site.rules.retention.occupancy_days * DAY


def test_scheduled_purge_runs_in_the_hub(site, store, derived):
    _fill(site, store, derived)
    sched = PurgeSchedule(site, store, ManualClock(NOW), every_s=3600, first_after_s=0.05).start()
    try:
        deadline = time.monotonic() + 20
        while sched.runs == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        sched.stop()
    assert sched.runs == 1 and sched.last["events"] == 1
    assert [e.seq for e in store.iter_events()] == [2, 3]


def test_agent_data_export_holds_all_and_only_their_data(site, store, derived):
    _fill(site, store, derived)
    agent = next(a for a in site.agents if a.employee_no == "10001")
    store.append_events([_event(10, NOW, uid=agent.badges[0].lower()), _event(11, NOW, uid="FFFFFFFFFF")])
    data = agent_data(site, store, "10001", NOW)
    assert data["agent"]["employee_no"] == "10001" and data["agent"]["badges"] == agent.badges
    d = data["data"]
    assert [e["seq"] for e in d["badge_events"]] == [10]  # its badge (any case), not another
    assert d["badge_events"][0]["body"]["uid"] == agent.badges[0].lower()  # unmasked: their own data
    assert len(d["attendance"]) == 2 and all(r["employee_no"] == "10001" for r in d["attendance"])
    assert len(d["swaps"]) == 2 and len(d["equipment_incidents"]) == 3 and len(d["audit"]) == 2
    assert d["leave"] == []  # that leave was 10002's
    assert len(d["roster_cells"]) == 2 and len(d["roster_overrides"]) == 2
    # the signed swap forms of their swaps, described, not the scans themselves (they download by sha256)
    assert [f["sha256"] for f in d["swap_forms"]] == [f"sha-{r['date']}" for r in d["swaps"]]
    assert all("data" not in f for f in d["swap_forms"])
    other = agent_data(site, store, "10002", NOW)["data"]  # the agent who took the duty sees the same forms
    assert [(f["sha256"], f["to_employee_no"]) for f in other["swap_forms"]] == [(f["sha256"], "10002") for f in d["swap_forms"]]
    assert data["retention_days"]["attendance_days"] == 730
    json.dumps(data)  # one JSON document
    assert agent_data(site, store, "nobody", NOW) is None


def test_uid_masking_helpers():
    assert mask_uid("0A00000007") == "******0007"
    assert mask_uid("0A00000007", reveal=True) == "0A00000007"
    assert mask_uid("1234") == "****"
    flt = UidMaskingFilter(["0A00000007"])
    rec = logging.LogRecord("hub", logging.INFO, __file__, 1, "tap of %s at %s, uid=%s", ("0a00000007", "K1", "DEADBEEF99"), None)
    flt.filter(rec)
    msg = rec.getMessage()
    assert "0a00000007" not in msg and "DEADBEEF99" not in msg and "K1" in msg and msg.count("*") >= 10


def test_cli_purge_and_agent_export(site_dir, tmp_path, capsys):
    from hub.cli import main
    from hub.store import Store

    db = tmp_path / "cli.db"
    s = Store(db)
    s.append_events([_event(1, 1_704_067_200_000)])  # 2024-01-01: older than 90 days by now
    s.close()
    assert main(["purge", "--site", str(site_dir), "--db", str(db), "--dry-run"]) == 0
    assert "events                 would delete 1" in capsys.readouterr().out
    assert main(["purge", "--site", str(site_dir), "--db", str(db)]) == 0
    assert "events                 deleted 1" in capsys.readouterr().out
    out = tmp_path / "agent.json"
    assert main(["privacy", "export-agent", "10001", "--site", str(site_dir), "--db", str(db), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["agent"]["employee_no"] == "10001"
    assert main(["privacy", "export-agent", "nobody", "--site", str(site_dir), "--db", str(db)]) == 1
    s = Store(db)
    actions = [r["action"] for r in AuthStore(s).audit_since(0)]
    assert actions == ["purge", "export"]


def test_cli_accounts_and_tokens(tmp_path, capsys):
    from hub.accounts import Accounts
    from hub.cli import main
    from hub.store import Store

    db = str(tmp_path / "acc.db")
    assert main(["user", "add", "hr", "--role", "admin", "--generate-password", "--db", db]) == 0
    password = capsys.readouterr().out.split("password: ")[1].strip()
    assert main(["user", "add", "l1", "--role", "lead", "--db", db, "--generate-password"]) == 1  # no teams
    assert main(["token", "issue", "hr", "--name", "payroll", "--scope", "export", "--db", db]) == 0
    token = capsys.readouterr().out.split("token: ")[1].strip()
    acc = Accounts(Store(db))
    assert acc.authenticate("hr", password) is not None
    p = acc.principal_for_token(token)
    assert p is not None and p.scope == "export"
    assert main(["token", "revoke", "1", "--db", db]) == 0
    assert acc.principal_for_token(token) is None
    assert main(["user", "disable", "hr", "--db", db]) == 0
    assert acc.authenticate("hr", password) is None


def test_the_hub_runs_the_retention_schedule(site, store, broker):
    from hub.service import HubService

    hub = HubService(site, store, broker_host=broker.host, broker_port=broker.port, clock=ManualClock(NOW),
                     engine=object()).start()
    try:
        assert hub.retention is not None and hub.retention.running
        assert hub.retention.every_s == 6 * 3600
        store.append_events([_event(1, NOW - 91 * DAY), _event(2, NOW - 89 * DAY)])
        assert hub.retention.run_once()["events"] == 1
    finally:
        hub.stop()
    assert not hub.retention.running


def test_hub_logs_mask_what_readers_report_not_only_registry_forms(site, caplog):
    """A W26 door reports the lower 24 bits, a desk reader the 10-digit decimal: neither is a
    registry form, both are a card number, and neither may reach the hub's logs in clear."""
    caplog.set_level(logging.INFO)
    flt = install_log_masking(site)
    try:
        w26_read, desk_read = "0000A34B7C", "0044256124"
        logging.getLogger("hub.engine.core").info("tap at door-d1 read %s; kiosk-k1 read %s", w26_read, desk_read)
        logging.getLogger("kiosk_ui.api").warning("unknown badge %s at %s", "0f02a34b7c", "kiosk-k1")
        logging.getLogger("hub.ingest").info("event 00000000-0000-4000-8000-00000000002a seq 1773100800123 ok")
        logging.getLogger("paho.client").info("sent 0000A34B7C")  # not the hub's logger: only known forms
    finally:
        for h in logging.getLogger().handlers:
            h.removeFilter(flt)
    text = caplog.text
    for raw in ("0000A34B7C", "0044256124", "0f02a34b7c"):
        assert raw not in text.split("paho")[0], text
    assert "******4B7C" in text and "******6124" in text and "door-d1" in text and "kiosk-k1" in text
    assert "00000000-0000-4000-8000-00000000002a" in text and "1773100800123" in text  # ids and ms times stay
    assert "sent 0000A34B7C" in text
