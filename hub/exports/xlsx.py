"""A streaming XLSX (SpreadsheetML) writer: rows go out as XML text into a zip, one row at a time.

Chosen by measurement (bench/export_speed.py --compare-xlsx; bench/RESULTS.md): for the 60k-row month
of attendance, openpyxl's write-only mode with lxml took 10 s and XlsxWriter's constant_memory
mode 8.9 s, both dominated by building a cell object per value; writing the XML text directly
took about a tenth of that. The format needed here is small: inline strings (no shared-string
table, so memory stays flat and nothing is ever a formula), numbers, date-times and dates as
serials with a number format, one bold header row frozen in place, and column widths.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable
from typing import IO
from xml.sax.saxutils import quoteattr

# Style ids in styles.xml's cellXfs: what each cell kind refers to.
STYLE_HEADER, STYLE_DATETIME, STYLE_DATE = 1, 2, 3
ROW_MARK = "\x01"  # stands for the row number in rendered rows (SheetWriter.rendered_rows)
EXCEL_EPOCH_DAYS = 25569  # 1970-01-01 as an Excel serial (days since 1899-12-30)
DATE_ORDINAL_OFFSET = 693594  # date.toordinal() of 1899-12-30

_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
# Characters XML 1.0 cannot carry at all (dropped), and those that need escaping or xml:space.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_SPECIAL = re.compile("[&<>\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|^\\s|\\s$")

STYLES = (
    f'{_XML_DECL}<styleSheet xmlns="{_NS}">'
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm:ss"/>'
    '<numFmt numFmtId="165" formatCode="yyyy-mm-dd"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1" applyAlignment="1">'
    '<alignment vertical="top"/></xf>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
)


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _escape(text: str) -> str:
    text = _ILLEGAL.sub("", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class TextCells:
    """Inline-string cell tails (`t="inlineStr"><is><t>…</t></is></c>`), cached per distinct text:
    names, teams, seats and codes repeat on every page of a month, escaping them once is enough.
    The cache is bounded so a long export of unique texts stays at flat memory."""

    def __init__(self, limit: int = 4096) -> None:
        self._cache: dict[str, str] = {}
        self._limit = limit

    def tail(self, text: str, style: int = 0) -> str:
        key = text if not style else f"{style}\x00{text}"
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        if _SPECIAL.search(text):
            body = _escape(text)
            t = '<t xml:space="preserve">' if body != body.strip() else "<t>"
        else:
            body, t = text, "<t>"
        s = f' s="{style}"' if style else ""
        hit = f'{s} t="inlineStr"><is>{t}{body}</t></is></c>'
        if len(self._cache) >= self._limit:
            self._cache.clear()
        self._cache[key] = hit
        return hit


class SheetWriter:
    """One worksheet's XML, written to the zip entry as rows arrive."""

    def __init__(self, stream: IO[bytes], widths: list[float], headers: list[str], texts: TextCells,
                 flush_chars: int = 32 * 1024) -> None:
        self._stream = stream
        self._flush_chars = flush_chars
        self._letters = [column_letter(i) for i in range(len(widths))]
        self._parts: list[str] = []
        self._size = 0
        self.rows = 0
        cols = "".join(f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>' for i, w in enumerate(widths, start=1))
        cols = f"<cols>{cols}</cols>" if cols else ""  # an empty <cols> is not valid
        self._write(
            f'{_XML_DECL}<worksheet xmlns="{_NS}" xmlns:r="{_REL_NS}">'
            '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft"'
            ' state="frozen"/><selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
            f'<sheetFormatPr defaultRowHeight="15"/>{cols}<sheetData>'
        )
        self.texts = texts
        self.row([texts.tail(h, STYLE_HEADER) for h in headers])

    def row(self, tails: list[str | None]) -> None:
        """One row from each cell's tail (None: no cell, except in the last column, which gets an
        empty one (the list is the caller's, changed in place): readers without a sheet dimension, like openpyxl's read-only mode, size rows
        by their last cell, and the dimension is not known until the last row)."""
        self.rows += 1
        n = str(self.rows)
        if tails and tails[-1] is None:
            tails[-1] = "/>"
        cells = "".join(f'<c r="{letter}{n}"{tail}' for letter, tail in zip(self._letters, tails, strict=False) if tail is not None)
        self._write(f'<row r="{n}">{cells}</row>')

    def rendered_rows(self, rows: Iterable[str]) -> None:
        """Rows whose cells are XML already (hub.exports.in_sqlite), each cell reference's row
        number written as ROW_MARK (a character XML cannot carry, so no text holds it)."""
        for cells in rows:
            self.rows += 1
            n = str(self.rows)
            self._write(f'<row r="{n}">{cells.replace(ROW_MARK, n)}</row>')

    def _write(self, text: str) -> None:
        self._parts.append(text)
        self._size += len(text)
        if self._size >= self._flush_chars:
            self._flush()

    def _flush(self) -> None:
        if self._parts:
            self._stream.write("".join(self._parts).encode("utf-8"))
            self._parts.clear()
            self._size = 0

    def close(self) -> None:
        self._write("</sheetData></worksheet>")
        self._flush()
        self._stream.close()


class Workbook:
    """A workbook written straight into a zip file: the package parts first (so the file starts
    with [Content_Types].xml as Office writes it), then each sheet's rows in order."""

    def __init__(self, out: IO[bytes] | str, titles: list[str], *, compresslevel: int = 1,
                 flush_chars: int = 32 * 1024) -> None:
        # Level 1: the XML is repetitive enough that the fast level still shrinks it ~10x, and
        # deflating at the default level took as long as writing the rows.
        self._zip = z = zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel)
        self._opened = 0
        self._flush_chars = flush_chars
        self.texts = TextCells()
        n = len(titles)
        sheets = "".join(f'<sheet name={quoteattr(_escape(t[:31]))} sheetId="{i}" r:id="rId{i}"/>'
                         for i, t in enumerate(titles, start=1))
        rels = "".join(f'<Relationship Id="rId{i}" Type="{_REL_NS}/worksheet" Target="worksheets/sheet{i}.xml"/>'
                       for i in range(1, n + 1))
        overrides = "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
                            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>' for i in range(1, n + 1))
        z.writestr("[Content_Types].xml", f'{_XML_DECL}<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                   'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
                   'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName='
                   '"/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
                   f'sheet.main+xml"/>{overrides}<Override PartName="/xl/styles.xml" ContentType="application/'
                   'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>')
        z.writestr("_rels/.rels", f'{_XML_DECL}<Relationships xmlns="{_PKG_REL_NS}"><Relationship Id="rId1"'
                   f' Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml", f'{_XML_DECL}<workbook xmlns="{_NS}" xmlns:r="{_REL_NS}">'
                   f'<bookViews><workbookView/></bookViews><sheets>{sheets}</sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels", f'{_XML_DECL}<Relationships xmlns="{_PKG_REL_NS}">{rels}'
                   f'<Relationship Id="rId{n + 1}" Type="{_REL_NS}/styles" Target="styles.xml"/></Relationships>')
        z.writestr("xl/styles.xml", STYLES)
        self._count = n

    def sheet(self, widths: list[float], headers: list[str]) -> SheetWriter:
        """The next sheet (in the order of `titles`); close it before opening the next."""
        if self._opened >= self._count:
            raise ValueError("more sheets than titles")
        self._opened += 1
        stream = self._zip.open(f"xl/worksheets/sheet{self._opened}.xml", "w")
        return SheetWriter(stream, widths, headers, self.texts, self._flush_chars)

    def close(self) -> None:
        while self._opened < self._count:  # a sheet never written is still a valid empty sheet
            self.sheet([], []).close()
        self._zip.close()
