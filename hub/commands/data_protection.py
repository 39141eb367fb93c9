"""Data protection: `floorwatch purge` (what rules.toml [retention] says is past its time) and
`floorwatch privacy export-agent` (everything held about one agent: the access right). Audited
as `cli:<user>`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hub.commands import args as types
from hub.commands.args import actor, add_db, add_site, fail, load_site_arg


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("purge", help="delete data past its retention period (rules.toml [retention])")
    add_site(p)
    add_db(p)
    p.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
    p.set_defaults(func=cmd_purge)

    p = sub.add_parser("privacy", help="privacy requests")
    psub = p.add_subparsers(dest="privacy_command", required=True, metavar="ACTION")
    e = psub.add_parser("export-agent", help="everything held about one agent, as JSON (access right)")
    e.add_argument("employee_no")
    add_site(e)
    add_db(e)
    e.add_argument("--out", type=types.out_file, help="file to write (default: standard output)")
    e.set_defaults(func=cmd_export_agent)


def cmd_purge(args: argparse.Namespace) -> int:
    from hub.privacy import cutoffs, purge
    from hub.store import Store

    site = load_site_arg(args.site)
    store = Store(args.db)
    from edge.clock import SystemClock

    now = SystemClock().now_ms()
    cut = cutoffs(site.rules.retention, now, site.tz)
    counts = purge(site, store, now, dry_run=args.dry_run, actor=actor())
    verb = "would delete" if args.dry_run else "deleted"
    print(f"retention (days): {site.rules.retention.model_dump()}")
    print(f"attendance kept from {cut.attendance_date}")
    for table, n in counts.items():
        print(f"  {table:<22} {verb} {n}" if n >= 0 else f"  {table:<22} (no such table)")
    return 0


def cmd_export_agent(args: argparse.Namespace) -> int:
    from edge.clock import SystemClock
    from hub.privacy import agent_data
    from hub.store import Store
    from hub.store.access import AuthStore

    site = load_site_arg(args.site)
    store = Store(args.db)
    now = SystemClock().now_ms()
    data = agent_data(site, store, args.employee_no, now)
    if data is None:
        return fail(f"employee_no: no agent {args.employee_no!r} in {site.root / 'agents.csv'}")
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    AuthStore(store).write_audit(now, actor(), "export", args.employee_no,
                                 {"kind": "agent_data", "out": args.out or "-"})
    return 0
