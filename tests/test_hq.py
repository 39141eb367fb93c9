"""Several sites in one PostgreSQL database (issue 16): each site's hubs keep their tables in a
schema of their own, named by the URL's search_path, and headquarters reads them side by side."""

from __future__ import annotations

from hub.store import IncomingEvent, Store
from hub.store.lease import EngineLease


def site_url(url: str, schema: str) -> str:
    return f"{url}?options=-csearch_path%3D{schema}"


def _event(device: str, seq: int) -> IncomingEvent:
    return IncomingEvent(f"00000000-0000-4000-8000-{seq:012x}", device, seq, 1_000 + seq, 2_000 + seq, "heartbeat",
                         True, {"uptime_s": seq, "spooled": 0})


def test_two_sites_share_a_database_in_schemas_of_their_own(pg_url):
    a, b = Store(site_url(pg_url, "site_a")), Store(site_url(pg_url, "site_b"))
    try:
        assert len(a.append_events([_event("seat-a01", 1), _event("seat-a01", 2)])) == 2
        assert len(b.append_events([_event("seat-a01", 1)])) == 1  # the same device id and seq: another site's
        assert (a.count_events(), b.count_events()) == (2, 1)
        assert [e.seq for e in b.recent_events()] == [1]
        assert a.conn.write_key != b.conn.write_key  # their writers do not queue behind each other
        # each site's engine has a lease of its own
        la, lb = EngineLease(a, "a", "hub1"), EngineLease(b, "b", "hub1")
        assert la.try_acquire() and lb.try_acquire()
        la.release()
        lb.release()
    finally:
        a.close()
        b.close()
