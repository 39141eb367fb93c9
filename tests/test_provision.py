"""Provisioning, acceptance-tested against a real mosquitto started with the generated files:
certificates, the TLS listener, the loopback listener, the password file and the ACL."""

from __future__ import annotations

import contextlib
import json
import shutil
import ssl
import subprocess
import threading
import time
import tomllib
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge import wire
from edge.config import load_device_config
from hub.broker import die_with_parent, free_port, mosquitto_path, wait_for_port
from hub.ingest import Ingest
from hub.pki import CertificateAuthority, mosquitto_password_check, mosquitto_password_hash
from hub.provisioning import (
    ProvisionError,
    ProvisionOptions,
    load_hub_credentials,
    provision,
    with_tls_broker,
)
from hub.site import load_site
from hub.store import Store
from tests.mqtt_util import badge_event
from tests.waiting import wait_until as _wait

pytestmark = pytest.mark.skipif(mosquitto_path() is None, reason="mosquitto not installed")


def _opts(tls_port: int, plain_port: int) -> ProvisionOptions:
    return ProvisionOptions(broker_host="127.0.0.1", tls_port=tls_port, tls_bind="127.0.0.1",
                            plain_port=plain_port, hub_url="http://127.0.0.1:8080")


@pytest.fixture(scope="module")
def provisioned(tmp_path_factory):
    """A site provisioned once, and a real mosquitto running the generated configuration."""
    from hub.sitegen import generate_site

    root = tmp_path_factory.mktemp("prov")
    site_dir = generate_site(root / "site", site="prov" + uuid.uuid4().hex[:6], seats=3, zones=1,
                             sim_devices=True)  # rostered for the site's today
    site = load_site(site_dir)
    tls_port, plain_port = free_port(), free_port()
    result = provision(site, root / "out", _opts(tls_port, plain_port))
    with _mosquitto(result.broker_conf, tls_port, plain_port):
        yield {"site": site, "out": root / "out", "result": result, "tls": tls_port, "plain": plain_port,
               "root": root}


