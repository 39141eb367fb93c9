"""The two databases the store runs on, and where their SQL differs.

SQLite (a file path, the default) is the embedded database of a single hub. PostgreSQL (a
`postgresql://` URL, psycopg 3) lets several hubs share one site's log and take over its engine.
The store's SQL is written once in the subset both understand (`?` parameters, `ON CONFLICT`,
`RETURNING`, SQLite's column types); what differs lives here, one class per backend:

- `Sqlite`: the connection as it always was (WAL, NORMAL sync, busy timeout).
- `Postgres`: `PgConnection`, a thin sqlite3-shaped wrapper around a psycopg connection, so the
  store's code does not branch: it turns `?` into `%s`, the DDL's types into PostgreSQL's, and a
  write transaction (`BEGIN IMMEDIATE`) into `BEGIN` plus a transaction-level advisory lock. That
  lock gives PostgreSQL SQLite's rule of one writer at a time, which the input log's order rests
  on: a seq is handed out and committed before the next writer can take one, so the engine never
  reads past a seq that a slower transaction commits later.
- Fragments (`greatest`, `json_values`, ...) for the few functions the two spell differently.
"""

from __future__ import annotations

import functools
import re
import sqlite3
import time
import zlib
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import sqlite_utils

URL_SCHEMES = ("postgresql://", "postgres://")
# The key of the advisory lock every write transaction takes on PostgreSQL ("floorwatch" in hex-ish).
WRITE_LOCK_KEY = 0x466C6F6F72


def is_url(target: object) -> bool:
    """A PostgreSQL URL (anything else is a SQLite file path)."""
    return isinstance(target, str) and target.startswith(URL_SCHEMES)


class Sqlite:
    name = "sqlite"
    row_id = "rowid"  # a row's physical id, for chunked deletes and insertion order

    @staticmethod
    def connect(path: str | Path) -> sqlite3.Connection:
        """Open the hub database the way every part of the hub expects it."""
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30, isolation_level=None)
        for attempt in range(100):  # switching a new file to WAL can meet another opener's lock
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError:
                if attempt == 99:
                    raise
                time.sleep(0.05)
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process crashes
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    @staticmethod
    def greatest(a: str, b: str) -> str:
        return f"max({a}, {b})"

    @staticmethod
    def json_values(x: str) -> str:
        """A table expression with one `value` column: the elements of a JSON array (text)."""
        return f"json_each({x})"

    @staticmethod
    def json_array_agg(x: str) -> str:
        """An aggregate: the values as JSON array text (in the order of the rows)."""
        return f"json_group_array({x})"

    @staticmethod
    def json_field(doc: str, key: str) -> str:
        """A top-level field of a JSON object held as text, as text."""
        return f"json_extract({doc}, '$.{key}')"

    @staticmethod
    def announce_inputs(conn: sqlite3.Connection) -> None:
        """One hub per file: its own engine hears of its inputs in-process."""

    @staticmethod
    def ensure_schema(conn: sqlite3.Connection) -> None:
        """One file is one site's database: nothing to choose."""

    @staticmethod
    def tables(conn: sqlite3.Connection) -> set[str]:
        db = sqlite_utils.Database(conn)
        return {*db.table_names(), *db.view_names()}

    @staticmethod
    def columns(conn: sqlite3.Connection, table: str) -> set[str]:
        return set(sqlite_utils.Database(conn)[table].columns_dict)


