"""`floorwatch edge` and `floorwatch sim` as an installer and the demo run them: a bad device
file is refused naming file, key and reason; a real agent process reads a serial reader and stops
cleanly on SIGTERM; the simulator runs as its own process and stops on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from edge.clocksync import read_adjtimex
from hub.cli import main
from hub.ingest import Ingest
from tests.pty_util import pty_pair
from tests.waiting import wait_until

GOOD = """id = "seat-a01"
site = "{site}"
role = "seat"
seat = "A01"
[broker]
host = "127.0.0.1"
port = {port}
[spool]
path = "{spool}"
"""


@pytest.mark.parametrize(
    ("change", "key", "reason"),
    [
        (('role = "seat"', 'role = "desk"'), "role", "Input should be"),
        (('seat = "A01"\n', ""), "seat", "must name its seat"),
        (("port = 1883", 'port = "1883"'), "broker.port", "valid integer"),
        (("[spool]", '[[readers]]\nname = "badge"\nkind = "wiegand"\nd1_pin = 15\n[spool]'),
         "readers.0.d0_pin", "needs d0_pin"),
        (("[spool]", '[[readers]]\nname = "badge"\nkind = "line"\nport = "/dev/null"\npattern = "(["\n[spool]'),
         "readers.0.pattern", "not a valid regular expression"),
        (("[broker]", "[broker\n"), "-", "not valid TOML"),
    ],
)
def test_a_bad_device_file_names_file_key_and_reason(tmp_path, capsys, change, key, reason):
    path = tmp_path / "seat-a01.toml"
    path.write_text(GOOD.format(site="s", port=1883, spool=tmp_path / "s.db").replace(*change))
    assert main(["edge", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: {key}: ") and reason in err, err


def test_a_missing_device_file_is_a_clear_error(tmp_path, capsys):
    assert main(["edge", "--config", str(tmp_path / "nope.toml")]) == 2
    assert "nope.toml: -: cannot read" in capsys.readouterr().err




def test_edge_process_reads_a_serial_reader_and_stops_cleanly(broker, store, tmp_path):
    site = "c" + os.urandom(3).hex()
    ingest = Ingest(store, site, broker.host, broker.port, client_id=f"hub-{site}").start()
    with pty_pair() as (master, port):
        path = tmp_path / "kiosk-k1.toml"
        path.write_text(
            GOOD.format(site=site, port=1, spool=tmp_path / "spool.db")
            .replace('id = "seat-a01"', 'id = "kiosk-k1"').replace('role = "seat"\nseat = "A01"', 'role = "kiosk"\nkiosk = "K1"')
            + f'[[readers]]\nname = "badge"\nkind = "line"\nport = "{port}"\nnumber_format = "decimal"\n'
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "edge", "--config", str(path), "--broker", f"{broker.host}:{broker.port}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()},
        )
        try:
            banner = proc.stdout.readline()
            assert banner.startswith("edge: device kiosk-k1 (kiosk K1)") and f":{broker.port}," in banner
            assert wait_until(lambda: any(d["device"] == "kiosk-k1" and d["state"] == "online" for d in store.devices()))
            time.sleep(0.3)  # the reader's port opens in its own thread
            os.write(master, b"0167772161\r\n")
            assert wait_until(lambda: store.recent_events(device="kiosk-k1", type="badge"))
            body = store.recent_events(device="kiosk-k1", type="badge")[0].body
            assert (body["uid"], body["reader"]) == ("000A000001", "badge")
            # the real kernel's evidence (adjtimex) rode along, whatever this machine's NTP says
            assert body["clock_sync"] is read_adjtimex().synced
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()
    assert wait_until(lambda: any(d["device"] == "kiosk-k1" and d["state"] == "offline" for d in store.devices()))
    ingest.stop()


def test_sim_command_runs_a_floor_until_ctrl_c(broker, store, site, tmp_path):
    ingest = Ingest(store, site.id, broker.host, broker.port, client_id=f"hub-{site.id}").start()
    truth = tmp_path / "truth.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "sim", "--site", str(site.root), "--broker", f"{broker.host}:{broker.port}",
         "--speed", "600", "--seed", "4", "--start", "08:00", "--spool-dir", str(tmp_path / "spool"),
         "--truth", str(truth)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    try:
        banner = proc.stdout.readline()
        assert banner.startswith(f"sim: {len(site.devices)} agents of site {site.id}") and "x600" in banner
        assert wait_until(lambda: store.distinct_event_devices() == len(site.devices))
        assert wait_until(lambda: store.recent_events(type="badge", limit=1))
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert ingest.wait_idle(20)
    time.sleep(0.3)
    assert ingest.wait_idle(20)
    lines = [json.loads(x) for x in truth.read_text(encoding="utf-8").splitlines()]
    assert lines and len(lines) == store.count_events()
    ingest.stop()
