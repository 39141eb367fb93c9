"""`floorwatch export …` and `floorwatch assess …`: files for HR and payroll from the hub database."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hub.exceptions import SiteConfigError
from hub.progress import Progress


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--site", help="site folder (default: the example site)")
    p.add_argument("--db", default="var/floorwatch.db", help="hub database (SQLite)")
    p.add_argument("--format", required=True, help="csv | xlsx | json (JSON lines)")
    p.add_argument("--lang", default="zh", help="column headers and words: zh | en (default zh)")
    p.add_argument("--out", required=True, help="output file ('-' for standard output)")
    p.add_argument("--team", help="only this team")
    p.add_argument("--agent", help="only this employee number")


def register(sub: argparse._SubParsersAction) -> None:
    from hub.exports import KINDS

    p = sub.add_parser("export", help="export attendance or raw records (CSV, XLSX, JSON lines)")
    p.add_argument("kind", choices=KINDS, help="what to export")
    p.add_argument("--from", dest="date_from", required=True, metavar="DATE", help="first day, YYYY-MM-DD (site time)")
    p.add_argument("--to", dest="date_to", required=True, metavar="DATE", help="last day, YYYY-MM-DD (inclusive)")
    _common(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("assess", help="monthly assessment: scores, grades, fines, compensation")
    p.add_argument("--month", required=True, help="YYYY-MM")
    _common(p)
    p.set_defaults(func=cmd_assess)


def _open(args: argparse.Namespace):
    """(site, store) or an error message."""
    from hub.site import example_site_dir, load_site
    from hub.store import Store

    site_dir = Path(args.site) if args.site else example_site_dir()
    try:
        site = load_site(site_dir)
    except SiteConfigError as exc:
        return None, "\n".join(f"error: {e}" for e in exc.errors)
    db = Path(args.db)
    if not db.is_file():
        return None, f"error: --db: no hub database at {db}"
    return (site, Store(db)), None


def _audit(store, target: str, details: dict) -> str | None:
    """Every export is on the audit trail (the web's are audited by kiosk_ui.guard), written
    before the file so an export that cannot be audited does not happen. Returns an error."""
    import getpass
    import time

    from hub.store.auth import AuthStore

    try:
        AuthStore(store).write_audit(time.time_ns() // 1_000_000, f"cli:{getpass.getuser()}", "export", target, details)
    except Exception as exc:  # noqa: BLE001 - any failure to audit stops the export
        return f"error: cannot write the audit trail ({exc}); nothing exported"
    return None


def _write(rendered, out: str, progress=None) -> int:
    from hub.exports import write_file

    try:
        if out == "-":
            return write_file(rendered, sys.stdout.buffer)
        return write_file(rendered, Path(out))
    finally:
        if progress is not None:
            progress.close()


def cmd_export(args: argparse.Namespace) -> int:
    from hub.exports import ExportParamError, export_filename, parse_query, render_export
    from hub.exports.query import parse_format, parse_lang

    try:
        query = parse_query(
            {"from": args.date_from, "to": args.date_to, "team": args.team, "agent": args.agent},
            names={"from": "--from", "to": "--to", "team": "--team", "agent": "--agent"},
        )
        fmt = parse_format(args.format, param="--format")
        lang = parse_lang(args.lang, param="--lang")
    except ExportParamError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    opened, err = _open(args)
    if opened is None:
        print(err, file=sys.stderr)
        return 1
    site, store = opened
    try:
        err = _audit(store, args.kind, {"from": str(query.date_from), "to": str(query.date_to), "team": query.team,
                                        "agent": query.agent, "format": fmt, "out": args.out, "via": "cli"})
        if err:
            print(err, file=sys.stderr)
            return 1
        bar = Progress(f"export {args.kind}")
        n = _write(render_export(args.kind, site, store, query, fmt, lang, progress=bar.update), args.out, bar)
    finally:
        store.close()
    if args.out != "-":
        print(f"wrote {args.out} ({n} bytes; suggested name {export_filename(args.kind, site, query, fmt)})", file=sys.stderr)
    return 0


def cmd_assess(args: argparse.Namespace) -> int:
    from hub.exports import ExportParamError, render_assessment
    from hub.exports.query import parse_agent, parse_format, parse_lang, parse_team
    from hub.months import parse_month

    try:
        parse_month(args.month, param="--month")
        fmt = parse_format(args.format, param="--format")
        lang = parse_lang(args.lang, param="--lang")
        team = parse_team(args.team, param="--team")
        agent = parse_agent(args.agent, param="--agent")
    except ExportParamError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    opened, err = _open(args)
    if opened is None:
        print(err, file=sys.stderr)
        return 1
    site, store = opened
    try:
        err = _audit(store, "assessment", {"month": args.month, "team": team, "agent": agent, "format": fmt,
                                           "out": args.out, "via": "cli"})
        if err:
            print(err, file=sys.stderr)
            return 1
        bar = Progress("assessment", unit="rows")
        n = _write(render_assessment(site, store, args.month, fmt, lang, team=team, agent=agent, progress=bar.update),
                   args.out, bar)
    finally:
        store.close()
    if args.out != "-":
        print(f"wrote {args.out} ({n} bytes)", file=sys.stderr)
    return 0
