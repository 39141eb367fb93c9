"""`floorwatch demo` as a user runs it: a subprocess (with its own environment, so a test can
set the host's TZ), read until it prints its addresses and login."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from hub.processes import stop_process

KIOSK = "kiosk-k1"  # the demo site's kiosk


def start_demo(tmp_path, *args: str, env: dict[str, str] | None = None) -> dict:
    """`floorwatch demo` in a subprocess (with `env`, e.g. the host's TZ); what it printed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "demo", "--web-port", "0", "--dir", str(tmp_path / "demo"), *args],
        stdout=subprocess.PIPE, stderr=open(tmp_path / "demo.log", "w"), text=True,  # noqa: SIM115
        env={**os.environ, **(env or {})},
    )
    lines: dict[str, str] = {}
    started = time.monotonic()
    for line in proc.stdout:
        key, _, value = line.partition(": ")
        lines[key] = value.strip()
        if line.startswith("Ctrl-C"):
            break
    if "web" not in lines:
        proc.wait(10)
        pytest.fail(f"the demo did not start (exit {proc.returncode}):\n{(tmp_path / 'demo.log').read_text()[-3000:]}")
    return {
        "proc": proc,
        "started": started,
        "lines": lines,
        "web": lines["web"].rstrip("/"),
        "mqtt": lines["mqtt"].split()[0],
        "db": lines["database"],
        "token": lines["token"],
    }


def stop_demo(info: dict) -> None:
    """Ctrl-C, as a user stops it (everything it started goes with it); kill if that hangs."""
    stop_process(info["proc"], signal.SIGINT, 20)


def live(web: str, token: str, until: float, query: str = f"channels=tap&device={KIOSK}"):
    """(event, data) from the live stream, as a page receives them (by default the kiosk's: its
    own reader's taps, after a `hello` carrying the hub's clock)."""
    req = urllib.request.Request(f"{web}/live/stream?{query}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        event = ""
        while time.monotonic() < until:
            line = resp.readline().decode()
            if line.startswith("event: "):
                event = line[7:].strip()
            elif line.startswith("data: "):
                yield event, json.loads(line[6:])


def hub_now(web: str, token: str) -> int:
    """The hub's clock (UTC ms): the demo's simulated time."""
    return next(data["now"] for event, data in live(web, token, time.monotonic() + 10) if event == "hello")
