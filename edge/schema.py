"""Strict records for the edge's two kinds of external input, wire messages and device files, on
msgspec (a small C extension: a Pi Zero 2 W cannot spare the ~10 MB pydantic and its models
cost the agent).

`Record.validate` is strict about types (a string "3" is not an integer, a bool is not a number)
and names the first fault in declared-field order with the same wording as pydantic, which the
hub's own files are validated with: an installer or a device maker reads one language of errors
("broker.port: Input should be a valid integer"), and the quarantine reasons the hub keeps read as
they always have. msgspec decides whether input is valid; `first_error` only words the fault.

A record either forbids unknown fields (device files: a typo is an error) or keeps them
(`forbid_unknown_fields=False`, wire messages: a newer device may add fields), as `model_extra`.
`model_dump` and `model_copy` are named as pydantic's, so code that handles both the hub's models
and these needs no branch.
"""

from __future__ import annotations

import functools
import json
import re
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal, Self, Union

import msgspec

from edge.exceptions import SchemaError

_NOTHING = msgspec.NODEFAULT


class Record(msgspec.Struct, kw_only=True, frozen=True, dict=True, forbid_unknown_fields=True):
    # kw_only holds only for the fields a class itself declares: every subclass says it again,
    # so fields keep their declared order and a required one may follow an optional one.
    """Base of every validated record; construction does not validate, `validate` does."""

    @classmethod
    def validate(cls, data: Any) -> Self:
        """`data` (plain JSON/TOML values) as this record, or SchemaError naming the field."""
        try:
            record = msgspec.convert(data, cls, strict=True)
        except msgspec.ValidationError as exc:
            raise SchemaError(*(first_error(data, cls) or ("", str(exc)))) from None
        if not cls.__struct_config__.forbid_unknown_fields:
            extra = {k: v for k, v in data.items() if k not in cls.__struct_fields__}
            if extra:
                record.__dict__["extra"] = extra
        try:
            record.check()
        except ValueError as exc:
            raise SchemaError("", f"Value error, {exc}") from None
        return record

    def check(self) -> None:
        """Rules across fields, after the fields are valid: raise ValueError saying what is wrong."""

    @property
    def model_extra(self) -> dict[str, Any]:
        """The unknown fields a record that keeps them was given, in the order received."""
        return self.__dict__.get("extra", {})

    def model_dump(self, *, mode: str = "python", exclude: set[str] | frozenset[str] = frozenset(),
                   exclude_none: bool = False) -> dict[str, Any]:
        """Declared fields (records and lists of records as plain values), then unknown ones."""
        out = {k: _plain(getattr(self, k), mode) for k in self.__struct_fields__ if k not in exclude}
        out.update((k, v) for k, v in self.model_extra.items() if k not in exclude)
        return {k: v for k, v in out.items() if v is not None} if exclude_none else out

    def model_copy(self, *, update: dict[str, Any] | None = None) -> Self:
        """A copy with some fields replaced (not validated again, as pydantic's), unknown fields kept."""
        copy = msgspec.structs.replace(self, **(update or {}))
        if self.model_extra:
            copy.__dict__["extra"] = dict(self.model_extra)
        return copy


def _plain(value: Any, mode: str) -> Any:
    if isinstance(value, Record):
        return value.model_dump(mode=mode)
    if isinstance(value, list):
        return [_plain(v, mode) for v in value]
    return value


def whole(pattern: str) -> msgspec.Meta:
    """The constraint that a string match `pattern` (written ^...$) as a whole: Python's `$` also
    matches before a final newline, which pydantic's regex engine never accepted. Messages show
    the pattern as written."""
    if not (pattern.startswith("^") and pattern.endswith("$")):
        raise ValueError(f"{pattern!r} is not anchored at both ends")
    return msgspec.Meta(pattern=pattern[:-1] + r"\Z", extra={"shown": pattern})


def required_fields(cls: type[Record]) -> tuple[str, ...]:
    """The fields a record cannot do without, in declared order."""
    return tuple(f.name for f in msgspec.structs.fields(cls) if f.required)


def field_defaults(cls: type[Record]) -> dict[str, Any]:
    """Declared field -> default (`msgspec.NODEFAULT` when required), in declared order."""
    return {f.name: (f.default_factory() if f.default_factory is not _NOTHING else f.default)
            for f in msgspec.structs.fields(cls)}


# ---------------------------------------------------------------- wording the first fault


def first_error(value: Any, tp: Any, loc: str = "") -> tuple[str, str] | None:
    """(dotted location, pydantic's message) of the first fault of `value` as a `tp`, walking
    fields in declared order as pydantic does; None if this walk sees none (then msgspec's own
    message stands)."""
    return _fault(value, _resolve(tp), loc)


@dataclass(frozen=True, slots=True)
class _Plan:
    """An annotation worked out once: `Annotated[int, Meta(ge=0)] | None` is nullable, tp int."""

    nullable: bool
    tp: Any
    origin: Any
    args: tuple[Any, ...]
    meta: dict[str, Any]
    item: _Plan | None  # list items


