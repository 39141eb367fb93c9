"""Edge subcommands: `floorwatch edge` runs one device's agent (the edge's own command,
edge.command, behind the hub's CLI), `floorwatch sim` a simulated floor."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edge.command import add_arguments, host_port, run, stop_signals


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("edge", help="run the edge agent of one device (on a Pi, floorwatch-edge is leaner)")
    add_arguments(p)
    p.set_defaults(func=run)

    p = sub.add_parser("sim", help="a simulated floor: one real agent per device of a site, on simulated drivers")
    p.add_argument("--site", help="site folder (default: the example site)")
    p.add_argument("--broker", default="127.0.0.1:1883", help="MQTT broker host:port")
    p.add_argument("--speed", type=float, default=60.0, help="simulated seconds per real second")
    p.add_argument("--seed", type=int, help="random seed (the same seed plays the same day)")
    p.add_argument("--start", help="local time today to start the simulated clock at (HH:MM)")
    p.add_argument("--spool-dir", default="var/sim-spool", help="where the simulated devices keep their spools")
    p.add_argument("--truth", help="append every generated event to this JSON-lines file")
    p.set_defaults(func=cmd_sim)


def cmd_sim(args: argparse.Namespace) -> int:
    import datetime as dt

    from edge.clock import ScaledClock
    from hub.exceptions import SiteConfigError
    from hub.simfloor import SimFloor, default_start_ms
    from hub.site import example_site_dir, load_site

    site_dir = Path(args.site) if args.site else example_site_dir()
    try:
        site = load_site(site_dir)
    except SiteConfigError as exc:
        for err in exc.errors:
            print(f"error: {err}", file=sys.stderr)
        return 2
    host, port = host_port(args.broker)
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
    done = stop_signals()
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
