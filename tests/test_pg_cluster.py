"""The private PostgreSQL cluster the tests run against: its databases are separate, and a
session-level advisory lock dies with the backend holding it (what the hub's engine lease relies
on: a hub that is killed must not keep the lease)."""

from __future__ import annotations

import psycopg

LEASE = 4242


def test_databases_are_separate_and_a_killed_backend_releases_its_advisory_lock(pg_cluster, pg_url):
    assert pg_cluster.port != 5432  # a server of the suite's own, never the machine's service
    other_url = pg_cluster.create_database("t_other_" + pg_url.rsplit("_", 1)[1])
    with psycopg.connect(pg_url, autocommit=True) as a, psycopg.connect(other_url, autocommit=True) as b:
        a.execute("CREATE TABLE engine_lease (holder text)")
        assert a.execute("SELECT to_regclass('engine_lease')").fetchone() == ("engine_lease",)
        assert b.execute("SELECT to_regclass('engine_lease')").fetchone() == (None,)

    holder = psycopg.connect(pg_url, autocommit=True)
    with psycopg.connect(pg_url, autocommit=True) as rival:
        assert holder.execute("SELECT pg_try_advisory_lock(%s)", [LEASE]).fetchone() == (True,)
        assert rival.execute("SELECT pg_try_advisory_lock(%s)", [LEASE]).fetchone() == (False,)

        holder_pid = holder.info.backend_pid
        assert rival.execute("SELECT pg_terminate_backend(%s, 5000)", [holder_pid]).fetchone() == (True,)
        assert rival.execute("SELECT pg_try_advisory_lock(%s)", [LEASE]).fetchone() == (True,)
    holder.close()
