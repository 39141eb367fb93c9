"""Core subcommands: check-config, hub, demo."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hub.exceptions import SiteConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check-config", help="validate a site folder (or one device file)")
    p.add_argument("path", nargs="?", help="site folder or device .toml (default: the example site)")
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("hub", help="run the hub: ingest, rule engine and web UI")
    p.add_argument("--site", help="site folder (default: the example site)")
    p.add_argument("--db", default="var/floorwatch.db", help="hub database (SQLite)")
    p.add_argument("--broker", default="127.0.0.1:1883", help="MQTT broker host:port")
    p.add_argument("--protocol", choices=["3.1.1", "5"], default="3.1.1")
    p.add_argument("--mqtt-conf", help="broker address and hub login written by `floorwatch provision` "
                   "(OUT/hub/mqtt.toml); overrides --broker")
    p.add_argument("--web", default="127.0.0.1:8080", help="web UI host:port ('off' to disable)")
    p.add_argument("--checkpoint-every", type=float, default=120.0, metavar="SECONDS",
                   help="wall time between engine checkpoints while inputs flow (default 120); a restart "
                   "replays the log after the last one, so shorter means a faster restart, longer less writing")
    p.set_defaults(func=cmd_hub)

    p = sub.add_parser("demo", help="broker + hub + web UI + a simulated floor, on embedded defaults")
    p.add_argument("--dir", help="where to keep the demo's files (default: a new temporary folder)")
    p.add_argument("--web-port", type=int, default=8080, help="web UI port (0: any free port)")
    p.add_argument("--speed", type=float, default=60.0, help="simulated minutes per real minute")
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


def _site_dir(arg: str | None) -> Path:
    from hub.site import example_site_dir

    return Path(arg) if arg else example_site_dir()


def cmd_check_config(args: argparse.Namespace) -> int:
    from edge.config import load_device_config
    from edge.exceptions import ConfigError
    from hub.site import load_site

    path = _site_dir(args.path)
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
    from hub.roster.config import roster_warnings

    for warning in roster_warnings(site):
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _host_port(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host or "127.0.0.1", int(port)


def cmd_hub(args: argparse.Namespace) -> int:
    from edge.exceptions import ConfigError
    from hub.runner import run_hub

    host, port = _host_port(args.broker)
    username = password = None
    if args.mqtt_conf:
        from hub.provision import load_hub_credentials

        try:
            creds = load_hub_credentials(args.mqtt_conf)
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        host, port, username, password = creds.host, creds.port, creds.username, creds.password
    web = None if args.web == "off" else _host_port(args.web)
    try:
        return run_hub(_site_dir(args.site), Path(args.db), host, port, protocol=args.protocol, web=web,
                       username=username, password=password, checkpoint_every_s=args.checkpoint_every)
    except SiteConfigError as exc:
        for err in exc.errors:
            print(f"error: {err}", file=sys.stderr)
        return 1


def cmd_demo(args: argparse.Namespace) -> int:
    from hub.demo import run_demo

    return run_demo(
        Path(args.dir) if args.dir else None, web_port=args.web_port, speed=args.speed, broker=args.broker,
        start=args.start,
    )