def _fault(value: Any, plan: _Plan, loc: str) -> tuple[str, str] | None:
    tp, meta = plan.tp, plan.meta
    if plan.nullable and value is None:
        return None
    if plan.origin is Literal:
        if any(value == c and type(value) is type(c) for c in plan.args):
            return None
        return loc, "Input should be " + _either(plan.args)
    if isinstance(tp, type) and issubclass(tp, Record):
        return _record_error(value, tp, loc)
    if tp is bool:
        return None if type(value) is bool else (loc, "Input should be a valid boolean")
    if tp is int:
        if type(value) is not int:
            return loc, "Input should be a valid integer"
        return _bound_error(value, meta, loc)
    if tp is float:
        if type(value) not in (int, float):
            return loc, "Input should be a valid number"
        return _bound_error(value, meta, loc)
    if tp is str:
        if type(value) is not str:
            return loc, "Input should be a valid string"
        if meta.get("min_length") is not None and len(value) < meta["min_length"]:
            return loc, f"String should have at least {_count(meta['min_length'], 'character')}"
        if meta.get("max_length") is not None and len(value) > meta["max_length"]:
            return loc, f"String should have at most {_count(meta['max_length'], 'character')}"
        if meta.get("pattern") is not None and not re.search(meta["pattern"], value):
            return loc, f"String should match pattern '{meta.get('shown', meta['pattern'])}'"
        return None
    if plan.origin is list and plan.item is not None:
        if type(value) is not list:
            return loc, "Input should be a valid list"
        if meta.get("max_length") is not None and len(value) > meta["max_length"]:
            return loc, (f"List should have at most {_count(meta['max_length'], 'item')} after validation, "
                         f"not {len(value)}")
        for i, v in enumerate(value):
            if (err := _fault(v, plan.item, _join(loc, str(i)))) is not None:
                return err
        return None
    return None


def _record_error(value: Any, tp: type[Record], loc: str) -> tuple[str, str] | None:
    if type(value) is not dict:
        return loc, f"Input should be a valid dictionary or instance of {tp.__name__}"
    plans, required = _shape(tp)
    for name in tp.__struct_fields__:
        if name in value:
            if (err := _fault(value[name], plans[name], _join(loc, name))) is not None:
                return err
        elif name in required:
            return _join(loc, name), "Field required"
    if tp.__struct_config__.forbid_unknown_fields:
        for key in value:
            if key not in tp.__struct_fields__:
                return _join(loc, str(key)), "Extra inputs are not permitted"
    return None


@functools.cache
def _shape(tp: type[Record]) -> tuple[dict[str, _Plan], frozenset[str]]:
    """(field -> its plan, required fields) of a record: resolved once, not per fault."""
    hints = typing.get_type_hints(tp, include_extras=True)
    return {name: _resolve(hints[name]) for name in tp.__struct_fields__}, frozenset(required_fields(tp))


_BOUNDS = (("gt", "greater than"), ("ge", "greater than or equal to"),
           ("lt", "less than"), ("le", "less than or equal to"))


def _bound_error(value: int | float, meta: dict[str, Any], loc: str) -> tuple[str, str] | None:
    for key, words in _BOUNDS:
        bound = meta.get(key)
        if bound is None:
            continue
        ok = {"gt": value > bound, "ge": value >= bound, "lt": value < bound, "le": value <= bound}[key]
        if not ok:
            return loc, f"Input should be {words} {bound}"
    return None


@functools.cache
def _resolve(tp: Any) -> _Plan:
    tp, meta = _unwrap(tp)
    nullable = False
    if typing.get_origin(tp) in (Union, types.UnionType):
        arms = [a for a in typing.get_args(tp) if a is not type(None)]
        nullable = len(arms) < len(typing.get_args(tp))
        if len(arms) == 1:
            tp, meta = _unwrap(arms[0])
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    item = _resolve(args[0]) if origin is list and len(args) == 1 else None
    return _Plan(nullable, tp, origin, args, meta, item)


def _unwrap(tp: Any) -> tuple[Any, dict[str, Any]]:
    """(the bare type, its constraints) of a possibly Annotated[type, msgspec.Meta(...)]."""
    meta: dict[str, Any] = {}
    while typing.get_origin(tp) is typing.Annotated:
        tp, *extras = typing.get_args(tp)
        for m in extras:
            if isinstance(m, msgspec.Meta):
                meta.update({k: getattr(m, k) for k in ("gt", "ge", "lt", "le", "min_length", "max_length", "pattern")
                             if getattr(m, k) is not None})
                meta.update(m.extra or {})
    return tp, meta


def _either(choices: tuple[Any, ...]) -> str:
    words = [repr(c) for c in choices]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _join(loc: str, part: str) -> str:
    """A dotted location as TOML writes a key: a part that is not a bare key (a "." or a space
    in it, a Chinese name) is quoted, so `"a.b"` and `a.b` are told apart."""
    if not _BARE_KEY.fullmatch(part):
        part = json.dumps(part, ensure_ascii=False)  # also a TOML basic string, bar a raw DEL
    return f"{loc}.{part}" if loc else part
