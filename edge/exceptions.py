"""Errors raised by the edge package. Each names what was wrong and where."""

from __future__ import annotations


class EdgeError(Exception):
    """Base of every floorwatch edge error."""


class WireError(EdgeError, ValueError):
    """A message that does not follow the wire contract; `field` names the offending part."""

    def __init__(self, field: str, reason: str, topic: str | None = None) -> None:
        self.field = field
        self.reason = reason
        self.topic = topic
        where = f"{topic}: " if topic else ""
        super().__init__(f"{where}{field}: {reason}")


class SchemaError(EdgeError, ValueError):
    """Data that does not fit a record (edge.schema); `loc` is the dotted field ("" for the whole
    record), `reason` pydantic's wording. Callers turn it into a WireError or a ConfigError."""

    def __init__(self, loc: str, reason: str) -> None:
        self.loc = loc
        self.reason = reason
        super().__init__(f"{loc or '-'}: {reason}")


class ConfigError(EdgeError, ValueError):
    """A configuration file that cannot be used; names the file, the key and why."""

    def __init__(self, path: str, key: str, reason: str) -> None:
        self.path = str(path)
        self.key = key
        self.reason = reason
        super().__init__(f"{self.path}: {key}: {reason}")


class DecodeError(EdgeError, ValueError):
    """Bytes or edges from a reader that do not form a valid frame."""


class SpoolError(EdgeError):
    """The durable outbox cannot be opened or written."""
