"""Replay after an outage, realistically: 24 minutes of a 2,000-seat floor queued at the broker, then the hub.

    python bench/replay.py                       # 2,000 seats, the last 100,000 events of the floor
    python bench/replay.py --events 20000 --tap-every 0.5 --profile replay.prof

The floor is the soak plan's (bench/soak_plan.py through bench/generated_floor.py's `build_floor`): the
site rostered for the day the outage ends (`--at`, 10:30 site time by default: mid day shift,
whatever hour the bench runs), its duties played by the planner (late arrivals, long breaks,
meals, early leavers...), every device heartbeating every 30 s as an edge agent does (the site's
rules say the same), equipment inventories, every event with its TRUE device time from a
synchronised clock (each device first says `online` with its clock, as an edge agent
reconnecting does). The newest `--events` before `--at` (about 24 minutes of a 2,000-seat floor,
most of it heartbeats: what a hub finds queued after such an outage) are queued at the broker for
the hub's persistent session while the hub is down; then the hub starts. In the same run, on the same
backlog:

1. `mosquitto_sub` draining it from a persistent session (the baseline);
2. the hub with the engine off (HubService with bench/generated_floor.py's NoEngine: ingest + log only),
   until every event is stored;
3. the full hub, until every event is stored and the engine's pending (what `/api/health` shows
   as engine.pending) is 0. While it catches up, a kiosk taps a badge every `--tap-every` seconds
   (device time = now); each tap's verdict is timed on the hub's live bus (what the kiosk page
   shows) from its publication and from the hub's receipt of it.

With `--ingest-workers 1,2` the engine-off and full hubs run once per count of ingest processes
(`floorwatch hub --ingest-workers N`: N processes on one shared subscription; 1 is the
in-process ingest), one after the other on the same backlog; the worker sessions of a run are
forgotten before the next (a session left behind would keep a share of every message). Peak RSS
with workers counts this process and the engine's, not the workers'.

With `--backend sqlite,postgresql` the engine-off and full hubs run on each store, one after the
other on the same backlog: a SQLite file, or a fresh database per measured hub on one private
PostgreSQL server started for the run (tests.pg_cluster); the `mosquitto_sub` baseline is taken
once. A PostgreSQL hub's figures carry the suffix `_pg` in the JSON.

Peak RSS is this process's (the hub runs here; publishers and mosquitto_sub are other processes);
the RSS before the hub starts is reported beside it (it includes the bench's copy of the floor).
On PostgreSQL the server's processes (the postmaster and its children) are sampled too, every
0.5 s, as PSS (shared buffers counted once, not once per backend): `server_pss_peak_mb`, and
`total_peak_mb` the peak of hub + server. `cpu_s` is the CPU time of this process and the
engine's during the run; `server_cpu_s` the server's (its processes' user + system time).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # noqa: E402

from bench.generated_floor import NoEngine, build_floor, pct, send  # noqa: E402
from edge import wire  # noqa: E402
from hub.broker import MosquittoBroker  # noqa: E402
from hub.service import HubService  # noqa: E402
from hub.site import load_site  # noqa: E402
from hub.store import Store  # noqa: E402
from tests.pg_cluster import PostgresCluster  # noqa: E402


def mosquitto_sub_drain(broker: MosquittoBroker, site_id: str, messages: list[tuple[str, bytes]]) -> float:
    exe = shutil.which("mosquitto_sub")
    if exe is None:
        raise SystemExit("mosquitto_sub not found (apt-get install mosquitto-clients)")
    base = [exe, "-h", broker.host, "-p", str(broker.port), "-q", "1", "-c", "-i", f"bench-{uuid.uuid4().hex[:6]}"]
    for t in wire.hub_subscriptions(site_id):
        base += ["-t", t]
    subprocess.run([*base, "-E"], check=True)  # the persistent session
    send(broker, messages)
    t0 = time.perf_counter()
    subprocess.run([*base, "-C", str(len(messages))], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


class Taps(threading.Thread):
    """A person at a kiosk while the hub catches up: a badge tap every `every` s, device time now;
    its verdict timed on the live bus from publication and from the hub's receipt."""

    def __init__(self, hub: HubService, site, broker: MosquittoBroker, every: float, first_seq: int) -> None:
        super().__init__(daemon=True)
        import paho.mqtt.client as mqtt  # noqa: PLC0415
        from paho.mqtt.enums import CallbackAPIVersion  # noqa: PLC0415

        self.hub, self.every = hub, every
        self.device = sorted(d for d, c in site.devices.items() if c.role == "kiosk")[0]
        self.uids = [a.badges[0] for a in site.agents if a.badges][:50]
        self.seq = first_seq
        self.sent: dict[str, float] = {}
        self.from_publish: list[float] = []
        self.from_receipt: list[float] = []
        self.provisional = 0
        self.verdict_at: dict[str, float] = {}
        self.stored_at: dict[str, float] = {}
        self.from_stored: list[float] = []

        def stored(events) -> None:  # after ingest committed them
            now = time.time()
            for e in events:
                if e.event_id in self.sent:
                    self.stored_at[e.event_id] = now

        hub.watch_stored(stored)
        self.stop = threading.Event()
        self.sub = hub.live.subscribe({"tap"})
        self.sub.q.maxsize = 1_000_000
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-kiosk-{uuid.uuid4().hex[:6]}")
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        threading.Thread(target=self._listen, daemon=True).start()

    def run(self) -> None:
        k = 0
        while not self.stop.wait(self.every):
            self.seq += 1
            eid = str(uuid.uuid4())
            now = int(time.time() * 1000)
            msg = {"v": 1, "id": eid, "device": self.device, "seq": self.seq, "ts": now, "type": "badge",
                   "uid": self.uids[k % len(self.uids)], "reader": "badge"}
            k += 1
            self.sent[eid] = time.time()
            self.client.publish(wire.event_topic(self.hub.site.id, self.device), json.dumps(msg), qos=1)

    def _listen(self) -> None:
        for update in self.hub.live.listen(self.sub, timeout=0.2):
            if update is None:
                continue
            d = update.data
            eid = d.get("event_id")
            if update.channel == "tap" and eid in self.sent and eid not in self.verdict_at:
                self.verdict_at[eid] = time.time()
                self.provisional += bool(d.get("provisional"))

    def lags(self, store: Store) -> None:
        """Publication -> verdict, and the hub's receipt (the stored event's received) -> verdict."""
        received = dict(store.conn.execute("SELECT event_id, received FROM events WHERE device = ?",
                                           (self.device,)).fetchall())
        for eid, at in self.verdict_at.items():
            self.from_publish.append((at - self.sent[eid]) * 1000)
            if eid in received:
                self.from_receipt.append(at * 1000 - received[eid])
            if eid in self.stored_at:
                self.from_stored.append((at - self.stored_at[eid]) * 1000)

    def close(self) -> None:
        self.stop.set()
        self.client.loop_stop()
        self.client.disconnect()


