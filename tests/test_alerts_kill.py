"""The alert sender SIGKILLed mid-delivery (issue 15: "none twice after a hub SIGKILL in between").

Alerts sit in the real outbox of a real hub database; the sender runs as its own process
(tests/alert_sender_proc.py, the hub's Sender) against a real webhook receiver on 127.0.0.1 that
holds one request open while the process is killed. After a restart every alert arrives, in
order; the one whose request was in flight at the kill arrives a second time with the same id
(the guarantee is at least once on the wire, exactly once for a receiver that dedupes on the
alert id, as docs/alerts.md states), and nothing else ever arrives twice."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from edge.clock import ManualClock
from hub.alerts.service import Alerts
from hub.site import load_site
from hub.store import Store
from hub.store.alerts import AlertStore
from tests.alert_receiver import Receiver
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent
SECRET = "kill-test-secret"


@pytest.fixture
def receiver():
    r = Receiver(SECRET)
    yield r
    r.close()


def _sender(site_dir: Path, db: Path, log: Path) -> subprocess.Popen:
    with log.open("a") as err:
        proc = subprocess.Popen([sys.executable, "-m", "tests.alert_sender_proc", str(site_dir), str(db)],
                                stdout=subprocess.PIPE, stderr=err, text=True, cwd=ROOT,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None and proc.stdout.readline().strip() == "sending", log.read_text()
    return proc


def test_sigkill_mid_delivery_loses_nothing_and_repeats_only_the_request_in_flight(site_dir, tmp_path, receiver):
    (site_dir / "alerts.toml").write_text(f"""
console_url = "http://hub.test:8080"
[channels.ops]
type = "webhook"
url = "{receiver.url}"
secret = "{SECRET}"
per_minute = 1000
[[routes]]
channel = "ops"
""")
    site = load_site(site_dir)
    db = tmp_path / "hub.db"
    start = int(dt.datetime(2026, 3, 2, 10, 0, tzinfo=site.tz).timestamp() * 1000)
    store = Store(db)
    queued = Alerts(site, store, ManualClock(start + 600_000))
    seat = site.info.seats[0]
    ids = [f"vio{n:02d}" for n in range(12)]
    queued.on_updates([("violation", {"id": i, "rule": "AWAY-UNATTENDED", "kind": "unattended", "agent": None,
                                      "team": None, "seat": seat.id, "zone": seat.zone, "start": start + n * 1000,
                                      "end": None, "excused": False, "details": {}}) for n, i in enumerate(ids)])
    store.close()

    receiver.hold_at = 5
    log = tmp_path / "sender.log"
    proc = _sender(site_dir, db, log)
    try:
        assert receiver.held.wait(30), log.read_text()
        os.kill(proc.pid, signal.SIGKILL)  # the fifth request is open: sent, not yet answered
        proc.wait(10)
    finally:
        receiver.release.set()
        proc.kill()
    assert receiver.arrivals == [f"{i}:alert" for i in ids[:5]]
    state = {r.violation: r.state for r in AlertStore(Store(db)).recent(100)}
    assert state[ids[4]] == "sending" and all(state[i] == "pending" for i in ids[5:])

    proc = _sender(site_dir, db, log)
    try:
        assert wait_until(lambda: len(receiver.accepted) == len(ids), timeout=60), (receiver.arrivals, log.read_text())
        check = Store(db)
        assert wait_until(lambda: {r.state for r in AlertStore(check).recent(100)} == {"sent"})
        check.close()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert [a["id"] for a in receiver.accepted] == [f"{i}:alert" for i in ids]  # all, in order
    assert receiver.duplicates() == {f"{ids[4]}:alert": 2}  # only the request the kill interrupted
    assert receiver.bad_signatures == 0
    assert all(a["violation"]["id"] == i for a, i in zip(receiver.accepted, ids, strict=True))
