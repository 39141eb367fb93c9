"""Violation to webhook: how long after the engine's verdict a lead's webhook receives the alert,
p50 and p99, with the engine's own verdict latency measured in the same run as the baseline.

    python bench/alert_latency.py                  # 200 unknown badges, 0.25 s apart
    python bench/alert_latency.py --taps 300 --gap 0.02
    python bench/alert_latency.py --taps 100 --per-minute 20   # a robot's limit: the rest as digests

Real parts: a private mosquitto; the hub (HubService: ingest, rule engine, live bus, the alert
outbox and sender) in this process, with an alerts.toml routing every rule to a generic webhook;
the webhook is a real HTTP server on 127.0.0.1 (tests/alert_receiver.py) checking the HMAC and
deduping on the alert id. Each tap is an unknown badge published over MQTT at the site's kiosk
reader (a fresh UID each time), which the engine judges BADGE-UNKNOWN from that one event.

Per tap, wall clock: published -> the violation on the hub's live bus (the engine's verdict,
the baseline) -> the webhook request received (the alert). Reported: publish->verdict,
publish->webhook and verdict->webhook (what alerting adds), p50/p99, and the ratio of the
publish->webhook p50 to the publish->verdict p50.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from edge import wire  # noqa: E402
from edge.clock import ScaledClock  # noqa: E402
from hub.broker import MosquittoBroker  # noqa: E402
from hub.service import HubService  # noqa: E402
from hub.site import load_site  # noqa: E402
from hub.sitegen import generate_site  # noqa: E402
from hub.store import Store  # noqa: E402
from tests.alert_receiver import Receiver  # noqa: E402

SECRET = "bench-secret"
KIOSK = "kiosk-k1"


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))] if s else float("nan")


class VerdictWatch:
    """When each violation first reached the hub's live bus (wall clock s), by the UID it names."""

    def __init__(self, hub: HubService) -> None:
        self.hub = hub
        self.sub = hub.live.subscribe({"violation"})
        self.by_uid: dict[str, tuple[float, str]] = {}  # uid -> (time, violation id)
        self._stop = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        for update in self.hub.live.listen(self.sub, 0.2):
            if self._stop.is_set():
                return
            if update is not None and update.data.get("rule") == "BADGE-UNKNOWN":
                uid = (update.data.get("details") or {}).get("uid")  # "unknown:<uid as read>?32bits"
                if isinstance(uid, str) and uid:
                    self.by_uid.setdefault(uid.split(":", 1)[-1].split("?")[0], (time.time(), update.data["id"]))

    def close(self) -> None:
        self._stop.set()
        self.hub.live.unsubscribe(self.sub)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--taps", type=int, default=200)
    ap.add_argument("--gap", type=float, default=0.25, help="seconds between taps")
    ap.add_argument("--seats", type=int, default=40)
    ap.add_argument("--per-minute", type=int, default=1000, help="the channel's rate limit (a robot's: 20)")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="fw-alert-latency-"))
    broker = MosquittoBroker(work / "broker").start()
    receiver = Receiver(SECRET)
    tz = "Asia/Shanghai"
    from zoneinfo import ZoneInfo

    day = dt.datetime.now(ZoneInfo(tz)).date()
    site_dir = generate_site(work / "site", site="alertbench", seats=args.seats, zones=2, doors=1, kiosks=1,
                             roster_date=day, tz=tz, broker_port=broker.port)
    (site_dir / "alerts.toml").write_text(f"""
console_url = "http://hub.bench:8080"
[channels.ops]
type = "webhook"
url = "{receiver.url}"
secret = "{SECRET}"
per_minute = {args.per_minute}
[[routes]]
channel = "ops"
""", encoding="utf-8")
    site = load_site(site_dir)
    clock = ScaledClock(int(dt.datetime.combine(day, dt.time(10, 0), site.tz).timestamp() * 1000), 1.0)
    store = Store(work / "hub.db")
    hub = HubService(site, store, broker_host=broker.host, broker_port=broker.port, clock=clock).start()
    watch = VerdictWatch(hub)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-alert-tapper")
    connected = threading.Event()
    client.on_connect = lambda *a: connected.set()
    client.connect(broker.host, broker.port)
    client.loop_start()
    if not connected.wait(10):
        raise SystemExit("could not connect to the broker")
    status = wire.Status(v=1, device=KIOSK, state="online", ts=clock.now_ms(), fw="bench", config="bench")
    client.publish(wire.status_topic(site.id, KIOSK), wire.encode(status), qos=1, retain=True).wait_for_publish(10)
    print(f"bench/alert_latency: {args.taps} unknown badges at {KIOSK}, {args.gap} s apart; mosquitto {broker.port};"
          f" {os.cpu_count()} cores", flush=True)
    sent: dict[str, float] = {}
    try:
        for i in range(args.taps):
            uid = f"FB{os.getpid() % 256:02X}{i:06X}"
            event = wire.BadgeEvent(v=1, id=wire.new_event_id(), device=KIOSK, seq=i + 1, ts=clock.now_ms(),
                                    type="badge", uid=uid, reader="badge")
            sent[uid] = time.time()
            client.publish(wire.event_topic(site.id, KIOSK), wire.encode(event), qos=1)
            time.sleep(args.gap)
        deadline = time.monotonic() + 90  # a rate-limited channel's digest waits for its minute
        while time.monotonic() < deadline and len(receiver.accepted) < args.taps:
            time.sleep(0.2)
    finally:
        client.loop_stop()
        client.disconnect()
        watch.close()
        hub.stop()
        store.close()
        receiver.close()
        broker.close()
        shutil.rmtree(work, ignore_errors=True)

    to_verdict, to_hook, added = [], [], []
    hooked = {a["violation"]["id"]: receiver.times[a["id"]] for a in receiver.accepted if a["alert"] == "alert"}
    for uid, t0 in sent.items():
        seen = watch.by_uid.get(uid)
        if seen is None or seen[1] not in hooked:
            continue
        t_v, vid = seen
        to_verdict.append((t_v - t0) * 1000)
        to_hook.append((hooked[vid] - t0) * 1000)
        added.append((hooked[vid] - t_v) * 1000)
    print(f"  {len(to_hook)} of {args.taps} taps judged and delivered; {len(receiver.duplicates())} duplicated;"
          f" {receiver.bad_signatures} bad signatures")
    for label, xs in (("publish -> verdict (engine)", to_verdict), ("publish -> webhook", to_hook),
                      ("verdict -> webhook (alerting)", added)):
        print(f"  {label:<30} p50 {pct(xs, 50):7.1f} ms   p99 {pct(xs, 99):7.1f} ms   max {max(xs, default=0):7.1f} ms")
    if to_verdict:
        print(f"  ratio publish->webhook / publish->verdict: p50 {pct(to_hook, 50) / pct(to_verdict, 50):.2f}x,"
              f" p99 {pct(to_hook, 99) / pct(to_verdict, 99):.2f}x")
    return 0 if len(to_hook) == args.taps else 1


if __name__ == "__main__":
    raise SystemExit(main())
