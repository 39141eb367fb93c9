"""What security costs, each figure against a baseline measured in the same run.

  1. The web guard: requests/s through the Flask test client for /api/events as an admin with
     a Bearer token, with a session cookie, and as a lead, against the public
     /api/health (policy lookup only) and against the same view in an app without the guard;
     a violation's evidence (20 badge events) for a lead (UIDs masked) against an admin.
  2. Login: one argon2 password check vs one API-token lookup (SHA-256 + indexed SELECT).
  3. TLS over MQTT: connect + 1,000 QoS 1 publishes through the provisioned TLS listener vs the
     plain loopback listener of the same mosquitto.
  4. Provisioning: device bundles per second for a generated site (EC P-256 key + certificate).

    python bench/security.py [--requests 2000] [--seats 200]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.accounts import Accounts, hash_password, verify_password  # noqa: E402
from hub.broker import die_with_parent, free_port, mosquitto_path, wait_for_port  # noqa: E402
from hub.provisioning import ProvisionOptions, load_hub_credentials, provision  # noqa: E402
from hub.site import load_site  # noqa: E402
from hub.sitegen import generate_site  # noqa: E402
from hub.store import IncomingEvent  # noqa: E402


def rate(fn, n: int) -> float:
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - t)


def bench_guard(root: Path, n: int) -> None:
    from flask import Flask

    from kiosk_ui import api, create_app, state

    site_dir = generate_site(root / "site", site="bench", seats=40, sim_devices=True)
    app = create_app({"DATABASE": str(root / "hub.db"), "SITE_DIR": str(site_dir)})
    acc: Accounts = app.extensions["floorwatch.auth"].accounts
    with app.app_context():
        store = state.store()
    store.append_events([IncomingEvent(f"00000000-0000-4000-8000-{i:012d}", "seat-a01", i + 1, 1_767_225_600_000 + i,
                                       1_767_225_600_000 + i, "badge", True, {"uid": f"0A{i:08X}", "reader": "badge"})
                         for i in range(20)])
    acc.add_user("admin1", "admin", "correct horse battery staple")
    acc.add_user("lead1", "lead", teams=["T1"])
    admin_tok, lead_tok = acc.issue_token("admin1", "b"), acc.issue_token("lead1", "b")

    bare = Flask("bare")  # the same view and store, no guard: the cost of the view itself
    bare.config.update(DATABASE=str(root / "hub.db"), SITE_DIR=str(site_dir))
    state.init_app(bare)
    bare.extensions["floorwatch"]["store"] = store
    bare.register_blueprint(api.bp)

    c_bare, c_tok, c_anon = bare.test_client(), app.test_client(), app.test_client()
    c_sess = app.test_client()
    page = c_sess.get("/auth/login").get_data(as_text=True)
    csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
    c_sess.post("/auth/login", data={"username": "admin1", "password": "correct horse battery staple", "csrf_token": csrf})
    h_admin = {"Authorization": f"Bearer {admin_tok}"}
    h_lead = {"Authorization": f"Bearer {lead_tok}"}
    evidence = "/console/evidence?ids=" + ",".join(f"00000000-0000-4000-8000-{i:012d}" for i in range(20))
    assert c_tok.get(evidence, headers=h_lead).get_json()[0]["body"]["uid"].startswith("*")
    assert c_bare.get("/api/events?limit=20").status_code == 200
    assert c_tok.get("/api/events?limit=20", headers=h_admin).status_code == 200
    assert c_sess.get("/api/events?limit=20").status_code == 200
    cases = {
        "base": lambda: c_bare.get("/api/events?limit=20"),
        "bearer": lambda: c_tok.get("/api/events?limit=20", headers=h_admin),
        "session": lambda: c_sess.get("/api/events?limit=20"),
        "health": lambda: c_anon.get("/api/health"),
        "lead": lambda: c_tok.get("/live/status", headers=h_lead),
        "evidence_admin": lambda: c_tok.get(evidence, headers=h_admin),
        "evidence_lead": lambda: c_tok.get(evidence, headers=h_lead),
    }
    rounds: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(5):  # interleaved rounds, median: other processes share the two cores
        for k, fn in cases.items():
            rounds[k].append(rate(fn, max(n // 5, 20)))
    base, bearer, session, health, lead_live, ev_admin, ev_lead = (statistics.median(rounds[k]) for k in cases)
    print(f"guard: /api/events without guard {base:,.0f} req/s = 1.00")
    print(f"       with guard, Bearer token     {bearer / base:.2f}x ({bearer:,.0f} req/s)")
    print(f"       with guard, session cookie   {session / base:.2f}x ({session:,.0f} req/s)")
    print(f"       public /api/health           {health / base:.2f}x ({health:,.0f} req/s)")
    print(f"       lead /live/status            {lead_live / base:.2f}x ({lead_live:,.0f} req/s)")
    print(f"       20 events' evidence: a lead (UIDs masked) {ev_lead / ev_admin:.2f}x the admin's "
          f"({ev_lead:,.0f} vs {ev_admin:,.0f} req/s)")


def bench_login(root: Path) -> None:
    from hub.store import Store

    acc = Accounts(Store(root / "login.db"))
    acc.add_user("u1", "admin")
    tok = acc.issue_token("u1", "b")
    stored = hash_password("correct horse battery staple")
    pw = [time.perf_counter() for _ in range(1)]
    times = []
    for _ in range(10):
        t = time.perf_counter()
        verify_password("correct horse battery staple", stored)
        times.append(time.perf_counter() - t)
    tok_rate = rate(lambda: acc.principal_for_token(tok), 2000)
    pw_s = statistics.median(times)
    del pw
    print(f"login: token lookup {1000 / tok_rate:.3f} ms = 1.00; argon2 password check {pw_s * 1000:.0f} ms "
          f"= {pw_s * tok_rate:,.0f}x (a guess costs an attacker the same)")


def bench_tls(root: Path, messages: int) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    if mosquitto_path() is None:
        print("tls: mosquitto not installed; skipped")
        return
    site_dir = generate_site(root / "tls-site", site="tlsbench", seats=2, zones=1, sim_devices=True)
    site = load_site(site_dir)
    tls_port, plain_port = free_port(), free_port()
    res = provision(site, root / "tls-out", ProvisionOptions(broker_host="127.0.0.1", tls_port=tls_port,
                                                             tls_bind="127.0.0.1", plain_port=plain_port))
    proc = subprocess.Popen([mosquitto_path(), "-c", str(res.broker_conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, preexec_fn=die_with_parent)
    try:
        wait_for_port("127.0.0.1", tls_port)
        wait_for_port("127.0.0.1", plain_port)
        dev = sorted(site.devices)[0]
        etc = root / "tls-out" / "devices" / dev / "etc" / "floorwatch"
        creds = load_hub_credentials(res.hub_conf)

        def run(tls: bool) -> float:
            c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=dev if tls else "hub-bench")
            c.max_inflight_messages_set(100)
            done = threading.Event()
            if tls:
                c.tls_set(ca_certs=str(etc / "ca.crt"), certfile=str(etc / "device.crt"), keyfile=str(etc / "device.key"))
                topic = f"fw/v1/{site.id}/{dev}/event"
            else:
                c.username_pw_set(creds.username, creds.password)
                topic = f"fw/v1/{site.id}/{dev}/cmd"
            c.on_connect = lambda *a: done.set()
            t = time.perf_counter()
            c.connect("127.0.0.1", tls_port if tls else plain_port)
            c.loop_start()
            done.wait(10)
            infos = [c.publish(topic, b"x" * 100, qos=1) for _ in range(messages)]
            for i in infos:
                i.wait_for_publish(30)
            took = time.perf_counter() - t
            c.disconnect()
            c.loop_stop()
            return took

        run(False)
        run(True)  # warm up both paths once
        plain = statistics.median(run(False) for _ in range(3))
        tls = statistics.median(run(True) for _ in range(3))
        print(f"mqtt: connect + {messages} QoS 1 publishes, loopback plain {plain * 1000:.0f} ms = 1.00; "
              f"TLS with client certificate {tls * 1000:.0f} ms = {tls / plain:.2f}x")
    finally:
        proc.terminate()
        proc.wait(10)


def bench_provision(root: Path, seats: int) -> None:
    small = load_site(generate_site(root / "p-small", site="psmall", seats=8, zones=1, sim_devices=True))
    big = load_site(generate_site(root / "p-big", site="pbig", seats=seats, zones=4, sim_devices=True))
    t = time.perf_counter()
    provision(small, root / "p-small-out", ProvisionOptions(broker_host="hub"))
    t_small = time.perf_counter() - t
    t = time.perf_counter()
    provision(big, root / "p-big-out", ProvisionOptions(broker_host="hub"))
    t_big = time.perf_counter() - t
    t = time.perf_counter()
    provision(big, root / "p-big-out", ProvisionOptions(broker_host="hub"))  # re-run: certificates kept
    t_again = time.perf_counter() - t
    n_small, n_big = len(small.devices), len(big.devices)
    per_small, per_big = t_small / n_small, t_big / n_big
    print(f"provision: {n_small} devices {t_small:.2f} s ({per_small * 1000:.1f} ms/device) = 1.00; "
          f"{n_big} devices {t_big:.2f} s ({per_big * 1000:.1f} ms/device) = {per_big / per_small:.2f}x per device; "
          f"re-run keeping certificates {t_again:.2f} s = {t_again / t_big:.2f}x of the first")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--seats", type=int, default=200)
    ap.add_argument("--messages", type=int, default=1000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="fw-bench-sec-") as tmp:
        root = Path(tmp)
        bench_guard(root, args.requests)
        bench_login(root)
        bench_tls(root, args.messages)
        bench_provision(root, args.seats)


if __name__ == "__main__":
    main()
