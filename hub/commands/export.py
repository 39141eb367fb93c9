"""`floorwatch export …` and `floorwatch assess …`: files for HR and payroll from the hub database."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hub.commands import args as types
from hub.commands.args import actor, add_db, add_site, fail_args, open_site_store
from hub.progress import Progress


def _common(p: argparse.ArgumentParser) -> None:
    add_site(p)
    add_db(p)
    p.add_argument("--format", required=True, help="csv | xlsx | json (JSON lines)")
    p.add_argument("--lang", default="zh", help="column headers and words: zh | en (default zh)")
    p.add_argument("--out", type=types.out_file, required=True, help="output file ('-' for standard output)")
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
    p.add_argument("--month", type=types.month, required=True, help="YYYY-MM")
    _common(p)
    p.set_defaults(func=cmd_assess)


def _write(rendered, out: str, audit, progress: Progress) -> int | None:
    """Write the export and audit it (see _audited); the byte count, or None when auditing failed."""
    from hub.errors import AuditError
    from hub.exports import write_file

    try:
        if out == "-":
            n = write_file(rendered, sys.stdout.buffer)
            audit()
            return n
        return write_file(rendered, Path(out), before_replace=audit)
    except AuditError as exc:
        print(f"error: cannot write the audit trail ({exc}); nothing exported", file=sys.stderr)
        return None
    finally:
        progress.close()


def _audited(store, target: str, details: dict):
    """The export's audit, run by _write once the export is complete and before the file is in
    place (the web's are audited by kiosk_ui): the trail records only exports that happened, and
    an export that cannot be audited leaves no file."""
    import time

    from hub.errors import AuditError
    from hub.store.access import AuthStore

    def audit() -> None:
        try:
            AuthStore(store).write_audit(time.time_ns() // 1_000_000, actor(), "export", target, details)
        except Exception as exc:  # noqa: BLE001 - any failure to audit stops the export
            raise AuditError(str(exc)) from exc
    return audit


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
        return fail_args(str(exc))
    details = {"from": str(query.date_from), "to": str(query.date_to), "team": query.team, "agent": query.agent,
               "format": fmt}
    return _export(args, args.kind, details, Progress(f"export {args.kind}"),
                   lambda site, store, progress: render_export(args.kind, site, store, query, fmt, lang, progress),
                   lambda site: f"; suggested name {export_filename(args.kind, site, query, fmt)}")


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
        return fail_args(str(exc))
    return _export(args, "assessment", {"month": args.month, "team": team, "agent": agent, "format": fmt},
                   Progress("assessment", unit="rows"),
                   lambda site, store, progress: render_assessment(site, store, args.month, fmt, lang, team=team,
                                                                   agent=agent, progress=progress))


def _export(args: argparse.Namespace, target: str, details: dict, bar: Progress, render, note=None) -> int:
    """Render (`render(site, store, progress)`), write to --out and audit (see _audited); exit code."""
    site, store = open_site_store(args, existing_db=True)
    try:
        audit = _audited(store, target, {**details, "out": args.out, "via": "cli"})
        n = _write(render(site, store, bar.update), args.out, audit, bar)
    finally:
        store.close()
    if n is None:
        return 1
    if args.out != "-":
        print(f"wrote {args.out} ({n} bytes{note(site) if note else ''})", file=sys.stderr)
    return 0
