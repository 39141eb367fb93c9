"""What every `floorwatch` subcommand shares: the parser whose errors are one line and exit 2,
argument types that refuse a malformed value while parsing (so no command starts on one and
ends in a traceback), and the options most commands take (`--site`, `--db`)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

DEFAULT_DB = "var/floorwatch.db"


class Parser(argparse.ArgumentParser):
    """An argument error is one line on stderr and exit code 2 (argparse's own code), naming the
    command and the option; `--help` still shows the whole usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def fail(message: str) -> int:
    """A command that could not be done (not an argument error): one line, exit code 1."""
    print(f"error: {message}", file=sys.stderr)
    return 1


def actor() -> str:
    """Who runs a command, as the audit trail records it."""
    import getpass

    return f"cli:{getpass.getuser()}"


def fail_args(message: str) -> int:
    """An argument found wrong after parsing (e.g. against the site): one line, exit code 2."""
    print(f"error: {message}", file=sys.stderr)
    return 2


def host_port(value: str, *, any_port: bool = False) -> tuple[str, int]:
    """`host:port` or `:port` (host 127.0.0.1); `any_port`: port 0 (any free one) is allowed."""
    host, sep, port = value.rpartition(":")
    low = 0 if any_port else 1
    if not sep or not port.isdigit() or not low <= int(port) < 65536 or any(c.isspace() for c in host):
        raise argparse.ArgumentTypeError(f"expected host:port, got {value!r}")
    return host or "127.0.0.1", int(port)


def web_address(value: str) -> tuple[str, int] | None:
    """`host:port` (port 0: any free one), or `off` (None)."""
    return None if value == "off" else host_port(value, any_port=True)


def port(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise argparse.ArgumentTypeError(f"expected a TCP port (1-65535), got {value!r}")
    return int(value)


def free_port(value: str) -> int:
    """A TCP port, or 0 for any free one."""
    return 0 if value == "0" else port(value)


def positive(value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        x = float("nan")
    if not x > 0 or x == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value!r}")
    return x


def worker_count(value: str) -> int:
    """A number of processes: 1 to 64."""
    if not value.isdigit() or not 1 <= int(value) <= 64:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to 64, got {value!r}")
    return int(value)


def count(value: str) -> int:
    """How many rows to show: 1 to 100,000."""
    if not value.isdigit() or not 1 <= int(value) <= 100_000:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to 100000, got {value!r}")
    return int(value)


def hub_name(value: str) -> str:
    """A hub's name among the hubs sharing a site (MQTT client ids and the engine lease carry it)."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}", value):
        raise argparse.ArgumentTypeError(f"expected 1-32 letters, digits, '.', '_' or '-', got {value!r}")
    return value


def month(value: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise argparse.ArgumentTypeError(f"expected YYYY-MM, got {value!r}")
    return value


def iso_time(value: str) -> dt.datetime:
    """An ISO date-time; naive ones are read in the site's zone by the command."""
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an ISO time (2027-02-07T08:00), got {value!r}") from None


def _there(value: str, is_there: Callable[[Path], bool], what: str) -> Path:
    path = Path(value)
    if not is_there(path):
        raise argparse.ArgumentTypeError(f"no {what} {value!r}")
    return path


def folder(value: str) -> Path:
    """An existing folder."""
    return _there(value, Path.is_dir, "folder")


def existing_path(value: str) -> Path:
    """An existing file or folder."""
    return _there(value, Path.exists, "file or folder")


def existing_file(value: str) -> Path:
    return _there(value, Path.is_file, "file")


def out_file(value: str) -> str:
    """A file the command may create or replace, or '-' (standard output): its folder must exist
    and be writable, and it must not be a folder itself."""
    if value == "-":
        return value
    path = Path(value)
    parent = path.parent
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{value!r} is a folder, expected a file name")
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(f"no folder {str(parent)!r} to write {path.name!r} in")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"folder {str(parent)!r} is not writable")
    return value


def out_folder(value: str) -> str:
    """A folder the command fills: it may not exist yet, but then its parent must."""
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{value!r} is a file, expected a folder")
    if not path.exists():
        out_file(value)
    return value


def is_url(value: object) -> bool:
    """A PostgreSQL URL (hub.store.backend.is_url, without loading the store: the edge-only
    install runs this module to say what to install)."""
    return isinstance(value, str) and value.startswith(("postgresql://", "postgres://"))


def db_file(value: str) -> Path | str:
    """The hub database: a SQLite file, created if missing (with its folders), so only a folder
    or a file in the way of its folders is wrong; or a PostgreSQL URL (postgresql://...)."""
    if is_url(value):
        if "/" not in value.split("://", 1)[1]:
            raise argparse.ArgumentTypeError(f"{value!r} names no database (postgresql://host/dbname)")
        return value
    path = Path(value)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{value!r} is a folder, expected a database file")
    above = path.parent
    while not above.exists() and above != above.parent:
        above = above.parent
    if not above.is_dir():
        raise argparse.ArgumentTypeError(f"{str(above)!r} is a file, not a folder")
    return path


def add_site(p: argparse.ArgumentParser) -> None:
    p.add_argument("--site", type=folder, help="site folder (default: the example site)")


def add_db(p: argparse.ArgumentParser, help: str = "hub database: a SQLite file or a postgresql:// URL") -> None:
    p.add_argument("--db", type=db_file, default=DEFAULT_DB, help=help)


def site_dir(arg: Path | str | None) -> Path:
    from hub.site import example_site_dir

    return Path(arg) if arg else example_site_dir()


def load_site_arg(arg: Path | str | None):
    """The site of `--site` (or the example site). Its SiteConfigError is reported by hub.cli."""
    from hub.site import load_site

    return load_site(site_dir(arg))


def open_site_store(args: argparse.Namespace, *, existing_db: bool = False):
    """(site, store) of `--site` and `--db`; `existing_db`: reading commands refuse to create one."""

    site = load_site_arg(args.site)
    return site, open_store(args.db, existing=existing_db)


def open_store(db: Path | str, *, existing: bool = False):
    """The store of `--db`; `existing`: a reading command refuses to create a database."""
    from hub.errors import NoDatabaseError
    from hub.store import Store

    if existing and not is_url(db) and not Path(db).is_file():
        raise NoDatabaseError(db)
    return Store(db)

