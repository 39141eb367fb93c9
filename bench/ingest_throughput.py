"""Hub ingest throughput against `mosquitto_sub` draining the same broker, in the same run.

Backlog: both consumers drain the same queued backlog from a persistent QoS 1 session on a
private mosquitto (the situation after an outage: a hub restarting into 10k+ waiting events):
  1. register the consumer's persistent session, disconnect it;
  2. publish N valid v1 events (QoS 1) while it is away;
  3. reconnect it and time until all N are consumed (mosquitto_sub: printed; hub: committed to
     the store, validated, de-duplicated and acknowledged).
Live: the consumer is connected and 4 publishers (mosquitto_pub -l, QoS 1, one device each)
send N events between them as fast as they can; time from their start until all N are consumed.

With `--ingest-workers 1,2` the hub's figures are taken for each count of ingest processes
(hub.ingest_workers: N processes on one shared subscription; 1 is the in-process Ingest), each on
a fresh broker; a worker run's time includes starting its processes (their start-up until
subscribed, measured beforehand, is printed beside it).

With `--backend sqlite,postgresql` each hub configuration runs on each store: a SQLite file, or a
database of its own on one private PostgreSQL server started for the run (tests.pg_cluster); the
`mosquitto_sub` baselines are taken once per mode and shared by both.

    python bench/ingest_throughput.py [--events 50000] [--protocol 3.1.1|5] [--mode backlog,live] [--ingest-workers 1,2]
        [--backend sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge import wire  # noqa: E402
from hub.broker import MosquittoBroker  # noqa: E402
from hub.ingest import Ingest  # noqa: E402
from hub.ingest_workers import IngestWorkers  # noqa: E402
from hub.store import Store  # noqa: E402
from tests.mqtt_util import Publisher, badge_event  # noqa: E402
from tests.pg_cluster import PostgresCluster  # noqa: E402

SITE = "bench"


def publish_backlog(broker: MosquittoBroker, n: int, devices: int = 100) -> float:
    pub = Publisher(broker.host, broker.port)
    t0 = time.perf_counter()
    batch = 5000
    for start in range(0, n, batch):
        msgs = []
        for i in range(start, min(n, start + batch)):
            dev = f"seat-{i % devices:04d}"
            msgs.append((wire.event_topic(SITE, dev), badge_event(dev, i // devices + 1)))
        pub.publish_all(msgs)
    elapsed = time.perf_counter() - t0
    pub.close()
    return elapsed


def mosquitto_sub_drain(broker: MosquittoBroker, n: int) -> float:
    exe = shutil.which("mosquitto_sub")
    if exe is None:
        raise SystemExit("mosquitto_sub not found (apt-get install mosquitto-clients)")
    topic = f"fw/v1/{SITE}/+/event"
    base = [exe, "-h", broker.host, "-p", str(broker.port), "-q", "1", "-c", "-i", "bench-drain", "-t", topic]
    subprocess.run([*base, "-E"], check=True)  # create the persistent session
    publish_backlog(broker, n)
    t0 = time.perf_counter()
    subprocess.run([*base, "-C", str(n)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def paho_count_drain(broker: MosquittoBroker, n: int) -> float:
    """The client library's own ceiling: a paho subscriber that only counts."""
    import threading

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    count = [0]
    done = threading.Event()

    def make() -> mqtt.Client:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-count", clean_session=False)
        c.on_connect = lambda cl, *a: cl.subscribe(f"fw/v1/{SITE}/+/event", 1)

        def on_message(cl, userdata, msg) -> None:
            count[0] += 1
            if count[0] == n:
                done.set()

        c.on_message = on_message
        return c

    c = make()
    c.connect(broker.host, broker.port)
    c.loop_start()
    time.sleep(0.5)
    c.disconnect()
    c.loop_stop()
    publish_backlog(broker, n)
    c = make()
    t0 = time.perf_counter()
    c.connect(broker.host, broker.port)
    c.loop_start()
    done.wait(300)
    elapsed = time.perf_counter() - t0
    c.disconnect()
    c.loop_stop()
    return elapsed


PUBLISHERS = 4


