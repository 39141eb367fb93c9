"""`floorwatch user add|list|passwd|disable|enable` (web UI accounts) and `floorwatch token
issue|list|revoke` (API tokens, shown once). Every change is audited as `cli:<user>`."""

from __future__ import annotations

import argparse
import getpass
import sys

from hub.commands import args as types
from hub.commands.args import actor, add_db, fail
from hub.roles import ROLES


def register(sub: argparse._SubParsersAction) -> None:
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


def open_accounts(db):
    """hub.accounts.Accounts over the database `db`."""
    from hub.accounts import Accounts
    from hub.store import Store

    return Accounts(Store(db))


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
    from hub.errors import AccountError

    acc = open_accounts(args.db)
    teams = [t.strip() for t in args.teams.split(",") if t.strip()]
    try:
        password = None if args.role == "kiosk" else _read_new_password(args.generate_password)
        user = acc.add_user(args.username, args.role, password, teams=teams, device=args.device,
                            employee_no=args.employee_no)
    except (AccountError, ValueError) as exc:
        return fail(str(exc))
    acc.db.write_audit(acc.clock.now_ms(), actor(), "user_add", user["username"], {"role": user["role"], "teams": teams})
    print(f"user {user['username']} ({user['role']}) created")
    if args.generate_password and password:
        print(f"password: {password}")
    return 0


def cmd_user_change(args: argparse.Namespace) -> int:
    from hub.errors import AccountError

    acc = open_accounts(args.db)
    try:
        if args.action == "passwd":
            password = _read_new_password(args.generate_password)
            acc.set_password(args.username, password)
            if args.generate_password:
                print(f"password: {password}")
        else:
            acc.set_active(args.username, args.action == "enable")
    except (AccountError, ValueError) as exc:
        return fail(str(exc))
    acc.db.write_audit(acc.clock.now_ms(), actor(), f"user_{args.action}", args.username, {})
    print(f"user {args.username}: {args.action} done")
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    for u in open_accounts(args.db).db.users():
        extra = ",".join(u["teams"]) or u["device"] or ""
        print(f"{u['username']:<24} {u['role']:<10} {'active' if u['active'] else 'disabled':<8} {extra}")
    return 0


def cmd_token_issue(args: argparse.Namespace) -> int:
    from hub.errors import AccountError

    acc = open_accounts(args.db)
    try:
        token = acc.issue_token(args.username, args.name, scope=args.scope, days=args.days)
    except AccountError as exc:
        return fail(str(exc))
    acc.db.write_audit(acc.clock.now_ms(), actor(), "token_issue", args.username,
                       {"name": args.name, "scope": args.scope, "days": args.days})
    print(f"token: {token}")
    print("(shown once; the hub keeps only its hash)", file=sys.stderr)
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    for t in open_accounts(args.db).db.tokens():
        state = "revoked" if t["revoked"] else "active"
        print(f"{t['id']:>5} {t['username']:<24} {state:<8} {t['scope'] or 'all':<7} {t['name']}")
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    acc = open_accounts(args.db)
    if not acc.db.revoke_token(args.id):
        return fail(f"id: no active token {args.id}")
    acc.db.write_audit(acc.clock.now_ms(), actor(), "token_revoke", str(args.id), {})
    print(f"token {args.id} revoked")
    return 0

