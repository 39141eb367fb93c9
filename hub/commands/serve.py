"""Core subcommands: check-config, hub, quarantine, demo."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hub.commands import args as types
from hub.commands.args import add_db, add_site, open_store, site_dir
from hub.errors import SiteConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check-config", help="validate a site folder (or one device file)")
    p.add_argument("path", nargs="?", type=types.existing_path, help="site folder or device .toml (default: the example site)")
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("hub", help="run the hub: ingest, rule engine and web UI")
    add_site(p)
    add_db(p)
    p.add_argument("--broker", type=types.host_port, default="127.0.0.1:1883", help="MQTT broker host:port")
    p.add_argument("--protocol", choices=["3.1.1", "5"], default="3.1.1")
    p.add_argument("--mqtt-conf", type=types.existing_file, help="broker address and hub login written by `floorwatch provision` "
                   "(OUT/hub/mqtt.toml); overrides --broker")
    p.add_argument("--web", type=types.web_address, default="127.0.0.1:8080", help="web UI host:port ('off' to disable)")
    p.add_argument("--checkpoint-every", type=types.positive, default=120.0, metavar="SECONDS",
                   help="wall time between engine checkpoints while inputs flow (default 120); a restart "
                   "replays the log after the last one, so shorter means a faster restart, longer less writing")
    p.add_argument("--ingest-workers", type=types.worker_count, default=1, metavar="N",
                   help="ingest processes sharing the site's events through an MQTT shared subscription "
                   "(default 1: ingest in the hub's process); each keeps its own broker session, and a hub "
                   "started with fewer drains and ends the sessions a run with more left behind")
    p.add_argument("--hub-id", type=types.hub_name, metavar="NAME",
                   help="this hub's name when several hubs share the site's database (PostgreSQL): each reads "
                   "every event through a broker session of its own, one runs the engine, another takes over "
                   "when it dies (docs/scale-out.md); default: the site's only hub")
    p.add_argument("--clock", type=_sim_clock, metavar="WHEN[@WALL]",
                   help="simulated time, for demos, benches and soaks (default: the wall clock): the hub's clock "
                   "reads WHEN (an ISO date-time with an offset, e.g. 2027-02-07T08:00+08:00) when it starts, or at "
                   "Unix time WALL if given (so a restarted hub, and other processes, agree on the time)")
    p.add_argument("--speed", type=types.positive, default=1.0, help="with --clock: simulated seconds per real second (default 1)")
    p.set_defaults(func=cmd_hub)

    p = sub.add_parser("quarantine", help="what the hub refused (failed validation), newest first, with the reason")
    add_db(p)
    p.add_argument("--limit", type=types.count, default=50, help="at most this many messages (default 50)")
    p.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    p.set_defaults(func=cmd_quarantine)

    p = sub.add_parser("demo", help="broker + hub + web UI + a simulated floor, on embedded defaults")
    p.add_argument("--dir", type=types.out_folder, help="where to keep the demo's files (default: a new temporary folder)")
    p.add_argument("--web-port", type=types.free_port, default=8080, help="web UI port (0: any free port)")
    p.add_argument("--speed", type=types.positive, default=60.0, help="simulated minutes per real minute")
    p.add_argument("--broker", choices=["auto", "mosquitto", "amqtt"], default="auto")
    p.add_argument("--start", type=_demo_start, metavar="WHEN",
                   help="play another day: a date (2027-02-07) opens the floor 40 minutes before that day's "
                   "first shift; a date-time (2027-02-07T08:00) starts the clock there, in the site's time "
                   "zone (Asia/Shanghai) unless it has an offset. Default: the site's today, 40 minutes "
                   "before its first shift")
    p.set_defaults(func=cmd_demo)


def _demo_start(text: str):
    from hub.demo import parse_start

    try:
        return parse_start(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _sim_clock(text: str) -> tuple[int, float | None]:
    """`--clock WHEN[@WALL]` as (simulated UTC ms, wall Unix seconds or None)."""
    import datetime as dt

    when, _, wall = text.partition("@")
    try:
        at = dt.datetime.fromisoformat(when.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date-time (e.g. 2027-02-07T08:00+08:00): {when!r}") from None
    if at.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{when!r} has no offset: say which zone (+08:00, Z)")
    try:
        wall_s = float(wall) if wall else None
    except ValueError:
        raise argparse.ArgumentTypeError(f"WALL is Unix seconds, not {wall!r}") from None
    return int(at.timestamp() * 1000), wall_s


def cmd_check_config(args: argparse.Namespace) -> int:
    from edge.config import load_device_config
    from edge.exceptions import ConfigError
    from hub.site import load_site

    path = site_dir(args.path)
    try:
        if path.is_file():
            cfg, digest = load_device_config(path)
            print(f"ok: device {cfg.id} ({cfg.role} {cfg.place}), config {digest}")
            return 0
        site = load_site(path)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except SiteConfigError as exc:
        for err in exc.errors:
            print(f"error: {err}", file=sys.stderr)
        print(f"{len(exc.errors)} error(s)", file=sys.stderr)
        return 1
    print(
        f"ok: site {site.id} ({site.info.name}): {len(site.info.zones)} zones, {len(site.info.seats)} seats, "
        f"{len(site.info.doors)} doors, {len(site.info.kiosks)} kiosks, {len(site.devices)} devices, "
        f"{len(site.agents)} agents, {len(site.equipment)} equipment tags, {len(site.roster)} roster rows"
    )
    from hub.roster.roster_files import roster_warnings

    for warning in roster_warnings(site):
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def cmd_quarantine(args: argparse.Namespace) -> int:
    import datetime as dt
    import json

    store = open_store(args.db, existing=True)
    try:
        rows = store.quarantined(limit=args.limit)
    finally:
        store.close()
    for q in rows:
        if args.json:
            print(json.dumps(q, ensure_ascii=False))
            continue
        when = dt.datetime.fromtimestamp(q["received"] / 1000, dt.UTC).isoformat(timespec="seconds") \
            if q["received"] else "?"
        copies = f" ({q['copies']} copies)" if q["copies"] and q["copies"] > 1 else ""
        print(f"{when}  {q['topic']}{copies}\n  reason:  {q['reason']}\n  payload: {(q['payload'] or '')[:200]}")
    if not args.json:
        print(f"{len(rows)} message(s) shown", file=sys.stderr)
    return 0


def cmd_hub(args: argparse.Namespace) -> int:
    from edge.exceptions import ConfigError
    from hub.runner import run_hub

    if args.speed != 1.0 and args.clock is None:
        print("error: --speed needs --clock (the wall clock runs at its own speed)", file=sys.stderr)
        return 2
    if args.ingest_workers > 1 and args.clock is not None:
        print("error: --ingest-workers needs the wall clock (worker processes cannot share --clock)", file=sys.stderr)
        return 2

    host, port = args.broker
    username = password = None
    if args.mqtt_conf:
        from hub.provisioning import load_hub_credentials

        try:
            creds = load_hub_credentials(args.mqtt_conf)
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        host, port, username, password = creds.host, creds.port, creds.username, creds.password
    try:
        return run_hub(site_dir(args.site), args.db, host, port, protocol=args.protocol, web=args.web,
                       username=username, password=password, checkpoint_every_s=args.checkpoint_every,
                       clock=_hub_clock(args), ingest_workers=args.ingest_workers, hub_id=args.hub_id)
    except SiteConfigError as exc:
        for err in exc.errors:
            print(f"error: {err}", file=sys.stderr)
        return 1


def _hub_clock(args: argparse.Namespace):
    """The wall clock (None), or with --clock a ScaledClock (edge.clock: the demo's and the agents' kind)."""
    if args.clock is None:
        return None
    from edge.clock import ScaledClock

    start_ms, wall_s = args.clock
    return ScaledClock(start_ms, args.speed, wall_s=wall_s)


def cmd_demo(args: argparse.Namespace) -> int:
    from hub.demo import run_demo

    return run_demo(
        Path(args.dir) if args.dir else None, web_port=args.web_port, speed=args.speed, broker=args.broker,
        start=args.start,
    )
