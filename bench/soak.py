"""The soak: a simulated floor of real edge agents against a real broker and a real hub, for
days of shifts at hundreds of times real time, under a chaos schedule; then every event and
every violation accounted for by bench/checker.py.

    python bench/soak.py                       # 2,000 seats, 4 doors, 2 kiosks (see --help)
    python bench/soak.py --days 1 --speed 600  # a shorter span

Processes (all real, all separate):
  mosquitto          hub.broker.MosquittoBroker, persistence on; SIGKILLed and restarted
  the hub            `floorwatch hub --web off --clock WHEN@WALL --speed X`: the real command, on
                     the world's simulated clock; SIGKILLed and restarted
  N workers          bench/soak_worker.py: a shard of the devices each, as edge agents with
                     durable spools; SIGKILLed and restarted
  this orchestrator  plans the world (bench/soak_plan.py), runs the chaos schedule, injects
                     malformed and duplicated messages, samples the hub's memory and event log,
                     and times each tap's feedback as it passes the broker (TapLatency)

Chaos: process kills as above; devices cut off from the broker for minutes and device clocks
skewed for hours (in the workers' scripts); malformed payloads on the hub's topics (each must be
quarantined with a reason); exact copies of events already sent (each must be dropped). The broker
is killed only once the hub has caught up (a probe event round trip): mosquitto persists a snapshot
every few seconds, so a SIGKILL while it holds a backlog for a lagging hub loses what arrived since
the last snapshot (measured and reported separately, not hidden).

Writes RUN_DIR/result.json and, with --results, the results table (bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, OrderedDict, deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402
import psutil  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from bench import checker  # noqa: E402
from bench.soak_plan import EpochClock, SoakConfig, make_site, plan, write_epoch, write_run  # noqa: E402
from hub.broker import MosquittoBroker  # noqa: E402
from hub.processes import stop_process  # noqa: E402

SITE = "soak"
PROBE = "soak-probe"
HUB_START_S = 10.0  # allowed for `floorwatch hub` to start before the agents get theirs (startup_s)


class Proc:
    """A child process (hub or worker) that can be SIGKILLed and started again."""

    def __init__(self, name: str, args: list[str], log: Path) -> None:
        self.name = name
        self.args = args
        self.log = log
        self.p: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = self.log.open("ab")
        env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self.p = subprocess.Popen(self.args, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
        out.close()
        self.starts += 1

    @property
    def running(self) -> bool:
        return self.p is not None and self.p.poll() is None

    @property
    def pid(self) -> int | None:
        return self.p.pid if self.p is not None else None

    def kill(self) -> None:
        if self.p is not None and self.p.poll() is None:
            self.p.send_signal(signal.SIGKILL)
            self.p.wait(30)

    def terminate(self, timeout: float) -> bool:
        return self.p is None or stop_process(self.p, signal.SIGTERM, timeout)

    def wait_for(self, text: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log.exists() and text in self.log.read_text(encoding="utf-8", errors="replace"):
                return True
            if self.p is not None and self.p.poll() is not None:
                return False
            time.sleep(0.1)
        return False


class TruthTail:
    """Follows the workers' ground-truth files: how many events so far, and recent ones to copy."""

    def __init__(self, run: Path) -> None:
        self.dir = run / "truth"
        self.offsets: dict[Path, int] = {}
        self.events = 0
        self.recent: deque[dict[str, Any]] = deque(maxlen=20_000)

    def poll(self) -> int:
        for path in sorted(self.dir.glob("*.jsonl")):
            off = self.offsets.get(path, 0)
            with path.open("rb") as f:
                f.seek(off)
                data = f.read()
            end = data.rfind(b"\n") + 1
            self.offsets[path] = off + end
            for line in data[:end].splitlines():
                try:
                    o = json.loads(line)
                except ValueError:
                    continue
                if "seq" in o and "id" in o:
                    self.events += 1
                    self.recent.append(o)
        return self.events


