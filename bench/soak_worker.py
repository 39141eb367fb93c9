"""One soak worker process: a shard of the site's devices as real edge agents (edge.agent.Agent,
simulated drivers, durable spools, one shared network loop), playing the shard's script.

    python -m bench.soak_worker RUN_DIR SHARD

The orchestrator (bench/soak.py) SIGKILLs and restarts workers. A restarted worker resumes: the
ground-truth file says which actions were done, each device's spool is reconciled with it (an
event committed to the spool an instant before the kill, but not yet written to the truth file,
is recovered from the spool), and the physical world is re-read: a seat sensor reports whether
someone sits there now, a tag reader sees its tags. Actions that fell due while the worker was
dead are done at once: a person whose tap got no beep taps again.

Ground truth (truth/shard-K.jsonl), one JSON object a line:
  {"i": action id, "d": device, "t": sim ms}            an action is about to be performed
  {"a": action id or null, "device", "seq", "id", "type", "body", "ts", "clock_ok", "t"}
                                                         an event the device spooled; t is the
                                                         true simulated time, ts the device clock;
                                                         body holds clock_sync / clock_err_ms
  {"device", "seq", "gone": true}                        a committed event whose content was lost
  {"start": wall time, "pid"}                            the worker (re)started

Device chaos from the script: `cut` closes the device's connection (the broker publishes its last
will) and points its link at a dead port until `uncut`; `skew` shifts its clock (ahead, behind,
or back to 1970 as a Pi without a time source). A skewed clock is one set wrong with NTP off, so
its events say `clock_sync: false`, as a real Pi's kernel would (settimeofday sets STA_UNSYNC);
`unskew` is NTP back: synchronised again.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.checker import truth_records  # noqa: E402
from bench.soak_plan import Act, EpochClock, read_script, wait_for_epoch  # noqa: E402
from edge import wire  # noqa: E402
from edge.agent import Agent, stop_together  # noqa: E402
from edge.clocksync import SIM_SYNCED, SIM_UNSYNCED, ClockSync  # noqa: E402
from edge.config import load_device_config  # noqa: E402
from edge.drivers import build_sim_drivers  # noqa: E402
from edge.link import LinkLoop  # noqa: E402
from edge.spool import Spool  # noqa: E402
from hub.broker import free_port  # noqa: E402

log = logging.getLogger("soak.worker")

UNSET_BASE_MS = 86_400_000  # a Pi without a time source counts from 1970-01-02


class DeviceClock:
    """The base simulated clock plus this device's skew (changed by the script)."""

    def __init__(self, base: EpochClock) -> None:
        self.base = base
        self.speed = base.speed
        self.offset = 0
        self.last_offset = 0

    def now_ms(self) -> int:
        off = self.offset
        self.last_offset = off
        return max(self.base.now_ms() + off, 0)

    def sleep(self, seconds: float) -> None:
        self.base.sleep(seconds)


class DeviceClockSync:
    """What the device's kernel would say about a DeviceClock: synchronised unless skewed."""

    def __init__(self, clock: DeviceClock) -> None:
        self.clock = clock

    def read(self) -> ClockSync:
        return SIM_SYNCED if self.clock.offset == 0 else SIM_UNSYNCED


