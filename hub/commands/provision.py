"""`floorwatch provision --site DIR --out DIR`: CA, broker configuration, device bundles, kiosk
display tokens and the revocation list (hub.provisioning). Audited as `cli:<user>`."""

from __future__ import annotations

import argparse
from pathlib import Path

from hub.commands import args as types
from hub.commands.args import actor, add_db, add_site, fail, load_site_arg
from hub.commands.users import open_accounts


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
    p.add_argument("--bridge", metavar="HOST:PORT", help="bridge this site's broker to a central broker (docs/scale-out.md)")
    p.add_argument("--bridge-ca", help="the central broker's CA certificate (from headquarters)")
    p.add_argument("--bridge-cert", help="this site's bridge certificate (from headquarters)")
    p.add_argument("--bridge-key", help="this site's bridge key (from headquarters)")
    p.add_argument("--bridge-commands", action="store_true",
                   help="the site has no hub of its own: its devices take commands from the central hub")
    add_db(p, help="hub database to register kiosk display tokens in")
    p.add_argument("--no-kiosk-tokens", action="store_true", help="do not create kiosk display tokens")
    p.set_defaults(func=cmd_provision)


def cmd_provision(args: argparse.Namespace) -> int:
    from hub.errors import HubError
    from hub.provisioning import ProvisionOptions, provision

    site = load_site_arg(args.site)
    opts = ProvisionOptions(
        broker_host=args.broker_host, tls_port=args.tls_port, tls_bind=args.tls_bind, plain_port=args.plain_port,
        broker_dir=args.broker_dir, data_dir=args.data_dir, run_user=args.broker_user, hub_url=args.hub_url,
        agent_bin=args.agent_bin, extra_names=args.name, renew=args.renew,
        bridge=args.bridge, bridge_ca=args.bridge_ca, bridge_cert=args.bridge_cert, bridge_key=args.bridge_key,
        bridge_commands=args.bridge_commands,
    )
    kiosks = None if args.no_kiosk_tokens else open_accounts(args.db)
    try:
        result = provision(site, args.out, opts, kiosk_tokens=kiosks)
    except (HubError, ValueError) as exc:
        return fail(str(exc))
    if kiosks is not None:
        kiosks.db.write_audit(kiosks.clock.now_ms(), actor(), "provision", site.id,
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

