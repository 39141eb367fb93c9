"""The site's CSV files (agents, equipment, prices, roster, assignments) read into models, each
bad row an error naming file, row and column. Its own module because both the site (hub.site)
and the roster configuration (hub.roster.roster_files) read CSV files, and the site validates the
roster configuration."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from pydantic import BaseModel, ValidationError

from edge.exceptions import ConfigError

_FACILITY_CARD = re.compile(r"^\s*\d{1,3}\s*,\s*\d{1,5}\s*$")


def _split_badges(value: str) -> list[str]:
    """Badges are ";"-separated; a "," also separates them unless it is a printed facility,card."""
    out: list[str] = []
    for part in value.split(";"):
        out += [part.strip()] if _FACILITY_CARD.match(part) else _split_list(part)
    return [p for p in out if p]


def _split_list(value: str) -> list[str]:
    return [p.strip() for p in value.replace(",", ";").split(";") if p.strip()]


def read_csv_rows(
    path: Path | str, model: type[BaseModel], errors: list[ConfigError], text: str | None = None
) -> list:
    """Parse a CSV into `model` rows; each bad row adds an error naming row and column."""
    path = Path(path)
    if text is None:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            errors.append(ConfigError(str(path), "-", f"cannot read: {exc.strerror}"))
            return []
        except UnicodeDecodeError:
            errors.append(ConfigError(str(path), "-", "not UTF-8 text"))
            return []
    reader = csv.DictReader(io.StringIO(text))
    fields = set(model.model_fields)
    missing = [f for f, info in model.model_fields.items() if info.is_required()]
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        errors.append(ConfigError(str(path), "header", f"not valid CSV: {exc}"))
        return []
    absent = [f for f in missing if f not in header]
    if absent:
        errors.append(ConfigError(str(path), "header", f"missing column(s): {', '.join(absent)}"))
        return []
    rows = []
    for lineno, raw in _csv_records(reader, path, errors):
        data = {k: (v or "").strip() for k, v in raw.items() if k in fields}
        for k in [k for k, v in data.items() if v == "" and not model.model_fields[k].is_required()]:
            del data[k]
        if "badges" in data:
            data["badges"] = _split_badges(data["badges"])
        if "active" in data:
            data["active"] = data["active"].lower() not in ("0", "false", "no", "n")
        try:
            rows.append(model.model_validate(data))
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            col = ".".join(str(p) for p in err["loc"]) or "-"
            errors.append(ConfigError(str(path), f"row {lineno}, column {col}", err["msg"]))
    return rows


def _csv_records(reader: csv.DictReader, path: Path, errors: list[ConfigError]):
    """(line number, row) of a CSV; a malformed file (e.g. an unclosed quote that swallows more
    than csv's 128 KiB field limit) ends the rows with an error naming where, not a csv.Error."""
    rows = enumerate(reader, start=2)
    while True:
        try:
            yield next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            errors.append(ConfigError(str(path), f"row {reader.line_num}", f"not valid CSV: {exc}"))
            return