class TapLatency:
    """Tap-to-feedback latency seen from the broker, as a kiosk or reader LED sees it: for each
    badge event, the real milliseconds until the hub's feedback command answering it (`re`)
    passes through the broker (hub_ms: hub receipt, judging and publishing, plus two broker hops),
    and the same from the device's own timestamp (device_ms). One JSON line per answered tap in
    RUN_DIR/hub-latency.jsonl."""

    def __init__(self, host: str, port: int, clock: EpochClock, path: Path) -> None:
        self.clock = clock
        self.out = path.open("a", encoding="utf-8", buffering=1)
        self.seen: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"soak-latency-{uuid.uuid4().hex[:6]}")
        self.client.reconnect_delay_set(0.2, 2)
        self.client.on_connect = lambda c, *a: c.subscribe([(f"fw/v1/{SITE}/+/event", 0), (f"fw/v1/{SITE}/+/cmd", 0)])
        self.client.on_message = self._on_message
        self.client.connect_async(host, port)
        self.client.loop_start()

    def _on_message(self, client, userdata, msg) -> None:
        now = time.monotonic()
        with contextlib.suppress(ValueError, KeyError, TypeError, AttributeError):
            if msg.topic.endswith("/event"):
                if b'"badge"' in msg.payload:
                    e = json.loads(msg.payload)
                    self.seen[e["id"]] = (now, e["ts"])
                    if len(self.seen) > 50_000:
                        self.seen.popitem(last=False)
            elif b'"feedback"' in msg.payload:
                got = self.seen.pop(json.loads(msg.payload).get("re"), None)
                if got is not None:
                    self.out.write(json.dumps({"w": round(time.time(), 3), "hub_ms": round((now - got[0]) * 1000, 2),
                                               "device_ms": round((self.clock.now_ms() - got[1]) / self.clock.speed, 2)})
                                   + "\n")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self.out.close()


class Injector:
    """A plain MQTT client for the chaos messages and the catch-up probe."""

    def __init__(self, host: str, port: int) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"soak-chaos-{uuid.uuid4().hex[:6]}")
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(0.2, 2)
        self.client.connect_async(host, port)
        self.client.loop_start()
        self.probe_seq = int(time.time() * 1000)

    def publish(self, topic: str, payload: bytes, timeout: float = 5.0) -> bool:
        """Publish at QoS 1 and wait for the broker's PUBACK; False if it did not come."""
        deadline = time.monotonic() + timeout
        while not self.client.is_connected() and time.monotonic() < deadline:  # reconnecting after a broker kill
            time.sleep(0.05)
        info = self.client.publish(topic, payload, qos=1)
        try:
            info.wait_for_publish(max(deadline - time.monotonic(), 0.1))
            return info.is_published() and info.rc == mqtt.MQTT_ERR_SUCCESS
        except (RuntimeError, ValueError):
            return False

    def probe(self, ts: int) -> int:
        self.probe_seq += 1
        event = {"v": 1, "id": str(uuid.uuid4()), "device": PROBE, "seq": self.probe_seq, "ts": ts, "type": "heartbeat",
                 "uptime_s": 0, "spooled": 0, "dropped": 0}
        self.publish(f"fw/v1/{SITE}/{PROBE}/event", json.dumps(event).encode())
        return self.probe_seq

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def malformed(n: int, devices: list[str], rng: random.Random, ts: int) -> tuple[str, bytes, str]:
    """One malformed message for the hub's topics, carrying a unique marker; (topic, payload, marker)."""
    marker = f"soakbad-{n}"
    dev = rng.choice(devices)
    good = {"v": 1, "id": str(uuid.uuid4()), "device": dev, "seq": 1, "ts": ts, "type": "badge", "uid": marker,
            "reader": "badge"}
    kind = n % 10
    topic = f"fw/v1/{SITE}/{dev}/event"
    if kind == 0:
        payload = b"\x00\xff not json " + marker.encode()
    elif kind == 1:
        payload = json.dumps([marker, 1, 2]).encode()
    elif kind == 2:
        payload = json.dumps({k: v for k, v in good.items() if k != "seq"}).encode()
    elif kind == 3:
        payload = json.dumps({**good, "seq": "12"}).encode()
    elif kind == 4:
        other = rng.choice([d for d in devices if d != dev])
        payload = json.dumps({**good, "device": other}).encode()
    elif kind == 5:
        payload = json.dumps({**good, "type": "teleport"}).encode()
    elif kind == 6:
        topic = f"fw/v1/{SITE}/NOT A DEVICE/event"
        payload = json.dumps(good).encode()
    elif kind == 7:
        topic = f"fw/v1/{SITE}/{dev}/status"
        payload = json.dumps({"v": 1, "device": dev, "state": "sleeping", "ts": ts, "fw": marker}).encode()
    elif kind == 8:
        topic = f"fw/v1/{SITE}/acd"
        payload = json.dumps({"v": 1, "ts": ts, "idle": -1, "note": marker}).encode()
    else:
        payload = (marker + " ").encode() * 5000  # 60 kB of garbage
    return topic, payload, marker


