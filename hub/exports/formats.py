"""Turning rows into files people and machines open: CSV, XLSX and JSON lines.

Every export family describes its columns once (`Column`: key, zh and en header, kind, width)
and yields rows as plain dicts of machine values (UTC ms, ISO dates, codes, lists). This module
renders those rows, one at a time, so an export of any length needs the memory of one row:

- CSV: UTF-8 with a byte-order mark (Excel on a Chinese Windows desktop otherwise guesses GBK),
  zh or en headers, local times as text, codes as words in the chosen language. Text that Excel
  would run as a formula (=, +, -, @ first) is prefixed with an apostrophe.
- XLSX: openpyxl write-only mode (rows go straight to a temporary XML file), a bold frozen
  header row, column widths, times as real date-time cells in the site's zone, and text cells
  forced to text so a name like "=1+1" stays a name.
- JSON lines: one object per row with English keys, codes, lists and ISO 8601 times carrying the
  site's offset, for machines.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

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


def json_converter(col: Column, tz: ZoneInfo) -> Convert:
    """The machine form of a column's values (JSON lines), decided once per column."""
    if col.kind == "datetime":
        return _none_or(lambda v: local_datetime(int(v), tz).isoformat())
    if col.kind in ("int", "number"):
        return _none_or(_number_fn(col))
    if col.kind == "bool":
        return _none_or(bool)
    if col.kind == "list":
        return _none_or(lambda v: list(v) if isinstance(v, list | tuple) else [v])
    return lambda v: v


def text_converter(col: Column, tz: ZoneInfo, lang: str) -> Convert:
    """The human text form of a column's values (CSV), decided once per column."""
    if col.kind == "datetime":
        return _none_or(lambda v: local_datetime(int(v), tz).strftime(DATETIME_TEXT), "")
    if col.kind in ("int", "number"):
        num = _number_fn(col)
        return _none_or(lambda v: str(num(v)), "")
    if col.kind == "bool":
        yes, no = _BOOL_LABELS[lang]
        return _none_or(lambda v: yes if v else no, "")
    if col.kind == "enum":
        return _none_or(lambda v: _label(col, v, lang), "")
    if col.kind == "list":
        return _none_or(_joined, "")
    if col.kind == "json":
        return _none_or(_json_text, "")
    return _none_or(str, "")


def cell_converter(col: Column, tz: ZoneInfo, lang: str) -> Convert:
    """The typed spreadsheet form (XLSX): numbers, naive local date-times, dates, text."""
    if col.kind == "datetime":
        return _none_or(lambda v: local_datetime(int(v), tz).replace(tzinfo=None))
    if col.kind == "date":
        return _none_or(lambda v: dt.date.fromisoformat(str(v)))
    if col.kind in ("int", "number"):
        return _none_or(_number_fn(col))
    text = text_converter(col, tz, lang)
    return _none_or(text)


def json_value(col: Column, value: Any, tz: ZoneInfo) -> Any:
    return json_converter(col, tz)(value)


def text_value(col: Column, value: Any, tz: ZoneInfo, lang: str) -> str:
    return text_converter(col, tz, lang)(value)


def cell_value(col: Column, value: Any, tz: ZoneInfo, lang: str) -> Any:
    return cell_converter(col, tz, lang)(value)


