"""Exports: attendance logs HR can open in Excel, raw tables for audits, the monthly assessment.

One module per export family (attendance, raw: taps / occupancy / violations / incidents /
audit, assessment) describes its columns and yields rows; `formats` renders rows as CSV (UTF-8
with BOM), XLSX or JSON lines without ever holding the whole export in memory. The CLI
(`floorwatch export`, `floorwatch assess`) and the web API (kiosk_ui/exports_api.py) both call
`render_export` / `render_assessment` here, so a file from either is byte-for-byte the same kind.
"""

from __future__ import annotations

from collections.abc import Callable

from hub.exports import assessment as assessment_family
from hub.exports import attendance, raw
from hub.exports.formats import (
    EXTENSIONS,
    FORMATS,
    LANGS,
    MEDIA_TYPES,
    Rendered,
    render,
    write_file,
)
from hub.exports.query import ExportParamError, ExportQuery, parse_query
from hub.site import Site
from hub.store import Store

KINDS: tuple[str, ...] = ("attendance", "taps", "occupancy", "violations", "incidents", "audit")


def render_export(kind: str, site: Site, store: Store, query: ExportQuery, fmt: str, lang: str = "zh",
                  progress: Callable[[int], None] | None = None) -> Rendered:
    """A lazily rendered export: nothing is read until its chunks are iterated; `progress` hears
    the rows rendered so far."""
    if kind not in KINDS:
        raise ExportParamError("kind", f"one of {', '.join(KINDS)}")
    if kind == "attendance" and fmt in FORMATS and store.dialect.name == "sqlite":  # HR's month: rendered by SQLite
        from hub.exports import in_sqlite

        if fmt == "csv":
            chunks = in_sqlite.attendance_csv(site, store, query, lang, progress)
        elif fmt == "json":
            chunks = in_sqlite.attendance_json(site, store, query, progress)
        else:
            chunks = in_sqlite.attendance_xlsx(site, store, query, lang, progress)
        return Rendered(chunks, MEDIA_TYPES[fmt], EXTENSIONS[fmt])

    def factory():
        if kind == "attendance":
            return attendance.sheets(site, store, query)
        return raw.family_sheets(kind, site, store, query, lang)

    return render(factory, fmt, site.tz, lang, progress)


def render_assessment(site: Site, store: Store, month: str, fmt: str, lang: str = "zh", *,
                      team: str | None = None, agent: str | None = None,
                      progress: Callable[[int], None] | None = None) -> Rendered:
    from hub.assess import assess_month

    def factory():
        return assessment_family.sheets(assess_month(site, store, month, team=team, agent=agent), lang)

    return render(factory, fmt, site.tz, lang, progress)


def export_filename(kind: str, site: Site, query: ExportQuery, fmt: str) -> str:
    return f"{site.id}_{kind}_{query.slug()}.{EXTENSIONS[fmt]}"


def assessment_filename(site: Site, month: str, fmt: str) -> str:
    return f"{site.id}_assessment_{month}.{EXTENSIONS[fmt]}"


__all__ = [
    "FORMATS", "KINDS", "LANGS", "ExportParamError", "ExportQuery", "Rendered", "assessment_filename",
    "export_filename", "parse_query", "render_assessment", "render_export", "write_file",
]
