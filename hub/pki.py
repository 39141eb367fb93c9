"""The site's own certificate authority: one CA, a server certificate for the broker, and one
client certificate per device whose common name is the device id.

mosquitto's TLS listener takes the client certificate's CN as the MQTT username
(`use_identity_as_username`), so the certificate *is* the device's identity and the ACL keys on
it: a Pi can only ever speak for itself. Keys are EC P-256 (fast on a Pi, supported by every
OpenSSL mosquitto links against). Private keys are written 0600 and never leave the hub except
inside the one device bundle they belong to.

Also here: mosquitto's password-file hash (`$7$`, PBKDF2-SHA512, 101 iterations, 12-byte salt),
so the hub's broker password is hashed without needing `mosquitto_passwd` installed.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hub.errors import PkiError

CA_DAYS = 3650
LEAF_DAYS = 825  # the longest leaf lifetime common TLS clients accept
MOSQUITTO_PBKDF2_ITERATIONS = 101  # what mosquitto_passwd 2.0 writes
_BACKDATE = dt.timedelta(minutes=5)  # tolerate a Pi whose clock is a little behind


@dataclass(frozen=True)
class Issued:
    """A certificate and its key, PEM-encoded."""

    cert_pem: bytes
    key_pem: bytes

    @property
    def cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def write_secret(path: Path, data: bytes | str) -> None:
    """Write a file only its owner can read (keys, passwords), created 0600 from the start."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode() if isinstance(data, str) else data
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, raw)
    finally:
        os.close(fd)
    os.chmod(path, 0o600)


def _certificate(subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey, days: int, *,
                 ca: bool) -> x509.CertificateBuilder:
    """What the CA's and every leaf certificate share: serial, validity (backdated for clocks a
    little behind), and the key usage of a CA (signs certificates and the CRL) or of a TLS peer
    (ECDHE key agreement and signatures)."""
    now = _now()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=not ca, key_cert_sign=ca, crl_sign=ca,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
    )


class CertificateAuthority:
    """A CA key and self-signed certificate; issues server and device certificates."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
        self.key = key
        self.cert = cert

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return _key_pem(self.key)

    @classmethod
    def create(cls, site: str, *, days: int = CA_DAYS) -> CertificateAuthority:
        key = _new_key()
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "floorwatch"),
                x509.NameAttribute(NameOID.COMMON_NAME, f"floorwatch CA {site}"),
            ]
        )
        cert = (
            _certificate(name, name, key, days, ca=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    @classmethod
    def load(cls, cert_path: Path, key_path: Path) -> CertificateAuthority:
        try:
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        except (OSError, ValueError) as exc:
            raise PkiError(f"{cert_path} / {key_path}: cannot load the CA: {exc}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
            raise PkiError(f"{key_path}: the key does not belong to {cert_path}")
        return cls(key, cert)

    @classmethod
    def load_or_create(cls, directory: Path, site: str) -> tuple[CertificateAuthority, bool]:
        """Reuse the CA in `directory` (re-provisioning must not orphan deployed devices)."""
        cert_path, key_path = directory / "ca.crt", directory / "ca.key"
        if cert_path.exists() and key_path.exists():
            return cls.load(cert_path, key_path), False
        ca = cls.create(site)
        directory.mkdir(parents=True, exist_ok=True)
        cert_path.write_bytes(ca.cert_pem)
        write_secret(key_path, ca.key_pem)
        return ca, True

    def _leaf(self, subject: x509.Name, key: ec.EllipticCurvePrivateKey, days: int) -> x509.CertificateBuilder:
        return (
            _certificate(subject, self.cert.subject, key, days, ca=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
        )

    def issue_server(self, names: list[str], *, days: int = LEAF_DAYS) -> Issued:
        """The broker's certificate; `names` are host names and IP addresses devices connect to."""
        if not names:
            raise PkiError("a server certificate needs at least one host name or address")
        key = _new_key()
        alt: list[x509.GeneralName] = []
        for n in dict.fromkeys(names):
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(n)))
            except ValueError:
                alt.append(x509.DNSName(n))
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
        cert = (
            self._leaf(subject, key, days)
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return Issued(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))

    def issue_device(self, device: str, *, site: str, role: str, days: int = LEAF_DAYS) -> Issued:
        """A client certificate whose CN is the device id: its MQTT username at the broker."""
        key = _new_key()
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"floorwatch {site}"),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role),
                x509.NameAttribute(NameOID.COMMON_NAME, device),
            ]
        )
        cert = (
            self._leaf(subject, key, days)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return Issued(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))

    def issued_this(self, cert: x509.Certificate) -> bool:
        """True when `cert` carries this CA's signature (a stale bundle from another CA is not)."""
        try:
            cert.verify_directly_issued_by(self.cert)
        except (InvalidSignature, ValueError, TypeError):
            return False
        return True


