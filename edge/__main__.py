"""`python3 -m edge --config devices/<id>.toml`: the agent alone, without loading the hub's
command modules (exports, provisioning...), which keeps a Pi Zero's memory for the agent.
Same options and behaviour as `floorwatch edge`."""

from __future__ import annotations

import argparse
import logging
import sys

from hub.commands.edge import cmd_edge


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m edge", description="run the edge agent of one device")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    p.add_argument("--config", required=True, help="the device file")
    p.add_argument("--broker", help="override the broker as host:port")
    p.add_argument("--spool", help="override the spool database path")
    p.add_argument("--mock-gpio", action="store_true", help="gpiozero mock pins (try a config on a laptop)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return cmd_edge(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
