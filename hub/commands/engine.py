"""Rule engine subcommands: `hub rebuild`, `roster import`, `badge revoke|replace`, `lead ...`.

`floorwatch hub` (hub/commands/serve.py) runs the hub; this module gives it an optional action,
`floorwatch hub rebuild --db --site`, by extending the parser core registered (so core keeps
owning `hub` itself).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from hub.commands import args as types
from hub.commands.args import add_db, add_site, open_site_store, site_dir


def register(sub: argparse._SubParsersAction) -> None:
    hub = sub.choices.get("hub")
    if hub is not None:
        run = hub.get_default("func")
        hub.add_argument("action", nargs="?", choices=["run", "rebuild"], default="run",
                         help="run the hub (default) or rebuild the derived tables from the event log")
        hub.add_argument("--until", type=types.iso_time, help="rebuild: ISO time where the rebuild stops (default: now)")
        hub.set_defaults(func=lambda args: cmd_rebuild(args) if args.action == "rebuild" else run(args))

    p = sub.add_parser("roster", help="import a roster (排班表) CSV: date,employee_no,shift,seat,meal_start")
    rs = p.add_subparsers(dest="roster_action", metavar="ACTION", required=True)
    q = rs.add_parser("import", help="check and import a roster file (all or nothing)")
    q.add_argument("file", type=types.existing_file, help="roster CSV (UTF-8, header date,employee_no,shift,seat,meal_start)")
    _common(q)
    q.add_argument("--replace", action="store_true", help="replace the whole roster of the dates in the file")
    q.add_argument("--check", action="store_true", help="only check the file")
    q.set_defaults(func=cmd_roster_import)

    q = rs.add_parser("plan", help="propose a month from the rotations (coverage, rest days, fairness); --publish it")
    q.add_argument("--month", type=types.month, required=True, help="YYYY-MM")
    q.add_argument("--publish", action="store_true", help="publish the proposal (audited; a published day changes"
                                                             " only through overrides)")
    _common(q)
    q.set_defaults(func=cmd_roster_plan)

    q = rs.add_parser("import-grid", help="import a month grid (.xlsx or .csv: agents down, dates across; all or nothing)")
    q.add_argument("file", type=types.existing_file)
    _common(q)
    q.set_defaults(func=cmd_roster_import_grid)
    q = rs.add_parser("export", help="export the published month as a grid (.xlsx or .csv by --out's suffix)")
    q.add_argument("--month", type=types.month, required=True, help="YYYY-MM")
    q.add_argument("--out", type=types.out_file, required=True)
    _common(q)
    q.set_defaults(func=cmd_roster_export)

    p = sub.add_parser("holidays", help="the site calendar (holidays.csv): import the State Council's notice")
    hs = p.add_subparsers(dest="holidays_action", metavar="ACTION", required=True)
    q = hs.add_parser("import", help="replace every row of the years in FILE (date,kind,name[,status]) with"
                                     " FILE's rows; all or nothing")
    q.add_argument("file", type=types.existing_file, help="the notice's dates as CSV (UTF-8): date,kind,name[,status]")
    add_site(q)
    q.add_argument("--check", action="store_true", help="only check the file and show what would change")
    q.set_defaults(func=cmd_holidays_import)

    p = sub.add_parser("badge", help="revoke a lost badge or give an agent a new one")
    bs = p.add_subparsers(dest="badge_action", metavar="ACTION", required=True)
    q = bs.add_parser("revoke", help="revoke a badge UID")
    q.add_argument("uid")
    q.add_argument("--reason", required=True)
    q.add_argument("--at", type=types.iso_time, help="when it took effect: YYYY-MM-DDTHH:MM[:SS], site time unless it has an offset"
                                " (default: now)")
    _common(q)
    q.set_defaults(func=cmd_badge_revoke)
    q = bs.add_parser("replace", help="give an agent a new badge (the old one is revoked)")
    q.add_argument("employee_no")
    q.add_argument("new_uid")
    q.add_argument("--old", help="the badge being replaced (default: all the agent's current badges)")
    q.add_argument("--at", type=types.iso_time, help="when the agent got it: YYYY-MM-DDTHH:MM[:SS], site time unless it has an offset"
                                " (default: now)")
    _common(q)
    q.set_defaults(func=cmd_badge_replace)


def _common(p: argparse.ArgumentParser) -> None:
    add_site(p)
    add_db(p)
    p.add_argument("--by", default="cli", help="who does this (recorded in the audit trail)")


def _site_time(site, ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, site.tz).isoformat(timespec="seconds")


def _now_ms() -> int:
    from edge.clock import SystemClock

    return SystemClock().now_ms()


def cmd_rebuild(args: argparse.Namespace) -> int:
    from hub.rebuild import rebuild

    site, store = open_site_store(args)
    until = None
    if args.until:
        t = args.until if args.until.tzinfo else args.until.replace(tzinfo=site.tz)
        until = int(t.timestamp() * 1000)
    from hub.progress import Progress

    bar = Progress("rebuild", unit="inputs")

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done)

    try:
        report = rebuild(site, store, now_ms=until, progress=progress if bar.enabled else None)
    finally:
        bar.close()
        store.close()
    print(report.summary())
    return 0


def _act(args: argparse.Namespace, action, refused: type[Exception]) -> int:
    """The body every roster and badge command shares: open `--site` and `--db`, run
    `action(site, store)` for the line to print; a `refused` exception is the command's answer,
    each of its errors on a line (`exc.errors` where it lists several) and exit code 1."""
    site, store = open_site_store(args)
    try:
        line = action(site, store)
    except refused as exc:
        errors = getattr(exc, "errors", None) or [exc]
        for err in errors:
            print(f"error: {err}", file=sys.stderr)
        if hasattr(exc, "errors"):
            print(f"{len(errors)} error(s); nothing imported", file=sys.stderr)
        return 1
    finally:
        store.close()
    print(line)
    return 0


def cmd_holidays_import(args: argparse.Namespace) -> int:
    from hub.errors import HolidaysError
    from hub.roster.calendar import merge_holidays

    target = site_dir(args.site) / "holidays.csv"
    try:
        notice = args.file.read_text(encoding="utf-8-sig")
        current = target.read_text(encoding="utf-8-sig") if target.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        text, years = merge_holidays(current, notice, str(target))
    except HolidaysError as exc:
        for err in exc.errors:
            print(f"error: {err}", file=sys.stderr)
        print(f"{len(exc.errors)} error(s): nothing imported", file=sys.stderr)
        return 1
    rows = sum(1 for ln in text.splitlines() if ln[:4].isdigit() and int(ln[:4]) in years)
    if args.check:
        print(f"ok: {args.file} would replace {', '.join(map(str, years))} in {target} ({rows} rows)")
        return 0
    tmp = target.with_suffix(".csv.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    print(f"imported {args.file}: {', '.join(map(str, years))} replaced in {target} ({rows} rows);"
          " restart the hub to use them")
    return 0


def cmd_roster_plan(args: argparse.Namespace) -> int:
    from hub.errors import PublishedError
    from hub.roster.month import report, roster_plan

    return _act(args, lambda site, store: report(roster_plan(site, store, args.month, publish_it=args.publish,
                                                             actor=args.by, now_ms=_now_ms())), PublishedError)


def cmd_roster_import_grid(args: argparse.Namespace) -> int:
    from hub.errors import RosterError
    from hub.roster.grid import import_grid

    def action(site, store) -> str:
        return f"imported {args.file} (audit {import_grid(site, store, args.file, actor=args.by, now_ms=_now_ms())})"

    return _act(args, action, RosterError)


def cmd_roster_export(args: argparse.Namespace) -> int:
    from hub.roster.grid import export_month

    return _act(args, lambda site, store: f"wrote {export_month(site, store, args.month, args.out)}", ValueError)


def cmd_roster_import(args: argparse.Namespace) -> int:
    from hub.errors import RosterError
    from hub.roster.changes import check_roster, import_roster

    def action(site, store) -> str:
        if args.check:
            rows, errors = check_roster(site, args.file)
            if errors:
                raise RosterError(errors)
            return f"ok: {len(rows)} roster rows"
        done = import_roster(site, store, args.file, replace=args.replace, actor=args.by, now_ms=_now_ms())
        return f"imported {done.rows} roster rows for {', '.join(done.dates)} (audit {done.audit_id})"

    return _act(args, action, RosterError)


def _badge_change(args: argparse.Namespace, change) -> int:
    """A badge command: `change(site, store, now_ms, at_ms)` from `--at` (site time; default now)
    gives the line to print."""
    from hub.roster.changes import BadgeError, badge_time

    def action(site, store) -> str:
        now = _now_ms()
        return change(site, store, now, badge_time(site, args.at and args.at.isoformat(), now))

    return _act(args, action, BadgeError)


def cmd_badge_revoke(args: argparse.Namespace) -> int:
    from hub.roster.changes import revoke_badge

    def revoke(site, store, now: int, at: int) -> str:
        audit = revoke_badge(site, store, args.uid, actor=args.by, reason=args.reason, now_ms=now, at_ms=at)
        return f"revoked {args.uid.upper()} from {_site_time(site, at)} (audit {audit})"

    return _badge_change(args, revoke)


def cmd_badge_replace(args: argparse.Namespace) -> int:
    from hub.roster.changes import replace_badge

    def replace(site, store, now: int, at: int) -> str:
        audit = replace_badge(site, store, args.employee_no, args.new_uid, old_uid=args.old, actor=args.by,
                              now_ms=now, at_ms=at)
        return f"{args.employee_no} carries {args.new_uid.upper()} from {_site_time(site, at)} (audit {audit})"

    return _badge_change(args, replace)
