"""Hub ingest throughput against `mosquitto_sub` draining the same broker, in the same run.

Backlog: both consumers drain the same queued backlog from a persistent QoS 1 session on a
private mosquitto (the situation after an outage: a hub restarting into 10k+ waiting events):
  1. register the consumer's persistent session, disconnect it;
  2. publish N valid v1 events (QoS 1) while it is away;
  3. reconnect it and time until all N are consumed (mosquitto_sub: printed; hub: committed to
     SQLite, validated, de-duplicated and acknowledged).
Live: the consumer is connected and 4 publishers (mosquitto_pub -l, QoS 1, one device each)
send N events between them as fast as they can; time from their start until all N are consumed.

With `--ingest-workers 1,2` the hub's figures are taken for each count of ingest processes
(hub.ingest_workers: N processes on one shared subscription; 1 is the in-process Ingest), each on
a fresh broker; a worker run's time includes starting its processes (their start-up until
subscribed, measured beforehand, is printed beside it).

    python bench/ingest_throughput.py [--events 50000] [--protocol 3.1.1|5] [--mode backlog,live] [--ingest-workers 1,2]
"""

from __future__ import annotations

import argparse
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


def hub_live(broker: MosquittoBroker, files: list[Path], n: int, db: Path, protocol: str) -> float:
    store = Store(db)
    ingest = Ingest(store, SITE, broker.host, broker.port, protocol=protocol, client_id="bench-hub-live").start()
    time.sleep(1.0)  # subscribed
    return _timed(store, n, ingest.stop, broker, files)


def hub_drain(broker: MosquittoBroker, n: int, db: Path, protocol: str) -> float:
    store = Store(db)
    ingest = Ingest(store, SITE, broker.host, broker.port, protocol=protocol, client_id="bench-hub").start()
    ingest.stop()  # the session stays on the broker
    publish_backlog(broker, n)
    ingest = Ingest(store, SITE, broker.host, broker.port, protocol=protocol, client_id="bench-hub")
    t0 = time.perf_counter()
    ingest.start()
    return time.perf_counter() - t0 + _timed(store, n, ingest.stop)


def _workers(broker: MosquittoBroker, db: Path, protocol: str, workers: int) -> IngestWorkers:
    return IngestWorkers(SITE, db, broker.host, broker.port, workers=workers, protocol=protocol, group="bench")


def workers_live(broker: MosquittoBroker, files: list[Path], n: int, db: Path, protocol: str, workers: int) -> float:
    store = Store(db)
    pool = _workers(broker, db, protocol, workers).start()
    assert pool.wait_ready(60), "workers not subscribed"
    return _timed(store, n, pool.stop, broker, files)


def workers_drain(broker: MosquittoBroker, n: int, db: Path, protocol: str, workers: int) -> tuple[float, float]:
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=50_000)
    ap.add_argument("--protocol", choices=["3.1.1", "5"], default="3.1.1")
    ap.add_argument("--mode", default="backlog,live")
    ap.add_argument("--ingest-workers", default="1", help="comma-separated counts of ingest processes to measure (1: in-process)")
    args = ap.parse_args()
    counts = [int(x) for x in args.ingest_workers.split(",")]
    print(f"load average before: {[round(x, 1) for x in os.getloadavg()]}")
    n = args.events - args.events % PUBLISHERS
    modes = args.mode.split(",")
    if "live" in modes:
        with tempfile.TemporaryDirectory() as tmp:
            files = _live_payloads(Path(tmp), n)
            with MosquittoBroker(Path(tmp) / "l1") as broker:
                base = mosquitto_sub_live(broker, files, n)
            hubs = {}
            for k in counts:
                with MosquittoBroker(Path(tmp) / f"l2-{k}") as broker:
                    if k == 1:
                        hubs[k] = hub_live(broker, files, n, Path(tmp) / "hub.db", args.protocol)
                    else:
                        hubs[k] = workers_live(broker, files, n, Path(tmp) / f"hub-{k}.db", args.protocol, k)
        print(f"live: {n} QoS 1 badge events from {PUBLISHERS} publishers (mosquitto_pub -l), consumer connected")
        print(f"mosquitto_sub live:  {n / base:10.0f} events/s  ({base:.2f} s)")
        for k, hub in hubs.items():
            print(f"hub ingest live, {k} worker(s): {n / hub:10.0f} events/s  ({hub:.2f} s)  validated, de-duplicated,"
                  f" committed, acked; ratio hub / mosquitto_sub (live): {base / hub:.2f}")
    if "backlog" not in modes:
        return
    with tempfile.TemporaryDirectory() as tmp:
        with MosquittoBroker(Path(tmp) / "b1") as broker:
            base = mosquitto_sub_drain(broker, n)
        with MosquittoBroker(Path(tmp) / "b3") as broker:
            paho = paho_count_drain(broker, n)
        hubs, startups = {}, {}
        for k in counts:
            with MosquittoBroker(Path(tmp) / f"b2-{k}") as broker:
                if k == 1:
                    hubs[k] = hub_drain(broker, n, Path(tmp) / "hub.db", args.protocol)
                else:
                    hubs[k], startups[k] = workers_drain(broker, n, Path(tmp) / f"hub-{k}.db", args.protocol, k)
    print(f"events: {n} QoS 1 badge events, backlog drained from a persistent session (MQTT {args.protocol})")
    print(f"mosquitto_sub drain: {n / base:10.0f} events/s  ({base:.2f} s)")
    print(f"paho count-only:     {n / paho:10.0f} events/s  ({paho:.2f} s)  the client library's ceiling")
    for k, hub in hubs.items():
        extra = f"; includes their start-up ({startups[k]:.2f} s until subscribed)" if k in startups else ""
        print(f"hub ingest drain, {k} worker(s): {n / hub:10.0f} events/s  ({hub:.2f} s{extra})  validated,"
              f" de-duplicated, committed, acked; ratio hub / mosquitto_sub: {base / hub:.2f}; hub / paho count-only:"
              f" {paho / hub:.2f}")
    print(f"load average after: {[round(x, 1) for x in os.getloadavg()]}")


if __name__ == "__main__":
    main()
