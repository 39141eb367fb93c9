"""The `floorwatch` command. Thin: each subcommand parses its arguments and makes one library
call. Each area registers its own subcommands in a module under hub/commands/ (or edge/)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# Modules with a `register(subparsers)` function, one per area.
COMMAND_MODULES = [
    "hub.commands.core",
    "hub.commands.engine",
    "hub.commands.edge",
    "hub.commands.export",
    "hub.commands.provision",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