@contextlib.contextmanager
def _mosquitto(conf: Path, *ports: int):
    """A real mosquitto running a generated configuration, until the block ends."""
    proc = subprocess.Popen([mosquitto_path(), "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, preexec_fn=die_with_parent)
    try:
        for port in ports:
            wait_for_port("127.0.0.1", port)
    except Exception:
        proc.kill()
        raise AssertionError(proc.stderr.read().decode() if proc.stderr else "mosquitto did not start") from None
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(10)


class Client:
    """A real paho client that records whether the broker accepted it and what it received."""

    def __init__(self, client_id: str, protocol: int = mqtt.MQTTv311) -> None:
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol)
        self.connected = threading.Event()
        self.closed = threading.Event()
        self.refused: object = None
        self.messages: list[mqtt.MQTTMessage] = []
        self.publish_codes: dict[int, object] = {}
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = lambda *a: self.closed.set()
        self.c.on_message = lambda c, u, m: self.messages.append(m)
        self.c.on_publish = lambda c, u, mid, rc, props: self.publish_codes.__setitem__(mid, rc)

    def _on_connect(self, client, userdata, flags, rc, props) -> None:
        if rc.is_failure:
            self.refused = rc
        else:
            self.connected.set()

    def tls(self, ca: Path, cert: Path | None = None, key: Path | None = None) -> Client:
        self.c.tls_set(ca_certs=str(ca), certfile=str(cert) if cert else None, keyfile=str(key) if key else None)
        return self

    def connect(self, port: int, timeout: float = 10.0) -> bool:
        """True only when the broker accepted the connection (CONNACK success)."""
        try:
            self.c.connect("127.0.0.1", port, keepalive=30)
        except (OSError, ssl.SSLError):
            return False
        self.c.loop_start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.connected.is_set():
                return True
            if self.refused is not None or self.closed.is_set():
                return False
            time.sleep(0.02)
        return False

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def _device_files(out: Path, dev: str) -> tuple[Path, Path, Path]:
    etc = out / "devices" / dev / "etc" / "floorwatch"
    return etc / "ca.crt", etc / "device.crt", etc / "device.key"



def _hub(p, store: Store) -> Ingest:
    creds = load_hub_credentials(p["result"].hub_conf)
    return Ingest(store, p["site"].id, "127.0.0.1", p["plain"], username=creds.username,
                  password=creds.password, client_id=f"hub-{uuid.uuid4().hex[:6]}").start(wait=15)


def test_device_with_its_certificate_connects_and_the_hub_gets_its_events(provisioned, tmp_path):
    p = provisioned
    site = p["site"]
    dev = sorted(site.devices)[0]
    store = Store(tmp_path / "hub.db")
    hub = _hub(p, store)
    assert hub.connected.is_set(), "the hub could not log in on the loopback listener"
    c = Client(dev).tls(*_device_files(p["out"], dev))
    try:
        assert c.connect(p["tls"]), f"device {dev} with its own certificate was refused: {c.refused}"
        c.c.publish(wire.event_topic(site.id, dev), badge_event(dev, 1), qos=1).wait_for_publish(10)
        assert _wait(lambda: store.count_events() == 1)
        assert store.recent_events()[0].device == dev
    finally:
        c.close()
        hub.stop()
        store.close()


def test_certificate_from_another_ca_or_none_is_refused(provisioned, tmp_path):
    p = provisioned
    dev = sorted(p["site"].devices)[0]
    ca_file, cert, key = _device_files(p["out"], dev)
    rogue = CertificateAuthority.create("rogue")
    issued = rogue.issue_device(dev, site=p["site"].id, role="seat")  # same CN, wrong CA
    (tmp_path / "rogue.crt").write_bytes(issued.cert_pem)
    (tmp_path / "rogue.key").write_bytes(issued.key_pem)
    c = Client("rogue-" + dev).tls(ca_file, tmp_path / "rogue.crt", tmp_path / "rogue.key")
    assert not c.connect(p["tls"], timeout=5)
    c.close()
    c = Client("nocert-" + dev).tls(ca_file)
    assert not c.connect(p["tls"], timeout=5)
    c.close()
    # ...and the genuine one does, on the same listener, so the refusals are about the certificate
    c = Client(dev).tls(ca_file, cert, key)
    assert c.connect(p["tls"])
    c.close()


def test_loopback_listener_wants_the_hub_password(provisioned):
    p = provisioned
    creds = load_hub_credentials(p["result"].hub_conf)
    anon = Client("anon")
    assert not anon.connect(p["plain"], timeout=5)
    anon.close()
    wrong = Client("wrong")
    wrong.c.username_pw_set(creds.username, creds.password + "x")
    assert not wrong.connect(p["plain"], timeout=5)
    wrong.close()
    # a device id has no password: devices cannot use the plain listener at all
    dev = Client("devplain")
    dev.c.username_pw_set(sorted(p["site"].devices)[0], "")
    assert not dev.connect(p["plain"], timeout=5)
    dev.close()
    ok = Client("hubok")
    ok.c.username_pw_set(creds.username, creds.password)
    assert ok.connect(p["plain"])
    ok.close()


def test_device_a_cannot_speak_for_device_b(provisioned, tmp_path):
    p = provisioned
    site = p["site"]
    a, b = sorted(d for d in site.devices if d.startswith("seat-"))[:2]
    store = Store(tmp_path / "hub.db")
    hub = _hub(p, store)
    ca = Client(a, protocol=mqtt.MQTTv5).tls(*_device_files(p["out"], a))
    try:
        assert ca.connect(p["tls"])
        forged = ca.c.publish(wire.event_topic(site.id, b), badge_event(b, 1), qos=1)  # B's topic, B's id
        forged_status = ca.c.publish(wire.status_topic(site.id, b), b'{"v":1,"device":"%s","state":"offline","ts":1}' % b.encode(), qos=1, retain=True)
        forged_acd = ca.c.publish(wire.acd_topic(site.id), b'{"v":1,"ts":1,"idle":0}', qos=1)
        forged_cmd = ca.c.publish(wire.cmd_topic(site.id, a), b'{}', qos=1)
        marker = ca.c.publish(wire.event_topic(site.id, a), badge_event(a, 1), qos=1)  # its own: allowed
        for info in (forged, forged_status, forged_acd, forged_cmd, marker):
            info.wait_for_publish(10)
        assert _wait(lambda: store.count_events() >= 1)
        hub.wait_idle(10)
        assert [e.device for e in store.iter_events()] == [a]
        assert store.count_quarantined() == 0  # dropped at the broker, never reached the hub
        assert all(d["device"] != b for d in store.devices())
        # MQTT v5 tells the publisher: 135 "not authorized" for each forged message
        assert _wait(lambda: len(ca.publish_codes) == 5)
        codes = {mid: getattr(rc, "value", rc) for mid, rc in ca.publish_codes.items()}
        assert [codes[i.mid] for i in (forged, forged_status, forged_acd, forged_cmd)] == [135] * 4
        assert codes[marker.mid] == 0
    finally:
        ca.close()
        hub.stop()
        store.close()


def test_device_reads_only_its_own_commands(provisioned):
    p = provisioned
    site = p["site"]
    a, b = sorted(d for d in site.devices if d.startswith("seat-"))[:2]
    spy = Client(a + "-spy").tls(*_device_files(p["out"], a))  # A's certificate, a second session
    own = Client(b).tls(*_device_files(p["out"], b))
    creds = load_hub_credentials(p["result"].hub_conf)
    hub = Client("hub-cmd")
    hub.c.username_pw_set(creds.username, creds.password)
    try:
        assert spy.connect(p["tls"]) and own.connect(p["tls"]) and hub.connect(p["plain"])
        spy.c.subscribe(f"fw/v1/{site.id}/#", qos=1)
        own.c.subscribe(wire.cmd_topic(site.id, b), qos=1)
        time.sleep(0.5)  # let both subscriptions settle
        hub.c.publish(wire.cmd_topic(site.id, b), b'{"v":1}', qos=1).wait_for_publish(10)
        assert _wait(lambda: len(own.messages) == 1)
        time.sleep(0.3)
        assert spy.messages == []
    finally:
        for c in (spy, own, hub):
            c.close()


def test_bundle_contents(provisioned):
    p = provisioned
    out = p["out"]
    for dev_id, dev in p["site"].devices.items():
        bundle = out / "devices" / dev_id
        cfg, _ = load_device_config(bundle / "etc/floorwatch/device.toml")
        assert cfg.broker.tls and cfg.broker.port == p["tls"] and cfg.broker.cert == "/etc/floorwatch/device.crt"
        assert cfg.readers == dev.readers  # everything but the broker survives
        assert (bundle / "etc/floorwatch/device.key").stat().st_mode & 0o077 == 0
        unit = (bundle / "etc/systemd/system/floorwatch-agent.service").read_text()
        assert "Restart=on-failure" in unit and "--config /etc/floorwatch/device.toml" in unit
        assert "ExecStart=/opt/floorwatch/venv/bin/floorwatch-edge --config" in unit  # the lean entry
        assert (bundle / "etc/udev/rules.d/99-floorwatch.rules").exists()
        assert (bundle / "install.sh").stat().st_mode & 0o111
        install = (bundle / "install.sh").read_text()
        assert 'AGENT_BIN="/opt/floorwatch/venv/bin/floorwatch-edge"' in install and "[hub]" not in install
        assert ((bundle / "usr/local/bin/floorwatch-kiosk").exists()) == (dev.role == "kiosk")
    for script in [*(out / "devices").glob("*/install.sh"), *(out / "devices").glob("*/usr/local/bin/*")]:
        subprocess.run(["sh", "-n", str(script)], check=True)  # valid shell
    kiosk_script = next((out / "devices").glob("kiosk-*/usr/local/bin/floorwatch-kiosk")).read_text()
    assert "--kiosk" in kiosk_script and "$TOKEN" in kiosk_script and "$$" not in kiosk_script
    for secret in ("ca/ca.key", "broker/server.key", "broker/passwd", "hub/hub-mqtt-password"):
        assert (out / secret).stat().st_mode & 0o077 == 0, secret
    assert (out / ".gitignore").read_text().strip().endswith("*")
    # nothing default: the password file holds hashes only, and no two runs share a password
    passwd = (out / "broker/passwd").read_text()
    pw = load_hub_credentials(p["result"].hub_conf).password
    assert pw not in passwd and "$7$101$" in passwd


def test_reprovision_keeps_ca_and_valid_certificates(provisioned, tmp_path):
    p = provisioned
    out = p["root"] / "out2"
    first = provision(p["site"], out, _opts(p["tls"], p["plain"]))
    ca_before = (out / "ca/ca.crt").read_bytes()
    pw_before = (out / "hub/hub-mqtt-password").read_text()
    again = provision(p["site"], out, _opts(p["tls"], p["plain"]))
    assert first.ca_created and not again.ca_created
    assert sorted(first.issued) == sorted(p["site"].devices) and again.issued == []
    assert (out / "ca/ca.crt").read_bytes() == ca_before
    assert (out / "hub/hub-mqtt-password").read_text() == pw_before
    renewed = provision(p["site"], out, ProvisionOptions(**{**_opts(p["tls"], p["plain"]).__dict__, "renew": True}))
    assert sorted(renewed.issued) == sorted(p["site"].devices)


def test_bad_options_are_refused_with_the_field_named(provisioned):
    p = provisioned
    with pytest.raises(ProvisionError, match="plain_host"):
        provision(p["site"], p["root"] / "bad", ProvisionOptions(broker_host="h", plain_host="0.0.0.0"))
    with pytest.raises(ProvisionError, match="broker_host"):
        provision(p["site"], p["root"] / "bad", ProvisionOptions(broker_host='h"; rm -rf /'))
    with pytest.raises(ProvisionError, match="hub_url"):
        provision(p["site"], p["root"] / "bad", ProvisionOptions(broker_host="h", hub_url="javascript:alert(1)"))


def test_tls_broker_rewrite_keeps_the_rest():
    raw = 'id = "x"\nsite = "s"\nrole = "seat"\nseat = "A"\n# c\n[broker]\nhost = "a"\nport = 1\n\n[spool]\npath = "/p"\n'
    text = with_tls_broker(raw, host="hub", port=8883, protocol="5")
    data = tomllib.loads(text)
    assert data["broker"] == {"host": "hub", "port": 8883, "protocol": "5", "tls": True,
                              "ca": "/etc/floorwatch/ca.crt", "cert": "/etc/floorwatch/device.crt",
                              "key": "/etc/floorwatch/device.key"}
    assert data["spool"] == {"path": "/p"} and "# c" in text
    assert tomllib.loads(with_tls_broker('id = "x"\n', host="h", port=1, protocol="5"))["broker"]["tls"]


def test_mosquitto_password_hash_matches_mosquitto_passwd(tmp_path):
    import shutil

    ours = mosquitto_password_hash("s3cret")
    assert mosquitto_password_check("s3cret", ours) and not mosquitto_password_check("s3cret!", ours)
    tool = shutil.which("mosquitto_passwd")
    if tool:  # the reference implementation's hash verifies with our checker
        subprocess.run([tool, "-c", "-b", str(tmp_path / "pw"), "u", "s3cret"], check=True)
        stored = (tmp_path / "pw").read_text().strip().split(":", 1)[1]
        assert mosquitto_password_check("s3cret", stored)


def test_edge_link_with_its_bundle_reaches_the_hub_over_tls(provisioned, tmp_path):
    """The real edge Link, configured from its bundle, publishes through the TLS listener."""
    from edge.link import Link, LinkLoop
    from edge.spool import Spool

    p = provisioned
    site = p["site"]
    dev = sorted(d for d in site.devices if d.startswith("seat-"))[-1]
    cfg, digest = load_device_config(p["out"] / "devices" / dev / "etc/floorwatch/device.toml")
    ca, cert, key = _device_files(p["out"], dev)  # the bundle's files, where the Pi has /etc/floorwatch
    broker = cfg.broker.model_copy(update={"ca": str(ca), "cert": str(cert), "key": str(key)})
    store = Store(tmp_path / "hub.db")
    statuses: list[wire.Status] = []
    creds = load_hub_credentials(p["result"].hub_conf)
    hub = Ingest(store, site.id, "127.0.0.1", p["plain"], username=creds.username, password=creds.password,
                 client_id=f"hub-{uuid.uuid4().hex[:6]}", on_status=statuses.append).start(wait=15)
    loop = LinkLoop().start()
    spool = Spool(tmp_path / "spool.db")
    link = Link(dev, site.id, broker, spool, loop=loop, config_hash=digest).start()
    try:
        assert link.connected.wait(20), f"edge link refused: {link.last_error}"
        for _ in range(3):
            spool.append(lambda seq: badge_event(dev, seq))
        link.kick()
        assert _wait(lambda: store.count_events() == 3)
        assert _wait(lambda: any(s.device == dev and s.state == "online" for s in statuses))
    finally:
        link.stop()
        loop.stop()
        hub.stop()
        store.close()


def test_floorwatch_hub_logs_in_with_its_provisioned_credentials(provisioned, tmp_path):
    """`floorwatch hub --mqtt-conf OUT/hub/mqtt.toml`: the production start, not a test shortcut."""
    import sys

    p = provisioned
    site = p["site"]
    dev = sorted(site.devices)[-1]
    db = tmp_path / "hub.db"
    log = open(tmp_path / "hub.log", "w")  # noqa: SIM115 - closed below
    hub = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "hub", "--site", str(site.root), "--db", str(db),
         "--mqtt-conf", str(p["result"].hub_conf), "--web", "off"],
        stdout=subprocess.DEVNULL, stderr=log,
    )
    c = Client(dev).tls(*_device_files(p["out"], dev))
    try:
        assert _wait(db.exists)
        store = Store(db)
        assert c.connect(p["tls"])
        # publish until the hub's session exists and takes it (it may still be connecting)
        assert _wait(lambda: c.c.publish(wire.event_topic(site.id, dev), badge_event(dev, 7), qos=1)
                     and store.count_events() == 1, timeout=30)
        assert store.recent_events()[0].device == dev
        store.close()
    finally:
        c.close()
        hub.terminate()
        hub.wait(15)
        log.close()
    assert "connected to 127.0.0.1" in (tmp_path / "hub.log").read_text()


