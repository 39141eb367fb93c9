"""Devices: DEV-OFFLINE and DEV-CLOCK, the two rules that decide what the others may trust.

A device is reporting while its reports (any event, heartbeats included) are closer together
than offline_after_s and no offline status (last will) came in between; anything else is a gap,
and every rule treats a gap as "no data", never as a violation. A device whose clock is unknown,
ahead of the hub or behind it by more than clock_skew_max_s has its events timed by the hub's
receipt time, and a warning episode is recorded.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hub.engine.context import Ctx
from hub.engine.site_time import day_bounds


def device_unit(ctx: Ctx, device: str, date: str) -> dict[str, list[dict[str, Any]]]:
    track = ctx.f.devices.get(device)
    if track is None:
        return {}
    d0, d1 = day_bounds(dt.date.fromisoformat(date), ctx.tz)
    cfg = ctx.site.devices.get(device)
    seat = cfg.seat if cfg is not None and cfg.role == "seat" else None
    vios: list[dict[str, Any]] = []
    if ctx.enabled("DEV-OFFLINE"):
        for a, b in track.all_gaps(ctx.now):
            if d0 <= a < d1:
                vios.append(ctx.violation(
                    "DEV-OFFLINE", "offline", (device, a), start=a, end=b, evidence=[], seat=seat, device=device,
                    date=date, details={"place": cfg.place if cfg else None, "offline_after_s": ctx.lim.offline_after / 1000}))
    if ctx.enabled("DEV-CLOCK"):
        for ep in track.episodes:
            if d0 <= ep.start < d1:
                vios.append(ctx.violation(
                    "DEV-CLOCK", ep.kind, (device, ep.start), start=ep.start, end=ep.end,
                    evidence=[ep.first_event, ep.last_event] if ep.first_event != ep.last_event else [ep.first_event],
                    seat=seat, device=device, date=date,
                    details={"max_skew_s": ep.max_skew_ms / 1000, "events": ep.count,
                             "limit_s": ctx.lim.clock_skew_max / 1000}))
    return {"violations": vios}
