"""Edge subcommands: `floorwatch edge` runs one device's agent (the edge's own command,
edge.command, behind the hub's CLI), `floorwatch sim` a simulated floor."""

from __future__ import annotations

import argparse
from pathlib import Path

from edge.command import add_arguments, run, stop_signals
from hub.commands import args as types
from hub.commands.args import add_site, load_site_arg


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("edge", help="run the edge agent of one device (on a Pi, floorwatch-edge is leaner)")
    add_arguments(p)
    p.set_defaults(func=run)

    p = sub.add_parser("sim", help="a simulated floor: one real agent per device of a site, on simulated drivers")
    add_site(p)
    p.add_argument("--broker", type=types.host_port, default="127.0.0.1:1883", help="MQTT broker host:port")
    p.add_argument("--speed", type=types.positive, default=60.0, help="simulated seconds per real second")
    p.add_argument("--seed", type=int, help="random seed (the same seed plays the same day)")
    p.add_argument("--start", type=_local_time, help="local time today to start the simulated clock at (HH:MM)")
    p.add_argument("--spool-dir", default="var/sim-spool", help="where the simulated devices keep their spools")
    p.add_argument("--truth", type=types.out_file, help="append every generated event to this JSON-lines file")
    p.set_defaults(func=cmd_sim)


def _local_time(text: str):
    import datetime as dt

    try:
        return dt.time.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HH:MM, got {text!r}") from None


def cmd_sim(args: argparse.Namespace) -> int:
    import datetime as dt

    from edge.clock import ScaledClock
    from hub.simfloor import SimFloor, default_start_ms

    site = load_site_arg(args.site)
    host, port = args.broker
    start = default_start_ms(site)
    if args.start:
        today = dt.datetime.now(site.tz).date()
        start = int(dt.datetime.combine(today, args.start, tzinfo=site.tz).timestamp() * 1000)
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