def test_mqtt_toml_keeps_a_path_with_a_quote_and_a_backslash(provisioned, tmp_path):
    """hub/mqtt.toml is written by a TOML writer: tomllib reads back the very path."""
    p = provisioned
    out = tmp_path / 'we"ird\\out'
    result = provision(p["site"], out, ProvisionOptions(broker_host="127.0.0.1", broker_dir="/srv/floorwatch/broker"))
    data = tomllib.loads(result.hub_conf.read_text(encoding="utf-8"))
    assert data["broker"]["password_file"] == str((out / "hub" / "hub-mqtt-password").resolve())
    creds = load_hub_credentials(result.hub_conf)
    assert creds.password == (out / "hub" / "hub-mqtt-password").read_text().strip() and creds.port == 1883
    with pytest.raises(ProvisionError, match="broker_dir"):  # mosquitto.conf could not name these files
        provision(p["site"], out, ProvisionOptions(broker_host="127.0.0.1"))


def test_removed_and_reissued_devices_certificates_are_refused_by_the_broker(tmp_path):
    """The CRL `floorwatch provision` writes, checked by a real mosquitto on the generated config:
    a removed device's certificate and the old certificate of a re-issued device are refused; the
    new certificate and the untouched devices' connect."""
    from hub.sitegen import generate_site

    site_dir = generate_site(tmp_path / "site", site="crl" + uuid.uuid4().hex[:6], seats=3, zones=1,
                             sim_devices=True)
    tls_port, plain_port = free_port(), free_port()
    out = tmp_path / "out"
    provision(load_site(site_dir), out, _opts(tls_port, plain_port))
    gone, reissued, kept = sorted(d for d in load_site(site_dir).devices if d.startswith("seat-"))
    old = {}
    for dev in (gone, reissued):
        shutil.copytree(out / "devices" / dev / "etc" / "floorwatch", tmp_path / f"old-{dev}")
        old[dev] = tuple(tmp_path / f"old-{dev}" / f.name for f in _device_files(out, dev))
    (site_dir / "devices" / f"{gone}.toml").unlink()  # the device leaves the site
    (out / "devices" / reissued / "etc" / "floorwatch" / "device.key").unlink()  # a lost key: re-issue

    result = provision(load_site(site_dir), out, _opts(tls_port, plain_port))
    assert result.issued == [reissued] and gone not in result.devices
    assert {e["device"]: e["reason"] for e in json.loads((out / "manifest.json").read_text())["revoked"]} == {
        gone: "cessationOfOperation", reissued: "superseded"}
    with _mosquitto(result.broker_conf, tls_port, plain_port):
        for dev, files, accepted in ((gone, old[gone], False), (reissued, old[reissued], False),
                                     (reissued, _device_files(out, reissued), True),
                                     (kept, _device_files(out, kept), True)):
            c = Client(dev).tls(*files)
            try:
                assert c.connect(tls_port, timeout=5) is accepted, (dev, files[1])
            finally:
                c.close()
    # a later run keeps them revoked (the list lives beside the CA), and issues nothing new
    again = provision(load_site(site_dir), out, _opts(tls_port, plain_port))
    assert again.issued == [] and len(json.loads((out / "ca" / "revoked.json").read_text())["revoked"]) == 2


