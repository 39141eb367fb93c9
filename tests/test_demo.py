"""`floorwatch demo` end to end, as a new user meets it: one command, then the health page fills
with simulated devices, a hand-written event sent with mosquitto_pub shows up once however often
it is sent, junk is quarantined, and Ctrl-C leaves no process behind."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid

import psutil
import pytest

from tests.waiting import wait_until as poll

pytestmark = pytest.mark.slow


def get(url: str, token: str | None = None):
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())



@pytest.fixture
def demo(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "demo", "--web-port", "0", "--dir", str(tmp_path / "demo")],
        stdout=subprocess.PIPE, stderr=open(tmp_path / "demo.log", "w"), text=True,  # noqa: SIM115
    )
    lines: dict[str, str] = {}
    started = time.monotonic()
    for line in proc.stdout:
        key, _, value = line.partition(": ")
        lines[key] = value.strip()
        if line.startswith("Ctrl-C"):
            break
    info = {
        "proc": proc,
        "started": started,
        "web": lines["web"].rstrip("/"),
        "mqtt": lines["mqtt"].split()[0],
        "db": lines["database"],
        "token": lines["token"],
    }
    yield info
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_demo_runs_the_whole_path_and_stops_cleanly(demo):
    web, token = demo["web"], demo["token"]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", web)
    assert re.fullmatch(r"127\.0\.0\.1:\d+", demo["mqtt"])
    assert demo["db"].endswith("floorwatch.db")
    host, port = demo["mqtt"].split(":")
    health = poll(lambda: (h := get(f"{web}/api/health")) and h["devices"]["online"] >= 20 and h, timeout=15)
    assert health, "fewer than 20 devices online within 15 s"
    assert time.monotonic() - demo["started"] < 30
    devices = {e["device"] for e in get(f"{web}/api/events?limit=5000", token)}
    assert len(devices) >= 20

    # A third-party device, written by hand, sent twice: stored once.
    event = {"v": 1, "id": str(uuid.uuid4()), "device": "handmade-1", "seq": 1, "ts": int(time.time() * 1000),
             "type": "badge", "uid": "DEADBEEF01", "reader": "desk"}
    pub = [shutil.which("mosquitto_pub") or "mosquitto_pub", "-h", host, "-p", port, "-q", "1"]
    topic = "fw/v1/example/handmade-1/event"
    for _ in range(2):
        subprocess.run([*pub, "-t", topic, "-m", json.dumps(event)], check=True)
    rows = poll(lambda: get(f"{web}/api/events?device=handmade-1", token))
    time.sleep(1)
    rows = get(f"{web}/api/events?device=handmade-1", token)
    assert [(r["event_id"], r["seq"]) for r in rows] == [(event["id"], 1)]

    # Junk: bad JSON, a wrong type, a device that does not match its topic.
    before = get(f"{web}/api/health")["quarantined"]
    subprocess.run([*pub, "-t", topic, "-m", "{oops"], check=True)
    subprocess.run([*pub, "-t", topic, "-m", json.dumps({**event, "seq": "two"})], check=True)
    subprocess.run([*pub, "-t", "fw/v1/example/handmade-2/event", "-m", json.dumps({**event, "seq": 2})], check=True)
    assert poll(lambda: get(f"{web}/api/health")["quarantined"] == before + 3)
    assert demo["proc"].poll() is None
    assert get(f"{web}/api/health")["status"] == "ok"

    # Ctrl-C stops everything, the broker included.
    children = psutil.Process(demo["proc"].pid).children(recursive=True)
    assert any("mosquitto" in c.name() for c in children)
    demo["proc"].send_signal(signal.SIGINT)
    assert demo["proc"].wait(20) == 0
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive

