"""The edge as a Pi installs it: `pip install floorwatch` (no extras) into a fresh venv, then
`python -m edge --config seat.toml --mock-gpio` against the suite's broker. The agent must come
online and publish, and the running agent must not have loaded the hub, the web UI or any of the
hub's libraries (a Pi Zero 2 W has 512 MB for everything)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge import wire
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "edge", "hub", "kiosk_ui", "firmware_cfg")
# what only the hub needs; pydantic validates the hub's own files (the edge's are msgspec records)
HUB_LIBRARIES = ("flask", "openpyxl", "lxml", "sqlite_utils", "cryptography", "amqtt", "orjson", "psutil", "pydantic",
                 "pydantic_core")

# `python -m edge` exactly (runpy is what -m runs), then the names of every module the agent
# loaded, written after it stopped so nothing imported while it ran escapes the check.
RUN_AND_LIST_MODULES = """
import runpy, sys
out = sys.argv.pop(1)
try:
    runpy.run_module("edge", run_name="__main__", alter_sys=True)
finally:
    with open(out, "w") as f:
        f.write("\\n".join(sorted(sys.modules)))
"""

SEAT = """id = "seat-p01"
site = "{site}"
role = "seat"
seat = "P01"
heartbeat_s = 5
[broker]
host = "{host}"
port = {port}
[spool]
path = "{spool}"
"""


@pytest.fixture(scope="module")
def edge_venv(tmp_path_factory) -> Path:
    """A fresh venv with the project installed from its sources, without extras: pip resolves only
    the edge's dependencies (from its cache or index when it has them)."""
    tmp = tmp_path_factory.mktemp("edge-venv")
    src = tmp / "src"  # a copy, so building leaves no build/ or egg-info in the work tree
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, src / name)
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin/python"), "-m", "pip", "install", "-q", str(src)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600)
    return venv


def installed(venv: Path) -> set[str]:
    out = subprocess.run([str(venv / "bin/python"), "-m", "pip", "list", "--format=freeze"],
                         check=True, capture_output=True, text=True).stdout
    return {line.split("==")[0].lower().replace("_", "-") for line in out.split()}


def test_plain_install_brings_only_the_edge_dependencies(edge_venv):
    extra = installed(edge_venv) - {"floorwatch", "pip", "setuptools", "paho-mqtt", "pyserial", "gpiozero",
                                    "colorzero", "msgspec"}
    assert not extra, f"a plain install pulls in more than the agent needs: {sorted(extra)}"


def test_installed_agent_publishes_without_loading_the_hub(edge_venv, broker, tmp_path):
    site = "p" + os.urandom(3).hex()
    cfg = tmp_path / "seat-p01.toml"
    cfg.write_text(SEAT.format(site=site, host=broker.host, port=broker.port, spool=tmp_path / "spool.db"))
    (tmp_path / "run.py").write_text(RUN_AND_LIST_MODULES)
    modules = tmp_path / "modules.txt"

    heard: list[tuple[str, bytes]] = []
    online = threading.Event()
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"watch-{site}")
    sub.on_connect = lambda c, *a: c.subscribe(f"{wire.TOPIC_ROOT}/{site}/seat-p01/#", qos=1)

    def on_message(c, u, m) -> None:
        heard.append((m.topic, m.payload))
        if m.topic == wire.status_topic(site, "seat-p01") and b'"online"' in m.payload:
            online.set()

    sub.on_message = on_message
    sub.connect(broker.host, broker.port)
    sub.loop_start()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # only what the venv installed
    proc = subprocess.Popen([str(edge_venv / "bin/python"), str(tmp_path / "run.py"), str(modules),
                             "--config", str(cfg), "--mock-gpio"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert online.wait(30), f"the installed agent never came online: {proc.stderr.read() if proc.poll() is not None else ''}"
        assert wait_until(lambda: any(t == wire.event_topic(site, "seat-p01") and b'"heartbeat"' in p
                                      for t, p in heard)), "the agent never published a heartbeat"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        sub.disconnect()
        sub.loop_stop()
    assert proc.returncode == 0, err
    assert out.startswith("edge: device seat-p01 (seat P01)")
    loaded = modules.read_text().split()
    assert {"edge.agent", "edge.wire", "edge.config", "paho.mqtt.client", "msgspec"} <= set(loaded)  # the dump is of the agent itself
    assert str(edge_venv) in subprocess.run([str(edge_venv / "bin/python"), "-c", "import edge; print(edge.__file__)"],
                                            capture_output=True, text=True, env=env, cwd=tmp_path).stdout
    leaked = [m for m in loaded if m.partition(".")[0] in {*HUB_LIBRARIES, "hub", "kiosk_ui"}]
    assert not leaked, f"the edge agent loaded hub modules: {leaked}"


def test_the_hub_command_without_its_extra_says_what_to_install(edge_venv, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([str(edge_venv / "bin/floorwatch"), "--help"], capture_output=True, text=True,
                       env=env, cwd=tmp_path)
    assert r.returncode == 2 and "pip install 'floorwatch[hub]'" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([str(edge_venv / "bin/floorwatch-edge"), "--help"], capture_output=True, text=True,
                       env=env, cwd=tmp_path)
    assert r.returncode == 0 and "--mock-gpio" in r.stdout