def test_a_device_certificate_cannot_take_another_devices_session(provisioned):
    """seat A's certificate presented with seat B's client id: the broker binds the client id to
    the certificate, so the connection is A's own session; B stays connected and its will (the
    offline status the hub would act on) is never sent."""
    p = provisioned
    site = p["site"]
    a, b = sorted(d for d in site.devices if d.startswith("seat-"))[:2]
    creds = load_hub_credentials(p["result"].hub_conf)
    hub = Client(f"hub-{uuid.uuid4().hex[:6]}")
    hub.c.username_pw_set(creds.username, creds.password)
    real = {}
    for dev in (a, b):
        real[dev] = Client(dev).tls(*_device_files(p["out"], dev))
        real[dev].c.will_set(wire.status_topic(site.id, dev), f"will of {dev}".encode(), qos=1)
    forger = Client(b).tls(*_device_files(p["out"], a))  # A's certificate, B's client id
    try:
        assert hub.connect(p["plain"])
        hub.c.subscribe(f"fw/v1/{site.id}/+/status", qos=1)
        assert real[a].connect(p["tls"]) and real[b].connect(p["tls"])
        time.sleep(0.3)
        assert forger.connect(p["tls"])
        assert _wait(real[a].closed.is_set)  # the session taken is A's own
        assert _wait(lambda: any(m.payload == f"will of {a}".encode() for m in hub.messages))
        time.sleep(0.5)
        assert not real[b].closed.is_set()
        assert [m.payload for m in hub.messages if m.payload == f"will of {b}".encode()] == []
        # and under that session it still speaks only for A
        info = forger.c.publish(wire.status_topic(site.id, b), b"forged", qos=1)
        info.wait_for_publish(10)
        time.sleep(0.3)
        assert b"forged" not in [m.payload for m in hub.messages]
    finally:
        for c in (forger, real[a], real[b], hub):
            c.close()


