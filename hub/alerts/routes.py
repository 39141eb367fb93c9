"""Which violation goes to which channel: alerts.toml routes matched on rule (or kind), zone,
team, the local hour the violation started and its severity.

The engine has no severity; how urgent a rule is for someone on the floor is decided here (an
unknown badge at the door or a headset leaving the building needs someone now; a late seat
sign-in can wait for the report), and alerts.toml `[severity]` may override it per rule.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from typing import Any

from hub.alerts.alerts_toml import SEVERITY_RANK, AlertsConfig, in_hours

SEVERITY: dict[str, str] = {
    "BADGE-UNKNOWN": "critical", "BADGE-SHARED": "critical", "BADGE-TAILGATE": "critical",
    "EQUIP-EXIT": "critical", "EQUIP-MISSING": "critical",
    "AWAY-UNATTENDED": "warning", "FAC-ZONE-EMPTY": "warning", "DEV-OFFLINE": "warning",
    "ROLL-ABSENT": "warning", "EQUIP-MOVED": "warning", "BADGE-NO-TAP": "warning",
    "AWAY-PEAK": "warning", "SWAP-UNAPPROVED": "warning", "ROLL-HANDOVER": "warning",
}  # fmt: skip
DEFAULT_SEVERITY = "info"


def severity(cfg: AlertsConfig, rule: str) -> str:
    return cfg.severity.get(rule) or SEVERITY.get(rule, DEFAULT_SEVERITY)


def channels_for(cfg: AlertsConfig, v: dict[str, Any], zone_of_seat: dict[str, str], tz: dt.tzinfo) -> list[str]:
    """The enabled channels a violation (the engine's JSON) is routed to, each once, in route order."""
    live = cfg.live_channels()
    rule, kind = v.get("rule") or "", v.get("kind") or ""
    zone = v.get("zone") or zone_of_seat.get(v.get("seat") or "")
    local = dt.datetime.fromtimestamp(v["start"] / 1000, tz)
    rank = SEVERITY_RANK[severity(cfg, rule)]
    out: list[str] = []
    for r in cfg.routes:
        if r.channel not in live or r.channel in out:
            continue
        if r.rules and not any(fnmatch.fnmatchcase(rule, p) for p in r.rules):
            continue
        if r.kinds and kind not in r.kinds:
            continue
        if r.zones and zone not in r.zones:
            continue
        if r.teams and v.get("team") not in r.teams:
            continue
        if not in_hours(r.hours, local) or rank < SEVERITY_RANK[r.min_severity]:
            continue
        out.append(r.channel)
    return out
