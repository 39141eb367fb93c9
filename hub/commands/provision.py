"""Security and privacy subcommands: provision, user, token, purge, privacy.

  floorwatch provision --site DIR --out DIR      CA, broker config, device bundles, kiosk tokens
  floorwatch user add|list|passwd|disable|enable accounts of the web UI
  floorwatch token issue|list|revoke             API tokens (shown once)
  floorwatch purge --site DIR [--dry-run]        delete what the retention policy says is old
  floorwatch privacy export-agent EMPLOYEE_NO    an agent's own data (access right), as JSON

Every command that changes accounts or hands out data writes the audit trail as `cli:<user>`.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from hub.commands import args as types
from hub.commands.args import add_db, add_site, load_site_arg
from hub.store.auth import ROLES


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("provision", help="generate the site CA, broker configuration and one bundle per device")
    add_site(p)
    p.add_argument("--out", type=types.out_folder, required=True, help="output folder (holds secrets: keep it off version control)")
    p.add_argument("--broker-host", help="name or address devices reach the broker by")
    p.add_argument("--name", action="append", default=[], help="another name for the broker certificate")
    p.add_argument("--tls-port", type=types.port, default=8883)
    p.add_argument("--tls-bind", help="address the TLS listener binds (default: all)")
    p.add_argument("--plain-port", type=types.port, default=1883, help="loopback listener for the hub")
    p.add_argument("--broker-dir", type=types.out_folder, help="where the broker/ files will live on the hub (default: in --out)")
    p.add_argument("--data-dir", type=types.out_folder, help="mosquitto persistence folder (default: <broker-dir>/data)")
    p.add_argument("--broker-user", help="user mosquitto runs as (default: the current user)")
    p.add_argument("--hub-url", help="web UI as kiosks reach it (default: http://<broker-host>:8080)")
    p.add_argument("--agent-bin", default="/opt/floorwatch/venv/bin/floorwatch-edge",
                   help="the agent's command on the Pis (pip install floorwatch, no extras)")
    p.add_argument("--renew", action="store_true", help="reissue every device certificate")
    add_db(p, help="hub database to register kiosk display tokens in")
    p.add_argument("--no-kiosk-tokens", action="store_true", help="do not create kiosk display tokens")
    p.set_defaults(func=cmd_provision)

    p = sub.add_parser("user", help="web UI accounts")
    usub = p.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    a = usub.add_parser("add", help="create an account (asks for the password, or generates one)")
    a.add_argument("username")
    a.add_argument("--role", required=True, choices=ROLES)
    a.add_argument("--teams", default="", help="lead: comma-separated teams")
    a.add_argument("--device", help="kiosk: the kiosk device id")
    a.add_argument("--employee-no")
    a.add_argument("--generate-password", action="store_true", help="generate and print a password")
    add_db(a)
    a.set_defaults(func=cmd_user_add)
    for name, helptext in (("passwd", "set a new password"), ("disable", "block sign-in and end sessions"),
                           ("enable", "allow sign-in again")):
        x = usub.add_parser(name, help=helptext)
        x.add_argument("username")
        add_db(x)
        if name == "passwd":
            x.add_argument("--generate-password", action="store_true")
        x.set_defaults(func=cmd_user_change, action=name)
    x = usub.add_parser("list", help="list accounts")
    add_db(x)
    x.set_defaults(func=cmd_user_list)

    p = sub.add_parser("token", help="API tokens (Authorization: Bearer ...)")
    tsub = p.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    t = tsub.add_parser("issue", help="a new token for a user, printed once")
    t.add_argument("username")
    t.add_argument("--name", required=True, help="what it is for, e.g. 'payroll export'")
    t.add_argument("--scope", choices=["export"], help="limit the token to export endpoints")
    t.add_argument("--days", type=types.positive, help="expires after this many days")
    add_db(t)
    t.set_defaults(func=cmd_token_issue)
    t = tsub.add_parser("list", help="tokens (never their values)")
    add_db(t)
    t.set_defaults(func=cmd_token_list)
    t = tsub.add_parser("revoke", help="revoke a token by id")
    t.add_argument("id", type=int)
    add_db(t)
    t.set_defaults(func=cmd_token_revoke)

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


def _fail(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 1


def _accounts(db: str):
    from hub.accounts import Accounts
    from hub.store import Store

    return Accounts(Store(db))


def cmd_provision(args: argparse.Namespace) -> int:
    from hub.exceptions import HubError
    from hub.provision import ProvisionOptions, provision

    site = load_site_arg(args.site)
    opts = ProvisionOptions(
        broker_host=args.broker_host, tls_port=args.tls_port, tls_bind=args.tls_bind, plain_port=args.plain_port,
        broker_dir=args.broker_dir, data_dir=args.data_dir, run_user=args.broker_user, hub_url=args.hub_url,
        agent_bin=args.agent_bin, extra_names=args.name, renew=args.renew,
    )
    kiosks = None if args.no_kiosk_tokens else _accounts(args.db)
    try:
        result = provision(site, args.out, opts, kiosk_tokens=kiosks)
    except (HubError, ValueError) as exc:
        return _fail(str(exc))
    if kiosks is not None:
        kiosks.db.write_audit(kiosks.clock.now_ms(), _actor(), "provision", site.id,
                              {"out": str(Path(args.out).resolve()), "issued": result.issued,
                               "kiosk_tokens": sorted(result.kiosk_tokens)})
    out = Path(args.out)
    print(f"site {site.id}: {len(result.devices)} device bundles in {out / 'devices'}", flush=True)
    print(f"  certificates issued this run: {len(result.issued)} (kept: {len(result.devices) - len(result.issued)})")
    print(f"  CA: {out / 'ca' / 'ca.crt'} ({'new' if result.ca_created else 'kept'}); keep ca.key offline if you can")
    print(f"  broker: mosquitto -c {result.broker_conf} (restart it to apply; its CRL lists "
          f"{len(result.revoked)} revoked certificate(s))")
    print(f"  hub login: {result.hub_conf}")
    if result.kiosk_tokens:
        print(f"  kiosk display tokens registered in {args.db}: {', '.join(sorted(result.kiosk_tokens))}")
    print("  install a Pi: docs/install-pi.md")
    return 0


def _read_new_password(generate: bool) -> str:
    from hub.accounts import new_password

    if generate or not sys.stdin.isatty():
        if not generate:
            line = sys.stdin.readline().rstrip("\n")
            if line:
                return line
        return new_password()
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise ValueError("password: the two entries differ")
    return first


def cmd_user_add(args: argparse.Namespace) -> int:
    from hub.accounts import AccountError

    acc = _accounts(args.db)
    teams = [t.strip() for t in args.teams.split(",") if t.strip()]
    try:
        password = None if args.role == "kiosk" else _read_new_password(args.generate_password)
        user = acc.add_user(args.username, args.role, password, teams=teams, device=args.device,
                            employee_no=args.employee_no)
    except (AccountError, ValueError) as exc:
        return _fail(str(exc))
    acc.db.write_audit(acc.clock.now_ms(), _actor(), "user_add", user["username"], {"role": user["role"], "teams": teams})
    print(f"user {user['username']} ({user['role']}) created")
    if args.generate_password and password:
        print(f"password: {password}")
    return 0


def cmd_user_change(args: argparse.Namespace) -> int:
    from hub.accounts import AccountError

    acc = _accounts(args.db)
    try:
        if args.action == "passwd":
            password = _read_new_password(args.generate_password)
            acc.set_password(args.username, password)
            if args.generate_password:
                print(f"password: {password}")
        else:
            acc.set_active(args.username, args.action == "enable")
    except (AccountError, ValueError) as exc:
        return _fail(str(exc))
    acc.db.write_audit(acc.clock.now_ms(), _actor(), f"user_{args.action}", args.username, {})
    print(f"user {args.username}: {args.action} done")
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    for u in _accounts(args.db).db.users():
        extra = ",".join(u["teams"]) or u["device"] or ""
        print(f"{u['username']:<24} {u['role']:<10} {'active' if u['active'] else 'disabled':<8} {extra}")
    return 0


def cmd_token_issue(args: argparse.Namespace) -> int:
    from hub.accounts import AccountError

    acc = _accounts(args.db)
    try:
        token = acc.issue_token(args.username, args.name, scope=args.scope, days=args.days)
    except AccountError as exc:
        return _fail(str(exc))
    acc.db.write_audit(acc.clock.now_ms(), _actor(), "token_issue", args.username,
                       {"name": args.name, "scope": args.scope, "days": args.days})
    print(f"token: {token}")
    print("(shown once; the hub keeps only its hash)", file=sys.stderr)
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    for t in _accounts(args.db).db.tokens():
        state = "revoked" if t["revoked"] else "active"
        print(f"{t['id']:>5} {t['username']:<24} {state:<8} {t['scope'] or 'all':<7} {t['name']}")
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    acc = _accounts(args.db)
    if not acc.db.revoke_token(args.id):
        return _fail(f"id: no active token {args.id}")
    acc.db.write_audit(acc.clock.now_ms(), _actor(), "token_revoke", str(args.id), {})
    print(f"token {args.id} revoked")
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    from hub.privacy import cutoffs, purge
    from hub.store import Store

    site = load_site_arg(args.site)
    store = Store(args.db)
    from edge.clock import SystemClock

    now = SystemClock().now_ms()
    cut = cutoffs(site.rules.retention, now, site.tz)
    counts = purge(site, store, now, dry_run=args.dry_run, actor=_actor())
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
    from hub.store.auth import AuthStore

    site = load_site_arg(args.site)
    store = Store(args.db)
    now = SystemClock().now_ms()
    data = agent_data(site, store, args.employee_no, now)
    if data is None:
        return _fail(f"employee_no: no agent {args.employee_no!r} in {site.root / 'agents.csv'}")
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    AuthStore(store).write_audit(now, _actor(), "export", args.employee_no,
                                 {"kind": "agent_data", "out": args.out or "-"})
    return 0