def server_processes(cluster: PostgresCluster) -> list[psutil.Process]:
    """The PostgreSQL server's processes: the postmaster (first line of postmaster.pid) and its children."""
    pid = int((cluster.directory / "data" / "postmaster.pid").read_text().split()[0])
    postmaster = psutil.Process(pid)
    return [postmaster, *postmaster.children(recursive=True)]


def run_hub(site, db: Path | str, broker: MosquittoBroker, messages: list[tuple[str, bytes]], n_events: int, *,
            engine: bool, tap_every: float, profile: Path | None, engine_thread: bool = False, workers: int = 1,
            cluster: PostgresCluster | None = None) -> dict:
    store = Store(db)
    hub = HubService(site, store, broker_host=broker.host, broker_port=broker.port, tick_s=0.5,
                     engine=None if engine else NoEngine(), purge_every_s=None, engine_process=False,
                     ingest_workers=workers)
    hub.start()
    hub.ingest.caught_up.wait(30)  # subscribed: the broker keeps what follows for this session
    if hub.workers is not None and not hub.workers.wait_ready(60):
        raise SystemExit("ingest workers not subscribed after 60 s")
    hub.stop()
    store.close()
    send(broker, messages)
    store = Store(db)
    hub = HubService(site, store, broker_host=broker.host, broker_port=broker.port, tick_s=0.5,
                     engine=None if engine else NoEngine(), purge_every_s=None,
                     engine_process=engine and not engine_thread and profile is None, ingest_workers=workers)
    me = psutil.Process()
    rss0 = me.memory_info().rss
    peak = [rss0]
    done = threading.Event()
    cpu: dict[int, float] = {}  # pid -> user + system s, last seen (the hub's and engine's)
    server_cpu: dict[int, float] = {}  # the same for the server's processes
    server_cpu0 = {p.pid: sum(p.cpu_times()[:2]) for p in server_processes(cluster)} if cluster else {}
    server_pss = [0, 0]  # the last sample, the peak
    total_peak = [0]

    engine_proc: list[psutil.Process | None] = [None]

    def sample_hub() -> int:  # the hub's RSS: this process, and the engine's when it has its own
        rss = me.memory_info().rss
        cpu[me.pid] = sum(me.cpu_times()[:2])
        pid = getattr(hub.engine, "pid", None)
        try:
            if pid is not None and (engine_proc[0] is None or engine_proc[0].pid != pid):
                engine_proc[0] = psutil.Process(pid)
            if engine_proc[0] is not None:
                rss += engine_proc[0].memory_info().rss
                cpu[engine_proc[0].pid] = sum(engine_proc[0].cpu_times()[:2])
        except psutil.Error:
            pass
        peak[0] = max(peak[0], rss)
        return rss

    def sample_server() -> None:  # its PSS and CPU
        try:
            procs = server_processes(cluster)
        except (OSError, psutil.Error):
            return
        pss = 0
        for p in procs:
            try:
                pss += p.memory_full_info().pss
                server_cpu[p.pid] = sum(p.cpu_times()[:2])
            except psutil.Error:
                pass
        server_pss[0], server_pss[1] = pss, max(server_pss[1], pss)

    def sample() -> None:
        tick = 0
        while not done.wait(0.1):
            rss = sample_hub()
            if cluster is not None and tick % 5 == 0:  # smaps is slower to read: every 0.5 s
                sample_server()
            total_peak[0] = max(total_peak[0], rss + server_pss[0])
            tick += 1

    threading.Thread(target=sample, daemon=True).start()
    taps = None
    if engine and tap_every > 0:
        kiosk_seq = max((json.loads(p)["seq"] for t, p in messages if t.endswith("/event") and "kiosk" in t), default=0)
        taps = Taps(hub, site, broker, tap_every, kiosk_seq + 1_000)
    prof = None
    if profile is not None and engine:  # the engine's thread only: wrap its consume in cProfile
        import cProfile  # noqa: PLC0415

        prof = cProfile.Profile()
        consume = hub.engine.consume

        def profiled(*a, **kw):
            prof.enable()
            try:
                return consume(*a, **kw)
            finally:
                prof.disable()

        hub.engine.consume = profiled
    cpu0 = sum(me.cpu_times()[:2])
    t0 = time.monotonic()
    hub.start()
    if taps is not None:
        taps.start()
    stored_s = judged_s = None
    try:
        while time.monotonic() - t0 < 1800:
            stored = store.count_events()
            if stored_s is None and stored >= n_events and hub.ingest.idle():
                stored_s = time.monotonic() - t0
            if stored_s is not None:
                if not engine:
                    break
                if hub.engine.progress()["pending"] == 0:
                    judged_s = time.monotonic() - t0
                    break
            time.sleep(0.02)
        else:
            raise TimeoutError("not done after 1800 s")
        if taps is not None:
            taps.close()
            time.sleep(1.5)  # the verdicts of the last taps
            taps.lags(store)
        if prof is not None:
            prof.dump_stats(str(profile))
        sample_hub()  # the CPU times up to here
        if cluster is not None:
            sample_server()
        out = {"events": n_events, "stored_s": round(stored_s, 2),
               "rss_start_mb": round(rss0 / 2**20), "rss_peak_mb": round(peak[0] / 2**20),
               "cpu_s": round(sum(cpu.values()) - cpu0, 1)}
        if cluster is not None:
            out |= {"server_pss_peak_mb": round(server_pss[1] / 2**20), "total_peak_mb": round(total_peak[0] / 2**20),
                    "server_cpu_s": round(sum(t - server_cpu0.get(pid, 0) for pid, t in server_cpu.items()), 1)}
        if engine:
            out["judged_s"] = round(judged_s, 2)
            out["units_computed"] = hub.engine.stats["units_computed"]
        if taps is not None:
            out |= {"taps": len(taps.sent), "verdicts": len(taps.from_publish), "provisional": taps.provisional,
                    "live_lane": hub.ingest.stats.get("live", 0), "stored_ahead": hub.ingest.stats.get("ahead", 0),
                    "publish_p50_ms": pct(taps.from_publish, 0.5), "publish_p99_ms": pct(taps.from_publish, 0.99),
                    "publish_max_ms": round(max(taps.from_publish), 1) if taps.from_publish else None,
                    "receipt_p50_ms": pct(taps.from_receipt, 0.5), "receipt_p99_ms": pct(taps.from_receipt, 0.99),
                    "receipt_max_ms": round(max(taps.from_receipt), 1) if taps.from_receipt else None,
                    "stored_p50_ms": pct(taps.from_stored, 0.5), "stored_p99_ms": pct(taps.from_stored, 0.99)}
        return out
    finally:
        done.set()
        hub.stop()
        store.close()


