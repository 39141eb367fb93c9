"""The console's enrolment API (hub.enrolment): a lead puts a kiosk reader in enrolment mode for
one of their agents; every input is validated with the field at fault; a session needs its CSRF
token like every other console form; the answer is read back by id."""

from __future__ import annotations

from kiosk_ui import state
from tests.conftest import issue_test_token


def _floor(app):
    with app.app_context():
        site = state.site()
    kiosk = next(d for d, c in sorted(site.devices.items()) if c.role == "kiosk")
    door = next(d for d, c in sorted(site.devices.items()) if c.role == "door")
    teams = sorted({a.team for a in site.agents})
    own = next(a.employee_no for a in site.agents if a.team == teams[0])
    other = next(a.employee_no for a in site.agents if a.team != teams[0])
    return kiosk, door, own, other


def test_a_lead_opens_an_enrolment_for_their_agent_and_reads_it_back(app, lead_client):
    kiosk, door, own, other = _floor(app)
    r = lead_client.post("/api/enrolments", json={"device": kiosk, "employee_no": own, "minutes": 2})
    assert r.status_code == 201, r.get_json()
    e = r.get_json()
    assert (e["device"], e["employee_no"], e["state"], e["expires_at"] - e["opened_at"]) == (kiosk, own, "open", 120_000)
    assert e["by"].startswith("test-lead")
    got = lead_client.get(f"/api/enrolments/{e['id']}")
    assert got.status_code == 200 and got.get_json()["state"] == "open"
    again = lead_client.post("/api/enrolments", json={"device": kiosk, "employee_no": own})
    assert again.status_code == 400 and again.get_json()["field"] == "device" and "already enrolling" in again.get_json()["reason"]
    assert lead_client.get("/api/enrolments/99999").status_code == 404
    with app.app_context():
        audit = [r for r in state.store().conn.execute("SELECT actor, action, target FROM audit").fetchall()
                 if r[1] == "badge.enrol_open"]
    assert [(a[0], a[2]) for a in audit] == [(e["by"], own)]


def test_enrolment_requests_are_validated_and_scoped_to_the_leads_teams(app, lead_client):
    kiosk, door, own, other = _floor(app)
    cases = [
        ({"device": "nope", "employee_no": own}, 400, "device"),
        ({"device": door, "employee_no": own}, 400, "device"),
        ({"device": kiosk, "employee_no": own, "minutes": 30}, 400, "minutes"),
        ({"device": kiosk, "employee_no": own, "minutes": "2"}, 400, "minutes"),
        ({"device": kiosk}, 403, None),  # no agent named: a lead's action must name one of theirs
        ({"device": kiosk, "employee_no": other}, 403, None),
    ]
    for body, status, field in cases:
        r = lead_client.post("/api/enrolments", json=body)
        assert r.status_code == status, (body, r.get_json())
        if field:
            assert r.get_json()["field"] == field, r.get_json()
    assert lead_client.post("/api/enrolments", data="x", content_type="text/plain").status_code in (400, 403)


def test_a_console_session_needs_its_csrf_token_to_open_an_enrolment(app):
    kiosk, _, own, _ = _floor(app)
    c = app.test_client()
    page = c.get(f"/console?token={issue_test_token(app, 'lead')}", headers={"Accept": "text/html"})
    assert page.status_code in (200, 302)
    me = c.get("/auth/me").get_json()
    assert me["via"] == "session"
    body = {"device": kiosk, "employee_no": own}
    assert c.post("/api/enrolments", json=body).status_code == 403
    assert c.post("/api/enrolments", json=body, headers={"X-CSRF-Token": me["csrf"]}).status_code == 201
