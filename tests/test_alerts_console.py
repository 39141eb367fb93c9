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
