"""Errors raised by the hub package: every one here, so a caller finds what it may catch in one place."""

from __future__ import annotations

from edge.exceptions import ConfigError


class HubError(Exception):
    """Base of every floorwatch hub error."""


class FileProblems(HubError, ValueError):
    """A file (or folder of files) with one or more problems; `errors` lists each (file, key or
    row and column, reason), so the CLI and the API name every one, not just the first."""

    sep = "\n"
    empty = "invalid file"

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors
        super().__init__(self.sep.join(str(e) for e in errors) or self.empty)


class SiteConfigError(FileProblems):
    """A site folder with one or more problems."""

    empty = "invalid site configuration"


class RosterError(FileProblems):
    """A roster file with problems (row, column and reason for each)."""


class HolidaysError(FileProblems):
    """A holidays file that does not parse: every problem, with file, row and column."""

    sep = "; "


class PublishedError(HubError, ValueError):
    """The month (some day of it) is already published: change days through overrides."""


class FormError(HubError, ValueError):
    """An upload that is not a signed form this hub keeps; says why."""


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


class AccountError(HubError, ValueError):
    """An account operation that cannot be done; the message names the field and reason."""


class PkiError(HubError):
    """A key or certificate that cannot be read, or does not belong to this CA."""


class ProvisionError(HubError, ValueError):
    """Provisioning options or inputs that cannot produce a safe configuration."""


class ExportParamError(HubError, ValueError):
    """A bad export parameter: `param` is its name as the user typed it, `reason` says why."""

    def __init__(self, param: str, reason: str) -> None:
        self.param, self.reason = param, reason
        super().__init__(f"{param}: {reason}")
