"""The attendance CSV and JSON lines rendered by SQLite (hub.exports.in_sqlite) are byte for byte
what the Python path (formats.csv_chunks / json_chunks of attendance.rows) writes, for ordinary
rows and for every awkward cell that path handles: local times across DST changes and in zones
with half-hour offsets, rounding ties, text Excel would run as a formula or CSV must quote,
damaged or unusual JSON lists, values of unexpected types."""

from __future__ import annotations

import bisect
import datetime as dt
import io
import json
import random
from zoneinfo import ZoneInfo

import pytest

from hub.exports import ExportQuery, attendance, formats, render_export, write_file
from hub.exports.in_sqlite import zone_spans
from hub.site import load_site
from hub.sitegen import generate_site
from hub.store import Store
from tests.test_exports_data import CONTRACT_COLUMNS, ensure_tables

ZONES = ["Asia/Shanghai", "Europe/Berlin", "America/St_Johns", "Australia/Lord_Howe", "UTC"]
Q = ExportQuery(dt.date(2026, 3, 27), dt.date(2026, 3, 30))  # Europe's spring change: 2026-03-29 01:00 UTC
SPRING = 1774746000000  # 2026-03-29T01:00:00Z

TEXTS = ["王伟", "=1+1", "-5", "+7", "@x", "\tTab", "\rCR", 'a"quote', "line\nbreak", "comma,here", "back\\slash",
         "ctrl\x01char", "", " lead", "trail ", "é中😀", None]
LISTS = ["[]", '["A01"]', '["A01","A02"]', '["A01", "A02"]', '["a\\"b"]', '["=x","y"]', '["-1"]', "[1,2]",
         '["a",["b"]]', "not json", "", '{"a":1}', '"str"', '["é中"]', '["a;b","c"]', '["a,b"]', '["tab\t"]',
         '["x\\u0041"]', '["",""]', '[""]', "[ ]"]
NUMBERS = [450.0, 23.25, 0.15, 0.25, -0.04, -5.55, -5.5, -0.06, 2.675, 1e12, 5, 0.0, 12.349999, 99.95, None]
SHIFTS = ["day", "night", "2026-03-28/night", "a/b/c", "xyz", "=f", "2026-03-28/"]
CODES = ["on_time", "roll_call_late", "late", "absent", "leave", "pending", "weird", "=evil"]
FLAGS = [0, 1, 2, 0.5, "yes"]


def _times(rnd: random.Random) -> list[object]:
    near = [SPRING + d for d in (-3_600_001, -1001, -1000, -1, 0, 1, 999, 1000, 3_599_999, 3_600_000)]
    return [*near, 1774598400123, 1774857599999, 978307200000, 4102444800000, -5000, 1774700000000.5, "1774700000000",
            None, *(rnd.randrange(1774300000000, 1775000000000) for _ in range(8))]


def _rows(n: int, seed: int = 1) -> list[tuple]:
    rnd = random.Random(seed)
    times = _times(rnd)
    rows = []
    for i in range(n):
        pick = (lambda seq, k=i: seq[(k * 7 + len(seq)) % len(seq)]) if i < 40 else rnd.choice
        date = ["2026-03-27", "2026-03-28", "2026-03-29", "2026-03-30"][i % 4]
        rows.append((
            date, SHIFTS[i % len(SHIFTS)], f"E{i:04d}", pick(TEXTS), pick(TEXTS), pick(TEXTS), LISTS[i % len(LISTS)],
            times[i % len(times)], pick(NUMBERS), CODES[i % len(CODES)], rnd.choice(times), rnd.choice(times),
            NUMBERS[i % len(NUMBERS)] if NUMBERS[i % len(NUMBERS)] is not None else 1.0, pick([0, 3, 2.7, "4"]),
            pick([17.5, 17.25, 0.05]), pick([30.0, 31.45]), LISTS[(i * 3) % len(LISTS)], pick(TEXTS),
            LISTS[(i * 5) % len(LISTS)], FLAGS[i % len(FLAGS)],
        ))
    for i in range(0, n, 9):  # seats used = [the rostered seat], written plainly, awkward seats included
        seat = rows[i][5]
        if isinstance(seat, str):
            rows[i] = rows[i][:6] + ('["' + seat + '"]',) + rows[i][7:]
    return rows


@pytest.fixture(params=ZONES)
def zoned(request, tmp_path):
    site = load_site(generate_site(tmp_path / "site", site="z", seats=4, zones=1, tz=request.param))
    store = Store(tmp_path / "hub.db")
    ensure_tables(store)
    cols = ",".join(f'"{c}"' for c in CONTRACT_COLUMNS["attendance"])
    with store.lock:
        store.conn.executemany(f"INSERT INTO attendance ({cols}) VALUES ({','.join('?' * 20)})", _rows(400))
        store.conn.commit()
    yield site, store
    store.close()


