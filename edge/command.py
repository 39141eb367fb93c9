"""The agent's own command: `floorwatch-edge` / `python3 -m edge --config devices/<id>.toml`.

It lives in the edge so a Pi runs the agent without the hub: no hub module, no Flask or
openpyxl, only what the agent needs. `floorwatch edge` on the hub is a thin wrapper over
`add_arguments` and `run`, so both take the same options and behave the same."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The agent's options, shared by `floorwatch-edge` and `floorwatch edge`."""
    p.add_argument("--config", required=True, help="the device file, e.g. firmware_cfg/sites/<site>/devices/<id>.toml")
    p.add_argument("--broker", type=broker_address, help="override the broker as host:port")
    p.add_argument("--spool", help="override the spool database path")
    p.add_argument("--mock-gpio", action="store_true", help="gpiozero mock pins (try a config on a laptop)")


def broker_address(value: str) -> tuple[str, int]:
    """`host:port` (host defaults to 127.0.0.1), checked while parsing: a malformed value is a
    one-line usage error and exit code 2, as every argument error of the hub's commands."""
    host, _, port = value.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected host:port, got {value!r}")
    return host or "127.0.0.1", int(port)


def stop_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM: systemd and Ctrl-C both stop the process cleanly."""
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    return done


def _load(path: Path, args: argparse.Namespace):
    from edge.config import load_device_config

    cfg, digest = load_device_config(path)
    updates = {}
    if args.broker:
        host, port = args.broker
        updates["broker"] = cfg.broker.model_copy(update={"host": host, "port": port})
    if args.spool:
        updates["spool"] = cfg.spool.model_copy(update={"path": args.spool})
    return (cfg.model_copy(update=updates) if updates else cfg), digest


def run(args: argparse.Namespace) -> int:
    """Run one device's agent until SIGINT/SIGTERM, restarting it on a config reload; exit code."""
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
    done, reload = stop_signals(), threading.Event()
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


def main(argv: list[str] | None = None) -> int:
    """The `floorwatch-edge` console script and `python3 -m edge`."""
    p = argparse.ArgumentParser(prog="floorwatch-edge", description="run the edge agent of one device")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    add_arguments(p)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return run(args)
    except KeyboardInterrupt:
        return 130