def common_name(cert: x509.Certificate) -> str | None:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else None


def days_left(cert: x509.Certificate) -> float:
    return (cert.not_valid_after_utc - _now()).total_seconds() / 86400


# ---------------------------------------------------------------- revocation


CRL_DAYS = LEAF_DAYS  # the broker refuses every client once its CRL is past nextUpdate: re-provision before


class Revocations:
    """The device certificates this CA has withdrawn (a removed device's, a re-issued one's old
    certificate), kept in `ca/revoked.json` beside the CA, and the signed CRL made from them that
    the broker's TLS listener checks (`crlfile`). Serials only: nothing secret."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            data = {"crl_number": 0, "revoked": []}
        except (OSError, ValueError) as exc:
            raise PkiError(f"{path}: cannot read the revocation list: {exc}") from None
        self.crl_number: int = int(data.get("crl_number", 0))
        self.entries: list[dict[str, str]] = list(data.get("revoked", []))

    def revoke(self, cert: x509.Certificate, device: str, reason: x509.ReasonFlags) -> bool:
        """Add `cert` (once); False when it was already revoked."""
        serial = format(cert.serial_number, "x")
        if any(e["serial"] == serial for e in self.entries):
            return False
        self.entries.append({"serial": serial, "device": device, "reason": reason.value,
                             "revoked": _now().isoformat(timespec="seconds"),
                             "not_after": cert.not_valid_after_utc.isoformat()})
        return True

    def serials(self) -> set[int]:
        return {int(e["serial"], 16) for e in self.entries}

    def write_crl(self, ca: CertificateAuthority, crl_path: Path, *, days: int = CRL_DAYS) -> Path:
        """Sign a new CRL (its number one higher than the last) and save both files."""
        self.crl_number += 1
        now = _now()
        # an expired certificate is refused anyway: it leaves the list (and the CRL stays small)
        self.entries = [e for e in self.entries if dt.datetime.fromisoformat(e["not_after"]) > now - _BACKDATE]
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(ca.cert.subject)
            .last_update(now - _BACKDATE)
            .next_update(now + dt.timedelta(days=days))
            .add_extension(x509.CRLNumber(self.crl_number), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
        )
        for e in self.entries:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(int(e["serial"], 16))
                .revocation_date(dt.datetime.fromisoformat(e["revoked"]))
                .add_extension(x509.CRLReason(x509.ReasonFlags(e["reason"])), critical=False)
                .build()
            )
        crl = builder.sign(ca.key, hashes.SHA256())
        crl_path.parent.mkdir(parents=True, exist_ok=True)
        crl_path.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps({"crl_number": self.crl_number, "revoked": self.entries}, indent=2) + "\n",
                             encoding="utf-8")
        return crl_path


# ---------------------------------------------------------------- mosquitto password file


def mosquitto_password_hash(password: str, *, salt: bytes | None = None,
                            iterations: int = MOSQUITTO_PBKDF2_ITERATIONS) -> str:
    """The `$7$` hash mosquitto 2.0 stores: PBKDF2-HMAC-SHA512 over a 12-byte salt."""
    salt = salt if salt is not None else os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def mosquitto_password_check(password: str, stored: str) -> bool:
    try:
        _, seven, iterations, salt, digest = stored.split("$")
        if seven != "7":
            return False
        want = base64.b64decode(digest)
        got = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(salt), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(want, got)


def new_password() -> str:
    """A generated secret (never a default): 32 url-safe characters, ~190 bits."""
    return secrets.token_urlsafe(24)
