"""CSV and JSON lines of the attendance log rendered by SQLite in the query.

The month of attendance is 60,000 rows of 22 cells; reading them as dicts, decoding their JSON
cells and converting each cell in Python cost 2.5 to 3 times a plain cursor into csv.writer.
Here each column's cell is a SQL expression (hub.store.cells): local times from the zone's
offsets precomputed for the export's window (spans between its DST changes), words by CASE,
lists and JSON text by string functions, and the cursor's tuples go straight into csv.writer
(CSV) or are joined as finished lines (JSON). Whatever a SQL expression cannot prove it writes
exactly like the Python path (hub.exports.formats) goes to that path's own converter for the
cell, so the bytes are the same as `csv_chunks` / `json_chunks` of `attendance.rows`.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from hub.exports import attendance, formats, xlsx
from hub.exports.formats import (
    Column,
    LocalClock,
    csv_converter,
    defuse_formula,
    json_converter,
    xlsx_cell,
)
from hub.exports.query import ExportQuery
from hub.site import Site
from hub.store import Store, cells
from hub.store.reports import ReportReader, json_cell

DAY_MS = 86_400_000
MARGIN_MS = 3 * DAY_MS  # times of a day's rows fall within a day or two of it; others take the slow path
_STEP_S = 3600  # zone offsets are sampled hourly, then each change is bisected to the second
_YEAR_9999_MS = 253_402_300_799_000


def zone_spans(tz: ZoneInfo, lo_ms: int, hi_ms: int) -> list[tuple[int, int, int | None, str | None]]:
    """Contiguous [start, end) UTC ms spans covering [lo_ms, hi_ms), each with one offset of the
    zone: (start, end, offset ms, ISO offset text); offset None where it is not whole minutes."""

    def offset_s(t: int) -> int:
        off = dt.datetime.fromtimestamp(t, tz).utcoffset()
        return round(off.total_seconds()) if off is not None else 0

    lo_s, hi_s = lo_ms // 1000, -(-hi_ms // 1000)
    changes: list[int] = []  # first second of each new offset
    t, cur = lo_s, offset_s(lo_s)
    while t < hi_s:
        nxt = min(t + _STEP_S, hi_s)
        off = offset_s(nxt)
        if off != cur:
            a, b = t, nxt  # offset(a) == cur, offset(b) != cur
            while b - a > 1:
                mid = (a + b) // 2
                if offset_s(mid) == cur:
                    a = mid
                else:
                    b = mid
            changes.append(b)
            cur = offset_s(b)
        t = nxt
    bounds = [lo_s, *changes, hi_s]
    spans = []
    for start, end in zip(bounds, bounds[1:], strict=False):
        if end <= start:
            continue
        off = offset_s(start)
        iso = dt.datetime.fromtimestamp(start, tz).isoformat()
        whole = off % 60 == 0 and len(iso) == 25
        spans.append((start * 1000, end * 1000, off * 1000 if whole else None, iso[19:] if whole else None))
    return spans


def _window(q: ExportQuery, tz: ZoneInfo) -> tuple[int, int]:
    lo, hi = q.utc_ms_range(tz)
    return max(lo - MARGIN_MS, DAY_MS), min(hi + MARGIN_MS, _YEAR_9999_MS - DAY_MS)


def _values(site: Site) -> dict[str, Callable[[Any], Any]]:
    """Stored value -> the value `attendance.rows` gives that column, for the fallbacks."""
    names = {s.id: s.name for s in site.info.shifts}

    def shift_name(raw: Any) -> Any:
        sid = attendance.shift_id(raw)
        return names.get(sid, sid)

    def as_list(raw: Any) -> Any:
        return json_cell(raw, [])

    return {"shift": attendance.shift_id, "shift_name": shift_name, "violations_count": lambda raw: len(json_cell(raw, [])),
            "seats_used": as_list, "violation_ids": as_list, "excused": as_list}


SOURCES = {"shift_name": "shift", "violations_count": "violation_ids"}  # columns computed from another one
# A list cell that mostly holds one value of another column: seats used, the rostered seat.
LIKELY_ONE = {"seats_used": "rostered_seat"}


class _Plan:
    """Per column: its SQL cell and its Python fallback (value of the stored cell -> final cell)."""

    def __init__(self, site: Site, q: ExportQuery) -> None:
        self.site = site
        self.tz = site.tz
        self.fallbacks = cells.Fallbacks()
        self.values = _values(site)
        self.names = {s.id: s.name for s in site.info.shifts}
        spans = zone_spans(self.tz, *_window(q, self.tz))
        self.spans = [(a, b, off) for a, b, off, _ in spans]
        self.offsets = [(a, b, text) for a, b, _, text in spans]
        self.clock = LocalClock(self.tz)

    def source(self, col: Column) -> str:
        return '"' + SOURCES.get(col.key, col.key) + '"'

    def fallback(self, col: Column, convert: Callable[[Any], Any], x: str) -> str:
        value = self.values.get(col.key)
        fn = (lambda raw: convert(value(raw))) if value else convert
        return self.fallbacks.call(fn, x)

    def csv_cell(self, col: Column, lang: str) -> str:
        x = self.source(col)
        conv = csv_converter(col, self.tz, lang, self.clock)
        fb = self.fallback(col, conv, x)
        if col.key == "shift":  # the site's shift ids first: most rows hold one of them as it is
            return cells.words(x, {k: defuse_formula(k) for k in self.names}, cells.guarded(cells.last_segment(x)))
        if col.key == "shift_name":
            sid = cells.last_segment(x)
            named = {k: defuse_formula(v) for k, v in self.names.items()}
            return cells.words(x, named, cells.words(sid, named, cells.guarded(sid)))
        if col.key == "violations_count":
            return cells.list_length(x, fb)
        if col.kind == "date":
            return x
        if col.kind == "text":
            return cells.guarded_stored_text(x, fb)
        if col.kind == "enum":
            words = {code: defuse_formula(pair[0] if lang == "zh" else pair[1]) for code, pair in col.labels.items()}
            return cells.words(x, words, cells.guarded_stored_text(x, fb))
        if col.kind == "list":
            if col.key in LIKELY_ONE:
                t = f'"{LIKELY_ONE[col.key]}"'
                return f"CASE WHEN {cells.is_list_of(x, t)} THEN {cells.guarded_text(t)} ELSE {cells.joined_list(x, ';', fb)} END"
            return cells.joined_list(x, ";", fb)
        if col.kind == "datetime":
            return cells.local_text(x, self.spans, fb)
        if col.kind == "number" and col.digits == 1:
            return cells.one_decimal_number(x, fb)
        if col.kind == "int":
            return cells.integer(x, fb)
        if col.kind == "bool":
            yes, no = ("是", "否") if lang == "zh" else ("yes", "no")
            return cells.yes_no(x, yes, no, fb)
        return f"CASE WHEN {x} IS NULL THEN NULL ELSE {fb} END"

    def json_cell(self, col: Column) -> str:
        """The cell as JSON text, never NULL."""
        x = self.source(col)
        conv = json_converter(col, self.tz, self.clock)
        fb = self.fallback(col, lambda v: orjson.dumps(conv(v)).decode(), x)
        if col.key == "shift":
            sid = cells.last_segment(x)
            return cells.words(x, {k: orjson.dumps(k).decode() for k in self.names}, cells.json_text(sid, fb))
        if col.key == "shift_name":
            sid = cells.last_segment(x)
            named = {k: orjson.dumps(v).decode() for k, v in self.names.items()}
            return cells.words(x, named, cells.words(sid, named, cells.json_text(sid, fb)))
        if col.key == "violations_count":
            return cells.list_length(x, fb)
        if col.kind in ("text", "date", "enum"):
            return cells.json_text(x, fb)
        if col.kind == "list":
            if col.key in LIKELY_ONE:
                return f"CASE WHEN {cells.is_list_of(x, chr(34) + LIKELY_ONE[col.key] + chr(34))} THEN {x} ELSE {cells.json_list(x, fb)} END"
            return cells.json_list(x, fb)
        if col.kind == "datetime":
            return cells.local_iso_json(x, self.spans, self.offsets, fb)
        if col.kind == "number" and col.digits == 1:
            return f"coalesce({cells.tenth_text(x, fb)}, 'null')"
        if col.kind == "int":
            return f"coalesce({cells.integer(x, fb)}, 'null')"
        if col.kind == "bool":
            return f"coalesce({cells.yes_no(x, 'true', 'false', fb)}, 'null')"
        return fb


    def xlsx_cell(self, col: Column, lang: str, index: int, texts: xlsx.TextCells) -> str:
        """The cell as SpreadsheetML (`<c r="A\x01" ...</c>`, the row number as ROW_MARK), '' for no cell."""
        x = self.source(col)
        ref = f'<c r="{xlsx.column_letter(index)}{xlsx.ROW_MARK}"'
        tail = xlsx_cell(col, self.tz, lang, texts, self.clock)
        value = self.values.get(col.key)

        def whole(raw: Any) -> str:
            t = tail(value(raw) if value else raw)
            return "" if t is None else ref + t

        fb = self.fallbacks.call(whole, x)

        def text_cell(word: str) -> str:
            return cells.lit(ref + texts.tail(word)) if word != "" else "''"

        if col.key == "shift":
            general = cells.xlsx_text(cells.last_segment(x), ref, fb)
            whens = " ".join(f"WHEN {cells.lit(k)} THEN {text_cell(k)}" for k in self.names)
            return f"CASE {x} {whens} ELSE {general} END" if whens else general
        if col.key == "shift_name":
            whens = " ".join(f"WHEN {cells.lit(k)} THEN {text_cell(v)}" for k, v in self.names.items())
            sid = cells.last_segment(x)
            inner = f"CASE {sid} {whens} ELSE {cells.xlsx_text(sid, ref, fb)} END" if whens else cells.xlsx_text(sid, ref, fb)
            return f"CASE {x} {whens} ELSE {inner} END" if whens else inner
        if col.key == "violations_count":
            return f"coalesce({cells.lit(ref + '><v>')} || {cells.list_length(x, 'NULL')} || '</v></c>', {fb})"
        if col.kind == "text":
            return cells.xlsx_text(x, ref, fb)
        if col.kind == "enum":
            whens = " ".join(f"WHEN {cells.lit(code)} THEN {text_cell(pair[0] if lang == 'zh' else pair[1])}"
                             for code, pair in col.labels.items())
            return f"CASE {x} {whens} ELSE {cells.xlsx_text(x, ref, fb)} END" if whens else cells.xlsx_text(x, ref, fb)
        if col.kind == "date":
            return (f"CASE WHEN {x} IS NULL THEN '' ELSE coalesce({cells.lit(ref + f' s={chr(34)}{xlsx.STYLE_DATE}{chr(34)}><v>')}"
                    f" || {cells.excel_date(x)} || '</v></c>', {fb}) END")
        if col.kind == "datetime":
            return (f"CASE WHEN {x} IS NULL THEN '' ELSE coalesce({cells.lit(ref + f' s={chr(34)}{xlsx.STYLE_DATETIME}{chr(34)}><v>')}"
                    f" || {cells.excel_serial(x, self.spans)} || '</v></c>', {fb}) END")
        if col.kind == "number" and col.digits == 1:
            return (f"CASE WHEN {x} IS NULL THEN '' ELSE coalesce({cells.lit(ref + '><v>')} || {cells.tenth_text(x, 'NULL')}"
                    f" || '</v></c>', {fb}) END")
        if col.kind == "int":
            return f"CASE WHEN {x} IS NULL THEN '' WHEN typeof({x}) = 'integer' THEN {cells.lit(ref + '><v>')} || {x} || '</v></c>' ELSE {fb} END"
        if col.kind == "bool":
            yes, no = ("是", "否") if lang == "zh" else ("yes", "no")
            return (f"CASE WHEN {x} IS NULL THEN '' WHEN typeof({x}) = 'integer' THEN CASE WHEN {x} THEN {text_cell(yes)}"
                    f" ELSE {text_cell(no)} END ELSE {fb} END")
        if col.kind == "list":
            inner = f"substr({x}, 3, length({x}) - 4)"
            likely = ""
            if col.key in LIKELY_ONE:
                t = f'"{LIKELY_ONE[col.key]}"'
                likely = (f" WHEN {cells.is_list_of(x, t)} AND {cells.xml_plain(t)} THEN"
                          f" {cells.lit(ref + ' t=' + chr(34) + 'inlineStr' + chr(34) + '><is><t>')} || {t} || '</t></is></c>'")
            return (f"CASE WHEN {x} = '[]' OR {x} IS NULL OR {x} = '' THEN ''{likely}"
                    f" WHEN {cells.single_string_array(x)} AND {cells.xml_plain(inner)} THEN"
                    f" {cells.lit(ref + ' t=' + chr(34) + 'inlineStr' + chr(34) + '><is><t>')} || {inner} || '</t></is></c>'"
                    f" ELSE {fb} END")
        return f"CASE WHEN {x} IS NULL THEN '' ELSE {fb} END"


def _batches(site: Site, store: Store, q: ExportQuery, plan: _Plan, sql_cells: list[str],
             progress: Callable[[int], None] | None) -> Iterator[list[tuple]]:
    done = 0
    with ReportReader(store) as reader:
        employees = [q.agent] if q.agent else None
        for batch in reader.attendance_cells(q.date_from.isoformat(), q.date_to.isoformat(), sql_cells, plan.fallbacks,
                                             team=q.team, employees=employees):
            yield batch
            done += len(batch)
            if progress is not None:
                progress(done)
    if progress is not None:
        progress(done)


def attendance_csv(site: Site, store: Store, q: ExportQuery, lang: str,
                   progress: Callable[[int], None] | None = None) -> Iterator[bytes]:
    """The attendance CSV (as formats.csv_chunks of attendance.rows writes it)."""
    columns = attendance.COLUMNS
    plan = _Plan(site, q)
    sql_cells = [plan.csv_cell(c, lang) for c in columns]
    buf, writer, first = formats.csv_start(columns, lang)
    yield first
    for batch in _batches(site, store, q, plan, sql_cells, progress):
        writer.writerows(batch)
        if buf.tell() >= formats.CHUNK_CHARS:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    if buf.tell():
        yield buf.getvalue().encode("utf-8")


def attendance_json(site: Site, store: Store, q: ExportQuery,
                    progress: Callable[[int], None] | None = None) -> Iterator[bytes]:
    """The attendance JSON lines (as formats.json_chunks of attendance.rows writes them)."""
    plan = _Plan(site, q)
    parts = [f"{cells.lit(('{' if i == 0 else ',') + orjson.dumps(c.key).decode() + ':')} || {plan.json_cell(c)}"
             for i, c in enumerate(attendance.COLUMNS)]
    line = " || ".join(parts) + " || '}\n'"
    chunk: list[str] = []
    size = 0
    for batch in _batches(site, store, q, plan, [line], progress):
        text = "".join([r[0] for r in batch])
        chunk.append(text)
        size += len(text)
        if size >= formats.CHUNK_CHARS:
            yield "".join(chunk).encode("utf-8")
            chunk.clear()
            size = 0
    if chunk:
        yield "".join(chunk).encode("utf-8")




def attendance_xlsx(site: Site, store: Store, q: ExportQuery, lang: str,
                    progress: Callable[[int], None] | None = None) -> Iterator[bytes]:
    """The attendance workbook, its rows' XML rendered by SQLite (the same cells as
    formats.write_xlsx writes; through a temporary file, as formats.xlsx_chunks)."""
    fd, name = tempfile.mkstemp(prefix="floorwatch-export-", suffix=".xlsx")
    os.close(fd)
    try:
        columns = attendance.COLUMNS
        plan = _Plan(site, q)
        book = xlsx.Workbook(name, ["attendance"], flush_chars=formats.CHUNK_CHARS)
        ws = book.sheet([c.width for c in columns], [c.header(lang) for c in columns])
        row = [plan.xlsx_cell(c, lang, i, book.texts) for i, c in enumerate(columns)]
        last = xlsx.column_letter(len(columns) - 1)
        row[-1] = f"CASE WHEN ({row[-1]}) = '' THEN {cells.lit(f'<c r={chr(34)}{last}{xlsx.ROW_MARK}{chr(34)}/>')} ELSE {row[-1]} END"
        for batch in _batches(site, store, q, plan, [" || ".join(f"({c})" for c in row)], progress):
            ws.rendered_rows([r[0] for r in batch])
        ws.close()
        book.close()
        with open(name, "rb") as fh:
            while data := fh.read(64 * 1024):
                yield data
    finally:
        os.unlink(name)
