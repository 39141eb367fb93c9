"""What the replay and restart benches share: a generated floor with true device times, its
backlog queued at the broker from another process, the hub without rules, and waiting on a hub.

`build_floor` is the soak plan's floor (bench/soak_plan.py) rostered for yesterday (site time),
its recent past as MQTT messages in the order a floor sends them; `send` publishes them QoS 1
from a separate process, as devices do; `NoEngine` is the in-run baseline (ingest + log only);
`wait_for` polls a condition until it holds.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing as mp
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from bench.soak_plan import SoakConfig, make_site, plan, write_run
from edge import wire
from hub.broker import MosquittoBroker
from hub.site import load_site

MIN = 60_000
HOUR = 60 * MIN
WINDOW_MS = 30 * HOUR  # inside the engine's 36 h horizon, with room for a slow run
T = TypeVar("T")


@dataclass
class Floor:
    """A generated floor and its recent past as MQTT messages, in the order a floor sends them."""

    site_dir: Path
    site_id: str
    statuses: list[tuple[str, bytes]]  # one `online` per device, with the device's clock
    events: list[tuple[str, bytes]]  # the spools' events, true device times, time order


def build_floor(root: Path, *, seats: int, zones: int, now_ms: int, hours: float = 30.0, seed: int = 1,
                heartbeat_s: int = 1800, rostered_today: bool | None = False) -> Floor:
    """The soak's floor rostered for yesterday (site time; with `rostered_today`, for the day of
    `now_ms`), its last `hours` until `now_ms` as events. `rostered_today=None`: the day whose
    duties the window holds, whatever the hour of `now_ms` (a test on the wall clock): today from
    the site's noon on (its day shift has begun), else yesterday (a 30-h window then still holds
    all of it; from noon on it holds only yesterday's evening).

    Taps, occupancy and buttons come from the soak planner (realistic duties, with late arrivals,
    long breaks and the rest); heartbeats every `heartbeat_s` per device, and the site's
    heartbeat_s / offline_after_s (3x) say the same, so the hub expects what the devices send;
    every seat reader reports its home equipment tags every 4 h, now and then without one
    (EQUIP-MISSING)."""
    tz = ZoneInfo("Asia/Shanghai")
    local = dt.datetime.fromtimestamp(now_ms / 1000, tz)
    if rostered_today is None:
        rostered_today = local.hour >= 12
    day = (local - dt.timedelta(days=0 if rostered_today else 1)).date()
    cfg = SoakConfig(seats=seats, zones=zones, days=1, first_day=day.isoformat(), begin="06:30",
                     end_after_midnight_min=0, workers=1, seed=seed, broker_kills=0, hub_kills=0, worker_kills=0,
                     cuts=0, skews=0, malformed=0, duplicates=0, heartbeat_s=heartbeat_s)
    site_dir = make_site(root / "site", cfg, 1883, root / "spool")
    p, roster = plan(cfg)
    write_run(root, p, roster, site_dir, {})
    site = load_site(site_dir)
    lo, hi = max(now_ms - int(min(hours, WINDOW_MS / HOUR) * HOUR), now_ms - WINDOW_MS), now_ms - MIN
    items: list[tuple[int, str, dict]] = []
    for a in p.acts:
        if not lo <= a.t < hi:
            continue
        if a.kind == "tap":
            items.append((a.t, a.device, {"type": "badge", "uid": a.value, "reader": "badge"}))
        elif a.kind == "occupancy":
            items.append((a.t, a.device, {"type": "occupancy", "occupied": bool(a.value), "sensor": "seat"}))
        elif a.kind == "button":
            items.append((a.t, a.device, {"type": "button", "button": a.value}))
    for k, dev in enumerate(sorted(site.devices)):
        t = lo + (k * 7919 + seed) % (heartbeat_s * 1000)
        while t < hi:
            items.append((t, dev, {"type": "heartbeat", "uptime_s": (t - lo) // 1000, "spooled": 1, "dropped": 0}))
            t += heartbeat_s * 1000
    homes: dict[str, list[str]] = {}
    for e in site.equipment:
        homes.setdefault(e.home_seat, []).append(e.tag)
    seat_dev = {c.place: dev for dev, c in site.devices.items() if c.role == "seat"}
    for k, (seat, tags) in enumerate(sorted(homes.items())):
        dev = seat_dev.get(seat)
        if dev is None:
            continue
        t = lo + (k * 104_729) % (4 * HOUR)
        n = 0
        while t < hi:
            n += 1
            seen = tags[1:] if (k + n) % 17 == 0 else tags  # a headset left elsewhere now and then
            items.append((t, dev, {"type": "inventory", "tags": seen, "reader": "tags"}))
            t += 4 * HOUR
    items.sort(key=lambda x: (x[0], x[1]))
    seq: dict[str, int] = {}
    events = []
    for t, dev, body in items:
        seq[dev] = seq.get(dev, 0) + 1
        msg = {"v": 1, "id": str(uuid.uuid4()), "device": dev, "seq": seq[dev], "ts": t, **body}
        events.append((wire.event_topic(site.id, dev), wire.encode(wire.decode_event(json.dumps(msg)))))
    statuses = [(wire.status_topic(site.id, dev), wire.encode(wire.Status(v=1, device=dev, state="online",
                                                                          ts=now_ms, fw="0.1.0", config="bench")))
                for dev in sorted(site.devices)]
    return Floor(site_dir, site.id, statuses, events)


def _publish(host: str, port: int, messages: list[tuple[float, str, bytes]], wall0: float, done: Any) -> None:
    """Publish (at, topic, payload) at wall0 + at (at <= 0: as fast as possible), QoS 1."""
    import paho.mqtt.client as mqtt  # noqa: PLC0415
    from paho.mqtt.enums import CallbackAPIVersion  # noqa: PLC0415

    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"load-pub-{uuid.uuid4().hex[:6]}")
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.connect(host, port)
    c.loop_start()
    infos = []
    for at, topic, payload in messages:
        if at > 0:
            delay = wall0 + at - time.time()
            if delay > 0:
                time.sleep(delay)
        if len(infos) >= 20_000:  # paho refuses more than 65,535 unacknowledged messages
            infos[-20_000].wait_for_publish(120)
        infos.append(c.publish(topic, payload, qos=1))
    for info in infos:
        info.wait_for_publish(120)
    c.disconnect()
    c.loop_stop()
    done.set()


def publish(host: str, port: int, messages: list[tuple[float, str, bytes]], wall0: float = 0.0) -> mp.Process:
    ctx = mp.get_context("spawn")
    done = ctx.Event()
    p = ctx.Process(target=_publish, args=(host, port, messages, wall0, done), daemon=True)
    p.start()
    p.done = done  # type: ignore[attr-defined]
    return p


class NoEngine:
    """The baseline: HubService with ingest and the event log only (no rules)."""

    def process(self, events):  # noqa: D102
        return None

    def tick(self, now_ms):  # noqa: D102
        return None

    def on_status(self, status):  # noqa: D102
        return None

    def on_acd(self, feed):  # noqa: D102
        return None


def pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(q * len(xs)))], 1)


def send(broker: MosquittoBroker, messages: list[tuple[str, bytes]]) -> float:
    """Publish (topic, payload) QoS 1 from another process, as fast as it goes; seconds it took."""
    t = time.monotonic()
    p = publish(broker.host, broker.port, [(0.0, topic, payload) for topic, payload in messages])
    p.done.wait(1800)
    p.join(60)
    return time.monotonic() - t


def wait_for(cond: Callable[[], T], timeout: float, what: str, poll: float = 0.02) -> tuple[float, T]:
    """Poll cond() until it returns something true: (seconds waited, that value)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        v = cond()
        if v:
            return time.monotonic() - t0, v
        time.sleep(poll)
    raise TimeoutError(f"{what}: not after {timeout:.0f} s")
