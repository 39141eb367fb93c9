"""The web downloads: every parameter validated (a 400 naming it), files streamed with download
names, the assessment as JSON for the console page and as files, evidence behind each score."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json

import pytest
from openpyxl import load_workbook

from hub.cards import seen_uid
from hub.engine.scenario import badge_of
from kiosk_ui import state
from tests.test_exports_data import (
    add_attendance,
    add_badge_event,
    add_violation,
    ensure_tables,
    local_ms,
)

NOV3 = dt.date(2026, 11, 3)

# what the kiosk's desk reader (32 bits) reports for the cards sitegen gives 10001 and 10003
KIOSK_10001 = seen_uid(badge_of("10001"), 32)


@pytest.fixture
def data(app):
    with app.app_context():
        store, site = state.store(), state.site()
    ensure_tables(store)
    tz = site.tz
    ev = add_badge_event(store, "kiosk-k1", KIOSK_10001, local_ms(tz, NOV3, "08:25"), 1)
    v = add_violation(store, rule="ROLL-EARLY", kind="roll_call_late", employee_no="10001", team="T1",
                      date="2026-11-03", start=local_ms(tz, NOV3, "08:25"), evidence=[ev, "not-in-the-log"],
                      shift="2026-11-03/day", details={"minutes": 5})
    add_attendance(store, date="2026-11-03", shift="day", employee_no="10001", name="王伟", team="T1",
                   rostered_seat="A01", first_arrival=local_ms(tz, NOV3, "08:25"), rollcall="roll_call_late",
                   violation_ids=[v["id"]])
    add_attendance(store, date="2026-11-03", shift="day", employee_no="10003", name="张杰红", team="T2",
                   rostered_seat="A03", rollcall="absent")
    return {"store": store, "site": site, "violation": v, "event": ev}


OK = "from=2026-11-01&to=2026-11-30"


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("to=2026-11-30", "from"),
        ("from=2026-13-01&to=2026-11-30", "from"),
        ("from=2026-11-1&to=2026-11-30", "from"),
        ("from=2026-02-30&to=2026-03-01", "from"),
        ("from=2026-11-01&to=2026-10-01", "to"),
        ("from=2020-01-01&to=2026-11-30", "to"),
        (f"{OK}&format=pdf", "format"),
        (f"{OK}&format=csv&lang=fr", "lang"),
        (f"{OK}&team=T1'%20OR%20'1'='1", "team"),
        (f"{OK}&agent=10001;DROP%20TABLE%20attendance", "agent"),
        (f"{OK}&agent=../../etc/passwd", "agent"),
        (f"{OK}&team=T1&team=T2", "team"),
        ("from=2026-11-01&from=2026-11-02&to=2026-11-30", "from"),
        (f"{OK}&team=" + "T" * 300, "team"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(client, data, query, parameter):
    resp = client.get(f"/api/attendance?{query}")
    assert resp.status_code == 400, resp.data
    body = resp.get_json()
    assert body["parameter"] == parameter and body["reason"]
    # and nothing was harmed
    assert data["store"].conn.execute("SELECT count(*) FROM attendance").fetchone()[0] == 2


def test_csv_download_streams_with_a_name_and_bom(client, data):
    resp = client.get(f"/api/attendance?{OK}&format=csv&team=T1")
    assert resp.status_code == 200
    assert resp.is_streamed
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    site = data["site"]
    assert f'filename="{site.id}_attendance_2026-11-01_2026-11-30_team-T1.csv"' in resp.headers["Content-Disposition"]
    body = resp.get_data()
    assert body.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][3] == "工号" and [r[3] for r in rows[1:]] == ["10001"]


def test_json_is_the_default_and_xlsx_opens(client, data, tmp_path):
    resp = client.get(f"/api/attendance?{OK}")
    assert resp.headers["Content-Type"].startswith("application/x-ndjson")
    assert [json.loads(line)["employee_no"] for line in resp.get_data(as_text=True).splitlines()] == ["10001", "10003"]
    resp = client.get(f"/api/attendance?{OK}&format=xlsx&lang=en&agent=10003")
    assert resp.headers["Content-Disposition"].endswith(".xlsx")
    (tmp_path / "a.xlsx").write_bytes(resp.get_data())
    rows = list(load_workbook(tmp_path / "a.xlsx", read_only=True).active.iter_rows(values_only=True))
    assert rows[0][3] == "Employee no." and rows[1][3] == "10003" and rows[1][10] == "absent"


def test_raw_exports_and_unknown_kind(client, data):
    resp = client.get(f"/api/exports/violations?{OK}")
    line = json.loads(resp.get_data(as_text=True).splitlines()[0])
    assert line["id"] == data["violation"]["id"]
    assert [e["event_id"] for e in line["evidence_events"]] == [data["event"]]
    assert line["evidence"] == [data["event"], "not-in-the-log"]
    taps = client.get(f"/api/exports/taps?{OK}&format=csv&lang=en").get_data().decode("utf-8-sig")
    tap = next(csv.DictReader(io.StringIO(taps)))
    assert (tap["Employee no."], tap["Place"], tap["Place kind"], tap["Time"]) == ("10001", "K1", "kiosk", "2026-11-03 08:25:00")
    resp = client.get(f"/api/exports/passwords?{OK}")
    assert resp.status_code == 400 and resp.get_json()["parameter"] == "kind"


def test_assessment_json_links_scores_to_violations_and_evidence(client, data):
    resp = client.get("/api/assessment?month=2026-11")
    assert resp.status_code == 200
    body = resp.get_json()
    me = next(a for a in body["agents"] if a["employee_no"] == "10001")
    assert (me["score"], me["grade"], me["fines"]) == (99, "excellent", 10)
    assert me["violations"][0]["id"] == data["violation"]["id"]
    ev = client.get(f"/api/assessment/violations/{data['violation']['id']}").get_json()
    assert [e["event_id"] for e in ev["evidence_events"]] == [data["event"]]
    assert ev["missing_evidence"] == ["not-in-the-log"]
    assert "08:25:00" in ev["evidence_summary"]
    assert client.get("/api/assessment/violations/nope").status_code == 404
    assert client.get("/api/assessment/violations/a%27b").get_json()["parameter"] == "violation"


@pytest.mark.parametrize(("query", "parameter"), [("", "month"), ("month=2026-13", "month"), ("month=11-2026", "month"),
                                                  ("month=2026-11&format=doc", "format"), ("month=2026-11&team=%3Cscript%3E", "team")])
def test_assessment_parameters(client, data, query, parameter):
    resp = client.get(f"/api/assessment?{query}")
    assert resp.status_code == 400 and resp.get_json()["parameter"] == parameter


def test_assessment_download(client, data):
    resp = client.get("/api/assessment?month=2026-11&format=csv")
    assert resp.status_code == 200
    assert f"{data['site'].id}_assessment_2026-11.csv" in resp.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(resp.get_data().decode("utf-8-sig"))))
    assert next(r for r in rows if r["工号"] == "10001")["等级"] == "优秀"


def test_exports_need_an_admin_or_export_token(app, data, anon_client, lead_client):
    assert anon_client.get(f"/api/attendance?{OK}").status_code == 401
    assert lead_client.get(f"/api/attendance?{OK}").status_code == 403