def outage_end_ms(hhmm: str, tz: str = "Asia/Shanghai") -> int:
    """`hhmm` site time today if it has passed, else yesterday: device times stay in the past."""
    zone = ZoneInfo(tz)
    now = dt.datetime.now(zone)
    at = dt.datetime.combine(now.date(), dt.time.fromisoformat(hhmm), zone)
    if at > now:
        at -= dt.timedelta(days=1)
    return int(at.timestamp() * 1000)


def forget_worker_sessions(broker: MosquittoBroker, site_id: str, workers: int) -> None:
    """End the worker sessions of a run (a clean-session connect): a session left on the broker
    keeps its share of every later message, which the next run would pay for at the broker."""
    import paho.mqtt.client as mqtt  # noqa: PLC0415
    from paho.mqtt.enums import CallbackAPIVersion  # noqa: PLC0415

    from hub.ingest_workers import client_id  # noqa: PLC0415

    for i in range(workers):
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id(site_id, i), clean_session=True)
        c.connect(broker.host, broker.port)
        c.loop_start()
        time.sleep(0.2)
        c.disconnect()
        c.loop_stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seats", type=int, default=2000)
    ap.add_argument("--zones", type=int, default=20)
    ap.add_argument("--events", type=int, default=100_000, help="the newest N events of the floor, queued")
    ap.add_argument("--heartbeat-s", type=int, default=30,
                    help="device heartbeat period, seconds (default 30: what an edge agent sends, and the site's rules say)")
    ap.add_argument("--at", default="10:30",
                    help="site time the outage ends (default 10:30, mid day shift): the newest --events before it, "
                         "today's if that time has passed, else yesterday's (so the workload is not the hour the bench runs)")
    ap.add_argument("--hours", type=float, default=1.0, help="floor time generated before --at (at least --events)")
    ap.add_argument("--tap-every", type=float, default=0.25, help="seconds between fresh kiosk taps (0: none)")
    ap.add_argument("--only", choices=["sub", "off", "full"], action="append", help="run only these (repeatable)")
    ap.add_argument("--profile", type=Path, help="profile the full hub (the engine thread, cProfile) into this pstats file")
    ap.add_argument("--engine-thread", action="store_true", help="the full hub's engine in a thread, not its own process")
    ap.add_argument("--ingest-workers", default="1",
                    help="comma-separated counts of ingest processes for the hub runs, e.g. 1,2 (default 1)")
    ap.add_argument("--backend", default="sqlite",
                    help="comma-separated stores for the hub runs: sqlite, postgresql (a private server) (default sqlite)")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args(argv)
    only = set(args.only or ["sub", "off", "full"])
    backends = args.backend.split(",")
    if set(backends) - {"sqlite", "postgresql"}:
        ap.error("--backend: sqlite and/or postgresql")
    root = Path(tempfile.mkdtemp(prefix="fw-replay-"))
    broker = MosquittoBroker(root / "broker").start()
    cluster = PostgresCluster(root / "pg").start() if "postgresql" in backends else None
    results: dict = {"seats": args.seats, "load_before": [round(x, 1) for x in os.getloadavg()]}
    try:
        t = time.monotonic()
        floor = build_floor(root, seats=args.seats, zones=args.zones, now_ms=outage_end_ms(args.at), hours=args.hours,
                            heartbeat_s=args.heartbeat_s, rostered_today=True)
        events = floor.events[-args.events:]
        messages = floor.statuses + events
        site = load_site(floor.site_dir)
        kinds: dict[str, int] = {}
        for _, p in events:
            k = json.loads(p)["type"]
            kinds[k] = kinds.get(k, 0) + 1
        results["floor"] = {"devices": len(floor.statuses), "events": len(events), "kinds": kinds,
                            "built_s": round(time.monotonic() - t, 1)}
        print(f"floor: {json.dumps(results['floor'])}", flush=True)
        if "sub" in only:
            s = mosquitto_sub_drain(broker, site.id, messages)
            results["mosquitto_sub"] = {"drained_s": round(s, 2), "rate": round(len(messages) / s)}
            print(f"mosquitto_sub: {json.dumps(results['mosquitto_sub'])}", flush=True)
        counts = [int(x) for x in args.ingest_workers.split(",")]
        for mode in ("off", "full"):
            if mode not in only:
                continue
            for backend, k in [(b, k) for b in backends for k in counts]:
                key = (("engine_off" if mode == "off" else "full") + ("" if k == 1 else f"_{k}w")
                       + ("_pg" if backend == "postgresql" else ""))
                pg = cluster if backend == "postgresql" else None
                db = pg.create_database(f"{mode}_{k}") if pg else root / f"{mode}-{k}.db"
                if mode == "off":
                    r = run_hub(site, db, broker, messages, len(events), engine=False, tap_every=0,
                                profile=None, workers=k, cluster=pg)
                    r["rate"] = round(len(events) / r["stored_s"])
                else:
                    r = run_hub(site, db, broker, messages, len(events), engine=True,
                                tap_every=args.tap_every, profile=args.profile, engine_thread=args.engine_thread,
                                workers=k, cluster=pg)
                    r["rate"] = round(len(events) / r["judged_s"])
                if k > 1:
                    forget_worker_sessions(broker, site.id, k)
                r["ingest_workers"] = k
                r["backend"] = backend
                results[key] = r
                print(f"hub, {backend}, {'engine off' if mode == 'off' else 'full'}, {k} ingest worker(s): {json.dumps(r)}",
                      flush=True)
    finally:
        broker.close()
        if cluster is not None:
            cluster.close()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    results["load_after"] = [round(x, 1) for x in os.getloadavg()]
    print(json.dumps(results))
    sub = results.get("mosquitto_sub")
    for suffix in (w + b for b in ("", "_pg") for w in ("", *(f"_{k}w" for k in range(2, 65)))):
        off, full = results.get("engine_off" + suffix), results.get("full" + suffix)
        workers = suffix.removesuffix("_pg")
        label = f"[{'postgresql' if suffix.endswith('_pg') else 'sqlite'}, {workers[1:] or '1 worker'}] "
        if off and full:
            print(f"{label}full hub / engine-off hub throughput: {full['rate'] / off['rate']:.2f}x (target >= 0.5x);"
                  f" full hub {full['judged_s']:.1f} s for {full['events']:,} events (target <= 10 s)")
        if sub and off:
            print(f"{label}engine-off hub / mosquitto_sub: {off['rate'] / sub['rate']:.2f}x")
        if sub and full:
            print(f"{label}full hub / mosquitto_sub: {full['rate'] / sub['rate']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