class Postgres:
    name = "postgresql"
    row_id = "ctid"

    @staticmethod
    def connect(url: str, application_name: str = "floorwatch") -> PgConnection:
        return PgConnection(url, application_name)

    @staticmethod
    def greatest(a: str, b: str) -> str:
        return f"greatest({a}, {b})"

    @staticmethod
    def json_values(x: str) -> str:
        return f"json_array_elements_text(CAST({x} AS json)) AS j(value)"

    @staticmethod
    def json_array_agg(x: str) -> str:
        return f"CAST(coalesce(json_agg({x}), '[]') AS text)"

    @staticmethod
    def json_field(doc: str, key: str) -> str:
        return f"(CAST({doc} AS json) ->> '{key}')"

    @staticmethod
    def tables(conn: Any) -> set[str]:
        return {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")}

    @staticmethod
    def announce_inputs(conn: PgConnection) -> None:
        """Tell whoever consumes this database's input log, in whatever process or host, that it
        grew (delivered at commit of the transaction open on `conn`; hub.store.notify.LogWatcher
        listens)."""
        conn.execute("SELECT pg_notify(?, '')", (conn.log_channel,))

    @staticmethod
    def site_schemas(conn: Any) -> list[str]:
        """The schemas of this database that hold a hub's tables (one per site)."""
        return [r[0] for r in conn.execute(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'input_log' ORDER BY table_schema")]

    @staticmethod
    def ensure_schema(conn: Any) -> None:
        """Create the schema the URL's search_path names first, if it is not there yet (a site's
        first start in a database shared with other sites)."""
        if conn.execute("SELECT current_schema()").fetchone()[0] is not None:
            return
        first = conn.execute("SHOW search_path").fetchone()[0].split(",")[0].strip().strip('"')
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{first.replace(chr(34), "")}"')

    @staticmethod
    def columns(conn: Any, table: str) -> set[str]:
        return {r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
            " AND table_name = ?", (table,))}


Dialect = type[Sqlite] | type[Postgres]


def dialect_of(conn: Any) -> Dialect:
    return Postgres if isinstance(conn, PgConnection) else Sqlite


# ---------------------------------------------------------------- PostgreSQL: sqlite3's shape

_DDL_TYPES = (
    (re.compile(r"\bINTEGER PRIMARY KEY\b(?! *CHECK)"), "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\bINTEGER\b"), "BIGINT"),  # times are ms since 1970: past 32 bits
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),  # PostgreSQL's REAL is 4 bytes
    (re.compile(r"\bBLOB\b"), "BYTEA"),
)
_STRING_OR_MARK = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?|%")


@functools.lru_cache(maxsize=2048)
def pg_sql(sql: str) -> str:
    """The store's SQL as psycopg takes it: `?` -> `%s`, a literal `%` doubled, DDL types mapped."""
    if sql.lstrip()[:6].upper() in ("CREATE", "ALTER "):
        for pattern, repl in _DDL_TYPES:
            sql = pattern.sub(repl, sql)

    def mark(m: re.Match) -> str:
        s = m.group(0)
        if s == "?":
            return "%s"
        if s == "%":
            return "%%"
        return s.replace("%", "%%")  # inside a literal: still a psycopg placeholder character

    return _STRING_OR_MARK.sub(mark, sql)


class PgCursor:
    """A psycopg cursor that takes the store's SQL (see `pg_sql`)."""

    def __init__(self, conn: PgConnection) -> None:
        self._conn = conn
        self._cur: Any = None

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> PgCursor:
        return self._again_if_dropped(lambda cur: self._conn.run(cur, sql, params))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> PgCursor:
        rows = [tuple(r) for r in rows]
        if rows:
            self._again_if_dropped(lambda cur: cur.executemany(pg_sql(sql), rows))
        return self

    def _again_if_dropped(self, statement: Any) -> PgCursor:
        """Run it; a statement outside a transaction that met a dropped connection (the first
        one after a server restart does) runs once more on a new one."""
        for again in (False, True):
            self._cur = self._conn.cursor_for(self._cur)
            in_transaction = self._conn.in_transaction
            try:
                statement(self._cur)
                return self
            except Exception:
                if again or in_transaction or not self._conn.raw.closed:
                    raise
        return self

    def fetchone(self) -> tuple | None:
        return self._cur.fetchone() if self.description else None

    def fetchall(self) -> list[tuple]:
        return self._cur.fetchall() if self.description else []

    def fetchmany(self, size: int) -> list[tuple]:
        return self._cur.fetchmany(size) if self.description else []

    def __iter__(self):
        return iter(self.fetchall())

    @property
    def description(self):
        return self._cur.description if self._cur is not None else None

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount if self._cur is not None else -1

    def close(self) -> None:
        if self._cur is not None:
            self._cur.close()


