"""The soak: a simulated floor of real edge agents against a real broker and a real hub, for
days of shifts at hundreds of times real time, under a chaos schedule; then every event and
every violation accounted for by bench/checker.py.

    python bench/soak.py                       # 2,000 seats, 4 doors, 2 kiosks (see --help)
    python bench/soak.py --days 1 --speed 600  # a shorter span
    python bench/soak.py --backend postgresql --hubs 2   # two hubs on one PostgreSQL database

Processes (all real, all separate):
  mosquitto          hub.broker.MosquittoBroker, persistence on; SIGKILLed and restarted
  the hub            `floorwatch hub --web off --clock WHEN@WALL --speed X`: the real command, on
                     the world's simulated clock; SIGKILLed and restarted. With --backend postgresql
                     its database is on a private PostgreSQL server in the run (tests/pg_cluster.py);
                     with --hubs 2 two hubs `a` and `b` share it (`--hub-id`), each reading every
                     event through its own broker session, one running the engine while it holds
                     the engine lease: a hub kill SIGKILLs that one, and the other must take over
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
from bench.hub_db import HubDb  # noqa: E402
from bench.soak_plan import EpochClock, SoakConfig, make_site, plan, write_epoch, write_run  # noqa: E402
from hub.broker import MosquittoBroker  # noqa: E402
from hub.processes import stop_process  # noqa: E402
from tests.pg_cluster import PostgresCluster, find_bindir  # noqa: E402

SITE = "soak"
PROBE = "soak-probe"
HUB_START_S = 10.0  # allowed for `floorwatch hub` to start before the agents get theirs (startup_s)
TAKEOVER_WAIT_S = 60.0  # a hub kill waits this long at most for a hub to hold the engine lease


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
        self.out_path = path
        self.out = path.open("a", encoding="utf-8", buffering=1)
        self.seen: OrderedDict[str, tuple[float, int, float, str]] = OrderedDict()  # id -> (monotonic, ts, wall, device)
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
                if b'"badge"' in msg.payload and b"soakbad-" not in msg.payload:  # not the injected malformed ones
                    e = json.loads(msg.payload)
                    self.seen[e["id"]] = (now, e["ts"], time.time(), e["device"])
                    if len(self.seen) > 50_000:
                        self.seen.popitem(last=False)
            elif b'"feedback"' in msg.payload:
                re = json.loads(msg.payload).get("re")
                got = self.seen.pop(re, None)
                if got is not None:
                    self.out.write(json.dumps({"id": re, "device": got[3], "w": round(time.time(), 3), "tap_w": round(got[2], 3),
                                               "hub_ms": round((now - got[0]) * 1000, 2),
                                               "device_ms": round((self.clock.now_ms() - got[1]) / self.clock.speed, 2)})
                                   + "\n")

    def unanswered(self) -> list[float]:
        """The wall times of fresh taps (device time within 2 s real of the broker passing them on,
        not spool replays or the injected copies of old events) that no feedback answered; they
        are listed in RUN_DIR/unanswered-taps.jsonl."""
        fresh = [(i, v) for i, v in list(self.seen.items()) if abs(v[2] - self.clock.wall_at(v[1])) < 2.0]
        with (self.out_path.parent / "unanswered-taps.jsonl").open("w", encoding="utf-8") as f:
            for i, (_, ts, w, dev) in fresh:
                f.write(json.dumps({"id": i, "device": dev, "ts": ts, "tap_w": round(w, 3)}) + "\n")
        return [v[2] for _, v in fresh]

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
    def __init__(self, cfg: SoakConfig, run: Path, *, startup_s: float = 15.0, say=print, backend: str = "sqlite",
                 hubs: int = 1) -> None:
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(f"backend {backend!r}: sqlite or postgresql")
        if hubs > 1 and backend != "postgresql":
            raise ValueError("several hubs share a database on PostgreSQL only")
        self.cfg = cfg
        self.run = run
        self.backend = backend
        self.hub_names: list[str | None] = [chr(ord("a") + k) for k in range(hubs)] if hubs > 1 else [None]
        self.pg: PostgresCluster | None = None
        self.takeovers: list[dict[str, Any]] = []  # per hub kill: which hub died, which took the engine, how soon
        self.startup_s = startup_s
        self.say = say
        self.rng = random.Random(cfg.seed + 7)
        self.faults: Counter = Counter()
        self.samples: list[tuple[float, int, int]] = []  # (wall, largest hub rss, events stored)
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
        if self.backend == "postgresql":  # a private server (never the machine's own), stopped by finish()
            self.pg = PostgresCluster(self.run / "pg").start()
            self.db = self.pg.create_database("soak")
        else:
            self.db = str(self.run / "hub.db")
        t = time.monotonic()
        site_dir = make_site(self.run / "site", self.cfg, self.broker.port, self.run / "spool")
        self.plan, roster = plan(self.cfg)
        write_run(self.run, self.plan, roster, site_dir, {"broker": [self.broker.host, self.broker.port], "db": self.db})
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
        self.hubs = [Proc(f"hub-{name}" if name else "hub",
                          [py, "-m", "hub.cli", "hub", "--site", str(site_dir), "--db", self.db,
                           "--broker", f"{self.broker.host}:{self.broker.port}", "--web", "off",
                           "--clock", f"{when}@{self.wall_epoch!r}", "--speed", repr(self.cfg.speed),
                           *(["--hub-id", name] if name else [])],
                          self.run / "logs" / (f"hub-{name}.log" if name else "hub.log"))
                     for name in self.hub_names]
        for i, hub in enumerate(self.hubs):
            hub.start()
            # the first takes the engine lease (before it prints its site line); the others stand by
            if i == 0 and len(self.hubs) > 1 and not hub.wait_for("hub: site", 300):
                raise RuntimeError(f"{hub.name} did not start: see {hub.log}")
        self.injector = Injector(self.broker.host, self.broker.port)
        for hub in self.hubs:
            if not hub.wait_for("hub: site", 300):
                raise RuntimeError(f"{hub.name} did not start: see {hub.log}")
        self.hubdb = HubDb(self.db)  # the hubs have made the schema
        # Every hub must be subscribed before the agents start, so the broker queues for each of
        # them all the agents send: a hub's own caught_up mark says its session is subscribed (with
        # one hub, the soak's probe coming back says the same).
        deadline = time.monotonic() + 300
        while not (self.caught_up() and all(self.hubdb.hub_caught_up(n) for n in self.hub_names if n)):
            if time.monotonic() > deadline or not all(h.running for h in self.hubs):
                raise RuntimeError(f"a hub never subscribed: see {self.run / 'logs'}")
        write_epoch(self.run, self.wall_epoch, self.plan.start_ms)
        for proc in self.workers:
            if not proc.wait_for("ready", 300):
                raise RuntimeError(f"{proc.name} did not start: see {proc.log}")
        self.say(f"soak: {len(self.hubs)} hub(s) on {self.backend}, {len(self.workers)} agent processes ready; world starts in"
                 f" {self.wall_epoch - time.time():.1f} s")
        self.latency = TapLatency(self.broker.host, self.broker.port, self.clock, self.run / "hub-latency.jsonl")
        self.tail = TruthTail(self.run)

    # ------------------------------------------------------------ measuring

    def hub_count(self, *, exact: bool = False) -> int:
        try:
            return self.hubdb.count_events(PROBE) if exact else self.hubdb.events_stored()
        except Exception:  # a busy database: this sample is skipped
            return -1

    def has_probe(self, seq: int) -> bool:
        try:
            return self.hubdb.has_event(PROBE, seq)
        except Exception:
            return False

    def caught_up(self, round_trip_s: float = 1.0) -> bool:
        """A probe event reaches the hub's log within `round_trip_s`: the broker holds no backlog
        for the hub (what it queues for a lagging hub since its last persistence snapshot dies
        with a SIGKILL). With several hubs, any one of them: it stores what the broker held before
        the probe, so a backlog the broker still holds for another hub's session (a restarted one
        catching up) is already in the shared log and losing it loses nothing."""
        sent = time.monotonic()
        seq = self.injector.probe(self.clock.now_ms())
        while time.monotonic() - sent <= round_trip_s:
            if self.has_probe(seq):
                return True
            time.sleep(0.05)
        return False

    def sample(self) -> None:
        rss = 0
        for hub in self.hubs:  # the largest hub process (the engine's, mostly)
            with contextlib.suppress(psutil.Error, TypeError, ValueError):
                rss = max(rss, psutil.Process(hub.pid).memory_info().rss)
        self.samples.append((time.time(), rss, self.hub_count()))

    def engine_hub(self) -> Proc | None:
        """The hub running the engine: the one holding the engine lease (on PostgreSQL the server
        names it; on SQLite there is one hub). None while nobody holds it (a takeover under way)."""
        if len(self.hubs) == 1:
            return self.hubs[0]
        try:
            holder = self.hubdb.engine_holder(SITE)
        except Exception:
            return None
        return next((h for h, n in zip(self.hubs, self.hub_names, strict=True) if n == holder and h.running), None)

    def kill_engine_hub(self, down_s: float) -> None:
        """SIGKILL the hub holding the engine lease, so another must take the engine over (with
        one hub: the hub), and start it again after `down_s`. With several hubs, time how soon
        another hub holds the lease."""
        deadline = time.monotonic() + TAKEOVER_WAIT_S
        victim = self.engine_hub()
        while victim is None and time.monotonic() < deadline:  # the last takeover still under way
            time.sleep(0.05)
            victim = self.engine_hub()
        if victim is None:
            victim = self.hubs[0]
            self.say("soak: nobody held the engine lease; killing hub a")
        victim.kill()
        killed, killed_w = time.monotonic(), time.time()
        took: tuple[str, float] | None = None
        if len(self.hubs) > 1:
            restart_at = killed + down_s
            restarted = False
            while time.monotonic() < killed + TAKEOVER_WAIT_S:
                holder = self.engine_hub()
                if holder is not None and holder is not victim:
                    took = (holder.name, time.monotonic() - killed)
                    break
                if holder is victim:  # back, and it took the engine again: nobody else did
                    break
                if not restarted and time.monotonic() >= restart_at:
                    victim.start()  # the usual delay is over: back as a standby (or the engine, if nobody took it)
                    restarted = True
                time.sleep(0.02)
            if not restarted:
                time.sleep(max(0.0, restart_at - time.monotonic()))
                victim.start()
        else:
            time.sleep(down_s)
            victim.start()
        self.takeovers.append({"killed": victim.name, "took_over": took[0] if took else None,
                               "takeover_s": round(took[1], 3) if took else None, "wall": round(killed_w, 3)})
        if len(self.hubs) > 1:
            self.say(f"soak: killed {victim.name}; "
                     + (f"{took[0]} holds the engine lease {took[1]:.2f} s later" if took else "no other hub took the engine"))

    # ------------------------------------------------------------ chaos

    def log_chaos(self, entry: dict[str, Any]) -> None:
        with self.kill_log.open("a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")

    def do(self, c: Any) -> None:
        now = self.clock.now_ms()
        if c.kind == "hub_kill":
            self.kill_engine_hub(c.down_s)
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
                        "wall_start": self.clock.wall_at(now), "wall_end": time.time(),
                        **({"hub": self.takeovers[-1]} if c.kind == "hub_kill" else {})})

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
        # The standbys stop first: were the engine's hub first, a standby would take the engine
        # over while stopping. The engine's hub then judges what was committed and checkpoints.
        engine = self.engine_hub()
        for hub in sorted(self.hubs, key=lambda h: h is engine):
            if not hub.terminate(60):
                self.say(f"soak: {hub.name} did not stop in time")
        self.unanswered = self.latency.unanswered()
        self.latency.close()
        self.injector.close()
        self.broker.close()
        self.hubdb.close()
        self.say("soak: checking")
        try:
            result = checker.check(self.run)
        finally:
            self.close_pg()
        return self.report(result)

    def close_pg(self) -> None:
        """Keep the PostgreSQL database as a dump in the run folder (RUN/hub.pgdump, for
        `pg_restore`), then stop the private server."""
        if self.pg is None:
            return
        with contextlib.suppress(Exception):
            subprocess.run([str(find_bindir() / "pg_dump"), "-Fc", "-f", str(self.run / "hub.pgdump"), self.db],
                           capture_output=True, timeout=600, check=True)
        self.pg.close()
        self.pg = None

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
            "config": self.cfg.dump(), "backend": self.backend, "hubs": len(self.hubs),
            "takeovers": self.takeovers, "world_real_s": round(world_s, 1), "drain_s": round(self.drain_s, 1),
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
        hub, dev, taps = [], [], []
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                with contextlib.suppress(ValueError, KeyError):
                    o = json.loads(line)
                    hub.append(o["hub_ms"])
                    dev.append(o["device_ms"])
                    taps.append((o["tap_w"], o["hub_ms"]))
        # Around each hub kill: the taps made from the kill until 60 s after it, how long the
        # slowest waited for its verdict, and how many fresh taps were never answered.
        kills = []
        for k in self.takeovers:
            a, b = k["wall"], k["wall"] + 60.0
            near = [ms for w, ms in taps if a <= w <= b]
            kills.append({"killed": k["killed"], "took_over": k["took_over"], "takeover_s": k["takeover_s"],
                          "taps_next_60s": len(near), "max_ms": round(max(near), 1) if near else None,
                          "unanswered": sum(1 for w in getattr(self, "unanswered", []) if a <= w <= b)})

        def pct(xs: list[float], q: float) -> float | None:
            if not xs:
                return None
            xs = sorted(xs)
            return round(xs[min(len(xs) - 1, int(q * len(xs)))], 1)

        return {"taps": len(hub), "hub_p50_ms": pct(hub, 0.5), "hub_p99_ms": pct(hub, 0.99),
                "hub_max_ms": round(max(hub), 1) if hub else None,
                "device_p50_ms": pct(dev, 0.5), "device_p99_ms": pct(dev, 0.99),
                "hub_mean_ms": round(statistics.fmean(hub), 1) if hub else None,
                "unanswered_fresh_taps": len(getattr(self, "unanswered", [])), "after_hub_kills": kills}

    def abort(self) -> None:
        for p in [*getattr(self, "workers", []), *getattr(self, "hubs", [])]:
            with contextlib.suppress(Exception):
                p.kill()
        for obj in (getattr(self, "latency", None), getattr(self, "injector", None), getattr(self, "broker", None),
                    getattr(self, "hubdb", None)):
            if obj is not None:
                with contextlib.suppress(Exception):
                    obj.close()
        with contextlib.suppress(Exception):
            self.close_pg()


def run_soak(cfg: SoakConfig, run: Path, *, startup_s: float = 15.0, say=print, backend: str = "sqlite",
             hubs: int = 1) -> dict[str, Any]:
    soak = Soak(cfg, run, startup_s=startup_s, say=say, backend=backend, hubs=hubs)
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


def add_results_section(path: Path, section: str) -> None:
    """Put `section` first under the results file's title, keeping every earlier section (the file
    is the project's record of what was measured, not this run's alone)."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Soak and load results\n\n"
    head, sep, rest = text.partition("\n## ")
    body = section.rstrip() + "\n"
    text = f"{head.rstrip()}\n\n{body}\n## {rest}" if sep else f"{text.rstrip()}\n\n{body}"
    path.write_text(text, encoding="utf-8")


