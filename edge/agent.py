"""The edge agent: drivers -> events -> spool -> link.

One agent runs per Pi (`floorwatch edge --config devices/<id>.toml`). Readers, sensors and buttons
report through gpiozero-style callbacks; the agent turns each observation into a wire event
(edge.wire) stamped with the device clock, commits it to the durable spool (edge.spool) with its
sequence number, and kicks the link (edge.link), which publishes it and removes it when the
broker acknowledges it. Commands from the hub drive the LEDs and buzzer, and the A/C relay of a
zone device (each switch is a `relay` event; heartbeats carry the relay's state).

If the device clock is before 2024 (a Pi that booted without NTP or an RTC stamps 1970), events
carry `clock_ok: false` and the hub orders them by receipt time. Every event also carries the
clock's sync state as evidence (`clock_sync`, `clock_err_ms`, from an injected ClockSyncReader:
the kernel's adjtimex on a Pi), read when the event is observed, so a spooled event keeps the state
it was stamped with. `clock_ok` deliberately stays "plausible", not "synchronised": a Pi that lost
its network keeps a good clock for hours, and only the hub, which sees the error bound and the
whole floor, can weigh that.

The floor simulator (hub.simfloor) runs this same class with simulated drivers, many agents to one
network loop, on a faster clock: every timer here runs on the injected clock's time.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from edge import __version__, wire
from edge.clock import Clock, SystemClock
from edge.clocksync import ClockSync, ClockSyncReader, FixedClockSync, KernelClockSync
from edge.config import DeviceConfig
from edge.drivers import Drivers, build_drivers
from edge.exceptions import SpoolError
from edge.link import Link, LinkLoop
from edge.spool import Spool

log = logging.getLogger(__name__)

_MODELS: dict[str, type] = {
    "badge": wire.BadgeEvent,
    "occupancy": wire.OccupancyEvent,
    "inventory": wire.InventoryEvent,
    "button": wire.ButtonEvent,
    "heartbeat": wire.HeartbeatEvent,
    "relay": wire.RelayEvent,
}

EventHook = Callable[[Any], None]


class Inventory:
    """Pure: the equipment tags one reader sees. A tag is present while it was read within the
    last `period_ms`; a report goes out when a new tag appears and every period."""

    def __init__(self, period_ms: int) -> None:
        self.period_ms = period_ms
        self._seen: dict[str, int] = {}
        self.reported: frozenset[str] | None = None
        self._reported_at: int | None = None

    def present(self, now: int) -> frozenset[str]:
        return frozenset(t for t, at in self._seen.items() if now - at < self.period_ms)

    def seen(self, tag: str, now: int) -> list[str] | None:
        """Record a read; returns a report if the tag is new to the last report."""
        self._seen[tag] = now
        if self.reported is not None and tag in self.reported:
            return None
        return self._report(now)

    def record(self, tag: str, now: int) -> None:
        """Record a read without reporting (a scan whose result `due` reports at once)."""
        self._seen[tag] = now

    def due(self, now: int) -> list[str] | None:
        """The periodic report: now if the set changed, else unless a report went out less than
        half a period ago."""
        self._seen = {t: at for t, at in self._seen.items() if now - at < self.period_ms}
        if self.present(now) == self.reported and self._reported_at is not None \
                and now - self._reported_at < self.period_ms / 2:
            return None
        return self._report(now)

    def _report(self, now: int) -> list[str]:
        tags = self.present(now)
        self.reported = tags
        self._reported_at = now
        return sorted(tags)


class Agent:
    """One device: its drivers, its spool, its link."""

    def __init__(
        self,
        cfg: DeviceConfig,
        *,
        config_hash: str = "",
        cfg_path: str | Path | None = None,
        clock: Clock | None = None,
        clock_sync: ClockSyncReader | None = None,
        loop: LinkLoop | None = None,
        drivers: Drivers | None = None,
        spool: Spool | None = None,
        pin_factory: Any = None,
        heartbeat: bool = True,
        on_event: EventHook | None = None,
        on_reload: Callable[[], None] | None = None,
        fw: str = __version__,
        window: int = 100,
        reconnect_max_s: float = 30.0,
        quiet: bool = False,
    ) -> None:
        self.cfg = cfg
        self.device = cfg.id
        self.clock: Clock = clock or SystemClock()
        # The kernel's NTP state describes the system clock only: a simulated clock without a
        # reader of its own has no evidence either way.
        if clock_sync is None:
            clock_sync = KernelClockSync() if isinstance(self.clock, SystemClock) else FixedClockSync()
        self.clock_sync: ClockSyncReader = clock_sync
        self.speed = float(getattr(self.clock, "speed", 1.0)) or 1.0
        self.heartbeat_enabled = heartbeat
        self.on_event = on_event
        self.on_reload = on_reload
        self.stats = {"events": 0, "lost": 0, "taps": 0, "commands": 0}
        self._own_loop = loop is None
        self.loop = loop or LinkLoop(name=f"link-{cfg.id}")
        self._started_ms = self.clock.now_ms()
        self._timers: list[Any] = []
        self._running = False
        self._occ_lock = threading.Lock()
        self._sensor_states: dict[str, bool | None] = {}
        self._occupied: bool | None = None
        if spool is None:
            now = self.clock.now_ms()
            spool = Spool(cfg.spool.path, cfg.spool.max_events, sync=cfg.spool.sync, keep_sent_s=cfg.spool.keep_sent_s,
                          seq_floor=now if wire.clock_is_valid(now) else 0)
        self.spool = spool
        base_dir = Path(cfg_path).parent if cfg_path else None
        try:
            self.drivers = drivers if drivers is not None else build_drivers(
                cfg, cfg_path=str(cfg_path or cfg.id), pin_factory=pin_factory, scheduler=self.loop)
        except BaseException:
            spool.close()
            if self._own_loop:
                self.loop.stop()
            raise
        self.link = Link(
            cfg.id, cfg.site, cfg.broker, spool, loop=self.loop, fw=fw, config_hash=config_hash,
            clock=self.clock.now_ms, on_command=self._on_command, on_connected=self._on_connected,
            window=window, reconnect_max_s=reconnect_max_s, base_dir=base_dir, quiet=quiet,
        )
        periods = {rc.name: rc.period_s for rc in cfg.readers if rc.role == "inventory"}
        self.inventories: dict[str, Inventory] = {}
        self._scanning: set[str] = set()
        for reader in self.drivers.readers:
            reader.when_tap = lambda uid, r=reader: self._on_tap(r.name, uid)
        for reader in self.drivers.tag_readers:
            self.inventories[reader.name] = Inventory(int(periods.get(reader.name, 60.0) * 1000))
            reader.when_tap = lambda tag, r=reader: self._on_tag(r.name, tag)
        for sensor in self.drivers.sensors:
            self._sensor_states[sensor.name] = getattr(sensor, "occupied", None)
            sensor.when_changed = lambda occupied, s=sensor: self._on_sensor(s.name, occupied)
        if self.drivers.buttons is not None:
            self.drivers.buttons.when_pressed = self._on_button
        if self.drivers.relay is not None:
            self.drivers.relay.when_switched = self._on_relay

    # ------------------------------------------------------------ lifecycle

    def start(self) -> Agent:
        self._running = True
        if self._own_loop:
            self.loop.start()
        self.link.start()
        relay = self.drivers.relay
        if relay is not None:  # the power-up state, so the log shows what the A/C did from here
            self.emit("relay", relay=relay.name, state=relay.state, reason=relay.reason)
        if self.heartbeat_enabled:
            first = self.cfg.heartbeat_s * random.uniform(0.5, 1.0)  # spread a floor's heartbeats
            self._every(self.cfg.heartbeat_s, self.heartbeat, first=first)
        for reader in self.drivers.tag_readers:
            period = self.inventories[reader.name].period_ms / 1000
            self._every(period, lambda r=reader: self._inventory_tick(r), first=period * random.uniform(0.2, 1.0))
        return self

    def stop(self) -> None:
        """Stop observing, send what the spool holds (briefly), go offline, release hardware."""
        self.quiesce()
        self.link.stop()
        self.drivers.close()
        if self._own_loop:
            self.loop.stop()
        self.spool.close()

    def quiesce(self) -> None:
        """Stop the agent's timers (heartbeat, inventory) before its link stops."""
        self._running = False
        for t in self._timers:
            t.cancel()

    def _every(self, period_s: float, fn: Callable[[], Any], *, first: float | None = None) -> None:
        """Run fn every period_s of clock time (on the link loop)."""
        slot: list[Any] = []

        def tick() -> None:
            if not self._running:
                return
            try:
                fn()
            finally:
                if self._running:
                    slot[0] = self.loop.call_later(period_s / self.speed, tick)

        slot.append(self.loop.call_later((period_s if first is None else first) / self.speed, tick))
        self._timers.append(_TimerSlot(slot))

    # ------------------------------------------------------------ events

    def emit(self, type_: str, *, if_room: bool = False, **body: Any) -> Any:
        """Build, spool and send one event; returns it, or None if it was not stored."""
        ts = self.clock.now_ms()
        sync = self.clock_sync.read()  # now, at observation: not when the spool gets it out
        model = _MODELS[type_]
        box: list[Any] = []

        def build(seq: int) -> bytes:
            event = model(v=1, id=wire.new_event_id(), device=self.device, seq=seq, ts=ts, type=type_,
                          clock_ok=wire.clock_is_valid(ts), clock_sync=sync.synced,
                          clock_err_ms=_err_bound(sync), **body)
            box.append(event)
            return wire.encode(event)

        try:
            if self.spool.append(build, if_room=if_room) is None:
                return None
        except (ValueError, SpoolError) as exc:  # wire.encode refuses what breaks the contract: WireError
            self.stats["lost"] += 1
            log.error("%s: %s event not stored: %s", self.device, type_, exc)
            return None
        event = box[-1]
        self.stats["events"] += 1
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:
                log.exception("%s: on_event hook failed", self.device)
        self.link.kick()
        return event

    def heartbeat(self) -> Any:
        if not self.link.connected.is_set():
            return None  # a heartbeat is proof of life now; spooling one is pointless
        uptime = max(self.clock.now_ms() - self._started_ms, 0) // 1000
        # if_room: a heartbeat never pushes an observation out of a full spool
        relay = {"relay": self.drivers.relay.state} if self.drivers.relay is not None else {}
        return self.emit("heartbeat", if_room=True, uptime_s=uptime, spooled=len(self.spool),
                         dropped=self.spool.dropped, **relay)

    # ------------------------------------------------------------ driver callbacks

    def _on_tap(self, reader: str, uid: str) -> None:
        self.stats["taps"] += 1
        self.emit("badge", uid=uid.upper(), reader=reader)

    def _on_tag(self, reader: str, tag: str) -> None:
        if reader in self._scanning:
            self.inventories[reader].record(tag.upper(), self.clock.now_ms())
            return
        report = self.inventories[reader].seen(tag.upper(), self.clock.now_ms())
        if report is not None:
            self.emit("inventory", tags=report, reader=reader)

    def _inventory_tick(self, reader: Any) -> None:
        refresh = getattr(reader, "refresh", None)
        if refresh is not None:  # a simulated reader reads all its tags now: one report for the scan
            self._scanning.add(reader.name)
            try:
                refresh()
            finally:
                self._scanning.discard(reader.name)
        report = self.inventories[reader.name].due(self.clock.now_ms())
        if report is not None:
            self.emit("inventory", tags=report, reader=reader.name)

    def _on_sensor(self, name: str, occupied: bool) -> None:
        """Combine a seat's sensors: occupied if any says so; publish only changes."""
        with self._occ_lock:  # held while emitting, so two sensors cannot publish out of order
            self._sensor_states[name] = occupied
            known = [v for v in self._sensor_states.values() if v is not None]
            combined = any(known) if known else None
            if combined is None or combined == self._occupied:
                return
            self._occupied = combined
            self.emit("occupancy", occupied=combined, sensor=name)

    @property
    def occupied(self) -> bool | None:
        return self._occupied

    def _on_button(self, button: str) -> None:
        self.emit("button", button=button)

    def _on_relay(self, state: str, reason: str) -> None:
        relay = self.drivers.relay
        self.emit("relay", relay=relay.name if relay is not None else "relay", state=state, reason=reason[:64])

    # ------------------------------------------------------------ link callbacks (loop thread)

    def _on_connected(self) -> None:
        if self.heartbeat_enabled:
            self.heartbeat()

    def _on_command(self, cmd: wire.Command) -> None:
        self.stats["commands"] += 1
        if cmd.cmd == "feedback":
            if self.drivers.feedback is not None:
                self.drivers.feedback.show(cmd.result or "deny", cmd.text)
        elif cmd.cmd == "relay":
            if self.drivers.relay is None:
                log.warning("%s: the hub switches a relay this device does not have", self.device)
            elif cmd.state is not None:
                self.drivers.relay.set(cmd.state, cmd.reason)
        elif cmd.cmd == "reload":
            log.info("%s: the hub asks for a config reload", self.device)
            if self.on_reload is not None:
                self.on_reload()


def stop_together(agents: Iterable[Agent], loop: LinkLoop, *, drain_s: float, timeout_s: float) -> None:
    """Stop a floor of agents sharing `loop` at once: every link drains its spool (up to
    `drain_s`) and goes offline in parallel rather than one after another, then the agents and
    the loop stop."""
    agents = list(agents)
    for agent in agents:
        agent.link.begin_stop(drain_s=drain_s)
    for agent in agents:
        agent.link.finish_stop(timeout=timeout_s)
    for agent in agents:
        agent.stop()
    loop.stop()


def _err_bound(sync: ClockSync) -> int | None:
    """The error bound as the wire takes it: only while synced, capped, so odd evidence from a
    reader can never cost the observation it rides on."""
    if sync.synced is not True or sync.error_ms is None or sync.error_ms < 0:
        return None
    return min(int(sync.error_ms), wire.MAX_CLOCK_ERR_MS)


class _TimerSlot:
    """The current timer of a repeating task (each run schedules the next)."""

    def __init__(self, slot: list[Any]) -> None:
        self._slot = slot

    def cancel(self) -> None:
        self._slot[0].cancel()
