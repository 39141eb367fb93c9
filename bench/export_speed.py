"""Export speed and memory for a month of a 2,000-agent site (about 60,000 shift rows).

Builds a hub database once: a generated 1,000-seat site (2,000 agents), one attendance row per
agent per day for a month (through the engine's own writer, hub.store.derived), one kiosk tap
per shift in the event log, and a violation for one shift in ten with that tap as evidence.
Then each export runs in a fresh child process, so its figures are its own:

  time   wall seconds, and the ratio to a baseline measured just before it in the same run: a
         plain cursor reading the month's attendance rows into csv.writer (no formatting)
  RSS    the child's peak resident memory, and its growth over an idle child that imported
         the same modules
  heap   (attendance) tracemalloc's peak of Python allocations, in children of their own
  flat   (attendance) heap peak for the month over heap peak for one week: ~1 means memory
         does not grow with the range

The XLSX writer was chosen by measurement: `--xlsx-writers` also writes the month's attendance
through openpyxl's write-only mode (with lxml) and XlsxWriter's constant_memory mode, the same
rows and cell types, next to hub.exports.xlsx.

    python bench/export_speed.py [--agents 2000] [--days 30] [--formats csv,xlsx,json] [--xlsx-writers] [--repeat N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import random
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FIRST = dt.date(2026, 11, 1)


def build(root: Path, agents: int, days: int) -> tuple[Path, Path]:
    from hub.engine.site_time import local_ms
    from hub.site import load_site
    from hub.sitegen import generate_site
    from hub.store import IncomingEvent, Store
    from hub.store.derived import DerivedStore, encode_row

    seats = agents // 2
    site_dir = generate_site(root / "site", site="bench", seats=seats, zones=max(1, seats // 100), teams=max(1, agents // 50))
    site = load_site(site_dir)
    store = Store(root / "hub.db")
    derived = DerivedStore(store)
    rnd = random.Random(7)
    people = [a for a in site.agents if a.role == "agent"][:agents]
    seat_ids = [s.id for s in site.info.seats]
    seq = 0
    for d in range(days):
        day = FIRST + dt.timedelta(days=d)
        start = local_ms(day, dt.time(8, 30), site.tz)
        events, att, vios = [], [], []
        for i, a in enumerate(people):
            seat = seat_ids[i % len(seat_ids)]
            seq += 1
            arrival = start - rnd.randint(-5, 25) * 60_000
            eid = str(uuid.uuid4())
            events.append(IncomingEvent(eid, "kiosk-k1", seq, arrival, arrival + 30, "badge", True, {"uid": a.badges[0], "reader": "badge"}))
            before = (start - arrival) / 60000
            verdict = "on_time" if before >= 10 else "roll_call_late" if before >= 0 else "late"
            vid = None
            if i % 10 == d % 10:
                vid = f"v-{d}-{i}"
                vios.append(encode_row("violations", {
                    "id": vid, "rule": "AWAY-BREAK-LONG", "kind": "break_long", "employee_no": a.employee_no, "team": a.team,
                    "seat": seat, "zone": seat[0], "shift": f"{day}/day", "date": day.isoformat(), "start": start + 3_600_000,
                    "end": start + 4_500_000, "evidence": [eid], "details": {"minutes": 15}, "excused": 0, "unit": "bench"}))
            att.append(encode_row("attendance", {
                "date": day.isoformat(), "shift": "day", "employee_no": a.employee_no, "name": a.name, "team": a.team,
                "rostered_seat": seat, "seats_used": [seat], "first_arrival": arrival, "arrival_minutes_before": before,
                "rollcall": verdict, "seat_signin": arrival + 300_000, "signout": start + 27_000_000,
                "minutes_worked": 450.0, "breaks_count": 2, "breaks_minutes": 17.5, "meal_minutes": 30.0,
                "violation_ids": [vid] if vid else [], "leave": None, "excused": [], "unrostered": 0, "unit": "bench"}))
        store.append_events(events)
        derived.apply({"attendance": att, "violations": vios}, {})
    store.close()
    return site_dir, root / "hub.db"


def _child(queue, site_dir: str, db: str, case: str, fmt: str, days: int, trace: bool) -> None:
    import csv
    import tracemalloc

    from hub.exports import ExportQuery, render_assessment, render_export, write_file
    from hub.site import load_site
    from hub.store import Store
    from hub.store.reports import ReportReader

    site, store = load_site(site_dir), Store(db)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = open(os.devnull, "wb")  # noqa: SIM115
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    q = ExportQuery(FIRST, FIRST + dt.timedelta(days=days - 1))
    if case == "idle":
        pass
    elif case == "baseline":  # the same rows, no formatting: a cursor into csv.writer
        import io

        text = io.TextIOWrapper(out, encoding="utf-8", newline="")
        w = csv.writer(text)
        with ReportReader(store) as r:
            cur = r.conn.execute("SELECT * FROM attendance WHERE date BETWEEN ? AND ? ORDER BY date, shift, employee_no",
                                 [q.date_from.isoformat(), q.date_to.isoformat()])
            while rows := cur.fetchmany(1000):
                w.writerows(rows)
        text.flush()
    elif case == "assessment":
        write_file(render_assessment(site, store, FIRST.strftime("%Y-%m"), fmt), out)
    elif fmt in ("xlsx:openpyxl", "xlsx:xlsxwriter"):
        _other_xlsx_writer(fmt.split(":")[1], site, store, q, out)
    else:
        write_file(render_export(case, site, store, q, fmt), out)
    elapsed = time.perf_counter() - t0
    heap = tracemalloc.get_traced_memory()[1] if trace else 0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    queue.put({"time": elapsed, "rss_kib": rss, "rss0_kib": rss0, "heap": heap})


def _other_xlsx_writer(writer: str, site, store, q, out) -> None:
    """The month's attendance through a library writer: the same typed cells, bold frozen header
    and widths as hub.exports.xlsx writes (for the comparison only)."""
    from hub.exports import attendance
    from hub.exports.formats import cell_converter

    cols = attendance.COLUMNS
    plan = [(c.key, cell_converter(c, site.tz, "zh"), c.kind) for c in cols]
    rows = ([conv(r.get(k)) for k, conv, _ in plan] for r in attendance.rows(site, store, q))
    path = tempfile.mktemp(suffix=".xlsx")
    if writer == "openpyxl":
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font

        wb = Workbook(write_only=True)
        ws = wb.create_sheet("attendance")
        ws.freeze_panes = "A2"
        header = []
        for c in cols:
            cell = WriteOnlyCell(ws, value=c.zh)
            cell.font = Font(bold=True)
            header.append(cell)
        ws.append(header)
        fmts = {"datetime": "yyyy-mm-dd hh:mm:ss", "date": "yyyy-mm-dd"}
        for row in rows:
            cells = []
            for (_, _, kind), v in zip(plan, row, strict=True):
                if kind in fmts and v is not None:
                    v = WriteOnlyCell(ws, value=v)
                    v.number_format = fmts[kind]
                cells.append(v)
            ws.append(cells)
        wb.save(path)
    else:
        import xlsxwriter

        wb = xlsxwriter.Workbook(path, {"constant_memory": True})
        ws = wb.add_worksheet("attendance")
        fmts = {"datetime": wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
                "date": wb.add_format({"num_format": "yyyy-mm-dd"})}
        for i, c in enumerate(cols):
            ws.set_column(i, i, c.width)
        ws.freeze_panes(1, 0)
        ws.write_row(0, 0, [c.zh for c in cols], wb.add_format({"bold": True}))
        for r, row in enumerate(rows, start=1):
            for ci, ((_, _, kind), v) in enumerate(zip(plan, row, strict=True)):
                if v is None:
                    continue
                if kind == "datetime":
                    ws.write_datetime(r, ci, v, fmts[kind])
                elif kind == "date":
                    ws.write_datetime(r, ci, dt.datetime.combine(v, dt.time()), fmts[kind])
                elif isinstance(v, str):
                    ws.write_string(r, ci, v)
                else:
                    ws.write_number(r, ci, v)
        wb.close()
    with open(path, "rb") as fh:
        while data := fh.read(65536):
            out.write(data)
    os.unlink(path)


def run(site_dir: Path, db: Path, case: str, fmt: str, days: int, trace: bool = False) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(q, str(site_dir), str(db), case, fmt, days, trace))
    p.start()
    result = q.get(timeout=1800)
    p.join()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agents", type=int, default=2000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--formats", default="csv,xlsx,json")
    ap.add_argument("--xlsx-writers", action="store_true", help="also openpyxl write-only and XlsxWriter constant_memory")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run each export and its baseline N times, alternating, and keep the fastest of each"
                         " (a shared machine's load spikes then weigh on neither)")
    args = ap.parse_args()
    formats = args.formats.split(",") + (["xlsx:openpyxl", "xlsx:xlsxwriter"] if args.xlsx_writers else [])
    with tempfile.TemporaryDirectory(prefix="fw-bench-export-") as tmp:
        t0 = time.perf_counter()
        site_dir, db = build(Path(tmp), args.agents, args.days)
        from hub.store import Store

        st = Store(db)
        n_att = st.conn.execute("SELECT count(*) FROM attendance").fetchone()[0]
        n_vio = st.conn.execute("SELECT count(*) FROM violations").fetchone()[0]
        n_evt = st.count_events()
        st.close()
        print(f"built in {time.perf_counter() - t0:.1f} s: {n_att} attendance rows, {n_vio} violations, {n_evt} taps, "
              f"{os.path.getsize(db) / 1e6:.0f} MB database")
        idle = run(site_dir, db, "idle", "csv", args.days)
        print(f"idle child RSS {idle['rss_kib'] / 1024:.0f} MiB; baseline = a cursor reading the {n_att} attendance rows "
              "into csv.writer, re-measured next to each export (the machine's load drifts)")
        print(f"{'export':<28}{'rows':>7}{'time s':>8}{'base s':>8}{'x base':>8}{'rows/s':>8}{'RSS MiB':>9}{'+idle':>7}"
              f"{'heap MiB':>10}{'week':>7}{'flat':>6}")
        cases = [("attendance", f) for f in formats] + [("violations", "csv"), ("taps", "csv")]
        cases += [("assessment", f) for f in formats if ":" not in f]
        rows_of = {"attendance": n_att, "violations": n_vio, "taps": n_evt, "assessment": args.agents}
        figures = []
        for case, fmt in cases:
            base = r = None
            for _ in range(max(1, args.repeat)):
                b1 = run(site_dir, db, "baseline", "csv", args.days)
                r1 = run(site_dir, db, case, fmt, args.days)
                base = b1 if base is None or b1["time"] < base["time"] else base
                r = r1 if r is None or r1["time"] < r["time"] else r
            heap = week = None
            if case == "attendance" and ":" not in fmt:  # memory against the range: a month and a week, traced
                heap = run(site_dir, db, case, fmt, args.days, trace=True)["heap"]
                week = run(site_dir, db, case, fmt, min(7, args.days), trace=True)["heap"]
            n = rows_of[case]
            fig = {"case": case, "format": fmt, "rows": n, "time_s": round(r["time"], 2), "baseline_s": round(base["time"], 2),
                   "x_baseline": round(r["time"] / base["time"], 1), "rss_mib": round(r["rss_kib"] / 1024),
                   "rss_over_idle_mib": round((r["rss_kib"] - idle["rss_kib"]) / 1024),
                   "heap_mib": round(heap / 2**20, 1) if heap else None,
                   "week_heap_mib": round(week / 2**20, 1) if week else None,
                   "flat": round(heap / week, 2) if heap and week else None}
            figures.append(fig)
            print(f"{case + ' ' + fmt:<28}{n:>7}{r['time']:>8.2f}{base['time']:>8.2f}{fig['x_baseline']:>8.1f}"
                  f"{n / r['time']:>8.0f}{fig['rss_mib']:>9}{fig['rss_over_idle_mib']:>7}"
                  f"{fig['heap_mib'] if heap else '-':>10}{fig['week_heap_mib'] if week else '-':>7}{fig['flat'] or '-':>6}")
        print(json.dumps({"figures": figures}))


if __name__ == "__main__":
    main()
