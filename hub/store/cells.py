"""SQL that renders an export's cells inside the query, so a month of rows is formatted by
SQLite in C instead of by Python once per cell.

Each builder returns a SQL expression over one stored column (`x`, a quoted column name or an
expression) that yields the cell's final text for the plain, common case and hands anything
else (an unexpected type, text a quick check cannot prove safe, a time outside the precomputed
zone spans, a number too close to a rounding tie) to a Python fallback: `Fallbacks` registers
one SQL function per export that calls the exporter's own Python converter for that column, so
the output is exactly what the Python path writes, and Python runs only for the rare cells.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

# First characters Excel would run as a formula: = + - @ tab CR (as code points for unicode()).
FORMULA_CODES = "61,43,45,64,9,13"
# Text that JSON must escape (quote, backslash, control characters): such text goes to Python.
# (GLOB classes as ranges: SQLite compares a class character by character.)
_JSON_SPECIAL_GLOB = "*[\x01-\x1f\"\\]*"
_CONTROL_GLOB = "*[\x01-\x1f\\]*"  # backslash or a control character
# '["=...', a one-string array whose text Excel would run as a formula
_FORMULA_INSIDE_GLOB = '[[]"[-=+@\t\r]*'

_ids = itertools.count(1)


def lit(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


class Fallbacks:
    """Python converters the SQL hands its uncommon cells to: `call(fn, x)` is SQL calling
    `fn(value of x)`. One SQL function per instance (a unique name: a shared connection may
    carry several exports)."""

    def __init__(self) -> None:
        self.name = f"fw_cell_{next(_ids)}"
        self._fns: list[Callable[[Any], Any]] = []

    def call(self, fn: Callable[[Any], Any], x: str) -> str:
        self._fns.append(fn)
        return f"{self.name}({len(self._fns) - 1}, {x})"

    def register(self, conn: sqlite3.Connection) -> None:
        fns = self._fns
        conn.create_function(self.name, 2, lambda i, v: fns[i](v), deterministic=True)


def guarded_stored_text(x: str, fallback: str) -> str:
    """A stored text cell guarded against formulas, for a writer that prints other types as
    Python's str() does (csv.writer): only a cell starting with a formula character is looked
    at further (not text: `fallback`)."""
    return (f"CASE WHEN unicode({x}) IN ({FORMULA_CODES}) THEN"
            f" CASE WHEN typeof({x}) = 'text' THEN '''' || {x} ELSE {fallback} END ELSE {x} END")


def guarded_text(x: str) -> str:
    """`guarded` for an expression known to be text."""
    return f"CASE WHEN unicode({x}) IN ({FORMULA_CODES}) THEN '''' || {x} ELSE {x} END"


def guarded(x: str) -> str:
    """Text with an apostrophe in front when Excel would run it as a formula; other types as
    they are (the CSV writer prints them as Python does)."""
    return f"CASE WHEN unicode({x}) IN ({FORMULA_CODES}) AND typeof({x}) = 'text' THEN '''' || {x} ELSE {x} END"


def last_segment(x: str, sep: str = "/") -> str:
    """The part of text after its last `sep` (all of it without one), as str.rsplit(sep, 1)[-1]."""
    s = lit(sep)
    return f"CASE WHEN instr({x}, {s}) THEN substr({x}, length(rtrim({x}, replace({x}, {s}, ''))) + 1) ELSE {x} END"


def words(x: str, mapping: dict[str, str], otherwise: str) -> str:
    """A code as a word (already final text), `otherwise` for a code not in the mapping."""
    whens = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in mapping.items())
    return f"CASE {x} {whens} ELSE {otherwise} END" if whens else otherwise


def integer(x: str, fallback: str) -> str:
    return f"CASE WHEN typeof({x}) = 'integer' THEN {x} WHEN {x} IS NULL THEN NULL ELSE {fallback} END"


def yes_no(x: str, yes: str, no: str, fallback: str) -> str:
    return (f"CASE WHEN typeof({x}) = 'integer' THEN CASE WHEN {x} THEN {lit(yes)} ELSE {lit(no)} END"
            f" WHEN {x} IS NULL THEN NULL ELSE {fallback} END")


def one_decimal_number(x: str, fallback: str) -> str:
    """As `one_decimal`, but a stored value that already is its own rounding (x == k/10, the
    double nearest a tenth: Python's round(x, 1) returns x itself) comes back as the number, for
    a writer that prints it as Python does (csv.writer: repr)."""
    return (f"CASE WHEN typeof({x}) = 'real' AND {x} = CAST({x} * 10 AS INTEGER) / 10.0 THEN {x}"
            f" ELSE {one_decimal(x, fallback)} END")


def one_decimal(x: str, fallback: str) -> str:
    """A number rounded to one decimal as text ("450.0", "-5.5"), as str(round(float(x), 1)):
    k = x*10 rounded to the nearest integer is exact while x*10 is not within a millionth of a
    tie (Python rounds ties of the binary value to even, which only it can judge), and the text
    of k/10 is then Python's; ties, magnitudes of a billion and more, results that print as -0.0
    and non-numbers go to `fallback`."""
    k_pos = f"CAST({x} * 10 + 0.5 AS INTEGER)"
    k_neg = f"CAST(0.5 - {x} * 10 AS INTEGER)"  # of -x
    frac = f"abs({x} * 10 - CAST({x} * 10 AS INTEGER))"
    return (f"CASE WHEN typeof({x}) IN ('real', 'integer') AND abs({frac} - 0.5) > 1e-6 AND abs({x}) < 1e9 THEN"
            f" CASE WHEN {x} >= 0 THEN ({k_pos} / 10) || '.' || ({k_pos} % 10)"
            f" WHEN {x} * 10 <= -0.5 THEN '-' || ({k_neg} / 10) || '.' || ({k_neg} % 10) ELSE {fallback} END"
            f" WHEN {x} IS NULL THEN NULL ELSE {fallback} END")


def shifted_ms(x: str, spans: Sequence[tuple[int, int, int | None]]) -> str:
    """UTC ms plus the zone's offset at that instant from precomputed contiguous [start, end)
    spans of one offset each (a zone with DST has several; None: an offset this path does not
    write), NULL outside them or for a non-integer."""
    if not spans:
        return "NULL"
    whens = " ".join(f"WHEN {x} < {end} THEN {'NULL' if off is None else f'{x} + {off}'}" for _, end, off in spans)
    return f"CASE WHEN typeof({x}) = 'integer' AND {x} >= {spans[0][0]} THEN CASE {whens} END END"


def offset_text(x: str, spans: Sequence[tuple[int, int, str | None]]) -> str:
    """The ISO offset ("+08:00") of the span holding UTC ms `x`."""
    whens = " ".join(f"WHEN {x} < {end} THEN {'NULL' if text is None else lit(text)}" for _, end, text in spans)
    return f"CASE {whens} END"


def local_text(x: str, spans: Sequence[tuple[int, int, int | None]], fallback: str) -> str:
    """UTC ms as local "YYYY-MM-DD HH:MM:SS" (seconds floored), for non-negative ms in the spans."""
    local = shifted_ms(x, spans)
    return f"CASE WHEN {x} IS NULL THEN NULL ELSE coalesce(datetime(({local}) / 1000, 'unixepoch'), {fallback}) END"


def local_iso_json(x: str, spans: Sequence[tuple[int, int, int | None]], offsets: Sequence[tuple[int, int, str | None]],
                   fallback: str) -> str:
    """UTC ms as a JSON string "YYYY-MM-DDTHH:MM:SS[.ffffff]+HH:MM" in local time, 'null' for NULL."""
    local = shifted_ms(x, spans)
    frac = f"CASE WHEN {x} % 1000 THEN '.' || substr({x} % 1000 + 1000, 2) || '000' ELSE '' END"
    iso = f"'\"' || replace(datetime(({local}) / 1000, 'unixepoch'), ' ', 'T') || {frac} || {offset_text(x, offsets)} || '\"'"
    return f"CASE WHEN {x} IS NULL THEN 'null' ELSE coalesce({iso}, {fallback}) END"


def json_text(x: str, fallback: str) -> str:
    """Text as a JSON string when it needs no escapes, 'null' for NULL."""
    return (f"CASE WHEN typeof({x}) = 'text' AND NOT {x} GLOB {lit(_JSON_SPECIAL_GLOB)} THEN '\"' || {x} || '\"'"
            f" WHEN {x} IS NULL THEN 'null' ELSE {fallback} END")


def _flat_inner(x: str) -> str:
    """The inside of a JSON array of strings, separators made compact ('a","b')."""
    return f"replace(substr({x}, 3, length({x}) - 4), '\", \"', '\",\"')"


def single_string_array(x: str) -> str:
    """True for '["a"]': one string with no escapes or control characters (no quote, backslash
    or control character between the outer quotes)."""
    return (f"({x} GLOB '[[]\"*\"]' AND NOT substr({x}, 3, length({x}) - 4) GLOB {lit(_JSON_SPECIAL_GLOB)}"
            f" AND typeof({x}) = 'text')")


def _is_flat_string_array(x: str) -> str:
    """True for '["a","b"]' (or '["a", "b"]'): strings with no escapes or control characters, so
    every quote inside is a separator."""
    return (f"(typeof({x}) = 'text' AND substr({x}, 1, 2) = '[\"' AND substr({x}, -2) = '\"]' AND length({x}) >= 4"
            f" AND NOT {x} GLOB {lit(_CONTROL_GLOB)} AND instr(replace({_flat_inner(x)}, '\",\"', ''), '\"') = 0)")


def joined_list(x: str, sep: str, fallback: str) -> str:
    """A JSON array of strings as its items joined by `sep` (text, guarded against formulas),
    NULL for an empty one."""
    joined = f"replace({_flat_inner(x)}, '\",\"', {lit(sep)})"
    single = f"substr({x}, 3, length({x}) - 4)"
    single = f"CASE WHEN {x} GLOB {lit(_FORMULA_INSIDE_GLOB)} THEN '''' || {single} ELSE {single} END"
    return (f"CASE WHEN {x} = '[]' OR {x} IS NULL OR {x} = '' THEN NULL"
            f" WHEN {single_string_array(x)} THEN {single}"
            f" WHEN {_is_flat_string_array(x)} THEN {guarded_text(joined)} ELSE {fallback} END")


def json_list(x: str, fallback: str) -> str:
    """A JSON array of strings as compact JSON text ('[]' for NULL or empty)."""
    return (f"CASE WHEN {x} = '[]' OR {x} IS NULL OR {x} = '' THEN '[]'"
            f" WHEN {single_string_array(x)} THEN {x}"
            f" WHEN {_is_flat_string_array(x)} THEN '[\"' || {_flat_inner(x)} || '\"]' ELSE {fallback} END")


def list_length(x: str, fallback: str) -> str:
    """The number of items of a JSON array of strings (0 for NULL or empty)."""
    inner = _flat_inner(x)
    return (f"CASE WHEN {x} = '[]' OR {x} IS NULL OR {x} = '' THEN 0 WHEN {single_string_array(x)} THEN 1"
            f" WHEN {_is_flat_string_array(x)} THEN (length({inner}) - length(replace({inner}, '\",\"', ''))) / 3 + 1"
            f" ELSE {fallback} END")


# ---------------------------------------------------------------- XLSX cells (SpreadsheetML)

# Characters a text may start and end with to be written as it is (no escape, no xml:space):
# printable ASCII and the BMP's letters, without any Unicode space (Python's \s) or control.
_XML_PLAIN_END = "[!-~\u00a1-\u167f\u1681-\u1fff\u200b-\u2027\u2030-\u205e\u2060-\u2fff\u3001-\ud7ff\ue000-\ufffd]"
_XML_SPECIAL_GLOB = "*[&<>\x01-\x1f\ufffe\uffff]*"


def xml_plain(t: str) -> str:
    """True for text an inline-string cell carries as it is: nothing to escape or drop, no
    leading or trailing whitespace, only characters from the plain set at its ends."""
    return (f"(NOT {t} GLOB {lit(_XML_SPECIAL_GLOB)} AND {t} GLOB {lit(_XML_PLAIN_END + '*')}"
            f" AND {t} GLOB {lit('*' + _XML_PLAIN_END)})")


def xlsx_text(t: str, ref: str, fallback: str) -> str:
    """A text cell (`ref` like '<c r="A\x01"'), '' for NULL or empty text."""
    return (f"CASE WHEN {t} IS NULL OR {t} = '' THEN '' WHEN typeof({t}) = 'text' AND {xml_plain(t)} THEN"
            f" {lit(ref + ' t=' + chr(34) + 'inlineStr' + chr(34) + '><is><t>')} || {t} || '</t></is></c>' ELSE {fallback} END")


def tenth_text(x: str, fallback: str) -> str:
    """A number rounded to a tenth as text, as Python (and orjson) print round(x, 1): a stored
    value already exact as it is printed by SQLite (15 digits: exact below 1e14), others as
    `one_decimal`."""
    return (f"CASE WHEN typeof({x}) = 'real' AND {x} = CAST({x} * 10 AS INTEGER) / 10.0 AND abs({x}) < 1e14"
            f" THEN CAST({x} AS TEXT) ELSE {one_decimal(x, fallback)} END")


def xlsx_value(x: str, ref: str, value: str, style: int = 0) -> str:
    """A cell holding the number `value` (SQL text), '' for NULL `x`; `value` may be the cell's
    fallback, which returns the whole cell."""
    s = f' s="{style}"' if style else ""
    return f"CASE WHEN {x} IS NULL THEN '' ELSE {lit(ref + s + '><v>')} || {value} || '</v></c>' END"


def excel_serial(x: str, spans: Sequence[tuple[int, int, int | None]]) -> str:
    """UTC ms as the local wall time's Excel serial (15 significant digits: well under a
    millisecond), NULL outside the spans."""
    return f"(({shifted_ms(x, spans)}) / 86400000.0 + 25569)"


def excel_date(x: str) -> str:
    """An ISO date's Excel serial (days since 1899-12-30), NULL for anything else."""
    return (f"CASE WHEN {x} GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'"
            f" THEN CAST(julianday({x}) - 2415018.5 AS INTEGER) END")


def is_list_of(x: str, t: str) -> str:
    """True when JSON list cell `x` is exactly the list of the one text `t` and `t` needs no JSON
    escape (`["A01"]` beside its rostered seat "A01"): one comparison where the general list
    checks take several function calls."""
    return f"(typeof({t}) = 'text' AND {x} = '[\"' || {t} || '\"]' AND NOT {t} GLOB {lit(_JSON_SPECIAL_GLOB)})"