def test_the_contact_center_feed_logs_in_and_writes_only_its_topic(provisioned):
    """With per-listener authentication the loopback listener still takes the feed's password."""
    p = provisioned
    site = p["site"]
    creds = load_hub_credentials(p["result"].hub_conf)
    acd = tomllib.loads(p["result"].hub_conf.read_text())["acd"]
    hub = Client(f"hub-{uuid.uuid4().hex[:6]}")
    hub.c.username_pw_set(creds.username, creds.password)
    feed = Client("acd-feed", protocol=mqtt.MQTTv5)
    feed.c.username_pw_set(acd["username"], Path(acd["password_file"]).read_text().strip())
    try:
        assert hub.connect(p["plain"]) and feed.connect(p["plain"])
        hub.c.subscribe(f"fw/v1/{site.id}/#", qos=1)
        time.sleep(0.3)
        ok = feed.c.publish(wire.acd_topic(site.id), b'{"v":1,"ts":1,"idle":0}', qos=1)
        denied = feed.c.publish(wire.cmd_topic(site.id, sorted(site.devices)[0]), b"{}", qos=1)
        for info in (ok, denied):
            info.wait_for_publish(10)
        assert _wait(lambda: wire.acd_topic(site.id) in [m.topic for m in hub.messages])
        assert _wait(lambda: len(feed.publish_codes) == 2)
        assert [m.topic for m in hub.messages if m.topic.endswith("/cmd")] == []
        assert getattr(feed.publish_codes[denied.mid], "value", None) == 135
    finally:
        feed.close()
        hub.close()


