"""A site broker bridged to a central one (hub.broker.bridge_conf): what a WAN outage's backlog
costs to forward, against `mosquitto_sub` draining the same backlog from the site broker directly,
in the same run. Then the hub on the central broker against the hub on the site broker.

    python bench/bridge.py [--events 50000]

1. Central broker up, site broker bridged to it; persistent QoS 1 sessions registered for a
   `mosquitto_sub` on each broker (and, with --hub, for a hub on each).
2. The central broker stops (the WAN is cut, as the site sees it); N badge events from 100
   devices are published to the site broker: its bridge queue and the direct subscriber's
   session hold them.
3. Baseline: the direct `mosquitto_sub` drains the site broker's copy.
4. The central broker starts: timed from its start until the central `mosquitto_sub` has all N
   (the bridge's reconnect, its back-off included, and the forwarding); the time to the first
   message is printed apart, so the forwarding rate is visible on its own.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest_throughput import SITE, publish_backlog  # noqa: E402
from hub.broker import MosquittoBroker, bridge_conf  # noqa: E402


def _sub(broker: MosquittoBroker, client_id: str) -> list[str]:
    exe = shutil.which("mosquitto_sub")
    if exe is None:
        raise SystemExit("mosquitto_sub not found (apt-get install mosquitto-clients)")
    return [exe, "-h", broker.host, "-p", str(broker.port), "-q", "1", "-c", "-i", client_id,
            "-t", f"fw/v1/{SITE}/+/event"]


def _drain_timed(cmd: list[str], n: int) -> tuple[float, float]:
    """Seconds until the first and the n-th message."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([*cmd, "-C", str(n)], stdout=subprocess.PIPE)
    first = None
    assert proc.stdout is not None
    for _ in proc.stdout:
        if first is None:
            first = time.perf_counter() - t0
    proc.wait()
    return first or 0.0, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=50_000)
    args = ap.parse_args()
    n = args.events
    with tempfile.TemporaryDirectory(prefix="fw-bench-bridge-") as tmp:
        central = MosquittoBroker(Path(tmp) / "central").start()
        site = MosquittoBroker(Path(tmp) / "site", extra_conf=bridge_conf(SITE, central.address)).start()
        try:
            direct, via = _sub(site, "bench-direct"), _sub(central, "bench-central")
            subprocess.run([*direct, "-E"], check=True)
            subprocess.run([*via, "-E"], check=True)
            time.sleep(1.0)  # the bridge connected and subscribed
            central.stop()
            published = publish_backlog(site, n)
            _, base = _drain_timed(direct, n)
            t0 = time.perf_counter()
            central.start()  # returns once it accepts connections
            started = time.perf_counter() - t0
            first, total = _drain_timed(via, n)
            first, total = first + started, total + started
            result = {
                "events": n, "published_s": round(published, 2),
                "mosquitto_sub_direct_s": round(base, 2),
                "central_start_to_first_s": round(first, 2), "central_start_to_all_s": round(total, 2),
                "forwarding_s": round(total - first, 2),
            }
            print(json.dumps(result))
            print(f"bridged backlog: all {n} at the central broker {total:.2f} s after it started "
                  f"(first after {first:.2f} s: the bridge's reconnect); forwarding {total - first:.2f} s "
                  f"= {base / max(total - first, 1e-9):.2f}x mosquitto_sub draining the site broker directly ({base:.2f} s)")
        finally:
            site.close()
            central.close()


if __name__ == "__main__":
    main()
