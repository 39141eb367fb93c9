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
from hub.alerts.pipeline import Alerts
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


def _queue(site_dir: Path, db: Path, receiver: Receiver, n: int) -> list[str]:
    """Write alerts.toml (a webhook to the receiver) and queue n violations' alerts in the outbox."""
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
    start = int(dt.datetime(2026, 3, 2, 10, 0, tzinfo=site.tz).timestamp() * 1000)
    store = Store(db)
    queued = Alerts(site, store, ManualClock(start + 600_000))
    seat = site.info.seats[0]
    ids = [f"vio{k:02d}" for k in range(n)]
    queued.on_updates([("violation", {"id": i, "rule": "AWAY-UNATTENDED", "kind": "unattended", "agent": None,
                                      "team": None, "seat": seat.id, "zone": seat.zone, "start": start + k * 1000,
                                      "end": None, "excused": False, "details": {}}) for k, i in enumerate(ids)])
    store.close()
    return ids


def _all_sent(db: Path) -> bool:
    check = Store(db)
    try:
        return {r.state for r in AlertStore(check).recent(100)} == {"sent"}
    finally:
        check.close()


def test_sigkill_mid_delivery_loses_nothing_and_repeats_only_the_request_in_flight(site_dir, tmp_path, receiver):
    db = tmp_path / "hub.db"
    ids = _queue(site_dir, db, receiver, 12)

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
        assert wait_until(lambda: _all_sent(db))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert [a["id"] for a in receiver.accepted] == [f"{i}:alert" for i in ids]  # all, in order
    assert receiver.duplicates() == {f"{ids[4]}:alert": 2}  # only the request the kill interrupted
    assert receiver.bad_signatures == 0
    assert all(a["violation"]["id"] == i for a, i in zip(receiver.accepted, ids, strict=True))


def test_receiver_down_sender_killed_meanwhile_then_everything_once_in_order(site_dir, tmp_path, receiver):
    """The issue's case: the endpoint is down, the hub dies while alerts wait for their retry, the
    endpoint comes back, the hub restarts: every alert arrives, in order, none twice."""
    db = tmp_path / "hub.db"
    ids = _queue(site_dir, db, receiver, 6)
    receiver.down_status = 503
    log = tmp_path / "sender.log"
    proc = _sender(site_dir, db, log)
    try:
        assert wait_until(lambda: receiver.refused >= 2, timeout=60), log.read_text()  # tried, refused, retried
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        proc.kill()
    assert receiver.accepted == []
    rows = AlertStore(Store(db)).recent(100)
    assert all(r.state == "pending" for r in rows) and max(r.attempts for r in rows) >= 2
    assert next(r for r in rows if r.violation == ids[0]).last_error.startswith("HTTP 503")
    receiver.down_status = None
    proc = _sender(site_dir, db, log)
    try:  # the oldest waits for its backoff (10 s after the second try at most), nothing overtakes it
        assert wait_until(lambda: len(receiver.accepted) == len(ids), timeout=90), (receiver.arrivals, log.read_text())
        assert wait_until(lambda: _all_sent(db))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert [a["id"] for a in receiver.accepted] == [f"{i}:alert" for i in ids]
    assert receiver.duplicates() == {} and receiver.bad_signatures == 0
