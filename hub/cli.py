"""The `floorwatch` command. Thin: each subcommand parses its arguments and makes one library
call. Each area registers its own subcommands in a module under hub/commands/ (or edge/)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from hub.commands.args import Parser
from hub.errors import NoDatabaseError, SiteConfigError

# Modules with a `register(subparsers)` function, one per area.
COMMAND_MODULES = [
    "hub.commands.serve",
    "hub.commands.engine",
    "hub.commands.edge",
    "hub.commands.export",
    "hub.commands.provision",
    "hub.commands.users",
    "hub.commands.data_protection",
]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="floorwatch",
        description="Call-center floor compliance: badges, roll call, seats, breaks, equipment.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


# What `floorwatch[hub]` adds to the edge's install, as the modules import them.
HUB_EXTRA_MODULES = {"flask", "sqlite_utils", "openpyxl", "lxml", "orjson", "cryptography", "amqtt", "psutil"}


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] not in HUB_EXTRA_MODULES:
            raise
        print(f"error: the hub needs {exc.name}: pip install 'floorwatch[hub]' (a Pi runs the agent alone: "
              "floorwatch-edge --config ...)", file=sys.stderr)
        return 2


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # an argument error (already printed, one line) or --help
        return int(exc.code or 0)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except NoDatabaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SiteConfigError as exc:  # a site folder that exists but has problems: each one, then exit 1
        for err in exc.errors:
            print(f"error: {err}", file=sys.stderr)
        print(f"{len(exc.errors)} error(s) in the site folder", file=sys.stderr)
        return 1
    except SystemExit as exc:
        # The edge's own command ends a malformed option with a message (edge.command.host_port):
        # behind `floorwatch` that is an argument error like any other.
        if not isinstance(exc.code, str):
            raise
        print(exc.code, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