def results_markdown(r: dict[str, Any], note: str = "") -> str:
    c, chk, lat = r["config"], r["check"], r["latency"]
    faults = ", ".join(f"{k} {v}" for k, v in sorted(r["faults"].items())) or "none"
    rows = [
        ("site", f"{c['seats']} seats in {c['zones']} zones, {c['doors']} doors, {c['kiosks']} kiosks;"
                 f" {c['workers']} agent processes"),
        ("hub database / hubs", f"{r.get('backend', 'sqlite')} / {r.get('hubs', 1)}"),
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
         f"p50 {lat['hub_p50_ms']} ms, p99 {lat['hub_p99_ms']} ms, max {lat.get('hub_max_ms')} ms ({lat['taps']} taps;"
         f" fresh taps never answered: {lat.get('unanswered_fresh_taps')})"),
        ("device tap -> feedback at the broker (incl. spooling, backlogs)", f"p50 {lat['device_p50_ms']} ms, p99 {lat['device_p99_ms']} ms"),
        ("broker kills waiting for the hub to catch up", f"{r['broker_kill_wait_s']} s; killed with a backlog: {r['broker_kills_with_hub_backlog']}"),
    ]
    for k in lat.get("after_hub_kills", []):
        took = (f"{k['took_over']} held the engine lease {k['takeover_s']} s after the kill" if k["took_over"]
                else "no other hub took the engine")
        rows.append((f"hub kill of {k['killed']}", f"{took}; taps in the next 60 s: {k['taps_next_60s']},"
                     f" slowest verdict {k['max_ms']} ms, unanswered {k['unanswered']}"))
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
    ap.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite",
                    help="the hub database: a SQLite file in the run folder, or a private PostgreSQL server"
                    " started in the run (its database kept as RUN/hub.pgdump)")
    ap.add_argument("--hubs", type=int, default=1, help="hubs sharing the database (more than 1: postgresql only);"
                    " each hub kill SIGKILLs the one holding the engine lease")
    ap.add_argument("--run-dir", type=Path, help="where to keep everything (default: a temporary folder, kept)")
    ap.add_argument("--results", type=Path, help="write the results table here (e.g. bench/RESULTS.md)")
    ap.add_argument("--note", default="", help="a paragraph for RESULTS.md")
    args = ap.parse_args(argv)
    if args.hubs < 1 or (args.hubs > 1 and args.backend != "postgresql"):
        ap.error("--hubs: 1, or more with --backend postgresql (hubs share a database on PostgreSQL only)")
    cfg = SoakConfig(seats=args.seats, zones=args.zones, days=args.days, speed=args.speed, workers=args.workers,
                     seed=args.seed)
    cfg.clock_skew_max_s = max(cfg.clock_skew_max_s, int(1.5 * cfg.speed))
    per_day = {"broker_kills": 1, "hub_kills": args.hub_kills, "worker_kills": 1, "cuts": 10, "skews": 6, "malformed": 100,
               "duplicates": 150}
    for f, n in per_day.items():
        setattr(cfg, f, int(round(n * args.days * args.chaos_scale)))
    run = args.run_dir or Path(tempfile.mkdtemp(prefix="fw-soak-"))
    print(f"soak: run folder {run}")
    result = run_soak(cfg, run, backend=args.backend, hubs=args.hubs)
    print(checker.summary(result["check"]))
    print(json.dumps({k: v for k, v in result.items() if k != "check"}, indent=1, default=str))
    if args.results:
        section = (f"## Soak, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
                   f"Machine: {machine()}.\n\n"
                   f"Command: `python bench/soak.py {' '.join(argv if argv is not None else sys.argv[1:])}`"
                   f" (run folder kept: ground truth, scripts, logs, hub database).\n\n"
                   + results_markdown(result, args.note))
        add_results_section(args.results, section)
        print(f"soak: added its section to {args.results}")
    chk = result["check"]
    return 1 if chk["lost"] or chk["duplicated"] or chk["false_accusations"] else 0


if __name__ == "__main__":
    sys.exit(main())
