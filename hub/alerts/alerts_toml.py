"""`alerts.toml`: where alerts go. Optional in a site folder (absent: no alerts).

    language = "zh_CN"                       # zh_CN | en: the words of every message
    console_url = "http://hub.example:8080"  # the console's base URL, for evidence links

    [channels.leads]                         # a channel: one robot or webhook
    type = "dingtalk"                        # wecom | dingtalk | feishu | webhook
    url = "https://oapi.dingtalk.com/robot/send?access_token=..."
    secret = "SEC..."                        # dingtalk/feishu: the robot's signing secret; webhook: HMAC key
    enabled = true
    per_minute = 20                          # the robot's own limit; beyond it, one digest
    quiet = "22:00-07:00"                    # held and sent as one digest when quiet hours end

    [[routes]]
    channel = "leads"
    rules = ["AWAY-*", "BADGE-UNKNOWN"]      # rule ids or patterns (default: every rule)
    kinds = []                               # violation kinds (default: every kind)
    zones = ["A"]                            # default: every zone
    teams = []                               # default: every team
    hours = "08:00-23:00"                    # local hours the route applies (default: all day)
    min_severity = "warning"                 # info | warning | critical

    [severity]                               # a rule's severity, overriding hub.alerts.routes
    "ROLL-ABSENT" = "warning"

    [daily_summary]                          # one summary a day per team, to its lead (hub.alerts.summary)
    at = "16:30"                             # site-local time
    channel = "leads"                        # every team's channel ...
    teams = { T2 = "t2-leads" }              # ... unless its own is named here
    catch_up_days = 3                        # days missed while the hub was down, sent late (0: none)

Cross-file checks (zones, teams, rules exist) are in `check(site, errors)`, which hub.site calls.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from edge.exceptions import ConfigError

Severity = Literal["info", "warning", "critical"]
SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
CHANNEL_TYPES = ("wecom", "dingtalk", "feishu", "webhook")
HOURS = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$")]
# The robots' documented limits (messages a minute per robot); a webhook's is the site's choice.
DEFAULT_PER_MINUTE = {"wecom": 20, "dingtalk": 20, "feishu": 100, "webhook": 60}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _hhmm(s: str) -> int:
    h, m = s.split(":")
    return int(h) * 60 + int(m)


def in_hours(hours: str | None, local: dt.datetime) -> bool:
    """Whether a local time falls in "HH:MM-HH:MM" (an end before the start crosses midnight)."""
    if hours is None:
        return True
    a, b = (_hhmm(x) for x in hours.split("-"))
    t = local.hour * 60 + local.minute
    return a <= t < b if a <= b else (t >= a or t < b)


def hours_end(hours: str, local: dt.datetime) -> dt.datetime:
    """The next end of an "HH:MM-HH:MM" window after `local` (when a quiet period is over)."""
    b = _hhmm(hours.split("-")[1])
    end = local.replace(hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(minutes=b)
    return end if end > local else end + dt.timedelta(days=1)


class Channel(_Model):
    type: Literal["wecom", "dingtalk", "feishu", "webhook"]
    url: Annotated[str, Field(min_length=1)]
    secret: str | None = None
    enabled: bool = True
    format: Literal["text", "markdown"] = "markdown"  # wecom/dingtalk; feishu robots get text
    per_minute: Annotated[int, Field(ge=1, le=1000)] | None = None
    quiet: HOURS | None = None
    header: Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,64}$")] = "X-Floorwatch-Signature"  # webhook

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{v!r} is not an http(s) URL")
        return v

    @model_validator(mode="after")
    def _needs_secret(self) -> Channel:
        if self.type in ("dingtalk", "feishu", "webhook") and not self.secret:
            raise ValueError(f"a {self.type} channel needs its signing secret (secret = ...)")
        if self.type == "wecom" and self.secret:
            raise ValueError("a wecom robot has no signing secret: the key in its URL is the secret")
        return self

    @property
    def limit(self) -> int:
        return self.per_minute or DEFAULT_PER_MINUTE[self.type]


class Route(_Model):
    channel: str
    rules: list[str] = []
    kinds: list[str] = []
    zones: list[str] = []
    teams: list[str] = []
    hours: HOURS | None = None
    min_severity: Severity = "info"


class DailySummary(_Model):
    at: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
    channel: str | None = None
    teams: dict[str, str] = {}
    catch_up_days: Annotated[int, Field(ge=0, le=14)] = 3

    def channel_for(self, team: str) -> str | None:
        return self.teams.get(team, self.channel)


class AlertsConfig(_Model):
    language: Literal["zh_CN", "en"] = "zh_CN"
    console_url: str | None = None
    channels: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")], Channel] = {}
    routes: list[Route] = []
    severity: dict[str, Severity] = {}
    daily_summary: DailySummary | None = None

    @field_validator("console_url")
    @classmethod
    def _base_url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{v!r} is not an http(s) URL")
        return v.rstrip("/")

    def live_channels(self) -> dict[str, Channel]:
        return {k: c for k, c in self.channels.items() if c.enabled}


def check(cfg: AlertsConfig | None, path: str, *, rule_ids: tuple[str, ...], zones: set[str], teams: set[str],
          errors: list[ConfigError]) -> None:
    """alerts.toml against the rest of the site (hub.site passes what it knows): channels, rules,
    zones and teams it names exist."""
    if cfg is None:
        return
    for rule in cfg.severity:
        if rule not in rule_ids:
            errors.append(ConfigError(path, f"severity.{rule}", f"unknown rule id {rule!r}"))
    for i, r in enumerate(cfg.routes):
        if r.channel not in cfg.channels:
            errors.append(ConfigError(path, f"routes.{i}.channel", f"no channel {r.channel!r} in [channels]"))
        for j, pat in enumerate(r.rules):
            if not fnmatch.filter(rule_ids, pat):
                errors.append(ConfigError(path, f"routes.{i}.rules.{j}", f"{pat!r} matches no rule id"))
        for j, z in enumerate(r.zones):
            if z not in zones:
                errors.append(ConfigError(path, f"routes.{i}.zones.{j}", f"unknown zone {z!r}"))
        for j, t in enumerate(r.teams):
            if t not in teams:
                errors.append(ConfigError(path, f"routes.{i}.teams.{j}", f"no agent is in team {t!r}"))
    ds = cfg.daily_summary
    if ds is not None:
        if ds.channel is not None and ds.channel not in cfg.channels:
            errors.append(ConfigError(path, "daily_summary.channel", f"no channel {ds.channel!r} in [channels]"))
        for team, ch in ds.teams.items():
            if team not in teams:
                errors.append(ConfigError(path, f"daily_summary.teams.{team}", f"no agent is in team {team!r}"))
            if ch not in cfg.channels:
                errors.append(ConfigError(path, f"daily_summary.teams.{team}", f"no channel {ch!r} in [channels]"))
    if cfg.live_channels() and cfg.console_url is None:
        errors.append(ConfigError(path, "console_url", "required when a channel is enabled (evidence links)"))
