"""In headless Chromium: a kiosk display signs in the way its provisioned start script does it
(a private file:// form posting the device token, never a URL), and then sees only its own
kiosk; a person signs in with the login form and the page's own scripts send the CSRF token
(from the page's meta tag; a request without it is refused)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from hub.provisioning import ProvisionOptions, provision
from kiosk_ui import create_app
from kiosk_ui.server import WebServer

pytest_plugins = ["tests.ui_harness"]  # the session's one headless Chromium (fixture: browser)
pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery staple"


@pytest.fixture
def web(site_dir, tmp_path):
    app = create_app({"DATABASE": str(tmp_path / "hub.db"), "SITE_DIR": str(site_dir)})
    server = WebServer(app).start()
    yield app, server
    server.stop()


def _run_kiosk_script(bundle: Path, tmp_path: Path) -> tuple[Path, list[str]]:
    """The generated start script, with the token file at its bundle path and a chromium that
    records how it was started instead of opening a window (Playwright opens the page)."""
    script = (bundle / "usr/local/bin/floorwatch-kiosk").read_text()
    script = script.replace("/etc/floorwatch/kiosk-token", str(bundle / "etc/floorwatch/kiosk-token"))
    (tmp_path / "kiosk.sh").write_text(script)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "chromium"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {tmp_path}/chromium-args\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    env = {**os.environ, "PATH": f"{bindir}:/usr/bin:/bin", "XDG_RUNTIME_DIR": str(run)}
    subprocess.run(["sh", str(tmp_path / "kiosk.sh")], env=env, check=True, timeout=60)
    args = (tmp_path / "chromium-args").read_text().splitlines()
    return run / "floorwatch-kiosk" / "login.html", args


def test_kiosk_display_signs_in_like_its_start_script(browser, web, site, tmp_path):
    app, server = web
    accounts = app.extensions["floorwatch.auth"].accounts
    result = provision(site, tmp_path / "out", ProvisionOptions(broker_host="127.0.0.1", hub_url=server.url),
                       kiosk_tokens=accounts)
    device = next(iter(result.kiosk_tokens))
    token = result.kiosk_tokens[device]
    login_html, args = _run_kiosk_script(tmp_path / "out" / "devices" / device, tmp_path)
    assert "--kiosk" in args and args[-1] == f"file://{login_html}"
    assert not any(token in a for a in args)  # never on a command line
    assert login_html.stat().st_mode & 0o077 == 0
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(args[-1])
        page.wait_for_url(f"{server.url}/kiosk/{device}", timeout=25_000)
        assert token not in page.url
        me = page.evaluate("fetch('/auth/me').then(r => r.json())")
        assert me["role"] == "kiosk" and me["device"] == device
        other = next(d for d, c in site.devices.items() if d != device)
        for path in (f"/kiosk/{other}", "/floor", "/console", "/api/events", f"/live/stream?device={other}&channels=tap"):
            status = page.evaluate(f"fetch('{path}').then(r => r.status)")
            assert status == 403, path
    finally:
        context.close()


def test_person_signs_in_and_page_scripts_send_the_csrf_token(browser, web, site):
    app, server = web
    accounts = app.extensions["floorwatch.auth"].accounts
    accounts.add_user("ops", "admin", PASSWORD)
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{server.url}/floor")
        page.wait_for_url("**/auth/login?next=/floor**", timeout=25_000)
        page.fill("#username", "ops")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server.url}/floor", timeout=25_000)
        assert page.locator('meta[name="csrf-token"]').count() == 1
        # the page's own API helper sends the meta tag's token...
        ok = page.evaluate("""FW.api('/api/admin/users', {method: 'POST', body: {username: 'fac9', role: 'facilities'}})
                              .then(r => r.status)""")
        assert ok == 201
        # ...a call that does not send it is refused, by fetch() (nothing patches it)...
        refused = page.evaluate("""fetch('/api/admin/users', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                     body: JSON.stringify({username: 'fac7', role: 'facilities'})}).then(r => r.status)""")
        assert refused == 403
        # ...or by XMLHttpRequest
        refused = page.evaluate("""new Promise(done => { const x = new XMLHttpRequest();
            x.open('POST', '/api/admin/users'); x.setRequestHeader('Content-Type', 'application/json');
            x.onload = () => done(x.status); x.send(JSON.stringify({username: 'fac8', role: 'facilities'})); })""")
        assert refused == 403
        cookie = next(c for c in context.cookies() if c["name"] == "fw_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    finally:
        context.close()