def _live_payloads(tmp: Path, n: int) -> list[Path]:
    """One file of payload lines per publisher (one device each, seq 1..n/4)."""
    files = []
    for p in range(PUBLISHERS):
        dev = f"live-{p:02d}"
        path = tmp / f"pub-{p}.txt"
        with open(path, "wb") as fh:
            for seq in range(1, n // PUBLISHERS + 1):
                fh.write(badge_event(dev, seq) + b"\n")
        files.append(path)
    return files


def _publish_live(broker: MosquittoBroker, files: list[Path]) -> list[subprocess.Popen]:
    exe = shutil.which("mosquitto_pub")
    if exe is None:
        raise SystemExit("mosquitto_pub not found (apt-get install mosquitto-clients)")
    procs = []
    for p, path in enumerate(files):
        topic = wire.event_topic(SITE, f"live-{p:02d}")
        procs.append(subprocess.Popen([exe, "-h", broker.host, "-p", str(broker.port), "-q", "1", "-t", topic, "-l"],
                                      stdin=open(path, "rb")))  # noqa: SIM115
    return procs


def mosquitto_sub_live(broker: MosquittoBroker, files: list[Path], n: int) -> float:
    exe = shutil.which("mosquitto_sub")
    assert exe is not None
    sub = subprocess.Popen([exe, "-h", broker.host, "-p", str(broker.port), "-q", "1", "-t", f"fw/v1/{SITE}/+/event",
                            "-C", str(n)], stdout=subprocess.DEVNULL)
    time.sleep(1.0)  # subscribed
    t0 = time.perf_counter()
    pubs = _publish_live(broker, files)
    sub.wait(600)
    elapsed = time.perf_counter() - t0
    for p in pubs:
        p.wait(60)
    return elapsed


def _timed(store: Store, n: int, stop, broker: MosquittoBroker | None = None, files: list[Path] | None = None) -> float:
    """Seconds until `n` events are stored (publishing `files` live from the start, when given),
    then `stop()` the reader and check that exactly `n` are stored."""
    t0 = time.perf_counter()
    pubs = _publish_live(broker, files) if files is not None else []
    while store.count_events() < n:
        time.sleep(0.01)
    elapsed = time.perf_counter() - t0
    for p in pubs:
        p.wait(60)
    stop()
    assert store.count_events() == n, "events lost or duplicated"
    store.close()
    return elapsed


def hub_live(broker: MosquittoBroker, files: list[Path], n: int, db: Path | str, protocol: str) -> float:
    store = Store(db)
    ingest = Ingest(store, SITE, broker.host, broker.port, protocol=protocol, client_id="bench-hub-live").start()
    time.sleep(1.0)  # subscribed
    return _timed(store, n, ingest.stop, broker, files)


def hub_drain(broker: MosquittoBroker, n: int, db: Path | str, protocol: str) -> float:
    store = Store(db)
    ingest = Ingest(store, SITE, broker.host, broker.port, protocol=protocol, client_id="bench-hub").start()
    ingest.stop()  # the session stays on the broker
    publish_backlog(broker, n)
    ingest = Ingest(store, SITE, broker.host, broker.port, protocol=protocol, client_id="bench-hub")
    t0 = time.perf_counter()
    ingest.start()
    return time.perf_counter() - t0 + _timed(store, n, ingest.stop)


def _workers(broker: MosquittoBroker, db: Path | str, protocol: str, workers: int) -> IngestWorkers:
    return IngestWorkers(SITE, db, broker.host, broker.port, workers=workers, protocol=protocol, group="bench")


def workers_live(broker: MosquittoBroker, files: list[Path], n: int, db: Path | str, protocol: str, workers: int) -> float:
    store = Store(db)
    pool = _workers(broker, db, protocol, workers).start()
    assert pool.wait_ready(60), "workers not subscribed"
    return _timed(store, n, pool.stop, broker, files)


def workers_drain(broker: MosquittoBroker, n: int, db: Path | str, protocol: str, workers: int) -> tuple[float, float]:
    """(drain time including the workers' start, their start-up alone until subscribed)."""
    store = Store(db)
    t0 = time.perf_counter()
    pool = _workers(broker, db, protocol, workers).start()
    assert pool.wait_ready(60), "workers not subscribed"
    startup = time.perf_counter() - t0
    pool.stop()  # the sessions stay on the broker, each with its share of what follows
    publish_backlog(broker, n)
    t0 = time.perf_counter()
    pool = _workers(broker, db, protocol, workers).start()
    return time.perf_counter() - t0 + _timed(store, n, pool.stop), startup


def measure(mode: str, k: int, broker: MosquittoBroker, n: int, db: Path | str, protocol: str,
            files: list[Path]) -> tuple[float, float | None]:
    """One hub configuration on a fresh broker and database: (seconds, workers' start-up or None)."""
    if mode == "live":
        if k == 1:
            return hub_live(broker, files, n, db, protocol), None
        return workers_live(broker, files, n, db, protocol, k), None
    if k == 1:
        return hub_drain(broker, n, db, protocol), None
    return workers_drain(broker, n, db, protocol, k)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=50_000)
    ap.add_argument("--protocol", choices=["3.1.1", "5"], default="3.1.1")
    ap.add_argument("--mode", default="backlog,live")
    ap.add_argument("--ingest-workers", default="1", help="comma-separated counts of ingest processes to measure (1: in-process)")
    ap.add_argument("--backend", default="sqlite", help="comma-separated stores: sqlite, postgresql (a private server)")
    args = ap.parse_args()
    counts = [int(x) for x in args.ingest_workers.split(",")]
    backends = args.backend.split(",")
    if set(backends) - {"sqlite", "postgresql"}:
        ap.error("--backend: sqlite and/or postgresql")
    print(f"load average before: {[round(x, 1) for x in os.getloadavg()]}")
    n = args.events - args.events % PUBLISHERS
    modes = args.mode.split(",")
    base: dict[str, float] = {}  # mode -> mosquitto_sub's seconds
    hubs: dict[tuple[str, str, int], tuple[float, float | None]] = {}  # (backend, mode, workers) -> measure()
    with tempfile.TemporaryDirectory() as tmp_name, contextlib.ExitStack() as stack:
        tmp = Path(tmp_name)
        if "postgresql" in backends:
            cluster = PostgresCluster(tmp / "pg").start()
            stack.callback(cluster.close)
        files = _live_payloads(tmp, n) if "live" in modes else []
        for mode in modes:
            with MosquittoBroker(tmp / f"{mode}-sub") as broker:
                base[mode] = mosquitto_sub_live(broker, files, n) if mode == "live" else mosquitto_sub_drain(broker, n)
            if mode == "backlog":
                with MosquittoBroker(tmp / "paho") as broker:
                    paho = paho_count_drain(broker, n)
            for backend in backends:
                for k in counts:
                    name = f"{mode}_{k}"
                    db = cluster.create_database(name) if backend == "postgresql" else tmp / f"{name}.db"
                    with MosquittoBroker(tmp / f"{backend}-{name}") as broker:
                        hubs[backend, mode, k] = measure(mode, k, broker, n, db, args.protocol, files)
    print(f"{n} QoS 1 badge events (MQTT {args.protocol}); live: {PUBLISHERS} publishers (mosquitto_pub -l), consumer"
          " connected; backlog: drained from a persistent session. Hub: validated, de-duplicated, committed, acked.")
    for mode, seconds in base.items():
        print(f"mosquitto_sub {mode}: {n / seconds:8.0f} events/s ({seconds:.2f} s)")
    if "backlog" in base:
        print(f"paho count-only backlog: {n / paho:8.0f} events/s ({paho:.2f} s), one client's ceiling;"
              f" ratio to mosquitto_sub {base['backlog'] / paho:.2f}")
    for backend in backends:
        print(f"\n{backend}\n| mode | workers | events/s | seconds | hub / mosquitto_sub |\n|---|---|---|---|---|")
        for mode in modes:
            for k in counts:
                seconds, startup = hubs[backend, mode, k]
                extra = f" (incl. {startup:.2f} s start-up)" if startup is not None else ""
                print(f"| {mode} | {k} | {n / seconds:.0f} | {seconds:.2f}{extra} | {base[mode] / seconds:.2f} |")
        if 1 in counts and 2 in counts:
            ratios = ", ".join(f"{mode} {hubs[backend, mode, 1][0] / hubs[backend, mode, 2][0]:.2f}x" for mode in modes)
            print(f"2 workers vs 1 ({backend}): {ratios}")
    print(f"load average after: {[round(x, 1) for x in os.getloadavg()]}")


if __name__ == "__main__":
    main()