def defuse_formula(text: str) -> str:
    """Text a spreadsheet would evaluate as a formula gets a leading apostrophe (CSV only)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


# ---------------------------------------------------------------- writers

Rows = Iterable[dict[str, Any]]


def csv_chunks(rows: Rows, columns: list[Column], tz: ZoneInfo, lang: str, *, chunk_chars: int | None = None) -> Iterator[bytes]:
    """UTF-8 CSV with a byte-order mark, as byte chunks of about `chunk_chars` characters."""
    limit = chunk_chars or CHUNK_CHARS
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([c.header(lang) for c in columns])
    yield codecs.BOM_UTF8 + buf.getvalue().encode("utf-8")
    buf.seek(0)
    buf.truncate()
    plan = []
    for c in columns:
        conv = text_converter(c, tz, lang)
        if c.kind in ("text", "enum", "list", "json"):  # free text: never a formula in Excel
            conv = (lambda f: lambda v: defuse_formula(f(v)))(conv)
        plan.append((c.key, conv))
    for row in rows:
        writer.writerow([conv(row.get(key)) for key, conv in plan])
        if buf.tell() >= limit:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    if buf.tell():
        yield buf.getvalue().encode("utf-8")


def json_chunks(rows: Rows, columns: list[Column], tz: ZoneInfo, *, chunk_chars: int | None = None) -> Iterator[bytes]:
    """JSON lines: one object per row, English keys in column order."""
    limit = chunk_chars or CHUNK_CHARS
    buf = io.StringIO()
    plan = [(c.key, json_converter(c, tz)) for c in columns]
    for row in rows:
        obj = {key: conv(row.get(key)) for key, conv in plan}
        for key, value in row.items():  # nested extras a family adds for machines (e.g. evidence)
            if key.startswith("_"):
                obj[key[1:]] = value
        buf.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))
        buf.write("\n")
        if buf.tell() >= limit:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    if buf.tell():
        yield buf.getvalue().encode("utf-8")


@dataclass
class Sheet:
    """One worksheet of an XLSX export."""

    title: str
    columns: list[Column]
    rows: Rows


def write_xlsx(sheets: list[Sheet], out: BinaryIO | str | Path, tz: ZoneInfo, lang: str) -> None:
    """Write-only workbook: rows stream to a temporary file inside openpyxl, never a big tree."""
    wb = Workbook(write_only=True)
    bold = Font(bold=True)
    wrap = Alignment(vertical="top")
    for sheet in sheets:
        ws = wb.create_sheet(sheet.title[:31])
        ws.freeze_panes = "A2"
        for i, col in enumerate(sheet.columns, start=1):
            ws.column_dimensions[get_column_letter(i)].width = col.width
        header = []
        for col in sheet.columns:
            cell = WriteOnlyCell(ws, value=col.header(lang))
            cell.font = bold
            cell.alignment = wrap
            header.append(cell)
        ws.append(header)
        formats: list[str | None] = [
            XLSX_DATETIME if c.kind == "datetime" else XLSX_DATE if c.kind == "date" else None for c in sheet.columns
        ]
        plan = [(c.key, cell_converter(c, tz, lang), fmt) for c, fmt in zip(sheet.columns, formats, strict=True)]
        for row in sheet.rows:
            cells: list[Any] = []
            for key, conv, fmt in plan:
                value = conv(row.get(key))
                if fmt is not None and value is not None:
                    cell = WriteOnlyCell(ws, value=value)
                    cell.number_format = fmt
                    value = cell
                elif isinstance(value, str) and value.startswith("="):
                    cell = WriteOnlyCell(ws, value=value)
                    cell.data_type = "s"  # text that looks like a formula stays text
                    value = cell
                cells.append(value)  # plain numbers and text need no cell object (faster)
            ws.append(cells)
    wb.save(out)


# ---------------------------------------------------------------- one entry point


@dataclass
class Rendered:
    """A rendered export: its byte chunks (lazy) and how to name and label it."""

    chunks: Iterator[bytes]
    media_type: str
    extension: str


def xlsx_chunks(sheets_factory: Callable[[], list[Sheet]], tz: ZoneInfo, lang: str, *, chunk: int = 64 * 1024) -> Iterator[bytes]:
    """XLSX as chunks: openpyxl needs a seekable file, so write a temporary one, then stream it."""
    fd, name = tempfile.mkstemp(prefix="floorwatch-export-", suffix=".xlsx")
    os.close(fd)
    try:
        write_xlsx(sheets_factory(), name, tz, lang)
        with open(name, "rb") as fh:
            while data := fh.read(chunk):
                yield data
    finally:
        os.unlink(name)


def render(sheets_factory: Callable[[], list[Sheet]], fmt: str, tz: ZoneInfo, lang: str) -> Rendered:
    """Render sheets lazily. CSV and JSON lines carry the first sheet only (one table per file)."""
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


def write_file(rendered: Rendered, out: str | Path | BinaryIO) -> int:
    """Write a rendered export to a path (atomically: a partial file never replaces a good one)
    or an open binary stream; returns the bytes written."""
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
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return n
