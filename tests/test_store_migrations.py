"""The schema's migrations (hub.store.migrations) on both backends: a database from an older hub is
brought up to date when a hub opens it, keeping what it holds."""

from __future__ import annotations

import json

import pytest

from hub.errors import StoreError
from hub.store import Store, backend, migrations
from hub.store.access import AuthStore


def _conn(target):
    return backend.connect(target)


def test_a_schema_1_log_gets_its_input_log_and_every_later_table(new_db):
    """Schema 1: events, statuses and counts in tables of their own, no input log."""
    target = new_db()
    conn = _conn(target)
    migrations.MIGRATIONS[0].apply(conn)  # what a schema-1 hub created
    conn.execute("CREATE TABLE status_log (id INTEGER PRIMARY KEY, received INTEGER, device TEXT, state TEXT,"
                 " ts INTEGER, fw TEXT, config TEXT)")
    for seq, received in ((1, 1_000), (2, 3_000)):
        conn.execute("INSERT INTO events(event_id, device, seq, ts, received, type, clock_ok, body)"
                     " VALUES (?,?,?,?,?,?,?,?)", (f"e{seq}", "seat-a01", seq, received, received, "heartbeat", 1, "{}"))
    conn.execute("INSERT INTO status_log(received, device, state, ts, fw, config) VALUES (2000, 'seat-a01',"
                 " 'online', 1990, '0.1', 'x')")
    conn.close()
    store = Store(target)
    try:
        assert migrations.version(store.conn) == migrations.SCHEMA_VERSION
        log = store.read_inputs()
        assert [(i.kind, i.received) for i in log] == [("event", 1_000), ("status", 2_000), ("event", 3_000)]
        assert log[1].body["state"] == "online" and log[2].event.seq == 2
        assert store.count_events() == 2
        assert {"violations", "users", "alert_outbox", "roster_cells"} <= store.dialect.tables(store.conn)
    finally:
        store.close()


def test_the_manager_role_comes_with_schema_5_and_signed_in_users_stay(new_db):
    target = new_db()
    store = Store(target)
    auth = AuthStore(store)
    lead = auth.create_user("lead1", "lead", None, 1, teams=["T1"])
    auth.create_session("s" * 64, lead, "c" * 32, 1, 10**13, "127.0.0.1")
    # back to schema 4: the users table's CHECK without `manager`
    conn = store.conn
    if store.dialect.name == "postgresql":
        conn.execute("ALTER TABLE users DROP CONSTRAINT users_role_check")
        conn.execute(f"ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ({migrations.ROLES_V3}))")
    else:
        conn.execute("PRAGMA writable_schema=ON")  # test only: how a schema-4 file's table read
        conn.execute("UPDATE sqlite_master SET sql = replace(sql, ?, ?) WHERE name = 'users'",
                     (migrations.ROLES_V3 + ",'manager'", migrations.ROLES_V3))
        conn.execute("PRAGMA writable_schema=OFF")
    conn.execute("UPDATE meta SET value = '4' WHERE key = 'schema'")
    store.close()
    if store.dialect.name == "sqlite":
        with pytest.raises(Exception, match="CHECK"):  # the old table refuses a manager
            old = _conn(target)
            old.execute("INSERT INTO users(username, role, created) VALUES ('m', 'manager', 1)")
    store = Store(target)
    try:
        auth = AuthStore(store)
        auth.create_user("hq", "manager", None, 2)
        assert auth.user_by_name("hq")["role"] == "manager"
        assert auth.session("s" * 64, 5)["user"]["username"] == "lead1"  # the rebuilt table kept its sessions
        assert json.loads(store.conn.execute("SELECT teams FROM users WHERE username = 'lead1'").fetchone()[0]) == ["T1"]
    finally:
        store.close()


def test_a_database_from_a_newer_hub_is_refused(new_db):
    target = new_db()
    Store(target).close()
    conn = _conn(target)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(migrations.SCHEMA_VERSION + 1),))
    conn.close()
    with pytest.raises(StoreError, match="newer than this hub"):
        Store(target)


def test_quarantine_keeps_a_message_once_and_counts_its_copies_from_schema_6(new_db):
    """Two hubs each quarantine every malformed message they read; a redelivery brings one again.
    One row per message (topic and payload), its copies counted; rows kept before schema 6 stay."""
    target = new_db()
    store = Store(target)
    store.quarantine(1, "fw/v1/s/seat-a01/event", b"not json", "payload: not a JSON object")
    conn = store.conn  # back to schema 5: the quarantine table as it was, with a row it kept
    conn.execute("DROP INDEX quarantine_digest")
    for column in ("digest", "copies", "last_received"):
        conn.execute(f"ALTER TABLE quarantine DROP COLUMN {column}")
    conn.execute("UPDATE meta SET value = '5' WHERE key = 'schema'")
    store.close()
    store = Store(target)
    try:
        assert migrations.version(store.conn) == migrations.SCHEMA_VERSION
        for received, hub_copy in ((10, b"\x00garbage"), (11, b"\x00garbage"), (12, b"other")):
            store.quarantine(received, "fw/v1/s/seat-a02/event", hub_copy, "payload: not valid UTF-8")
        store.quarantine(13, "fw/v1/s/seat-a01/event", b"not json", "payload: not a JSON object")
        rows = [(q["received"], q["copies"], q["last_received"]) for q in store.quarantined()]
        # newest first: the second message, the first (its copy at 11), and the one kept before 6
        # (no digest: the copy at 13 of that payload is a row of its own)
        assert rows == [(13, 1, None), (12, 1, None), (10, 2, 11), (1, 1, None)]
        assert store.count_quarantined() == 4
    finally:
        store.close()
