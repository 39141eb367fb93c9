"""`floorwatch provision`: from a site folder, everything the broker and each Pi need.

Output folder (`--out`), never committed (it holds a `.gitignore` of `*`):
  ca/ca.crt, ca/ca.key            the site CA (key 0600); reused on every later run, so
                                  re-provisioning never orphans devices already installed
  broker/mosquitto.conf           TLS listener requiring client certificates + loopback listener,
                                  persistence on, queue limits set deliberately
  broker/passwd, broker/acl       hashed passwords ($7$) of the hub and ACD-feed users; the ACL
  broker/server.crt|key, ca.crt
  broker/crl.pem                  the CA's revocation list: certificates of removed devices and
                                  those replaced by a re-issue (ca/revoked.json keeps the serials)
  hub/mqtt.toml, hub/*-password   how the hub (and the ACD feed) log in on the loopback listener
  devices/<id>/                   one bundle per Pi, laid out like the Pi's root file system,
                                  with install.sh; kiosks also get the display start and a token
  manifest.json                   what was issued (serials, expiry, fingerprints), no secrets

No password or token is a default or shared: each is generated here. A device's certificate CN
is its id, its MQTT username at the broker; the ACL lets it write only its own `event` and
`status` topics and read only its own `cmd`. The hub reads the whole site; nothing else is
allowed. Service usernames contain a dot, which a device id cannot, so no device certificate
can ever be mistaken for the hub.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import pwd
import re
import shutil
import string
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import tomlkit
import tomlkit.items
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from edge.config import DeviceConfig, parse_device_config
from edge.wire import TOPIC_ROOT, probe_topic
from hub.broker import bridge_address, bridge_conf, broker_settings
from hub.errors import BrokerError, ProvisionError
from hub.pki import (
    CertificateAuthority,
    Issued,
    Revocations,
    common_name,
    days_left,
    mosquitto_password_hash,
    new_password,
    write_secret,
)
from hub.site import Site

RENEW_WITHIN_DAYS = 30  # a certificate closer than this to expiry is reissued on the next run
ETC = "/etc/floorwatch"  # where a bundle installs on the Pi


def templates_dir() -> Path:
    from importlib.resources import files

    return Path(str(files("firmware_cfg") / "templates"))


def render(name: str, **values: object) -> str:
    """A template from firmware_cfg/templates with `$name` placeholders (`$$` is a literal $)."""
    text = (templates_dir() / name).read_text(encoding="utf-8")
    return string.Template(text).substitute({k: str(v) for k, v in values.items()})


def hub_username(site: str) -> str:
    return f"hub.{site}"


def acd_username(site: str) -> str:
    return f"acd.{site}"


@dataclass
class ProvisionOptions:
    broker_host: str | None = None  # name devices reach the broker by (default: device files)
    tls_port: int = 8883
    tls_bind: str | None = None  # None: every interface (devices are on the LAN)
    plain_port: int = 1883
    plain_host: str = "127.0.0.1"  # loopback only; anything else is refused
    broker_dir: str | None = None  # where broker/ lives on the hub (default: the output folder)
    data_dir: str | None = None  # persistence location (default: <broker_dir>/data)
    run_user: str | None = None  # mosquitto's `user` (default: whoever runs provision)
    log_dest: str | None = None  # default: a file in data_dir
    hub_url: str | None = None  # web UI as kiosks reach it (default http://<broker_host>:8080)
    agent_bin: str = "/opt/floorwatch/venv/bin/floorwatch-edge"  # the lean agent entry on the Pis
    extra_names: list[str] = field(default_factory=list)  # more names for the server certificate
    renew: bool = False  # reissue every device certificate even if still valid
    # The bridge to a central broker (hub.broker.bridge_conf; docs/scale-out.md): host:port, and
    # the TLS files headquarters issued to this site (its CA, the site's certificate and key).
    bridge: str | None = None
    bridge_ca: str | None = None
    bridge_cert: str | None = None
    bridge_key: str | None = None
    bridge_commands: bool = False  # the site has no hub of its own: the central hub commands its devices


@dataclass
class ProvisionResult:
    out: Path
    devices: list[str]
    issued: list[str]  # device certificates issued on this run (others were kept)
    ca_created: bool
    kiosk_tokens: dict[str, str]  # kiosk device -> plaintext token written to its bundle
    broker_conf: Path
    hub_conf: Path
    revoked: list[str] = field(default_factory=list)  # devices whose certificates the CRL lists


# ---------------------------------------------------------------- validation of options


_HOST_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$|^[0-9a-fA-F:]+$")
_PATH_RE = re.compile(r"^/[A-Za-z0-9._/+-]*$")


def _check_options(opts: ProvisionOptions) -> None:
    for name in ("tls_port", "plain_port"):
        port = getattr(opts, name)
        if not 1 <= port <= 65535:
            raise ProvisionError(f"{name}: {port} is not a TCP port")
    if opts.tls_port == opts.plain_port:
        raise ProvisionError("tls_port and plain_port must differ")
    if opts.plain_host not in ("127.0.0.1", "::1", "localhost"):
        raise ProvisionError(f"plain_host: {opts.plain_host!r}: the plain listener must stay on loopback")
    for name in ("broker_host", "tls_bind"):
        value = getattr(opts, name)
        if value is not None and not _HOST_RE.match(value):
            raise ProvisionError(f"{name}: {value!r} is not a host name or address")
    bad = [n for n in opts.extra_names if not _HOST_RE.match(n)]
    if bad:
        raise ProvisionError(f"extra_names: {bad[0]!r} is not a host name or address")
    for name in ("broker_dir", "data_dir", "agent_bin"):
        value = getattr(opts, name)
        if value is not None and not _PATH_RE.match(value):
            raise ProvisionError(f"{name}: {value!r} must be an absolute path without spaces or quotes")
    if opts.bridge is not None:
        try:
            bridge_address(opts.bridge)
        except BrokerError as exc:
            raise ProvisionError(f"bridge: {exc}") from None
        missing = [n for n in ("bridge_ca", "bridge_cert", "bridge_key") if getattr(opts, n) is None]
        if missing:  # the link crosses the WAN: TLS both ways, as the devices' own
            raise ProvisionError(f"{missing[0]}: a bridge to {opts.bridge} needs its TLS files "
                                 "(bridge_ca, bridge_cert, bridge_key from headquarters)")
        for name in ("bridge_ca", "bridge_cert", "bridge_key"):
            if not Path(getattr(opts, name)).is_file():
                raise ProvisionError(f"{name}: {getattr(opts, name)!r} is not a readable file")
    elif any(getattr(opts, n) for n in ("bridge_ca", "bridge_cert", "bridge_key", "bridge_commands")):
        raise ProvisionError("bridge: the bridge's files or commands were given without --bridge host:port")
    if opts.run_user is not None and not re.match(r"^[a-z_][a-z0-9_-]{0,31}$", opts.run_user):
        raise ProvisionError(f"run_user: {opts.run_user!r} is not a user name")
    if opts.hub_url is not None:
        u = urlsplit(opts.hub_url)
        if u.scheme not in ("http", "https") or not u.hostname or not re.match(r"^[A-Za-z0-9:/._\[\]-]+$", opts.hub_url):
            raise ProvisionError(f"hub_url: {opts.hub_url!r} must be a plain http(s)://host[:port] URL")


# ---------------------------------------------------------------- broker


def acl_text(site: Site) -> str:
    """Each device: write its own event and status, read its own cmd. Hub: read the site."""
    root = f"{TOPIC_ROOT}/{site.id}"
    lines = [
        f"# ACL for floorwatch site {site.id!r}, generated by `floorwatch provision`.",
        "# Anything not granted here is refused; there are no anonymous clients.",
        "",
        f"user {hub_username(site.id)}",
        f"topic read {root}/#",
        f"topic write {root}/+/cmd",
        f"topic write {probe_topic(site.id)}",
        "",
        f"user {acd_username(site.id)}",
        f"topic write {root}/acd",
        "",
    ]
    for dev_id in sorted(site.devices):
        lines += [
            f"user {dev_id}",
            f"topic write {root}/{dev_id}/event",
            f"topic write {root}/{dev_id}/status",
            f"topic read {root}/{dev_id}/cmd",
            "",
        ]
    return "\n".join(lines)


def _read_secret(path: Path) -> str | None:
    try:
        value = path.read_text().strip()
    except OSError:
        return None
    return value or None


def _service_passwords(hub_dir: Path, site: str) -> dict[str, str]:
    """Reuse the hub's and the feed's passwords if present (a running hub keeps working)."""
    out: dict[str, str] = {}
    for user, fname in ((hub_username(site), "hub-mqtt-password"), (acd_username(site), "acd-mqtt-password")):
        path = hub_dir / fname
        pw = _read_secret(path)
        if pw is None:
            pw = new_password()
            write_secret(path, pw + "\n")
        out[user] = pw
    return out


def broker_files(site: Site, out: Path, opts: ProvisionOptions, ca: CertificateAuthority,
                 server_names: list[str]) -> Path:
    broker = out / "broker"
    broker.mkdir(parents=True, exist_ok=True)
    broker_dir = opts.broker_dir or str(broker.resolve())
    if not _PATH_RE.match(broker_dir):  # mosquitto.conf has no quoting: a space would split the path
        raise ProvisionError(f"broker_dir: the broker files would be at {broker_dir!r}, which mosquitto.conf "
                             "cannot name (spaces or quotes): pass broker_dir (--broker-dir)")
    data_dir = opts.data_dir or f"{broker_dir}/data"
    if opts.data_dir is None:
        (broker / "data").mkdir(exist_ok=True)
    (broker / "ca.crt").write_bytes(ca.cert_pem)
    server = _reuse_server_cert(broker, ca, server_names) or ca.issue_server(server_names)
    (broker / "server.crt").write_bytes(server.cert_pem)
    write_secret(broker / "server.key", server.key_pem)
    passwords = _service_passwords(out / "hub", site.id)
    write_secret(
        broker / "passwd",
        "".join(f"{user}:{mosquitto_password_hash(pw)}\n" for user, pw in passwords.items()),
    )
    (broker / "acl").write_text(acl_text(site), encoding="utf-8")
    os.chmod(broker / "acl", 0o600)
    bridge = ""
    if opts.bridge is not None:  # copied beside the broker's own files, where mosquitto may read them
        (broker / "bridge-ca.crt").write_bytes(Path(opts.bridge_ca).read_bytes())
        (broker / "bridge.crt").write_bytes(Path(opts.bridge_cert).read_bytes())
        write_secret(broker / "bridge.key", Path(opts.bridge_key).read_bytes())
        bridge = "\n# The bridge to the central broker (docs/scale-out.md); keep it last: mosquitto reads\n" \
                 "# everything after `connection` as the bridge's own settings.\n" + bridge_conf(
                     site.id, opts.bridge, commands=opts.bridge_commands,
                     tls=(f"{broker_dir}/bridge-ca.crt", f"{broker_dir}/bridge.crt", f"{broker_dir}/bridge.key"))
    conf = render(
        "mosquitto.conf.tmpl",
        site=site.id,
        run_user=opts.run_user or getpass.getuser(),
        broker_dir=broker_dir,
        settings=broker_settings(data_dir, log_dest=opts.log_dest),
        plain_port=opts.plain_port,
        plain_host=opts.plain_host,
        tls_port=opts.tls_port,
        tls_bind=f" {opts.tls_bind}" if opts.tls_bind else "",
        bridge=bridge,
    )
    conf_path = broker / "mosquitto.conf"
    conf_path.write_text(conf, encoding="utf-8")
    _chown_for_broker(broker, opts.run_user)
    return conf_path


def _reuse_server_cert(broker: Path, ca: CertificateAuthority, names: list[str]) -> Issued | None:
    try:
        cert = x509.load_pem_x509_certificate((broker / "server.crt").read_bytes())
        key_pem = (broker / "server.key").read_bytes()
    except (OSError, ValueError):
        return None
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    have = {str(v) for v in san.get_values_for_type(x509.DNSName)}
    have |= {str(v) for v in san.get_values_for_type(x509.IPAddress)}
    if have != set(names) or not ca.issued_this(cert) or days_left(cert) < RENEW_WITHIN_DAYS:
        return None
    return Issued(cert.public_bytes(serialization.Encoding.PEM), key_pem)


def _chown_for_broker(broker: Path, run_user: str | None) -> None:
    """As root with a non-root broker user: hand the broker its files (it drops privileges)."""
    if os.geteuid() != 0 or not run_user or run_user == "root":
        return
    try:
        pw = pwd.getpwnam(run_user)
    except KeyError:
        return
    for p in [broker, *broker.rglob("*")]:
        os.chown(p, pw.pw_uid, pw.pw_gid)


def hub_conf(site: Site, out: Path, opts: ProvisionOptions) -> Path:
    """How the hub logs in to the broker (loopback): read by `floorwatch hub --mqtt-conf`.
    Written by a TOML writer, so any path (quotes, backslashes) reads back as it was."""
    hub = out / "hub"
    doc = tomlkit.document()
    doc.add(tomlkit.comment(f"How the floorwatch hub of site {site.id!r} logs in to its broker."))
    doc.add("broker", _table(host=opts.plain_host, port=opts.plain_port, username=hub_username(site.id),
                             password_file=str((hub / "hub-mqtt-password").resolve())))
    doc.add("acd", _table(username=acd_username(site.id), password_file=str((hub / "acd-mqtt-password").resolve())))
    path = hub / "mqtt.toml"
    write_secret(path, tomlkit.dumps(doc))
    return path


def _table(comment: str | None = None, **values: object) -> tomlkit.items.Table:
    table = tomlkit.table()
    if comment:
        table.add(tomlkit.comment(comment))
    for key, value in values.items():
        table.add(key, value)
    return table


@dataclass(frozen=True)
class HubCredentials:
    host: str
    port: int
    username: str
    password: str


def load_hub_credentials(path: str | Path) -> HubCredentials:
    """Read `hub/mqtt.toml` written by provision; errors name the file and the key."""
    from edge.exceptions import ConfigError

    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        b = data["broker"]
        pw_path = Path(b["password_file"])
        password = pw_path.read_text().strip()
        return HubCredentials(str(b["host"]), int(b["port"]), str(b["username"]), password)
    except OSError as exc:
        raise ConfigError(str(path), "broker.password_file", f"cannot read: {exc.strerror}") from None
    except KeyError as exc:
        raise ConfigError(str(path), f"broker.{exc.args[0]}", "missing") from None
    except (tomllib.TOMLDecodeError, ValueError, TypeError) as exc:
        raise ConfigError(str(path), "-", f"not a hub MQTT file: {exc}") from None


# ---------------------------------------------------------------- device bundles


def with_tls_broker(raw: str, *, host: str, port: int, protocol: str) -> str:
    """The device file with its [broker] table replaced by the TLS one, edited as a TOML
    document (tomlkit keeps every other table, key and comment as written)."""
    doc = tomlkit.parse(raw)
    broker = _table("Provisioned: TLS with this device's own certificate; its CN is the MQTT username and "
                    "client id.", host=host, port=port, protocol=protocol, tls=True, ca=f"{ETC}/ca.crt",
                    cert=f"{ETC}/device.crt", key=f"{ETC}/device.key")
    if "broker" in doc:
        doc["broker"] = broker
    else:
        doc.add(tomlkit.nl())
        doc.add("broker", broker)
    return tomlkit.dumps(doc)


def _udev_rules(dev: DeviceConfig) -> str:
    text = render("99-floorwatch.rules.tmpl", device=dev.id, role=dev.role, place=dev.place or "")
    ports: list[tuple[str, str]] = [(r.port, r.kind) for r in dev.readers if r.port]
    ports += [(s.port, s.kind) for s in dev.sensors if s.port]
    if not ports:
        return text + "# This device has no serial reader (Wiegand and sensors use GPIO).\n"
    used_uart = False
    for port, kind in ports:
        if not port.startswith("/dev/floorwatch-"):
            text += f"# {port} ({kind}) is a fixed path; no rule.\n"
            continue
        name = port.removeprefix("/dev/")
        if kind in ("rdm6300", "ld2410") and not used_uart:
            used_uart = True
            text += (
                f"# {kind} on the Pi's GPIO UART (GPIO 14/15); needs enable_uart=1 and dtoverlay=disable-bt\n"
                "# in /boot/firmware/config.txt so that the full UART is ttyAMA0.\n"
                f'KERNEL=="ttyAMA0", SYMLINK+="{name}", GROUP="dialout", MODE="0660"\n'
            )
        else:
            text += (
                f"# {kind} reader on a USB serial adapter (CH340 1a86:7523; FTDI is 0403:6001, CP210x 10c4:ea60).\n"
                f"# With two identical adapters, add ATTRS{{serial}}==\"...\" or KERNELS==\"1-1.2\" to tell them apart.\n"
                f'SUBSYSTEM=="tty", ATTRS{{idVendor}}=="1a86", ATTRS{{idProduct}}=="7523", SYMLINK+="{name}", GROUP="dialout", MODE="0660"\n'
            )
    return text


def _reuse_device_cert(bundle_etc: Path, ca: CertificateAuthority, dev_id: str) -> Issued | None:
    try:
        cert = x509.load_pem_x509_certificate((bundle_etc / "device.crt").read_bytes())
        key_pem = (bundle_etc / "device.key").read_bytes()
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (OSError, ValueError):
        return None
    if (
        common_name(cert) != dev_id
        or not ca.issued_this(cert)
        or days_left(cert) < RENEW_WITHIN_DAYS
        or key.public_key() != cert.public_key()
    ):
        return None
    return Issued(cert.public_bytes(serialization.Encoding.PEM), key_pem)


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    os.chmod(path, mode)


def _revoke_bundle_cert(etc: Path, ca: CertificateAuthority, dev_id: str, revocations: Revocations,
                        reason: x509.ReasonFlags) -> None:
    """Put the certificate of the bundle in `etc` (if it is this CA's) on the revocation list."""
    try:
        cert = x509.load_pem_x509_certificate((etc / "device.crt").read_bytes())
    except (OSError, ValueError):
        return
    if ca.issued_this(cert):
        revocations.revoke(cert, dev_id, reason)


def device_bundle(site: Site, dev: DeviceConfig, out: Path, opts: ProvisionOptions, ca: CertificateAuthority,
                  broker_host: str, hub_url: str, kiosk_token: str | None,
                  revocations: Revocations) -> tuple[Path, bool]:
    """Write one device's bundle; returns (bundle folder, whether a new certificate was issued).
    A certificate it replaces is revoked."""
    bundle = out / "devices" / dev.id
    etc = bundle / "etc" / "floorwatch"
    etc.mkdir(parents=True, exist_ok=True)
    raw = (site.root / "devices" / f"{dev.id}.toml").read_text(encoding="utf-8")
    text = with_tls_broker(raw, host=broker_host, port=opts.tls_port, protocol=dev.broker.protocol)
    parsed = parse_device_config(tomllib.loads(text), etc / "device.toml")  # must still be valid
    if not (parsed.broker.tls and parsed.broker.cert and parsed.id == dev.id):
        raise ProvisionError(f"{dev.id}: the provisioned config lost its TLS settings")
    _write(etc / "device.toml", text, 0o640)
    _write(etc / "ca.crt", ca.cert_pem.decode())
    issued = None if opts.renew else _reuse_device_cert(etc, ca, dev.id)
    new = issued is None
    if issued is None:
        _revoke_bundle_cert(etc, ca, dev.id, revocations, x509.ReasonFlags.superseded)
        issued = ca.issue_device(dev.id, site=site.id, role=dev.role)
    _write(etc / "device.crt", issued.cert_pem.decode())
    write_secret(etc / "device.key", issued.key_pem)
    values = dict(device=dev.id, role=dev.role, place=dev.place or "", agent_bin=opts.agent_bin,
                  hub_url=hub_url)
    _write(bundle / "etc/systemd/system/floorwatch-agent.service", render("floorwatch-agent.service", **values))
    _write(bundle / "etc/udev/rules.d/99-floorwatch.rules", _udev_rules(dev))
    if dev.role == "kiosk":
        _write(bundle / "etc/systemd/system/floorwatch-kiosk.service", render("floorwatch-kiosk.service", **values))
        _write(bundle / "usr/local/bin/floorwatch-kiosk", render("floorwatch-kiosk.sh", **values), 0o755)
        if kiosk_token:
            write_secret(etc / "kiosk-token", kiosk_token + "\n")
    _write(bundle / "install.sh", render("install.sh", **values), 0o755)
    return bundle, new


def _fingerprint(cert_pem: bytes) -> str:
    cert = x509.load_pem_x509_certificate(cert_pem)
    return cert.fingerprint(hashes.SHA256()).hex()


def _default_broker_host(site: Site) -> str:
    hosts = {d.broker.host for d in site.devices.values()}
    if len(hosts) == 1:
        return hosts.pop()
    raise ProvisionError(f"devices name different brokers ({', '.join(sorted(hosts))}): pass broker_host")


def provision(site: Site, out: str | Path, opts: ProvisionOptions | None = None, *,
              kiosk_tokens: object | None = None) -> ProvisionResult:
    """Generate CA, broker files and device bundles for `site` into `out`.

    `kiosk_tokens` (optional) registers one web token per kiosk: an object with
    `kiosk_token(kiosk, device, existing) -> str` (hub.accounts.Accounts over the hub's
    store). It gets the token already in the bundle, if any, and returns the one to keep.
    """
    opts = opts or ProvisionOptions()
    _check_options(opts)
    if not site.devices:
        raise ProvisionError(f"{site.root}/devices: the site has no devices to provision")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    gitignore = out / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text("# secrets generated by floorwatch provision: never commit\n*\n")
    broker_host = opts.broker_host or _default_broker_host(site)
    hub_url = (opts.hub_url or f"http://{broker_host}:8080").rstrip("/")
    ca, created = CertificateAuthority.load_or_create(out / "ca", site.id)
    revocations = Revocations(out / "ca" / "revoked.json")
    server_names = list(dict.fromkeys([broker_host, *opts.extra_names, "localhost", "127.0.0.1"]))
    conf = broker_files(site, out, opts, ca, server_names)
    hub_path = hub_conf(site, out, opts)
    issued: list[str] = []
    tokens: dict[str, str] = {}
    manifest: dict[str, object] = {
        "site": site.id,
        "generated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "ca": {"fingerprint_sha256": _fingerprint(ca.cert_pem),
               "not_after": ca.cert.not_valid_after_utc.isoformat()},
        "broker": {"host": broker_host, "tls_port": opts.tls_port, "plain": f"{opts.plain_host}:{opts.plain_port}",
                   "hub_user": hub_username(site.id), "acd_user": acd_username(site.id)},
        "devices": {},
    }
    for dev_id in sorted(site.devices):
        dev = site.devices[dev_id]
        token = None
        if dev.role == "kiosk" and kiosk_tokens is not None:
            existing = _read_secret(out / "devices" / dev_id / "etc" / "floorwatch" / "kiosk-token")
            token = kiosk_tokens.kiosk_token(dev.place, dev_id, existing)  # type: ignore[attr-defined]
            tokens[dev_id] = token
        bundle, new = device_bundle(site, dev, out, opts, ca, broker_host, hub_url, token, revocations)
        if new:
            issued.append(dev_id)
        cert_pem = (bundle / "etc/floorwatch/device.crt").read_bytes()
        cert = x509.load_pem_x509_certificate(cert_pem)
        manifest["devices"][dev_id] = {  # type: ignore[index]
            "role": dev.role, "place": dev.place, "serial": format(cert.serial_number, "x"),
            "not_after": cert.not_valid_after_utc.isoformat(), "fingerprint_sha256": _fingerprint(cert_pem),
            "kiosk_token": bool(token),
        }
    # Bundles of devices that left the site: their certificates are revoked (they had lost every
    # ACL grant, but could still connect and, under their own id, take a session).
    stale = sorted(p.name for p in (out / "devices").iterdir() if p.is_dir() and p.name not in site.devices)
    for name in stale:
        _revoke_bundle_cert(out / "devices" / name / "etc" / "floorwatch", ca, name, revocations,
                            x509.ReasonFlags.cessation_of_operation)
        shutil.rmtree(out / "devices" / name)
    manifest["removed"] = stale
    revocations.write_crl(ca, out / "broker" / "crl.pem")
    _chown_for_broker(out / "broker", opts.run_user)
    manifest["revoked"] = revocations.entries
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return ProvisionResult(out, sorted(site.devices), issued, created, tokens, conf, hub_path,
                           [e["device"] for e in revocations.entries])
