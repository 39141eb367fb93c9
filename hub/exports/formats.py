"""Turning rows into files people and machines open: CSV, XLSX and JSON lines.

Every export family describes its columns once (`Column`: key, zh and en header, kind, width)
and yields rows as plain dicts of machine values (UTC ms, ISO dates, codes, lists). This module
renders those rows, one at a time, so an export of any length needs the memory of one row:

- CSV: UTF-8 with a byte-order mark (Excel on a Chinese Windows desktop otherwise guesses GBK),
  zh or en headers, local times as text, codes as words in the chosen language. Text that Excel
  would run as a formula (=, +, -, @ first) is prefixed with an apostrophe.
- XLSX: hub.exports.xlsx streams each row's XML into the zip (inline strings, so a name like
  "=1+1" stays a name and no shared-string table grows), a bold frozen header row, column
  widths, times as real date-time cells in the site's zone.
- JSON lines: one object per row with English keys, codes, lists and ISO 8601 times carrying the
  site's offset, for machines.

The attendance log, exported by the month, is rendered by SQLite in its query instead
(hub.exports.in_sqlite): the same bytes for CSV and JSON lines, the same cells for XLSX, with
the converters here as the fallback for any cell the SQL cannot prove plain.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal
from zoneinfo import ZoneInfo

import orjson

from hub.exports import xlsx

Format = Literal["csv", "xlsx", "json"]
Lang = Literal["zh", "en"]
FORMATS: tuple[str, ...] = ("csv", "xlsx", "json")
LANGS: tuple[str, ...] = ("zh", "en")

Kind = Literal["text", "int", "number", "datetime", "date", "enum", "list", "json", "bool"]

MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/x-ndjson; charset=utf-8",
}
EXTENSIONS = {"csv": "csv", "xlsx": "xlsx", "json": "jsonl"}

DATETIME_TEXT = "%Y-%m-%d %H:%M:%S"
XLSX_DATETIME = "yyyy-mm-dd hh:mm:ss"
XLSX_DATE = "yyyy-mm-dd"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CHUNK_CHARS = 32 * 1024  # text per yielded chunk: small enough to keep memory flat
_BOOL_LABELS = {"zh": ("是", "否"), "en": ("yes", "no")}


@dataclass(frozen=True)
class Column:
    """One column of an export: `key` in rows and JSON, headers per language, how to render."""

    key: str
    zh: str
    en: str
    kind: Kind = "text"
    width: float = 12
    labels: dict[str, tuple[str, str]] = field(default_factory=dict)  # enum code -> (zh, en)
    digits: int | None = None  # numbers: round to this many decimals

    def header(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


# ---------------------------------------------------------------- value conversion


def local_datetime(ms: int, tz: ZoneInfo) -> dt.datetime:
    """UTC epoch ms -> aware datetime in the site's zone, exact to the millisecond."""
    return dt.datetime.fromtimestamp(ms // 1000, tz).replace(microsecond=(ms % 1000) * 1000)


class LocalClock:
    """UTC epoch ms -> the site's wall time as text, ISO 8601 or an Excel serial, cached per
    minute: zoneinfo and strftime for each of a month's 240k times were a third of an export's
    time, and those times fall in a few tens of thousands of minutes. Exact: zone offsets change
    on whole minutes (a minute whose offset has seconds, pre-1900 local mean time, is computed
    the slow way). Bounded, so memory stays flat."""

    LIMIT = 4096  # a few days of distinct minutes; rows come in date order

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._minutes: dict[int, tuple[int, str, str, str] | None] = {}

    def _minute(self, ms: int) -> tuple[int, str, str, str] | None:
        key = ms // 60_000
        try:
            return self._minutes[key]
        except KeyError:
            pass
        d = dt.datetime.fromtimestamp(key * 60, self.tz)
        offset = d.utcoffset()
        off_ms = round(offset.total_seconds() * 1000) if offset is not None else 0
        iso = d.isoformat()
        hit = (off_ms, d.strftime("%Y-%m-%d %H:%M:"), iso[:17], iso[19:]) if off_ms % 60_000 == 0 and len(iso) == 25 else None
        if len(self._minutes) >= self.LIMIT:
            self._minutes.clear()
        self._minutes[key] = hit
        return hit

    def text(self, ms: int) -> str:
        """"2026-11-03 08:24:30" (as local_datetime(...).strftime(DATETIME_TEXT))."""
        m = self._minute(ms)
        if m is None:
            return local_datetime(ms, self.tz).strftime(DATETIME_TEXT)
        return f"{m[1]}{(ms // 1000) % 60:02d}"

    def iso(self, ms: int) -> str:
        """"2026-11-03T08:24:30.125+08:00" style (as local_datetime(...).isoformat())."""
        m = self._minute(ms)
        if m is None:
            return local_datetime(ms, self.tz).isoformat()
        frac = ms % 1000
        return f"{m[2]}{(ms // 1000) % 60:02d}.{frac * 1000:06d}{m[3]}" if frac else f"{m[2]}{(ms // 1000) % 60:02d}{m[3]}"

    def serial(self, ms: int) -> float:
        """Local wall time as an Excel serial date (days since 1899-12-30)."""
        m = self._minute(ms)
        if m is None:
            local = local_datetime(ms, self.tz)
            off = local.utcoffset()
            off_ms = round(off.total_seconds() * 1000) if off is not None else 0
        else:
            off_ms = m[0]
        return (ms + off_ms) / 86_400_000 + xlsx.EXCEL_EPOCH_DAYS


def _label(col: Column, value: Any, lang: str) -> str:
    pair = col.labels.get(str(value))
    if pair is None:
        return str(value)
    return pair[0] if lang == "zh" else pair[1]


def _joined(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    return str(value)


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


Convert = Callable[[Any], Any]


def _none_or(fn: Convert, empty: Any = None) -> Convert:
    return lambda v: empty if v is None else fn(v)


def _number_fn(col: Column) -> Convert:
    if col.kind == "int":
        return int
    if col.digits is None:
        return float
    digits = col.digits
    return lambda v: round(float(v), digits)


def json_converter(col: Column, tz: ZoneInfo, clock: LocalClock | None = None) -> Convert:
    """The machine form of a column's values (JSON lines), decided once per column."""
    if col.kind == "datetime":
        iso = (clock or LocalClock(tz)).iso
        return lambda v: None if v is None else iso(int(v))
    if col.kind in ("int", "number"):
        return _none_or(_number_fn(col))
    if col.kind == "bool":
        return _none_or(bool)
    if col.kind == "list":
        return _none_or(lambda v: list(v) if isinstance(v, list | tuple) else [v])
    return _identity


def _identity(v: Any) -> Any:
    return v


def _converting(columns: list[Column], convs: list[Convert]) -> tuple[list[str], list[tuple[int, Convert]]]:
    """The row keys, and only the converters that change something (by position): the rows'
    values are fetched in one C-level map() and most JSON columns pass through as they are."""
    return [c.key for c in columns], [(i, f) for i, f in enumerate(convs) if f is not _identity]


def text_converter(col: Column, tz: ZoneInfo, lang: str, clock: LocalClock | None = None) -> Convert:
    """The human text form of a column's values (CSV), decided once per column."""
    if col.kind == "datetime":
        text = (clock or LocalClock(tz)).text
        return lambda v: "" if v is None else text(int(v))
    if col.kind in ("int", "number"):
        num = _number_fn(col)
        return lambda v: "" if v is None else str(num(v))
    if col.kind == "bool":
        yes, no = _BOOL_LABELS[lang]
        return lambda v: "" if v is None else yes if v else no
    if col.kind == "enum":
        return _none_or(lambda v: _label(col, v, lang), "")
    if col.kind == "list":
        return _none_or(_joined, "")
    if col.kind == "json":
        return _none_or(_json_text, "")
    return lambda v: "" if v is None else v if v.__class__ is str else str(v)


def cell_converter(col: Column, tz: ZoneInfo, lang: str) -> Convert:
    """The typed spreadsheet form: numbers, naive local date-times, dates, text."""
    if col.kind == "datetime":
        return _none_or(lambda v: local_datetime(int(v), tz).replace(tzinfo=None))
    if col.kind == "date":
        return _none_or(lambda v: dt.date.fromisoformat(str(v)))
    if col.kind in ("int", "number"):
        return _none_or(_number_fn(col))
    text = text_converter(col, tz, lang)
    return _none_or(text)


CellTail = Callable[[Any], "str | None"]


def xlsx_cell(col: Column, tz: ZoneInfo, lang: str, texts: xlsx.TextCells, clock: LocalClock | None = None) -> CellTail:
    """A column's values as XLSX cell XML (the part after `<c r="A2"`), None for an empty cell;
    the same values as `cell_converter`, written without a cell object per value."""
    if col.kind == "datetime":
        serial = (clock or LocalClock(tz)).serial
        style = xlsx.STYLE_DATETIME
        return lambda v: None if v is None else f' s="{style}"><v>{serial(int(v))!r}</v></c>'
    if col.kind == "date":
        days: dict[str, str] = {}

        def date_cell(v: Any) -> str | None:
            if v is None:
                return None
            hit = days.get(v)
            if hit is None:
                serial = dt.date.fromisoformat(str(v)).toordinal() - xlsx.DATE_ORDINAL_OFFSET
                hit = days[v] = f' s="{xlsx.STYLE_DATE}"><v>{serial}</v></c>'
                if len(days) > 10_000:
                    days.clear()
            return hit

        return date_cell
    if col.kind in ("int", "number"):
        num = _number_fn(col)
        tail = texts.tail

        def number_cell(v: Any) -> str | None:
            if v is None:
                return None
            n = num(v)
            if n.__class__ is float and not math.isfinite(n):
                return tail(str(n))  # XLSX has no NaN or infinity: say it in text
            return f"><v>{n!r}</v></c>"

        return number_cell
    text = text_converter(col, tz, lang)
    tail = texts.tail
    return lambda v: None if v is None or (t := text(v)) == "" else tail(t)


def defuse_formula(text: str) -> str:
    """Text a spreadsheet would evaluate as a formula gets a leading apostrophe (CSV only)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


# ---------------------------------------------------------------- writers

Rows = Iterable[dict[str, Any]]


def csv_converter(col: Column, tz: ZoneInfo, lang: str, clock: LocalClock) -> Convert:
    """text_converter plus, for free text, the formula guard, in one call per cell."""
    conv = text_converter(col, tz, lang, clock)
    if col.kind == "text":
        start = _FORMULA_START

        def text(v: Any) -> str:
            if v.__class__ is not str:
                if v is None:
                    return ""
                v = str(v)
            return "'" + v if v.startswith(start) else v

        return text
    if col.kind == "list":
        return lambda v: "" if not v else defuse_formula(conv(v))
    if col.kind in ("enum", "json"):  # free text: never a formula in Excel
        return lambda v: defuse_formula(conv(v))
    return conv


def csv_start(columns: list[Column], lang: str) -> tuple[io.StringIO, Any, bytes]:
    """A CSV writer on an empty buffer, and the first chunk: the byte-order mark and the header."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([c.header(lang) for c in columns])
    first = codecs.BOM_UTF8 + buf.getvalue().encode("utf-8")
    buf.seek(0)
    buf.truncate()
    return buf, writer, first


def csv_chunks(rows: Rows, columns: list[Column], tz: ZoneInfo, lang: str, *, chunk_chars: int | None = None) -> Iterator[bytes]:
    """UTF-8 CSV with a byte-order mark, as byte chunks of about `chunk_chars` characters."""
    limit = chunk_chars or CHUNK_CHARS
    buf, writer, first = csv_start(columns, lang)
    yield first
    clock = LocalClock(tz)
    keys, plan = _converting(columns, [csv_converter(c, tz, lang, clock) for c in columns])
    writerow, tell = writer.writerow, buf.tell
    for row in rows:
        values = list(map(row.get, keys))
        for i, conv in plan:
            values[i] = conv(values[i])
        writerow(values)
        if tell() >= limit:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    if buf.tell():
        yield buf.getvalue().encode("utf-8")


def json_chunks(rows: Rows, columns: list[Column], tz: ZoneInfo, *, chunk_chars: int | None = None) -> Iterator[bytes]:
    """JSON lines: one object per row, English keys in column order (orjson: UTF-8 bytes
    straight out, no ASCII escapes, as json.dumps(ensure_ascii=False) wrote them, 3x faster)."""
    limit = chunk_chars or CHUNK_CHARS
    parts: list[bytes] = []
    size = 0
    clock = LocalClock(tz)
    keys, plan = _converting(columns, [json_converter(c, tz, clock) for c in columns])
    dumps = orjson.dumps
    for row in rows:
        values = list(map(row.get, keys))
        for i, conv in plan:
            values[i] = conv(values[i])
        obj = dict(zip(keys, values, strict=True))
        for key, value in row.items():  # nested extras a family adds for machines (e.g. evidence)
            if key[:1] == "_":
                obj[key[1:]] = value
        line = dumps(obj, option=orjson.OPT_APPEND_NEWLINE)
        parts.append(line)
        size += len(line)
        if size >= limit:
            yield b"".join(parts)
            parts.clear()
            size = 0
    if parts:
        yield b"".join(parts)


@dataclass
class Sheet:
    """One worksheet of an XLSX export."""

    title: str
    columns: list[Column]
    rows: Rows


def write_xlsx(sheets: list[Sheet], out: BinaryIO | str | Path, tz: ZoneInfo, lang: str) -> None:
    """Rows stream into the zip as XML one at a time (hub.exports.xlsx), never a tree or a
    string table: memory is one row's."""
    book = xlsx.Workbook(out, [s.title for s in sheets], flush_chars=CHUNK_CHARS)
    clock = LocalClock(tz)
    for sheet in sheets:
        ws = book.sheet([c.width for c in sheet.columns], [c.header(lang) for c in sheet.columns])
        plan = [(c.key, xlsx_cell(c, tz, lang, book.texts, clock)) for c in sheet.columns]
        row_out = ws.row
        for row in sheet.rows:
            get = row.get
            row_out([cell(get(key)) for key, cell in plan])
        ws.close()
    book.close()


# ---------------------------------------------------------------- one entry point


@dataclass
class Rendered:
    """A rendered export: its byte chunks (lazy) and how to name and label it."""

    chunks: Iterator[bytes]
    media_type: str
    extension: str


def xlsx_chunks(sheets_factory: Callable[[], list[Sheet]], tz: ZoneInfo, lang: str, *, chunk: int = 64 * 1024) -> Iterator[bytes]:
    """XLSX as chunks, through a temporary file: a seekable zip gets plain local headers (no data
    descriptors), the most widely readable form."""
    fd, name = tempfile.mkstemp(prefix="floorwatch-export-", suffix=".xlsx")
    os.close(fd)
    try:
        write_xlsx(sheets_factory(), name, tz, lang)
        with open(name, "rb") as fh:
            while data := fh.read(chunk):
                yield data
    finally:
        os.unlink(name)


def _counted(factory: Callable[[], list[Sheet]], progress: Callable[[int], None]) -> Callable[[], list[Sheet]]:
    """The same sheets, reporting rows rendered so far (every 1,000 rows and at the end)."""

    def counted() -> list[Sheet]:
        done = 0

        def rows(source: Rows) -> Iterator[dict[str, Any]]:
            nonlocal done
            for row in source:
                yield row
                done += 1
                if not done % 1000:
                    progress(done)
            progress(done)

        return [Sheet(s.title, s.columns, rows(s.rows)) for s in factory()]

    return counted


def render(sheets_factory: Callable[[], list[Sheet]], fmt: str, tz: ZoneInfo, lang: str,
           progress: Callable[[int], None] | None = None) -> Rendered:
    """Render sheets lazily. CSV and JSON lines carry the first sheet only (one table per file).
    `progress(rows)` hears how many rows have been rendered (the CLI's progress line)."""
    if progress is not None:
        sheets_factory = _counted(sheets_factory, progress)
    if fmt == "xlsx":
        chunks = xlsx_chunks(sheets_factory, tz, lang)
    elif fmt == "csv":
        chunks = _first_sheet(sheets_factory, lambda s: csv_chunks(s.rows, s.columns, tz, lang))
    elif fmt == "json":
        chunks = _first_sheet(sheets_factory, lambda s: json_chunks(s.rows, s.columns, tz))
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return Rendered(chunks, MEDIA_TYPES[fmt], EXTENSIONS[fmt])


def _first_sheet(factory: Callable[[], list[Sheet]], fn: Callable[[Sheet], Iterator[bytes]]) -> Iterator[bytes]:
    sheets = factory()
    yield from fn(sheets[0])


def write_file(rendered: Rendered, out: str | Path | BinaryIO, before_replace: Callable[[], None] | None = None) -> int:
    """Write a rendered export to a path (atomically: a partial file never replaces a good one)
    or an open binary stream; returns the bytes written. `before_replace` runs once the whole
    file is written and before it takes the path's place (the CLI's audit): if it raises, the
    path is left as it was."""
    if not isinstance(out, str | Path):
        n = 0
        for data in rendered.chunks:
            out.write(data)
            n += len(data)
        return n
    path = Path(out)
    tmp = path.with_name(f".{path.name}.part")
    n = 0
    try:
        with open(tmp, "wb") as fh:
            for data in rendered.chunks:
                fh.write(data)
                n += len(data)
        if before_replace is not None:
            before_replace()
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return n