def event_payload(o: dict[str, Any]) -> bytes:
    return json.dumps({"v": 1, "id": o["id"], "device": o["device"], "seq": o["seq"], "ts": o["ts"], "type": o["type"],
                       "clock_ok": o.get("clock_ok", True), **o["body"]}, separators=(",", ":")).encode()


class Soak:
    def __init__(self, cfg: SoakConfig, run: Path, *, startup_s: float = 15.0, say=print) -> None:
        self.cfg = cfg
        self.run = run
        self.startup_s = startup_s
        self.say = say
        self.rng = random.Random(cfg.seed + 7)
        self.faults: Counter = Counter()
        self.samples: list[tuple[float, int, int]] = []  # (wall, hub rss, hub max event id)
        self.kill_log = (run / "chaos-log.jsonl")
        self.restarts: list[float] = []  # wall times the hub came back
        self.broker_backlog_kills = 0
        self.broker_wait_s: list[float] = []  # how long each broker kill waited for the hub to catch up
        self._postponed: dict[int, float] = {}

    # ------------------------------------------------------------ setup

    def setup(self) -> None:
        if self.run.exists():
            shutil.rmtree(self.run)
        self.run.mkdir(parents=True)
        self.broker = MosquittoBroker(self.run / "broker").start()
        t = time.monotonic()
        site_dir = make_site(self.run / "site", self.cfg, self.broker.port, self.run / "spool")
        self.plan, roster = plan(self.cfg)
        write_run(self.run, self.plan, roster, site_dir, {"broker": [self.broker.host, self.broker.port]})
        self.meta = json.loads((self.run / "run.json").read_text(encoding="utf-8"))
        self.devices = sorted(self.plan.shards)
        self.say(f"soak: {len(self.devices)} devices, {len(self.plan.acts)} scripted actions, {len(roster)} duties,"
                 f" planned in {time.monotonic() - t:.1f} s")
        py = sys.executable
        self.workers = [Proc(f"worker-{k}", [py, "-m", "bench.soak_worker", str(self.run), str(k)],
                             self.run / "logs" / f"worker-{k}.log") for k in range(self.cfg.workers)]
        for proc in self.workers:
            proc.start()
        for proc in self.workers:  # device files read, scripts loaded
            if not proc.wait_for("prepared", 300):
                raise RuntimeError(f"{proc.name} did not start: see {proc.log}")
        # The world starts after the hub has started (Python, its site, its database: HUB_START_S)
        # and the agents have opened their spools and connected (startup_s). The hub gets the
        # world's clock on its command line, so a restarted hub agrees on the time; the agents
        # start once the hub is subscribed (its first probe came back), so the broker queues for
        # the hub everything they send, their start-up events included.
        self.wall_epoch = time.time() + HUB_START_S + self.startup_s
        self.clock = EpochClock(self.wall_epoch, self.plan.start_ms, self.cfg.speed)
        when = datetime.fromtimestamp(self.plan.start_ms / 1000, tz=UTC).isoformat()
        self.hub = Proc("hub", [py, "-m", "hub.cli", "hub", "--site", str(site_dir), "--db", str(self.run / "hub.db"),
                                "--broker", f"{self.broker.host}:{self.broker.port}", "--web", "off",
                                "--clock", f"{when}@{self.wall_epoch!r}", "--speed", repr(self.cfg.speed)],
                        self.run / "logs" / "hub.log")
        self.hub.start()
        self.db = self.run / "hub.db"
        self.injector = Injector(self.broker.host, self.broker.port)
        if not self.hub.wait_for("hub: site", 300):
            raise RuntimeError(f"hub did not start: see {self.hub.log}")
        deadline = time.monotonic() + 300
        while not self.caught_up():
            if time.monotonic() > deadline or not self.hub.running:
                raise RuntimeError(f"hub never subscribed: see {self.hub.log}")
        write_epoch(self.run, self.wall_epoch, self.plan.start_ms)
        for proc in self.workers:
            if not proc.wait_for("ready", 300):
                raise RuntimeError(f"{proc.name} did not start: see {proc.log}")
        self.say(f"soak: hub and {len(self.workers)} agent processes ready; world starts in"
                 f" {self.wall_epoch - time.time():.1f} s")
        self.latency = TapLatency(self.broker.host, self.broker.port, self.clock, self.run / "hub-latency.jsonl")
        self.tail = TruthTail(self.run)

    # ------------------------------------------------------------ measuring

    def hub_count(self, *, exact: bool = False) -> int:
        try:
            conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)
            try:
                sql = ("SELECT count(*) FROM events WHERE device != ?" if exact else "SELECT coalesce(max(id), 0) FROM events WHERE ? != ''")
                return conn.execute(sql, (PROBE,)).fetchone()[0]
            finally:
                conn.close()
        except sqlite3.Error:
            return -1

    def has_probe(self, seq: int) -> bool:
        try:
            conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)
            try:
                return conn.execute("SELECT 1 FROM events WHERE device = ? AND seq = ?", (PROBE, seq)).fetchone() is not None
            finally:
                conn.close()
        except sqlite3.Error:
            return False

    def caught_up(self, round_trip_s: float = 1.0) -> bool:
        """A probe event reaches the hub's log within `round_trip_s`: the broker holds no backlog
        for the hub (what it queues for a lagging hub since its last persistence snapshot dies
        with a SIGKILL)."""
        sent = time.monotonic()
        seq = self.injector.probe(self.clock.now_ms())
        while time.monotonic() - sent <= round_trip_s:
            if self.has_probe(seq):
                return True
            time.sleep(0.05)
        return False

    def sample(self) -> None:
        rss = 0
        with contextlib.suppress(psutil.Error, TypeError):
            rss = psutil.Process(self.hub.pid).memory_info().rss
        self.samples.append((time.time(), rss, self.hub_count()))

    # ------------------------------------------------------------ chaos

    def log_chaos(self, entry: dict[str, Any]) -> None:
        with self.kill_log.open("a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")

    def do(self, c: Any) -> None:
        now = self.clock.now_ms()
        if c.kind == "hub_kill":
            self.hub.kill()
            time.sleep(c.down_s)
            self.hub.start()
            self.restarts.append(time.time())
        elif c.kind == "broker_kill":
            first = self._postponed.setdefault(id(c), time.monotonic())
            caught_up = self.caught_up()
            if not caught_up and time.monotonic() - first < 300:
                return False  # the hub still has a backlog at the broker: try again a little later
            self.broker_wait_s.append(round(time.monotonic() - first, 1))
            self.broker_backlog_kills += not caught_up
            now = self.clock.now_ms()
            self.broker.stop(kill=True)
            time.sleep(c.down_s)
            self.broker.start()
        elif c.kind == "worker_kill":
            self.workers[c.arg].kill()
            time.sleep(c.down_s)
            self.workers[c.arg].start()
        elif c.kind == "malformed":
            topic, payload, marker = malformed(c.arg, self.devices, self.rng, now)
            ok = self.injector.publish(topic, payload)
            self.log_chaos({"kind": "malformed", "marker": marker, "topic": topic, "delivered": ok, "sim": now})
            self.faults["malformed messages"] += ok
            return
        elif c.kind == "duplicate":
            self.tail.poll()
            old = [o for o in list(self.tail.recent)[-5000:] if o["t"] < now - 10 * 60_000]
            if not old:
                return
            o = self.rng.choice(old)
            ok = self.injector.publish(f"fw/v1/{SITE}/{o['device']}/event", event_payload(o))
            self.faults["duplicated messages"] += ok
            return
        self.faults[{"hub_kill": "hub SIGKILLs", "broker_kill": "broker SIGKILLs", "worker_kill": "agent-process SIGKILLs"}[c.kind]] += 1
        self.log_chaos({"kind": c.kind, "arg": c.arg, "sim_start": now, "sim_end": self.clock.now_ms(),
                        "wall_start": self.clock.wall_at(now), "wall_end": time.time()})

    # ------------------------------------------------------------ the run

    def play(self) -> None:
        chaos = list(self.plan.chaos)
        i = 0
        next_sample = 0.0
        last_say = time.monotonic()
        self.world_wall0 = self.wall_epoch
        while self.clock.now_ms() < self.plan.end_ms:
            now = self.clock.now_ms()
            while i < len(chaos) and chaos[i].t <= now:
                if self.do(chaos[i]) is False:  # postponed
                    chaos[i].t = now + int(10_000 * self.cfg.speed)  # same object: the wait is counted from the first try
                    chaos[i:] = sorted(chaos[i:], key=lambda c: c.t)
                    break
                i += 1
            if time.monotonic() >= next_sample:
                next_sample = time.monotonic() + 1.0
                self.sample()
            if time.monotonic() - last_say > 30:
                last_say = time.monotonic()
                self.say(f"soak: {self._local(now)}  device events {self.tail.poll()}, hub log {self.samples[-1][2]},"
                         f" hub rss {self.samples[-1][1] / 2**20:.0f} MB")
            time.sleep(0.05)
        for a in self.plan.acts:  # device-level chaos actually scripted
            if a.kind == "cut":
                self.faults["devices cut off"] += 1
            elif a.kind == "skew":
                self.faults["device clocks skewed"] += 1

    def _local(self, ms: int) -> str:
        import datetime as dt  # noqa: PLC0415
        from zoneinfo import ZoneInfo  # noqa: PLC0415

        return dt.datetime.fromtimestamp(ms / 1000, ZoneInfo(self.cfg.tz)).strftime("%a %H:%M")

    def finish(self) -> dict[str, Any]:
        self.world_wall1 = time.time()
        self.say("soak: world over; stopping the devices (they send what they spooled)")
        for w in self.workers:
            if not w.terminate(180):
                self.say(f"soak: {w.name} did not stop in time")
        want = self.tail.poll()
        t0 = time.monotonic()
        last, stable = -1, time.monotonic()
        while time.monotonic() - t0 < 1800:
            got = self.hub_count(exact=True)
            self.sample()
            if got >= want:
                break
            if got != last:
                last, stable = got, time.monotonic()
            elif time.monotonic() - stable > 300:  # a restarted hub replays its last day before it ingests
                break
            time.sleep(0.5)
        self.drain_s = time.monotonic() - t0
        time.sleep(3.0)  # the engine judges the last batch and ticks past the last deadlines
        self.sample()
        self.hub.terminate(60)
        self.latency.close()
        self.injector.close()
        self.broker.close()
        self.say("soak: checking")
        result = checker.check(self.run)
        return self.report(result)

    # ------------------------------------------------------------ figures

    def report(self, chk: dict[str, Any]) -> dict[str, Any]:
        rss = [r for _, r, _ in self.samples if r]
        # throughput: events committed per real second, over the world and at its busiest 10 s
        pts = [(w, n) for w, _, n in self.samples if n >= 0]
        rates = []
        for j in range(len(pts)):
            k = j
            while k < len(pts) and pts[k][0] - pts[j][0] < 10:
                k += 1
            if k < len(pts):
                rates.append((pts[k][1] - pts[j][1]) / (pts[k][0] - pts[j][0]))
        world_s = self.world_wall1 - self.wall_epoch
        lat = self._latency()
        return {
            "config": self.cfg.dump(), "world_real_s": round(world_s, 1), "drain_s": round(self.drain_s, 1),
            "simulated_hours": round((self.plan.end_ms - self.plan.start_ms) / 3_600_000, 1),
            "faults": dict(self.faults), "broker_kills_with_hub_backlog": self.broker_backlog_kills,
            "broker_kill_wait_s": [round(x, 2) for x in self.broker_wait_s],
            "peak_hub_rss_mb": round(max(rss) / 2**20, 1) if rss else None,
            "throughput_avg": round(chk["hub_events"] / max(world_s + self.drain_s, 1e-9), 1),
            "throughput_peak_10s": round(max(rates), 1) if rates else None,
            "latency": lat, "check": chk,
        }

    def _latency(self) -> dict[str, Any]:
        path = self.run / "hub-latency.jsonl"
        hub, dev = [], []
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                with contextlib.suppress(ValueError, KeyError):
                    o = json.loads(line)
                    hub.append(o["hub_ms"])
                    dev.append(o["device_ms"])

        def pct(xs: list[float], q: float) -> float | None:
            if not xs:
                return None
            xs = sorted(xs)
            return round(xs[min(len(xs) - 1, int(q * len(xs)))], 1)

        return {"taps": len(hub), "hub_p50_ms": pct(hub, 0.5), "hub_p99_ms": pct(hub, 0.99),
                "device_p50_ms": pct(dev, 0.5), "device_p99_ms": pct(dev, 0.99),
                "hub_mean_ms": round(statistics.fmean(hub), 1) if hub else None}

    def abort(self) -> None:
        for p in [*getattr(self, "workers", []), getattr(self, "hub", None)]:
            if p is not None:
                with contextlib.suppress(Exception):
                    p.kill()
        for obj in (getattr(self, "latency", None), getattr(self, "injector", None), getattr(self, "broker", None)):
            if obj is not None:
                with contextlib.suppress(Exception):
                    obj.close()


