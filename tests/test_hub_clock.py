"""`floorwatch hub --clock WHEN@WALL --speed X`: the real hub command on simulated time, what the
soak (bench/soak.py) and demos run; a malformed value is a one-line error and exit code 2."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge import wire
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent
SITE = "example"  # the example site the hub runs without --site
WHEN = dt.datetime(2027, 2, 7, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def floorwatch(*args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "hub.cli", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


@pytest.mark.parametrize(("args", "says"), [
    (["--clock", "tomorrow"], "argument --clock: not an ISO date-time"),
    (["--clock", "2027-02-07T08:00"], "has no offset"),
    (["--clock", "2027-02-07T08:00+08:00@noon"], "WALL is Unix seconds"),
    (["--clock", "2027-02-07T08:00+08:00", "--speed", "0"], "argument --speed: expected a positive number"),
    (["--speed", "60"], "--speed needs --clock"),
])
def test_a_malformed_clock_is_a_one_line_error(args, says):
    out, err = floorwatch("hub", "--web", "off", *args).communicate(timeout=60)
    assert says in err and "Traceback" not in err
    assert [line for line in err.splitlines() if line.startswith(("error", "floorwatch hub: error"))] != []


def test_the_hub_stamps_receipts_on_the_simulated_clock(broker, tmp_path):
    wall = time.time()
    speed = 3600.0  # an hour a second: a receipt stamped on the wall clock would be years off
    hub = floorwatch("hub", "--db", str(tmp_path / "hub.db"), "--broker", f"{broker.host}:{broker.port}",
                     "--web", "off", "--clock", f"{WHEN.isoformat()}@{wall!r}", "--speed", repr(speed))
    try:
        assert "simulated clock x3600" in hub.stdout.readline()
        event = wire.BadgeEvent(v=1, id=str(uuid.uuid4()), device="seat-a01", seq=1, ts=int(WHEN.timestamp() * 1000),
                                type="badge", uid="000A000001", reader="badge")
        pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"clock-{uuid.uuid4().hex[:6]}")
        pub.connect(broker.host, broker.port)
        pub.loop_start()

        def stored() -> tuple[int] | None:
            pub.publish(wire.event_topic(SITE, "seat-a01"), wire.encode(event), qos=1)  # until the hub is subscribed
            with sqlite3.connect(tmp_path / "hub.db") as db:
                try:
                    return db.execute("SELECT received FROM events WHERE event_id = ?", (event.id,)).fetchone()
                except sqlite3.OperationalError:  # the hub has not created its tables yet
                    return None

        assert wait_until(stored, timeout=30)
        got = stored()[0]
        pub.disconnect()
        pub.loop_stop()
    finally:
        hub.send_signal(signal.SIGTERM)
        _, err = hub.communicate(timeout=60)
    assert hub.returncode == 0, err
    start = int(WHEN.timestamp() * 1000)
    elapsed_ms = (time.time() - wall) * 1000 * speed
    assert start <= got <= start + elapsed_ms, json.dumps({"received": got, "start": start})
