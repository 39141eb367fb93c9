"""Web access: the policy covers every route, roles are enforced, sessions and CSRF, tokens,
the login rate limit, kiosk and lead scopes, UID masking, audit of actions and exports."""

from __future__ import annotations

import json
import re

import pytest
from flask import jsonify, request

from edge.clock import ManualClock
from kiosk_ui import demo_login, guard, policy, sessions
from tests.conftest import issue_test_token

ROLES = ("kiosk", "facilities", "lead", "admin")
PASSWORD = "correct horse battery staple"


@pytest.fixture
def clock():
    return ManualClock(1_767_225_600_000)  # 2026-01-01


@pytest.fixture
def secure_app(site_dir, tmp_path, clock):
    """The real app with the guard on (whether or not create_app switches it on already)."""
    from kiosk_ui import create_app

    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "hub.db"), "SITE_DIR": str(site_dir),
                      "AUTH_CLOCK": clock})
    if "floorwatch.auth" not in app.extensions:
        guard.init_app(app)
    return app


@pytest.fixture
def accounts(secure_app):
    return secure_app.extensions["floorwatch.auth"].accounts


@pytest.fixture
def kiosk_device(site):
    return next(d for d, cfg in site.devices.items() if cfg.role == "kiosk")


@pytest.fixture
def tokens(accounts, site, kiosk_device):
    """One user and token per role (no passwords: hashing is slow on purpose)."""
    teams = sorted({a.team for a in site.agents})
    accounts.add_user("kiosk1", "kiosk", device=kiosk_device, place=site.devices[kiosk_device].place)
    accounts.add_user("fac", "facilities")
    accounts.add_user("lead1", "lead", teams=[teams[0]])
    accounts.add_user("boss", "admin")
    return {
        "kiosk": accounts.issue_token("kiosk1", "t"),
        "facilities": accounts.issue_token("fac", "t"),
        "lead": accounts.issue_token("lead1", "t"),
        "admin": accounts.issue_token("boss", "t"),
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _url(rule) -> str:
    values = {}
    for arg in rule.arguments:
        conv = rule._converters.get(arg)
        values[arg] = 999_999 if conv is not None and type(conv).__name__ == "IntegerConverter" else "x"
    return rule.build(values, append_unknown=False)[1]


class _ViewRan:
    """The guard let the request through and the view itself failed on the dummy arguments."""

    status_code = 500
    headers: dict[str, str] = {}

    def get_json(self, silent: bool = False):
        return None

    def get_data(self):
        return b"(view raised)"


def _call(client, method: str, url: str, headers: dict[str, str] | None = None):
    try:
        return client.open(url, method=method, headers={"Accept": "application/json", **(headers or {})},
                           json={} if method in policy.UNSAFE else None)
    except Exception:
        return _ViewRan()


def _is_role_refusal(resp) -> bool:
    if resp.status_code == 401:
        return True
    if resp.status_code == 302 and "/auth/login" in resp.headers.get("Location", ""):
        return True
    return resp.status_code == 403 and "may not use" in (resp.get_json(silent=True) or {}).get("reason", "")


def test_every_route_is_in_the_policy_and_refused_without_the_right_role(secure_app, tokens):
    """Walks app.url_map: anonymous and every role outside the policy line are refused."""
    client = secure_app.test_client()
    missing, leaks, checked = [], [], 0
    for rule in secure_app.url_map.iter_rules():
        access = policy.access_for(rule.endpoint)
        if access is None:
            missing.append(rule.endpoint)
            continue
        url = _url(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            checked += 1
            anon = _call(client, method, url)
            if access.roles is None:
                assert not _is_role_refusal(anon) or rule.endpoint == "auth.device_login", rule.endpoint
                continue
            if anon.status_code not in (401, 403):
                leaks.append(f"anonymous {method} {url} -> {anon.status_code}")
            for role in ROLES:
                resp = _call(client, method, url, bearer(tokens[role]))
                if role in access.roles:
                    assert not _is_role_refusal(resp), f"{role} refused on {rule.endpoint}: {resp.get_data()[:200]}"
                elif resp.status_code != 403:
                    leaks.append(f"{role} {method} {url} -> {resp.status_code}")
    assert not missing, f"routes without an access policy line: {missing}"
    assert not leaks, "\n".join(leaks)
    assert checked >= 5


def test_an_endpoint_missing_from_the_policy_is_denied_even_to_admins(secure_app, tokens):
    secure_app.add_url_rule("/api/new-thing", "probe.new_thing", lambda: jsonify({"secret": 1}))
    client = secure_app.test_client()
    resp = client.get("/api/new-thing", headers=bearer(tokens["admin"]))
    assert resp.status_code == 403 and "probe.new_thing" in resp.get_json()["reason"]


def test_health_stays_open_and_holds_no_personal_data(secure_app):
    resp = secure_app.test_client().get("/api/health")
    assert resp.status_code == 200
    assert set(resp.get_json()) <= {"status", "site", "events", "quarantined", "devices", "mqtt", "version"}


def test_bad_or_revoked_tokens(secure_app, tokens, accounts):
    client = secure_app.test_client()
    assert client.get("/api/events", headers=bearer("fwt_nope")).status_code == 401
    assert client.get("/api/events", headers={"Authorization": "Basic YWRtaW46YWRtaW4="}).status_code == 401
    assert client.get("/api/events", headers=bearer(tokens["admin"])).status_code == 200
    tid = next(t["id"] for t in accounts.db.tokens() if t["username"] == "boss")
    accounts.db.revoke_token(tid)
    assert client.get("/api/events", headers=bearer(tokens["admin"])).status_code == 401


def test_token_expiry_uses_the_injected_clock(secure_app, accounts, clock):
    accounts.add_user("tmp", "admin")
    tok = accounts.issue_token("tmp", "short", days=1)
    client = secure_app.test_client()
    assert client.get("/api/events", headers=bearer(tok)).status_code == 200
    clock.advance(86_401)
    assert client.get("/api/events", headers=bearer(tok)).status_code == 401


def _login(client, username: str, password: str, next_: str = "/"):
    page = client.get("/auth/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    return client.post("/auth/login", data={"username": username, "password": password, "csrf_token": csrf,
                                            "next": next_})


def test_password_login_session_csrf_and_logout(secure_app, accounts):
    accounts.add_user("ops", "admin", PASSWORD)
    client = secure_app.test_client()
    assert client.get("/auth/me").status_code == 401
    assert _login(client, "ops", "wrong password here").status_code == 401
    pre = client.get_cookie("fw_session").value
    resp = _login(client, "ops", PASSWORD, next_="/api/health")
    assert resp.status_code == 302 and resp.headers["Location"] == "/api/health"
    assert client.get_cookie("fw_session").value != pre  # a new session, not the anonymous one
    me = client.get("/auth/me").get_json()
    assert me["role"] == "admin" and me["via"] == "session"
    # a state change without the CSRF token fails, with it passes
    assert client.post("/api/admin/users", json={"username": "x1", "role": "facilities"}).status_code == 403
    assert client.post("/api/admin/users", json={"username": "x1", "role": "facilities"},
                       headers={"X-CSRF-Token": "forged"}).status_code == 403
    ok = client.post("/api/admin/users", json={"username": "x1", "role": "facilities"},
                     headers={"X-CSRF-Token": me["csrf"]})
    assert ok.status_code == 201
    # a cross-site origin is refused even with the token
    assert client.post("/api/admin/users", json={"username": "x2", "role": "facilities"},
                       headers={"X-CSRF-Token": me["csrf"], "Origin": "http://evil.example"}).status_code == 403
    assert client.post("/auth/logout").status_code == 403  # logout is a state change too
    assert client.post("/auth/logout", headers={"X-CSRF-Token": me["csrf"]}).status_code == 302
    assert client.get("/auth/me").status_code == 401


def test_login_form_needs_its_csrf_token_and_next_cannot_leave_the_site(secure_app, accounts):
    accounts.add_user("ops", "admin", PASSWORD)
    client = secure_app.test_client()
    client.get("/auth/login")
    assert client.post("/auth/login", data={"username": "ops", "password": PASSWORD}).status_code == 403
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        resp = _login(client, "ops", PASSWORD, next_=evil)
        assert resp.status_code == 302 and resp.headers["Location"] == "/", evil


def test_login_rate_limit(secure_app, accounts, clock):
    accounts.add_user("ops", "admin", PASSWORD)
    client = secure_app.test_client()
    for _ in range(5):
        assert _login(client, "ops", "not the password").status_code == 401
    resp = _login(client, "ops", PASSWORD)  # even the right password waits now
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 0
    clock.advance(901)
    assert _login(client, "ops", PASSWORD).status_code == 302


def test_disabled_user_loses_session_and_tokens(secure_app, accounts):
    accounts.add_user("ops", "admin", PASSWORD)
    tok = accounts.issue_token("ops", "t")
    client = secure_app.test_client()
    _login(client, "ops", PASSWORD)
    assert client.get("/auth/me").status_code == 200
    accounts.set_active("ops", False)
    assert client.get("/auth/me").status_code == 401
    assert client.get("/auth/me", headers=bearer(tok)).status_code == 401


def test_export_scoped_token(secure_app, accounts):
    accounts.add_user("payroll", "admin")
    tok = accounts.issue_token("payroll", "nightly export", scope="export")
    client = secure_app.test_client()
    assert client.get("/api/events", headers=bearer(tok)).status_code == 403
    resp = client.get("/api/attendance?from=2026-01-01&to=2026-01-02&format=json", headers=bearer(tok))
    assert resp.status_code == 200


def test_exports_are_audited(secure_app, tokens, accounts):
    client = secure_app.test_client()
    mark = accounts.db.last_audit_id()
    resp = client.get("/api/attendance?from=2026-01-01&to=2026-01-02&format=csv", headers=bearer(tokens["admin"]))
    assert resp.status_code == 200
    rows = accounts.db.audit_since(mark)
    assert [(r["actor"], r["action"], r["target"]) for r in rows] == [("boss", "export", "exports.attendance")]
    assert rows[0]["details"]["args"]["format"] == ["csv"]


@pytest.mark.parametrize("query", [
    "agent=1' OR '1'='1",
    "team=T1;DROP TABLE events",
    "from=2026-01-01' --&to=2026-01-02",
    "agent=%25",
    "team=T1/**/UNION/**/SELECT",
    "rule=ROLL-EARLY' OR 1=1",
])
def test_export_filters_reject_injection(secure_app, tokens, accounts, query):
    client = secure_app.test_client()
    base = "from=2026-01-01&to=2026-01-02&format=json"
    for path in ("/api/attendance", "/api/exports/violations"):
        resp = client.get(f"{path}?{base}&{query}", headers=bearer(tokens["admin"]))
        assert resp.status_code == 400, (path, query, resp.get_data()[:200])
        assert resp.get_json()["parameter"] in ("agent", "team", "from", "rule")
    store = secure_app.extensions["floorwatch"]["store"]
    assert store.count_events() == 0  # the table is still there


def _probe_routes(app):
    """Test-only views behind real policy lines: JSON holding UIDs, an HTML page, a lead action,
    a device-bound page."""
    def uid_json():
        return jsonify({"events": [{"type": "badge", "body": {"uid": "0A00001234"}}], "badges": ["0B00005678"]})

    def page():
        return "<html><head><title>p</title></head><body>hi</body></html>"

    def action():
        return jsonify({"ok": True, "body": request.get_json()})

    def kiosk_page(device):
        return f"<html><head></head><body>{device}</body></html>"

    app.add_url_rule("/api/probe/uids", "probe.uids", uid_json)
    app.add_url_rule("/probe/page", "probe.page", page)
    app.add_url_rule("/api/probe/action", "probe.action", action, methods=["POST"])
    app.add_url_rule("/probe/kiosk/<device>", "probe.kiosk", kiosk_page)


@pytest.fixture
def probed(secure_app, monkeypatch):
    _probe_routes(secure_app)
    monkeypatch.setitem(policy.POLICY, "probe.uids", policy.FLOOR)
    monkeypatch.setitem(policy.POLICY, "probe.page", policy.FLOOR)
    monkeypatch.setitem(policy.POLICY, "probe.action", policy.allow("lead", "admin", team_bound=True))
    monkeypatch.setitem(policy.POLICY, "probe.kiosk", policy.allow("kiosk", "admin", device_bound=True))
    return secure_app


def test_uids_masked_except_for_admins(probed, tokens):
    client = probed.test_client()
    lead = client.get("/api/probe/uids", headers=bearer(tokens["lead"])).get_json()
    assert lead["events"][0]["body"]["uid"] == "******1234" and lead["badges"] == ["******5678"]
    assert lead["events"][0]["type"] == "badge"  # values named badge are not UIDs
    admin = client.get("/api/probe/uids", headers=bearer(tokens["admin"])).get_json()
    assert admin["events"][0]["body"]["uid"] == "0A00001234"


@pytest.fixture
def live_app(site, tmp_path, clock):
    """The real app inside a hub (not started: no broker needed), so /live/stream serves what is
    published on the hub's live bus."""
    from hub.service import HubService
    from hub.store import Store
    from kiosk_ui import create_app

    store = Store(tmp_path / "live.db")
    hub = HubService(site, store, clock=clock)
    app = create_app({"TESTING": True, "AUTH_CLOCK": clock, "LIVE_KEEPALIVE_S": 30.0, "LIVE_MAX_STREAM_S": 120.0},
                     hub=hub)
    yield app, hub
    store.close()


def _stream(app, hub, token: str, updates: list[tuple[str, dict]]) -> str:
    """What one live stream reader gets of `updates` (the last one must reach every reader)."""
    resp = app.test_client().get("/live/stream", headers=bearer(token), buffered=False)
    assert resp.status_code == 200, resp.get_data()
    for channel, data in updates:
        hub.live.publish(channel, data)
    last = json.dumps(updates[-1][1], separators=(",", ":"))
    text = ""
    try:
        for chunk in resp.response:
            text += chunk.decode() if isinstance(chunk, bytes) else chunk
            if last in text:
                return text
    finally:
        resp.close()
    raise AssertionError(f"the stream ended before the last update: {text[-500:]}")


def test_live_stream_masks_uids_except_for_admins(live_app):
    app, hub = live_app
    tok = {role: issue_test_token(app, role) for role in ("facilities", "admin")}
    updates = [("event", {"type": "badge", "body": {"uid": "0A00001234", "reader": "badge"}}),
               ("zone", {"zone": "A", "empty": True})]
    stream = _stream(app, hub, tok["facilities"], updates)
    assert "0A00001234" not in stream and '"uid":"******1234"' in stream
    assert "0A00001234" in _stream(app, hub, tok["admin"], updates)


def test_pages_carry_the_csrf_token_for_their_scripts(probed, accounts):
    """Every page of a signed-in browser has its session's token in a meta tag (what FW.api
    sends as X-CSRFToken); responses are served as the view wrote them, never rewritten."""
    accounts.add_user("ops", "admin", PASSWORD)
    client = probed.test_client()
    anonymous = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/auth/login").get_data(as_text=True))
    _login(client, "ops", PASSWORD)
    for i, path in enumerate(("/", "/floor", "/console", "/console/roster")):
        html = client.get(path).get_data(as_text=True)
        token = re.search(r'<meta name="csrf-token" content="([^"]+)">', html).group(1)
        resp = client.post("/api/admin/users", json={"username": f"fac{i}", "role": "facilities"},
                           headers={"X-CSRFToken": token})
        assert resp.status_code == 201, (path, resp.get_data())
    # the token of the anonymous session before signing in is not this session's
    assert client.post("/api/admin/users", json={"username": "fac8", "role": "facilities"},
                       headers={"X-CSRFToken": anonymous.group(1)}).status_code == 403
    # nor is another browser's
    other = probed.test_client()
    _login(other, "ops", PASSWORD)
    theirs = re.search(r'<meta name="csrf-token" content="([^"]+)">', other.get("/floor").get_data(as_text=True))
    assert client.post("/api/admin/users", json={"username": "fac9", "role": "facilities"},
                       headers={"X-CSRFToken": theirs.group(1)}).status_code == 403
    assert client.get("/probe/page").get_data(as_text=True) == "<html><head><title>p</title></head><body>hi</body></html>"


def test_anonymous_page_request_is_sent_to_login(probed):
    resp = probed.test_client().get("/probe/page", headers={"Accept": "text/html"})
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/auth/login?next=/probe/page")


def test_lead_acts_only_on_own_teams_and_is_audited(probed, tokens, site, accounts):
    client = probed.test_client()
    teams = sorted({a.team for a in site.agents})
    mine = next(a.employee_no for a in site.agents if a.team == teams[0])
    other = next(a.employee_no for a in site.agents if a.team != teams[0])
    mark = accounts.db.last_audit_id()
    resp = client.post("/api/probe/action", json={"employee_no": other, "seat": "A01"}, headers=bearer(tokens["lead"]))
    assert resp.status_code == 403 and other in resp.get_json()["reason"]
    resp = client.post("/api/probe/action", json={"employee_no": mine, "seat": "A01"}, headers=bearer(tokens["lead"]))
    assert resp.status_code == 200
    rows = accounts.db.audit_since(mark)
    assert len(rows) == 1 and rows[0]["actor"] == "lead1" and rows[0]["action"] == "probe.action"
    assert rows[0]["details"]["body"] == {"employee_no": mine, "seat": "A01"}
    # the admin acts on anyone; facilities may not act at all
    assert client.post("/api/probe/action", json={"employee_no": other}, headers=bearer(tokens["admin"])).status_code == 200
    assert client.post("/api/probe/action", json={"employee_no": mine}, headers=bearer(tokens["facilities"])).status_code == 403
    # a lead filtering on another team is refused
    assert client.get(f"/api/probe/uids?team={teams[1]}", headers=bearer(tokens["lead"])).status_code == 403


def test_view_that_audits_itself_is_not_audited_twice(secure_app, tokens, accounts, monkeypatch):
    def action():
        sessions.audit("reassign", "10001", {"seat": "A02"})
        return jsonify({"ok": True})

    secure_app.add_url_rule("/api/probe/self", "probe.self", action, methods=["POST"])
    monkeypatch.setitem(policy.POLICY, "probe.self", policy.ADMIN)
    mark = accounts.db.last_audit_id()
    assert secure_app.test_client().post("/api/probe/self", json={}, headers=bearer(tokens["admin"])).status_code == 200
    assert [r["action"] for r in accounts.db.audit_since(mark)] == ["reassign"]


def test_kiosk_sees_only_its_own_device(probed, tokens, kiosk_device):
    client = probed.test_client()
    assert client.get(f"/probe/kiosk/{kiosk_device}", headers=bearer(tokens["kiosk"])).status_code == 200
    assert client.get("/probe/kiosk/kiosk-zz", headers=bearer(tokens["kiosk"])).status_code == 403
    assert client.get("/api/events", headers=bearer(tokens["kiosk"])).status_code == 403
    assert client.get("/api/probe/uids", headers=bearer(tokens["kiosk"])).status_code == 403


def test_kiosk_stream_limits(secure_app, tokens, kiosk_device):
    if "live.stream" not in secure_app.view_functions:
        pytest.skip("the live stream is not registered in this app")
    client = secure_app.test_client()
    h = bearer(tokens["kiosk"])
    assert client.get("/live/stream?channels=tap", headers=h).status_code == 403  # no device named
    assert client.get("/live/stream?channels=tap,seat&device=" + kiosk_device, headers=h).status_code == 403
    assert client.get("/live/stream?channels=tap&device=seat-a01", headers=h).status_code == 403


def test_kiosk_device_login_and_query_token_become_a_session(probed, accounts, site, kiosk_device):
    token = accounts.kiosk_token(site.devices[kiosk_device].place, kiosk_device)
    client = probed.test_client()
    assert client.post("/auth/device", data={"token": "fwt_wrong"}).status_code == 401
    resp = client.post("/auth/device", data={"token": token})
    assert resp.status_code == 302
    assert client.get("/auth/me").get_json()["device"] == kiosk_device
    # a page URL carrying ?token= is swapped for a session and redirected without the token
    other = probed.test_client()
    resp = other.get(f"/probe/kiosk/{kiosk_device}?token={token}&clear=5", headers={"Accept": "text/html"})
    assert resp.status_code == 302 and "token" not in resp.headers["Location"] and "clear=5" in resp.headers["Location"]
    assert other.get(resp.headers["Location"]).status_code == 200
    # a ?token= never authorises a state change
    assert other.post(f"/api/probe/action?token={token}", json={}).status_code in (401, 403)


def test_reprovisioned_kiosk_keeps_its_token(accounts, site, kiosk_device):
    place = site.devices[kiosk_device].place
    first = accounts.kiosk_token(place, kiosk_device)
    assert accounts.kiosk_token(place, kiosk_device, existing=first) == first
    fresh = accounts.kiosk_token(place, kiosk_device, existing="fwt_lost")
    assert fresh != first
    assert accounts.principal_for_token(first) is None  # the old one is revoked


def test_demo_bootstrap_prints_working_credentials(secure_app):
    store = secure_app.extensions["floorwatch"]["store"] or None
    from kiosk_ui import state

    with secure_app.app_context():
        store = state.store()
    user, password, token = demo_login.bootstrap_demo_credentials(store)
    client = secure_app.test_client()
    assert client.get("/api/events", headers=bearer(token)).status_code == 200
    assert _login(client, user, password).status_code == 302
    # a second run replaces both
    user2, password2, token2 = demo_login.bootstrap_demo_credentials(store)
    assert client.get("/api/events", headers=bearer(token)).status_code == 401
    assert password2 != password and client.get("/api/events", headers=bearer(token2)).status_code == 200


def test_admin_api_tokens_and_users(secure_app, tokens, accounts):
    client = secure_app.test_client()
    h = bearer(tokens["admin"])
    resp = client.post("/api/admin/users", json={"username": "hr", "role": "admin", "password": "short"}, headers=h)
    assert resp.status_code == 400 and resp.get_json()["field"] == "password"
    assert client.post("/api/admin/users", json={"username": "bad name!", "role": "admin"}, headers=h).status_code == 400
    assert client.post("/api/admin/users", json={"username": "hr", "role": "root"}, headers=h).status_code == 400
    assert client.post("/api/admin/users", json={"username": "hr", "role": "admin"}, headers=h).status_code == 201
    resp = client.post("/api/admin/tokens", json={"username": "hr", "name": "payroll", "scope": "export"}, headers=h)
    new = resp.get_json()["token"]
    assert resp.status_code == 201 and new.startswith("fwt_")
    listed = client.get("/api/admin/tokens", headers=h).get_json()
    assert new not in json.dumps(listed)  # shown once, never listed
    assert all("password_hash" not in u for u in client.get("/api/admin/users", headers=h).get_json())


def test_real_lead_actions_are_team_scoped_and_audited_once(app, lead_client, site, app_store):
    """The engine's /api/lead/reassign behind the guard: a lead of T1 acts on T1 agents only."""
    if "engine.lead_reassign" not in app.view_functions:
        pytest.skip("the engine's lead API is not registered")
    from hub.store.derived import DerivedStore

    derived = DerivedStore(app_store)
    derived.seed_roster([r.model_dump(mode="json") | {"source": "site"} for r in site.roster])
    team = sorted({a.team for a in site.agents})[0]
    agents = {a.employee_no: a.team for a in site.agents}
    mine = next(r for r in site.roster if agents[r.employee_no] == team)
    other = next(r for r in site.roster if agents[r.employee_no] != team)
    acc = app.extensions["floorwatch.auth"].accounts
    mark = acc.db.last_audit_id()
    body = {"date": other.date.isoformat(), "shift": other.shift, "employee_no": other.employee_no, "seat": mine.seat}
    resp = lead_client.post("/api/lead/reassign", json=body)
    assert resp.status_code == 403 and "not in your teams" in resp.get_json()["reason"]
    body = {"date": mine.date.isoformat(), "shift": mine.shift, "employee_no": mine.employee_no, "seat": other.seat}
    resp = lead_client.post("/api/lead/reassign", json=body)
    assert resp.status_code == 200, resp.get_data()
    rows = acc.db.audit_since(mark)
    assert len(rows) == 1 and rows[0]["action"] == "lead.reassign" and rows[0]["target"] == mine.employee_no
    assert rows[0]["actor"].startswith("test-lead")  # the guard's g.user reached the engine
    # and an anonymous or facilities caller cannot do it at all
    assert app.test_client().post("/api/lead/reassign", json=body).status_code == 401


def test_lead_reads_only_their_teams(app, client, lead_client, site, app_store):
    if "engine.rollcall" not in app.view_functions:
        pytest.skip("the engine's read API is not registered")
    from hub.store.derived import DerivedStore

    DerivedStore(app_store).seed_roster([r.model_dump(mode="json") | {"source": "site"} for r in site.roster])
    day = site.roster[0].date.isoformat()
    team = sorted({a.team for a in site.agents})[0]
    everyone = client.get(f"/api/rollcall?date={day}").get_json()
    mine = lead_client.get(f"/api/rollcall?date={day}").get_json()
    assert len({r["team"] for r in everyone}) > 1
    assert mine and {r["team"] for r in mine} == {team}
    assert len(mine) == sum(1 for r in everyone if r["team"] == team)


def test_lead_stream_leaves_out_other_teams(live_app, site):
    app, hub = live_app
    teams = sorted({a.team for a in site.agents})
    other_emp = next(a.employee_no for a in site.agents if a.team != teams[0])
    updates = [("violation", {"id": "v1", "team": teams[0]}), ("violation", {"id": "v2", "team": teams[1]}),
               ("tap", {"event_id": "t1", "agent": {"team": teams[1]}}), ("rollcall", {"employee_no": other_emp}),
               ("zone", {"zone": "A", "empty": True})]
    got = _stream(app, hub, issue_test_token(app, "lead", teams=[teams[0]]), updates)
    assert '"v1"' in got and '"zone"' in got and '"v2"' not in got and '"t1"' not in got and other_emp not in got
    admin = _stream(app, hub, issue_test_token(app, "admin"), updates)
    assert all(k in admin for k in ('"v1"', '"v2"', '"t1"', other_emp))