def run_soak(cfg: SoakConfig, run: Path, *, startup_s: float = 15.0, say=print) -> dict[str, Any]:
    soak = Soak(cfg, run, startup_s=startup_s, say=say)
    try:
        soak.setup()
        soak.play()
        result = soak.finish()
    except BaseException:
        soak.abort()
        raise
    (run / "result.json").write_text(json.dumps(result, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    return result


# ---------------------------------------------------------------- RESULTS.md


def machine() -> str:
    cpu = platform.processor() or "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mosq = "?"
    with contextlib.suppress(Exception):
        out = subprocess.run([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-h"], capture_output=True, text=True, timeout=5)
        mosq = (out.stdout or out.stderr).splitlines()[0]
    os_name = platform.platform()
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    load = os.getloadavg()
    import paho.mqtt  # noqa: PLC0415

    paho_version = getattr(paho.mqtt, "__version__", "?")
    return (f"{cpu}, {psutil.cpu_count()} logical CPUs, {psutil.virtual_memory().total / 2**30:.0f} GiB RAM; {os_name};"
            f" Python {platform.python_version()}, paho-mqtt {paho_version},"
            f" {mosq}; load average at the end {load[0]:.1f} (other engineers' test runs share the machine)")


def results_markdown(r: dict[str, Any], note: str = "") -> str:
    c, chk, lat = r["config"], r["check"], r["latency"]
    faults = ", ".join(f"{k} {v}" for k, v in sorted(r["faults"].items())) or "none"
    rows = [
        ("site", f"{c['seats']} seats in {c['zones']} zones, {c['doors']} doors, {c['kiosks']} kiosks;"
                 f" {c['workers']} agent processes"),
        ("simulated span", f"{c['days']} day(s) of shifts, {r['simulated_hours']} h at {c['speed']:g}x"
                           f" ({r['world_real_s']} s real, +{r['drain_s']} s draining)"),
        ("events (devices / hub log)", f"{chk['truth_events']} / {chk['hub_events']}"),
        ("faults injected", faults),
        ("lost", chk["lost"]),
        ("duplicated", chk["duplicated"]),
        ("unexpected", chk["unexpected"]),
        ("malformed not quarantined", f"{chk['malformed_not_quarantined']} of {chk['malformed_injected']}"),
        ("violations (charged to agents)", f"{chk['violations']} ({chk['accusations']})"),
        ("false accusations", chk["false_accusations"]),
        ("missed violations", f"{chk['missed']} (+{chk['missed_in_data_gap']} during device data gaps, not judged by design)"),
        ("indeterminate (within 1 s of a threshold)", chk["indeterminate"]),
        ("false alerts (no agent charged)", chk["false_alerts"]),
        ("peak hub memory (RSS)", f"{r['peak_hub_rss_mb']} MB"),
        ("ingest throughput", f"{r['throughput_avg']} events/s average, {r['throughput_peak_10s']} events/s busiest 10 s"),
        ("tap-to-kiosk latency (badge event -> its feedback command, both seen at the broker)",
         f"p50 {lat['hub_p50_ms']} ms, p99 {lat['hub_p99_ms']} ms ({lat['taps']} taps)"),
        ("device tap -> feedback at the broker (incl. spooling, backlogs)", f"p50 {lat['device_p50_ms']} ms, p99 {lat['device_p99_ms']} ms"),
        ("broker kills waiting for the hub to catch up", f"{r['broker_kill_wait_s']} s; killed with a backlog: {r['broker_kills_with_hub_backlog']}"),
    ]
    out = ["| measure | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows]
    by_rule = ", ".join(f"{k} {v}" for k, v in chk["violations_by_rule"].items())
    return "\n".join(out) + f"\n\nViolations by rule: {by_rule}.\n" + (f"\n{note}\n" if note else "")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Soak: a simulated floor under chaos, every event accounted for.")
    d = SoakConfig()
    ap.add_argument("--seats", type=int, default=d.seats)
    ap.add_argument("--zones", type=int, default=d.zones)
    ap.add_argument("--days", type=int, default=d.days)
    ap.add_argument("--speed", type=float, default=d.speed, help="simulated seconds per real second")
    ap.add_argument("--workers", type=int, default=d.workers, help="agent processes")
    ap.add_argument("--seed", type=int, default=d.seed)
    ap.add_argument("--chaos-scale", type=float, default=1.0, help="multiply every chaos count (per simulated day:"
                    " 1 broker, 1 hub and 1 agent-process SIGKILL, 10 cut-offs, 6 clock skews, 100 malformed and"
                    " 150 duplicated messages)")
    ap.add_argument("--hub-kills", type=float, default=1.0, help="hub SIGKILLs per simulated day")
    ap.add_argument("--run-dir", type=Path, help="where to keep everything (default: a temporary folder, kept)")
    ap.add_argument("--results", type=Path, help="write the results table here (e.g. bench/RESULTS.md)")
    ap.add_argument("--note", default="", help="a paragraph for RESULTS.md")
    args = ap.parse_args(argv)
    cfg = SoakConfig(seats=args.seats, zones=args.zones, days=args.days, speed=args.speed, workers=args.workers,
                     seed=args.seed)
    cfg.clock_skew_max_s = max(cfg.clock_skew_max_s, int(1.5 * cfg.speed))
    per_day = {"broker_kills": 1, "hub_kills": args.hub_kills, "worker_kills": 1, "cuts": 10, "skews": 6, "malformed": 100,
               "duplicates": 150}
    for f, n in per_day.items():
        setattr(cfg, f, int(round(n * args.days * args.chaos_scale)))
    run = args.run_dir or Path(tempfile.mkdtemp(prefix="fw-soak-"))
    print(f"soak: run folder {run}")
    result = run_soak(cfg, run)
    print(checker.summary(result["check"]))
    print(json.dumps({k: v for k, v in result.items() if k != "check"}, indent=1, default=str))
    if args.results:
        text = ("# Soak results\n\n" + f"Machine: {machine()}.\n\n"
                f"Command: `python bench/soak.py {' '.join(argv if argv is not None else sys.argv[1:])}`"
                f" (run folder kept: ground truth, scripts, logs, hub database).\n\n" + results_markdown(result, args.note))
        args.results.write_text(text, encoding="utf-8")
        print(f"soak: wrote {args.results}")
    chk = result["check"]
    return 1 if chk["lost"] or chk["duplicated"] or chk["false_accusations"] else 0


if __name__ == "__main__":
    sys.exit(main())