class PgConnection:
    """A psycopg connection (autocommit; transactions are explicit, as the store writes them).

    A connection the server or the network dropped (a PostgreSQL restart, a failover to the
    standby) is opened again at the next statement outside a transaction; a transaction it cut
    short fails to its caller, whose ROLLBACK then finds nothing to undo (the server did)."""

    def __init__(self, url: str, application_name: str = "floorwatch") -> None:
        self.url, self.application_name = url, application_name
        self.in_transaction = False
        self.reconnects = 0
        self.raw = self._open()

    def _open(self) -> Any:
        import psycopg  # the postgres extra; a SQLite hub never imports it
        import psycopg.adapt

        class NumericLoader(psycopg.adapt.Loader):
            """sum() of integers is NUMERIC in PostgreSQL: whole numbers load as int, others as
            float (SQLite's answers), never Decimal."""

            def load(self, data: Any) -> int | float:
                d = Decimal(bytes(data).decode())
                return int(d) if d == d.to_integral_value() else float(d)

        raw = psycopg.connect(self.url, autocommit=True, application_name=self.application_name)
        raw.adapters.register_loader("numeric", NumericLoader)
        # One database may hold several sites, each in a schema of its own, chosen by the URL's
        # search_path (postgresql://host/db?options=-csearch_path%3Dsite_a): every process a hub
        # starts is handed the same URL. Its writers queue on a lock of that schema's own.
        search_path = raw.execute("SHOW search_path").fetchone()[0]
        self.write_key = WRITE_LOCK_KEY ^ zlib.crc32(search_path.encode())
        return raw

    @property
    def log_channel(self) -> str:
        """The notification channel of this database's (schema's) input log."""
        return f"floorwatch_log_{self.write_key:x}"

    def cursor_for(self, cur: Any) -> Any:
        """`cur`, or a new cursor when the connection was opened again since it was made."""
        if self.raw.closed:
            if self.in_transaction:
                return cur  # the transaction is lost: its statements fail, its ROLLBACK passes (run)
            self.raw = self._open()
            self.reconnects += 1
        return cur if cur is not None and cur.connection is self.raw else self.raw.cursor()

    def run(self, cur: Any, sql: str, params: Sequence[Any] | None) -> None:
        """One statement on one of this connection's cursors (see `pg_sql`)."""
        head = sql.strip().upper()
        if head in ("COMMIT", "ROLLBACK"):
            was, self.in_transaction = self.in_transaction, False
            if head == "ROLLBACK" and was and self.raw.closed:
                return  # the connection ended the transaction when it broke
        if cur is None:
            cur = self.raw.cursor()  # a closed connection says so here
        if head in ("COMMIT", "ROLLBACK"):
            cur.execute(head)
            return
        if head == "BEGIN IMMEDIATE":  # one writer at a time, as in SQLite (the module's docstring)
            cur.execute("BEGIN")
            self.in_transaction = True
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (self.write_key,))
            return
        if head.startswith("BEGIN"):
            cur.execute(pg_sql(sql))
            self.in_transaction = True
            return
        cur.execute(pg_sql(sql), tuple(params) if params is not None else None)

    def cursor(self) -> PgCursor:
        return PgCursor(self)

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> PgCursor:
        return PgCursor(self).execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> PgCursor:
        return PgCursor(self).executemany(sql, rows)

    def close(self) -> None:
        self.raw.close()


def schema_url(url: str, schema: str) -> str:
    """A database URL whose connections use `schema` (one site of a database holding several)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    query.append(("options", f"-csearch_path={schema}"))
    return urlunsplit(parts._replace(query=urlencode(query)))


def connect(target: str | Path) -> Any:
    """A connection to the hub database: a SQLite file (or ":memory:") or a PostgreSQL URL."""
    return Postgres.connect(target) if is_url(target) else Sqlite.connect(target)
