"""The console's view of the alert outbox: rows with attempts and last error, a lead's own teams
only, badge UIDs masked for non-admins; the panel's words exist in both catalogs."""

from __future__ import annotations

from hub.store import Store
from hub.store.alerts import AlertStore, NewAlert
from tests.conftest import issue_test_token


def _get(app, role: str, url: str = "/console/alerts.json", **user):
    c = app.test_client()
    c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {issue_test_token(app, role, **user)}"
    return c.get(url)


def test_outbox_rows_for_admins_and_leads(app, tmp_path):
    teams = ["T1", "T2"]
    store = Store(tmp_path / "hub.db")
    outbox = AlertStore(store)
    outbox.enqueue([NewAlert(f"v{i}", "leads", "alert", 1000 + i, 1000 + i, False, True,
                             {"id": f"v{i}", "rule": "BADGE-UNKNOWN", "team": t, "details": {"uid": "0A12345678"}})
                    for i, t in enumerate([*teams, None])])
    [first] = [r.id for r in outbox.queue("leads", 1)]
    outbox.mark_sending([first], 2000)
    outbox.mark_failed([first], 2000, "HTTP 500: down", 7000)
    admin = _get(app, "admin").get_json()
    assert admin["counts"] == {"leads": {"pending": 3}}
    row = next(r for r in admin["alerts"] if r["violation"] == "v0")
    assert (row["attempts"], row["last_error"], row["due"], row["state"]) == (1, "HTTP 500: down", 7000, "pending")
    assert row["payload"]["details"]["uid"] == "0A12345678"
    lead = _get(app, "lead", teams=["T1"]).get_json()
    assert sorted(r["violation"] for r in lead["alerts"]) == ["v0", "v2"] and lead["counts"] is None
    assert all(r["payload"]["details"]["uid"] == "******5678" for r in lead["alerts"])
    assert _get(app, "facilities").status_code == 403
    bad = _get(app, "admin", "/console/alerts.json?state=lost")
    assert bad.status_code == 400 and bad.get_json()["parameter"] == "state"
    store.close()


def test_the_alert_link_opens_the_violation_page_with_its_evidence(app, site_dir):
    """What a lead lands on from the chat: facts, excuse state, evidence events, the alerts sent;
    a lead of another team gets nothing, badge UIDs are masked for leads."""
    import datetime as dt
    import re

    from hub.alerts.messages import evidence_url
    from kiosk_ui import state
    from tests.test_exports_data import add_badge_event, add_violation, ensure_tables, local_ms

    with app.app_context():
        store, site = state.store(), state.site()
    ensure_tables(store)
    day = dt.date(2026, 11, 3)
    agent = site.agents[0]
    other_team = next(a.team for a in site.agents if a.team != agent.team)
    ev = add_badge_event(store, "kiosk-k1", "0A1B2C3D4E", local_ms(site.tz, day, "08:25"), 1)
    v = add_violation(store, rule="AWAY-UNATTENDED", kind="unattended", employee_no=agent.employee_no, team=agent.team,
                      seat="A01", zone="A", date=day.isoformat(), start=local_ms(site.tz, day, "08:25"),
                      end=local_ms(site.tz, day, "08:43"), evidence=[ev, "gone"], excused=1,
                      excuse_reason="医院证明", excused_by="lead1", excused_at=local_ms(site.tz, day, "09:00"))
    outbox = AlertStore(store)
    outbox.enqueue([NewAlert(v["id"], "leads", "alert", 1, 1, False, True, {"id": v["id"]})])
    url = evidence_url("http://hub.test", v)
    assert url == f"http://hub.test/console/violations/{v['id']}"
    path = url.removeprefix("http://hub.test")
    page = _get(app, "lead", path, teams=[agent.team])
    html = page.get_data(as_text=True)
    assert page.status_code == 200, html
    for text in ("擅自离岗", agent.name, agent.employee_no, "A01", "2026-11-03 08:25:00", "2026-11-03 08:43:00",
                 "已豁免", "医院证明", "lead1", "2026-11-03 09:00:00", "kiosk-k1", "******3D4E", "gone", "leads", "pending"):
        assert text in html, text
    assert "0A1B2C3D4E" not in html
    shown = re.sub(r"<script.*?</script>", "", html, flags=re.S)  # the page's words, not its config JSON
    assert not any(w in shown for w in ("None", "null", "undefined", "NaN"))
    en = _get(app, "admin", path + "?lang=en").get_data(as_text=True)
    assert "Excused" in en and "0A1B2C3D4E" in en
    assert _get(app, "lead", path, teams=[other_team]).status_code == 404
    assert _get(app, "facilities", path).status_code == 403
    assert _get(app, "admin", "/console/violations/nope").status_code == 404
