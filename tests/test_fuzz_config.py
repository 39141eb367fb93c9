"""Fuzzing the configuration loaders: device files (edge.config), whole site folders
(hub.site.load_site) and roster CSV imports (hub.roster.changes). Whatever an installer or a
spreadsheet writes, the loader returns a valid config or raises its documented error
(ConfigError, SiteConfigError, RosterError) naming the file, the key (or row and column) and the
reason; nothing else escapes, and a single broken key is reported under that key.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.config import load_device_config, parse_device_config
from edge.exceptions import ConfigError
from hub.errors import RosterError, SiteConfigError
from hub.roster.changes import check_roster, import_roster
from hub.site import load_site
from hub.sitegen import generate_site
from hub.store import Store
from tests.fuzz_settings import fuzz

FUZZ = fuzz(60)
SLOW = fuzz(25)  # each example copies and loads a site folder

scalars = st.none() | st.booleans() | st.integers(-(1 << 40), 1 << 40) | st.floats(allow_nan=False) | st.text(max_size=12)
values = st.recursive(scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
                      max_leaves=8)


def check_config_error(exc: ConfigError) -> None:
    assert exc.path and exc.key and exc.reason.strip()
    assert str(exc) == f"{exc.path}: {exc.key}: {exc.reason}"


@st.composite
def mutated_text(draw, text: str) -> str:
    """`text` after a few edits of the kinds a hand or a spreadsheet makes."""
    lines = text.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            lines = [""]
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["replace", "insert", "delete", "duplicate", "truncate", "chars"]))
        junk = draw(st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
                    | st.sampled_from(['"', "'", "=", "[", "]]", ",", ";", "\\", "\x00", "\ufeff", "é", "= 1e999",
                                       "[[seats]]", 'id = ""', ",,,,,", '"unterminated']))
        if op == "replace":
            lines[i] = junk + "\n"
        elif op == "insert":
            lines.insert(i, junk + "\n")
        elif op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "truncate":
            lines[i] = lines[i][: draw(st.integers(0, max(len(lines[i]) - 1, 0)))]
        else:
            pos = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:pos] + junk + lines[i][pos:]
    return "".join(lines)


# ---------------------------------------------------------------- device files


def first_key(loc: str) -> str:
    """The first part of a dotted location (a quoted part, which may hold dots, is a JSON string)."""
    if loc.startswith('"'):
        return json.JSONDecoder().raw_decode(loc)[0]
    return loc.split(".")[0]


VALID_DEVICE = {
    "id": "seat-a01", "site": "example", "role": "seat", "seat": "A01", "heartbeat_s": 30.0,
    "broker": {"host": "127.0.0.1", "port": 1883},
    "spool": {"path": "/var/lib/floorwatch/spool.db", "max_events": 1000},
    "readers": [{"name": "badge", "kind": "rdm6300", "port": "/dev/ttyS0"}],
    "sensors": [{"name": "mat", "kind": "mat", "pin": 17}],
    "buttons": {"break_pin": 5}, "feedback": {"green_pin": 23},
}


@FUZZ
@given(data=st.data())
def test_device_config_one_bad_key_is_named(data) -> None:
    cfg = {k: (dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v) for k, v in VALID_DEVICE.items()}
    section = data.draw(st.sampled_from([None, "broker", "spool", "buttons", "feedback", "readers", "sensors"]))
    target = cfg if section is None else (cfg[section][0] if section in ("readers", "sensors") else cfg[section])
    if section in ("readers", "sensors"):
        target = cfg[section][0] = dict(target)
    key = data.draw(st.sampled_from(sorted(target)) | st.text(min_size=1, max_size=8))
    target[key] = data.draw(values)
    try:
        parse_device_config(cfg, "devices/seat-a01.toml")
    except ConfigError as exc:
        check_config_error(exc)
        assert exc.path == "devices/seat-a01.toml"
        first = first_key(exc.key)
        assert first in ((section or key), "seat", "role"), (section, key, exc.key)
    # else: the value happened to be acceptable for that key


@FUZZ
@given(text=mutated_text(
    "id = \"seat-a01\"\nsite = \"example\"\nrole = \"seat\"\nseat = \"A01\"\n\n[broker]\nport = 1883\n\n"
    "[[readers]]\nname = \"badge\"\nkind = \"rdm6300\"\nport = \"/dev/ttyS0\"\n\n[[sensors]]\nname = \"mat\"\n"
    "kind = \"mat\"\npin = 17\n"))
def test_device_file_loads_or_says_why(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "seat-a01.toml"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        try:
            cfg, digest = load_device_config(path)
        except ConfigError as exc:
            check_config_error(exc)
            assert exc.path == str(path)
        else:
            assert cfg.place is not None and len(digest) == 12


@FUZZ
@given(raw=st.binary(max_size=200))
def test_device_file_of_random_bytes(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dev.toml"
        path.write_bytes(raw)
        with pytest.raises(ConfigError) as info:
            load_device_config(path)
        check_config_error(info.value)


# ---------------------------------------------------------------- site folders


@pytest.fixture(scope="module")
def template_site(tmp_path_factory) -> Path:
    return generate_site(tmp_path_factory.mktemp("fuzzsite") / "site", site="fuzz", seats=6, zones=2, doors=2,
                         kiosks=1, roster_date=dt.date(2026, 3, 2), sim_devices=True)


SITE_FILES = ["site.toml", "rules.toml", "agents.csv", "equipment.csv", "prices.csv", "roster.csv",
              "devices/seat-a01.toml", "devices/door-d1.toml", "devices/kiosk-k1.toml"]


def _load_mutated(template: Path, name: str, text: str):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "site"
        shutil.copytree(template, root)
        (root / name).write_bytes(text.encode("utf-8", "surrogatepass"))
        try:
            return load_site(root)
        except SiteConfigError as exc:
            assert exc.errors, "a SiteConfigError without errors"
            for err in exc.errors:
                check_config_error(err)
                assert Path(err.path).resolve().is_relative_to(root.resolve()), err.path
            return exc


@SLOW
@given(data=st.data())
def test_site_folder_with_a_damaged_file_loads_or_lists_why(template_site: Path, data) -> None:
    name = data.draw(st.sampled_from(SITE_FILES))
    text = data.draw(mutated_text((template_site / name).read_text(encoding="utf-8")))
    _load_mutated(template_site, name, text)


def test_site_csv_with_an_unclosed_quote_is_a_config_error(template_site: Path) -> None:
    """An unclosed quote swallows the rest of the file into one field; past csv's field limit
    (128 KiB, a few thousand roster rows) the csv module raises its own error type."""
    rows = (template_site / "roster.csv").read_text(encoding="utf-8").splitlines()
    text = rows[0] + '\n"' + "\n".join(rows[1:] * 4000) + "\n"
    result = _load_mutated(template_site, "roster.csv", text)
    assert isinstance(result, SiteConfigError)
    assert any(e.path.endswith("roster.csv") for e in result.errors)


# ---------------------------------------------------------------- roster imports


@pytest.fixture(scope="module")
def template_loaded(template_site: Path):
    return load_site(template_site)


@FUZZ
@given(data=st.data())
def test_roster_check_names_row_and_column(template_loaded, template_site: Path, data) -> None:
    text = data.draw(mutated_text((template_site / "roster.csv").read_text(encoding="utf-8")))
    rows, errors = check_roster(template_loaded, "roster.csv", text=text)
    for err in errors:
        check_config_error(err)
        assert err.path == "roster.csv"
        assert err.key == "header" or err.key.startswith("row ") or err.key == "-", err.key
    if not errors:  # a clean file names a known agent, shift and seat on every row
        assert all(r.employee_no and r.shift and r.seat for r in rows)


@SLOW
@given(data=st.data())
def test_roster_import_is_all_or_nothing(template_loaded, template_site: Path, data) -> None:
    text = data.draw(mutated_text((template_site / "roster.csv").read_text(encoding="utf-8")))
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "hub.db")
        try:
            before = store.conn.execute("SELECT count(*) FROM roster").fetchone()[0] if _has_table(store, "roster") else 0
            try:
                result = import_roster(template_loaded, store, "roster.csv", text=text, actor="fuzz", now_ms=0)
            except RosterError as exc:
                assert exc.errors
                for err in exc.errors:
                    check_config_error(err)
                after = store.conn.execute("SELECT count(*) FROM roster").fetchone()[0] if _has_table(store, "roster") else 0
                assert after == before  # nothing written
            else:
                assert result.rows >= 0 and result.audit_id > 0
        finally:
            store.close()


def test_roster_with_an_unclosed_quote_is_a_roster_error(template_loaded, template_site: Path, tmp_path) -> None:
    rows = (template_site / "roster.csv").read_text(encoding="utf-8").splitlines()
    text = rows[0] + "\n" + "\n".join(rows[1:]) + '\n"' + "\n".join(rows[1:] * 4000) + "\n"
    _, errors = check_roster(template_loaded, "roster.csv", text=text)
    assert any("not valid CSV" in e.reason for e in errors)
    store = Store(tmp_path / "hub.db")
    try:
        with pytest.raises(RosterError):
            import_roster(template_loaded, store, "roster.csv", text=text, actor="fuzz", now_ms=0)
    finally:
        store.close()


def _has_table(store: Store, name: str) -> bool:
    return store.conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone() is not None


def test_a_key_with_a_dot_is_named_quoted_as_toml_writes_it():
    """Found by the fuzz above: an extra key "." was named `.`, and "a.b" read as a.b."""
    for key in (".", "a.b", "座位"):
        with pytest.raises(ConfigError) as exc:
            parse_device_config({**VALID_DEVICE, key: 1}, "devices/seat-a01.toml")
        assert exc.value.key == json.dumps(key, ensure_ascii=False) and first_key(exc.value.key) == key
    with pytest.raises(ConfigError) as exc:
        parse_device_config({**VALID_DEVICE, "broker": {**VALID_DEVICE["broker"], "a.b": 1}}, "devices/seat-a01.toml")
    assert exc.value.key == 'broker."a.b"'
