"""The soak's hub process: what `floorwatch hub --web off` runs (hub.service.HubService: ingest,
rule engine, live bus), on the soak's simulated clock, so the orchestrator can SIGKILL it and
start it again like the real thing.

    python -m bench.soak_hub RUN_DIR

`floorwatch hub` has no clock option (a production hub runs on wall time); a soak world runs at
hundreds of times real time, and the hub must judge it on the same clock as the devices.

Besides running the hub, it samples tap-to-kiosk latency from its own live bus: for each tap
verdict published, the real milliseconds since the hub received the event (ingest receipt ->
verdict on the bus, what the kiosk page shows next), appended to hub-latency.jsonl.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from collections import OrderedDict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.soak_plan import EpochClock, wait_for_epoch  # noqa: E402
from hub.service import HubService  # noqa: E402
from hub.site import load_site  # noqa: E402
from hub.store import Store  # noqa: E402


def sample_latency(hub: HubService, clock: EpochClock, path: Path, stop: threading.Event) -> None:
    sub = hub.live.subscribe({"event", "tap"})
    received: OrderedDict[str, int] = OrderedDict()
    with path.open("a", encoding="utf-8", buffering=1) as out:
        while not stop.is_set():
            for update in hub.live.listen(sub, timeout=0.5):
                if stop.is_set():
                    break
                if update is None:
                    break
                data = update.data
                if update.channel == "event":
                    if data.get("type") == "badge":
                        received[data["event_id"]] = data["received"]
                        if len(received) > 50_000:
                            received.popitem(last=False)
                    continue
                if data.get("repeat"):
                    continue
                got = received.pop(data.get("event_id"), None)
                if got is None:
                    continue
                now = clock.now_ms()
                out.write(json.dumps({"w": round(time.time(), 3), "hub_ms": round((now - got) / clock.speed, 2),
                                      "device_ms": round((now - data["ts"]) / clock.speed, 2)}) + "\n")
    hub.live.unsubscribe(sub)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    run = Path(argv[0])
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s hub %(levelname)s %(name)s: %(message)s")
    meta = json.loads((run / "run.json").read_text(encoding="utf-8"))
    host, port = meta["broker"]
    site = load_site(meta["site_dir"])
    print("hub prepared", flush=True)
    clock = wait_for_epoch(run, meta["config"]["speed"])
    store = Store(run / "hub.db")
    hub = HubService(site, store, broker_host=host, broker_port=port, clock=clock, tick_s=0.2)
    hub.start(wait=0)
    stop = threading.Event()
    sampler = threading.Thread(target=sample_latency, args=(hub, clock, run / "hub-latency.jsonl", stop), daemon=True)
    sampler.start()
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    print("hub ready", flush=True)
    while not done.wait(0.5):
        pass
    stop.set()
    hub.stop()
    store.close()
    print("hub stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