def _python_path(site, store, q, fmt: str, lang: str = "zh") -> bytes:
    rows = attendance.rows(site, store, q)
    if fmt == "csv":
        return b"".join(formats.csv_chunks(rows, attendance.COLUMNS, site.tz, lang))
    return b"".join(formats.json_chunks(rows, attendance.COLUMNS, site.tz))


def _export(site, store, q, fmt: str, lang: str = "zh") -> bytes:
    buf = io.BytesIO()
    write_file(render_export("attendance", site, store, q, fmt, lang), buf)
    return buf.getvalue()


@pytest.mark.parametrize(("fmt", "lang"), [("csv", "zh"), ("csv", "en"), ("json", "zh")])
def test_sqlite_rendering_writes_the_python_paths_bytes(zoned, fmt, lang):
    site, store = zoned
    expected = _python_path(site, store, Q, fmt, lang)
    got = _export(site, store, Q, fmt, lang)
    assert expected.count(b"\n") >= 400
    if got != expected:  # the first differing line, readable
        for a, b in zip(got.splitlines(), expected.splitlines(), strict=False):
            assert a.decode() == b.decode()
    assert got == expected


def test_local_times_change_with_the_clocks_in_a_zone_with_dst(tmp_path):
    """Europe/Berlin jumps from 02:00 to 03:00 on 2026-03-29: a fixed offset would be an hour off
    on one side of the change."""
    site = load_site(generate_site(tmp_path / "site", site="b", seats=4, zones=1, tz="Europe/Berlin"))
    store = Store(tmp_path / "hub.db")
    ensure_tables(store)
    cols = ",".join(f'"{c}"' for c in CONTRACT_COLUMNS["attendance"])
    rows = [r[:7] + (SPRING + off,) + r[8:] for r, off in zip(_rows(2), (-1000, 0), strict=True)]
    with store.lock:
        store.conn.executemany(f"INSERT INTO attendance ({cols}) VALUES ({','.join('?' * 20)})", rows)
        store.conn.commit()
    lines = [json.loads(line) for line in _export(site, store, Q, "json").splitlines()]
    assert [r["first_arrival"] for r in lines] == ["2026-03-29T01:59:59+01:00", "2026-03-29T03:00:00+02:00"]
    store.close()


@pytest.mark.parametrize("zone", [*ZONES, "Africa/Monrovia", "Pacific/Chatham", "America/Sao_Paulo"])
def test_zone_spans_give_the_zones_own_offsets(zone):
    tz = ZoneInfo(zone)
    lo, hi = 0, 4_102_444_800_000  # 1970 to 2100
    spans = zone_spans(tz, lo, hi)
    assert spans[0][0] == lo and spans[-1][1] == hi
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
    rnd = random.Random(zone)
    starts = [s[0] for s in spans]
    for ms in [rnd.randrange(lo, hi) for _ in range(3000)] + [s[0] for s in spans] + [s[1] - 1 for s in spans]:
        span = spans[max(0, bisect.bisect_right(starts, ms) - 1)]
        off = dt.datetime.fromtimestamp(ms / 1000, tz).utcoffset().total_seconds() * 1000
        if span[2] is not None:
            assert span[2] == off, (ms, span)


def test_sqlite_rendered_workbook_reads_back_cell_for_cell_as_the_python_paths(zoned, tmp_path):
    """XLSX is a zip of XML whose bytes may differ (numbers' text, a date-time's last digits); what
    a reader gets from every cell may not: openpyxl reads both workbooks to the same values
    (times to its millisecond rounding, the same as the Python path's)."""
    from openpyxl import load_workbook

    site, store = zoned
    ours, theirs = tmp_path / "sqlite.xlsx", tmp_path / "python.xlsx"
    ours.write_bytes(_export(site, store, Q, "xlsx"))
    formats.write_xlsx(attendance.sheets(site, store, Q), theirs, site.tz, "zh")
    a = list(load_workbook(ours, read_only=True).active.iter_rows(values_only=True))
    b = list(load_workbook(theirs, read_only=True).active.iter_rows(values_only=True))
    assert len(a) == len(b) == 401
    for i, (ra, rb) in enumerate(zip(a, b, strict=True)):
        assert ra == rb, (i, [(c.key, x, y) for c, x, y in zip(attendance.COLUMNS, ra, rb, strict=True) if x != y])