class Truth:
    """The append-only ground-truth file (line-buffered: a SIGKILL loses at most a partial line)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        if path.exists() and path.stat().st_size:
            with path.open("rb") as f:
                f.seek(-1, 2)
                tail = f.read(1)
            if tail != b"\n":  # a line cut by a kill: start a fresh one
                with path.open("ab") as f:
                    f.write(b"\n")
        self.f = path.open("a", encoding="utf-8", buffering=1)

    def write(self, obj: dict[str, Any]) -> None:
        line = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
        with self.lock:
            if self.f is not None:
                self.f.write(line + "\n")

    def close(self) -> None:
        with self.lock:
            if self.f is not None:
                self.f.close()
                self.f = None


def read_truth(path: Path) -> tuple[set[int], dict[str, int], dict[str, int], set[int]]:
    """(action ids with an intent, max seq per device, last intent per device, actions with an event)."""
    intents: set[int] = set()
    max_seq: dict[str, int] = {}
    last_intent: dict[str, int] = {}
    acted: set[int] = set()
    if not path.exists():
        return intents, max_seq, last_intent, acted
    for o in truth_records(path):
        if "i" in o:
            intents.add(o["i"])
            last_intent[o["d"]] = o["i"]
        elif "seq" in o:
            max_seq[o["device"]] = max(max_seq.get(o["device"], 0), o["seq"])
            if o.get("a") is not None:
                acted.add(o["a"])
    return intents, max_seq, last_intent, acted


class Worker:
    def __init__(self, run: Path, shard: int) -> None:
        self.run = run
        self.shard = shard
        self.meta = json.loads((run / "run.json").read_text(encoding="utf-8"))
        cfg = self.meta["config"]
        self.speed = cfg["speed"]
        self.clock: EpochClock | None = None  # set by start(), once the world has started
        self.host, self.port = self.meta["broker"]
        self.site_dir = Path(self.meta["site_dir"])
        self.devices: list[str] = self.meta["shards"][str(shard)]
        self.script: list[Act] = read_script(run / "scripts" / f"shard-{shard}.jsonl")
        self.truth_path = run / "truth" / f"shard-{shard}.jsonl"
        self.truth_path.parent.mkdir(parents=True, exist_ok=True)
        self.loop = LinkLoop(name=f"soak-{shard}")
        self.agents: dict[str, Agent] = {}
        self.clocks: dict[str, DeviceClock] = {}
        self.brokers: dict[str, Any] = {}
        self.cut: set[str] = set()
        self.dead_port = free_port()
        self.stop_event = threading.Event()
        self.local = threading.local()
        self.truth: Truth | None = None
        self.tags_by_seat = self._tags_by_seat()

    def _tags_by_seat(self) -> dict[str, set[str]]:
        import csv  # noqa: PLC0415

        out: dict[str, set[str]] = {}
        with (self.site_dir / "equipment.csv").open(encoding="utf-8") as f:
            for row in csv.DictReader(f):
                out.setdefault(row["home_seat"], set()).add(row["tag"].upper())
        return out

    # ------------------------------------------------------------ start (or restart)

    def start(self) -> None:
        configs = {dev: load_device_config(self.site_dir / "devices" / f"{dev}.toml") for dev in self.devices}
        print(f"worker {self.shard} prepared", flush=True)
        self.clock = wait_for_epoch(self.run, self.speed)
        intents, max_seq, last_intent, acted = read_truth(self.truth_path)
        self.truth = Truth(self.truth_path)
        self.truth.write({"start": time.time(), "pid": __import__("os").getpid()})
        now = self.clock.now_ms()
        # where the world stands now: skews and cuts in force, who sits where
        offsets: dict[str, int] = {}
        occupied: dict[str, bool] = {}
        for a in self.script:
            if a.t > now:
                break
            if a.kind == "skew":
                offsets[a.device] = a.value if a.value is not None else UNSET_BASE_MS - a.t
            elif a.kind == "unskew":
                offsets.pop(a.device, None)
            elif a.kind == "cut":
                self.cut.add(a.device)
            elif a.kind == "uncut":
                self.cut.discard(a.device)
            elif a.kind == "occupancy":
                occupied[a.device] = bool(a.value)
        self.loop.start()
        for dev in self.devices:
            cfg, digest = configs[dev]
            cfg = cfg.model_copy(update={"broker": cfg.broker.model_copy(update={"host": self.host, "port": self.port})})
            clock = DeviceClock(self.clock)
            clock.offset = offsets.get(dev, 0)
            self.clocks[dev] = clock
            first = clock.now_ms()
            spool = Spool(cfg.spool.path, cfg.spool.max_events, sync=cfg.spool.sync, keep_sent_s=cfg.spool.keep_sent_s,
                          seq_floor=first if wire.clock_is_valid(first) else 0)
            recovered = self._reconcile(dev, spool, max_seq.get(dev, 0), last_intent.get(dev))
            acted |= recovered
            agent = Agent(cfg, config_hash=digest, clock=clock, clock_sync=DeviceClockSync(clock), loop=self.loop,
                          drivers=build_sim_drivers(cfg), spool=spool, on_event=self._record, reconnect_max_s=2.0)
            self.brokers[dev] = agent.link.broker
            if dev in self.cut:
                agent.link.broker = agent.link.broker.model_copy(update={"port": self.dead_port})
            self.agents[dev] = agent
        # the last action a device began before a kill may not have happened: do it again
        done = set(intents)
        for i in last_intent.values():
            if i not in acted:
                done.discard(i)
        self.pending = [a for a in self.script if a.id not in done and a.kind not in ("skew", "unskew", "cut", "uncut")
                        or a.kind in ("skew", "unskew", "cut", "uncut") and a.t > now]
        for dev, agent in self.agents.items():
            agent.start()
            cfg = agent.cfg
            drivers = agent.drivers
            if cfg.role == "seat":
                self.local.action = ("restore", dev)
                for sensor in drivers.sensors:
                    sensor.set(occupied.get(dev, False))
                self.local.action = None
                for reader in drivers.tag_readers:
                    reader.present = set(self.tags_by_seat.get(cfg.seat or "", set()))
        log.info("shard %d: %d devices, %d actions to play (%d overdue)", self.shard, len(self.agents),
                 len(self.pending), sum(1 for a in self.pending if a.t <= now))

    def _reconcile(self, dev: str, spool: Spool, truth_max: int, last_intent: int | None) -> set[int]:
        """Events the spool committed after the last one the truth file holds (a kill between the
        two writes): recorded now, from the spool's copy or, if already sent and gone, by seq."""
        acted: set[int] = set()
        last = spool.last_seq
        if truth_max == 0 or last <= truth_max:
            return acted
        n = last - truth_max + 10
        rows = dict(spool.kept(truth_max, n)) | dict(spool.pending(truth_max, n))
        for seq in range(truth_max + 1, last + 1):
            payload = rows.get(seq)
            if payload is None:
                self.truth.write({"device": dev, "seq": seq, "gone": True})
                continue
            o = json.loads(payload)
            body = {k: v for k, v in o.items() if k not in ("v", "id", "device", "seq", "ts", "type", "clock_ok")}
            self.truth.write({"a": last_intent, "device": dev, "seq": seq, "id": o["id"], "type": o["type"], "body": body,
                              "ts": o["ts"], "clock_ok": o.get("clock_ok", True), "t": o["ts"], "recovered": True})
            if last_intent is not None:
                acted.add(last_intent)
        return acted

    # ------------------------------------------------------------ ground truth

    def _record(self, event: Any) -> None:
        action = getattr(self.local, "action", None)
        a = action[0] if action is not None and action[1] == event.device else None
        clock = self.clocks.get(event.device)
        t = event.ts - (clock.last_offset if clock else 0)
        body = event.model_dump(exclude={"v", "id", "device", "seq", "ts", "type", "clock_ok"})
        self.truth.write({"a": a, "device": event.device, "seq": event.seq, "id": event.id, "type": event.type,
                          "body": body, "ts": event.ts, "clock_ok": event.clock_ok, "t": t})

    # ------------------------------------------------------------ playing

    def play(self) -> None:
        i = 0
        acts = self.pending
        while not self.stop_event.is_set() and i < len(acts):
            now = self.clock.now_ms()
            while i < len(acts) and acts[i].t <= now:
                self._perform(acts[i])
                i += 1
            if i < len(acts):
                wait = (acts[i].t - self.clock.now_ms()) / 1000 / self.clock.speed
                self.stop_event.wait(min(max(wait, 0.0), 0.2))
        self.stop_event.wait()

    def _perform(self, a: Act) -> None:
        agent = self.agents.get(a.device)
        if agent is None:
            return
        self.truth.write({"i": a.id, "d": a.device, "t": self.clock.now_ms()})
        self.local.action = (a.id, a.device)
        try:
            d = agent.drivers
            if a.kind == "tap" and d.readers:
                d.readers[0].tap(a.value)
            elif a.kind == "occupancy":
                for sensor in d.sensors:
                    sensor.set(bool(a.value))
            elif a.kind == "button" and d.buttons is not None:
                d.buttons.press(a.value)
            elif a.kind == "skew":
                self.clocks[a.device].offset = a.value if a.value is not None else UNSET_BASE_MS - a.t
            elif a.kind == "unskew":
                self.clocks[a.device].offset = 0
            elif a.kind == "cut":
                self.cut.add(a.device)
                self.loop.call_soon(self._cut, agent)
            elif a.kind == "uncut":
                self.cut.discard(a.device)
                self.loop.call_soon(self._uncut, agent)
        except Exception:
            log.exception("action %s failed", a)
        finally:
            self.local.action = None

    def _cut(self, agent: Agent) -> None:
        """(loop thread) The cable is pulled: the connection dies without a goodbye (the broker
        publishes the last will) and reconnects fail until it is plugged back in."""
        link = agent.link
        link.broker = self.brokers[agent.device].model_copy(update={"port": self.dead_port})
        link.cut("cut off by the soak")

    def _uncut(self, agent: Agent) -> None:
        link = agent.link
        link.broker = self.brokers[agent.device]
        link.reconnect_now()

    # ------------------------------------------------------------ stopping

    def stop(self, drain_s: float = 60.0) -> None:
        """Stop acting, send every spooled event (devices still cut off are plugged back in
        first), then go offline."""
        self.stop_event.set()
        for agent in self.agents.values():
            agent.quiesce()
        for dev in list(self.cut):
            self.loop.call_soon(self._uncut, self.agents[dev])
        self.cut.clear()
        deadline = time.monotonic() + drain_s
        while time.monotonic() < deadline and any(len(a.spool) for a in self.agents.values()):
            time.sleep(0.1)
        left = sum(len(a.spool) for a in self.agents.values())
        if left:
            log.warning("shard %d: %d events still spooled at stop", self.shard, left)
        stop_together(self.agents.values(), self.loop, drain_s=1.0, timeout_s=3.0)
        if self.truth is not None:
            self.truth.write({"stop": time.time(), "spooled": left})
            self.truth.close()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    run, shard = Path(argv[0]), int(argv[1])
    logging.basicConfig(level=logging.WARNING, format=f"%(asctime)s shard{shard} %(levelname)s %(name)s: %(message)s")
    log.setLevel(logging.INFO)
    worker = Worker(run, shard)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    worker.start()
    player = threading.Thread(target=worker.play, name="player", daemon=True)
    player.start()
    print(f"worker {shard} ready", flush=True)
    while not done.wait(0.5):
        pass
    worker.stop()
    print(f"worker {shard} stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
