"""Edge subcommands: `floorwatch edge` runs one device's agent, `floorwatch sim` a simulated floor."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("edge", help="run the edge agent of one device (on its Raspberry Pi)")
    p.add_argument("--config", required=True, help="the device file, e.g. firmware_cfg/sites/<site>/devices/<id>.toml")
    p.add_argument("--broker", help="override the broker as host:port")
    p.add_argument("--spool", help="override the spool database path")
    p.add_argument("--mock-gpio", action="store_true", help="gpiozero mock pins (try a config on a laptop)")
    p.set_defaults(func=cmd_edge)

    p = sub.add_parser("sim", help="a simulated floor: one real agent per device of a site, on simulated drivers")
    p.add_argument("--site", help="site folder (default: the example site)")
    p.add_argument("--broker", default="127.0.0.1:1883", help="MQTT broker host:port")
    p.add_argument("--speed", type=float, default=60.0, help="simulated seconds per real second")
    p.add_argument("--seed", type=int, help="random seed (the same seed plays the same day)")
    p.add_argument("--start", help="local time today to start the simulated clock at (HH:MM)")
    p.add_argument("--spool-dir", default="var/sim-spool", help="where the simulated devices keep their spools")
    p.add_argument("--truth", help="append every generated event to this JSON-lines file")
    p.set_defaults(func=cmd_sim)


def _host_port(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not port.isdigit():
        raise SystemExit(f"error: --broker: expected host:port, got {value!r}")
    return host or "127.0.0.1", int(port)


def _signals() -> threading.Event:
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    return done


def _load(path: Path, args: argparse.Namespace):
    from edge.config import load_device_config

    cfg, digest = load_device_config(path)
    updates = {}
    if args.broker:
        host, port = _host_port(args.broker)
        updates["broker"] = cfg.broker.model_copy(update={"host": host, "port": port})
    if args.spool:
        updates["spool"] = cfg.spool.model_copy(update={"path": args.spool})
    return (cfg.model_copy(update=updates) if updates else cfg), digest


def cmd_edge(args: argparse.Namespace) -> int:
    from gpiozero.exc import GPIOZeroError

    from edge.agent import Agent
    from edge.exceptions import ConfigError, SpoolError

    path = Path(args.config)
    try:
        cfg, digest = _load(path, args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.mock_gpio:
        from gpiozero import Device
        from gpiozero.pins.mock import MockFactory

        Device.pin_factory = MockFactory()
    done, reload = _signals(), threading.Event()
    while True:
        try:
            agent = Agent(cfg, config_hash=digest, cfg_path=path, on_reload=reload.set)
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except SpoolError as exc:
            print(f"error: {path}: spool: {exc}", file=sys.stderr)
            return 1
        except (GPIOZeroError, ImportError, OSError) as exc:
            print(f"error: {path}: hardware: {exc} (no GPIO here? try --mock-gpio)", file=sys.stderr)
            return 1
        agent.start()
        print(f"edge: device {cfg.id} ({cfg.role} {cfg.place}) of site {cfg.site}, broker "
              f"{cfg.broker.host}:{cfg.broker.port}, spool {agent.spool.path}, config {digest}", flush=True)
        while not done.wait(0.5) and not reload.is_set():
            pass
        agent.stop()
        if done.is_set():
            return 0
        reload.clear()
        try:
            cfg, digest = _load(path, args)
            print(f"edge: reloaded {path} (config {digest})", flush=True)
        except ConfigError as exc:  # keep running the configuration that worked
            print(f"error: reload refused: {exc}", file=sys.stderr, flush=True)


def cmd_sim(args: argparse.Namespace) -> int:
    import datetime as dt

    from edge.clock import ScaledClock
    from edge.sim import SimFloor, default_start_ms
    from hub.exceptions import SiteConfigError
    from hub.site import example_site_dir, load_site

    site_dir = Path(args.site) if args.site else example_site_dir()
    try:
        site = load_site(site_dir)
    except SiteConfigError as exc:
        for err in exc.errors:
            print(f"error: {err}", file=sys.stderr)
        return 2
    host, port = _host_port(args.broker)
    if args.speed <= 0:
        print("error: --speed: must be positive", file=sys.stderr)
        return 2
    start = default_start_ms(site)
    if args.start:
        try:
            t = dt.time.fromisoformat(args.start)
        except ValueError:
            print(f"error: --start: expected HH:MM, got {args.start!r}", file=sys.stderr)
            return 2
        today = dt.datetime.now(site.tz).date()
        start = int(dt.datetime.combine(today, t, tzinfo=site.tz).timestamp() * 1000)
    floor = SimFloor(site, host, port, spool_dir=Path(args.spool_dir), clock=ScaledClock(start, args.speed),
                     seed=args.seed, truth_path=Path(args.truth) if args.truth else None)
    done = _signals()
    floor.start()
    begin = dt.datetime.fromtimestamp(start / 1000, site.tz).isoformat(timespec="minutes")
    print(f"sim: {len(floor.agents)} agents of site {site.id}, broker {host}:{port}, clock {begin} x{args.speed:g},"
          f" {len(floor.plan)} planned actions", flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        floor.stop()
    return 0
