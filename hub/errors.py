"""Errors raised by the hub package."""

from __future__ import annotations

from edge.exceptions import ConfigError


class HubError(Exception):
    """Base of every floorwatch hub error."""


class SiteConfigError(HubError, ValueError):
    """A site folder with one or more problems; `errors` lists each (file, key, reason)."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors) or "invalid site configuration")


class BrokerError(HubError, RuntimeError):
    """The MQTT broker could not be started or reached."""


class StoreError(HubError):
    """The hub database is unusable (wrong schema, locked, corrupt)."""


class NoDatabaseError(HubError):
    """`--db` names no database and the command only reads one: an argument error."""

    def __init__(self, path: object) -> None:
        super().__init__(f"--db: no hub database at {path}")


class AuditError(HubError):
    """The audit trail could not be written, so the audited action is not done."""


class EngineError(HubError, RuntimeError):
    """The rule engine's process ended, failed a call or did not answer in time."""


class InputError(ValueError):
    """A request refused for one of its inputs: `field` names it, `reason` says why (the CLI
    prints both, the API answers them as a 400). Lead actions, badge changes and enrolment each
    have their own subclass."""

    def __init__(self, field: str, reason: str) -> None:
        self.field, self.reason = field, reason
        super().__init__(f"{field}: {reason}")