def test_a_provisioned_site_broker_bridges_to_a_central_broker_over_tls(tmp_path):
    """`--bridge` with the files headquarters issued: a device's event, published over TLS to the
    generated site broker, reaches a hub on a central mosquitto that only takes bridges with a
    certificate from its own CA, and (`--bridge-commands`: no hub at the site) the hub's feedback
    for the device comes back the same way."""
    from hub.broker import MosquittoBroker
    from hub.pki import write_secret
    from hub.sitegen import generate_site

    hq = CertificateAuthority.create("hq")
    files = tmp_path / "from-hq"
    (files / "ca.crt").parent.mkdir()
    (files / "ca.crt").write_bytes(hq.cert_pem)
    server = hq.issue_server(["127.0.0.1"])
    (files / "server.crt").write_bytes(server.cert_pem)
    write_secret(files / "server.key", server.key_pem)
    central_tls = free_port()
    site = load_site(generate_site(tmp_path / "site", site="brg" + uuid.uuid4().hex[:6], seats=2, zones=1,
                                   sim_devices=True))
    # headquarters' ACL (docs/scale-out.md): each site's bridge certificate writes only its site
    (files / "acl").write_text(f"topic readwrite fw/v1/#\n\nuser bridge-{site.id}\ntopic readwrite fw/v1/{site.id}/#\n")
    central = MosquittoBroker(tmp_path / "central", extra_conf=(
        f"acl_file {files}/acl\nlistener {central_tls} 127.0.0.1\ncafile {files}/ca.crt\n"
        f"certfile {files}/server.crt\nkeyfile {files}/server.key\nrequire_certificate true\n"
        "use_identity_as_username true\n")).start()
    bridge = hq.issue_device(f"bridge-{site.id}", site="hq", role="bridge")
    (files / "bridge.crt").write_bytes(bridge.cert_pem)
    write_secret(files / "bridge.key", bridge.key_pem)

    with pytest.raises(ProvisionError, match="bridge_ca"):  # a WAN link without TLS is refused
        provision(site, tmp_path / "bad", ProvisionOptions(broker_host="127.0.0.1", bridge=f"127.0.0.1:{central_tls}"))
    tls_port, plain_port = free_port(), free_port()
    opts = _opts(tls_port, plain_port)
    opts.bridge, opts.bridge_ca = f"127.0.0.1:{central_tls}", str(files / "ca.crt")
    opts.bridge_cert, opts.bridge_key = str(files / "bridge.crt"), str(files / "bridge.key")
    assert "/cmd" not in provision(site, tmp_path / "own-hub", opts).broker_conf.read_text()  # the site's hub answers
    opts.bridge_commands = True  # a site without a hub of its own: the central hub answers its devices
    result = provision(site, tmp_path / "out", opts)
    store = Store(tmp_path / "hub.db")
    hub = Ingest(store, site.id, central.host, central.port, client_id="hq-hub").start(wait=15)
    dev = sorted(site.devices)[0]
    c = Client(dev).tls(*_device_files(tmp_path / "out", dev))
    try:
        with _mosquitto(result.broker_conf, tls_port, plain_port):
            assert c.connect(tls_port), c.refused
            c.c.subscribe(wire.cmd_topic(site.id, dev), qos=1)
            event = badge_event(dev, 1)
            # until the bridge is up the same event again (a redelivery: stored once)
            assert _wait(lambda: c.c.publish(wire.event_topic(site.id, dev), event, qos=1)
                         and store.count_events() == 1, timeout=30, interval=1.0)
            hub.publish_command(wire.Command(v=1, device=dev, ts=wire.now_ms(), cmd="feedback", result="ok",
                                             re=json.loads(event)["id"]))
            assert _wait(lambda: any(m.topic == wire.cmd_topic(site.id, dev) for m in c.messages), timeout=30)
        # the bridge's certificate used to speak for another site gets nowhere at headquarters
        other = wire.event_topic("other", "seat-x")
        watch = Client("hq-watch")
        rogue = Client(f"bridge-{site.id}-rogue").tls(files / "ca.crt", files / "bridge.crt", files / "bridge.key")
        try:
            assert watch.connect(central.port) and rogue.connect(central_tls), rogue.refused
            watch.c.subscribe("fw/v1/#", qos=1)
            time.sleep(0.5)
            rogue.c.publish(other, badge_event("seat-x", 1), qos=1).wait_for_publish(10)
            rogue.c.publish(wire.event_topic(site.id, dev), badge_event(dev, 99), qos=1).wait_for_publish(10)
            assert _wait(lambda: any(m.topic == wire.event_topic(site.id, dev) for m in watch.messages), timeout=10)
            assert not [m for m in watch.messages if m.topic == other]
        finally:
            rogue.close()
            watch.close()
        assert _wait(lambda: store.count_events() == 2) and store.count_quarantined() == 0
    finally:
        c.close()
        hub.stop()
        store.close()
        central.close()
