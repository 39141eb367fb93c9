"""Shifts on the calendar: local dates and shift templates mapped to UTC milliseconds.

The wire carries UTC; rosters, shifts and reports speak the site's local time. Everything that
turns one into the other lives here, so daylight-saving days and shifts that cross midnight are
handled in one place:

- a shift keyed by its *start* date: the 晚班/夜班 23:00-07:00 of 2026-03-28 ends on 2026-03-29;
- on a spring-forward day a local time that does not exist (02:30 in Europe/Berlin) is read with
  the offset before the change (fold=0), i.e. it lands one hour later on the wall clock; on a
  fall-back day an ambiguous local time is its first occurrence. A shift over the change is one
  hour shorter or longer in real time, which is what the agent actually works.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

from hub.site import ShiftTemplate

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000

# An arrival tap counts for a shift from this long before its start (a tap at 05:00 is not the
# roll call of a 16:00 shift). Not a floor rule threshold: the window in which taps are matched.
ARRIVAL_LOOKBACK_MS = 3 * HOUR_MS


def local_ms(day: dt.date, at: dt.time, tz: ZoneInfo) -> int:
    """UTC ms of a local wall-clock time on a local date."""
    return int(dt.datetime.combine(day, at, tzinfo=tz).timestamp() * 1000)


def local_date(ms: int, tz: ZoneInfo) -> dt.date:
    return dt.datetime.fromtimestamp(ms / 1000, tz).date()


def local_time_str(ms: int, tz: ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz).strftime("%H:%M")


def day_bounds(day: dt.date, tz: ZoneInfo) -> tuple[int, int]:
    """[start, end) of a local calendar day in UTC ms (23 or 25 hours on DST days)."""
    return local_ms(day, dt.time(0, 0), tz), local_ms(day + dt.timedelta(days=1), dt.time(0, 0), tz)


@dataclass(frozen=True)
class ShiftWindow:
    date: dt.date  # local date the shift starts on
    shift: str
    name: str
    start: int
    end: int
    meal_minutes: int

    @property
    def key(self) -> str:
        return shift_key(self.date, self.shift)


def shift_key(day: dt.date | str, shift_id: str) -> str:
    d = day if isinstance(day, str) else day.isoformat()
    return f"{d}/{shift_id}"


@lru_cache(maxsize=65536)
def _window(day: dt.date, start: str, end: str, tzname: str) -> tuple[int, int]:
    tz = ZoneInfo(tzname)
    s, e = dt.time.fromisoformat(start), dt.time.fromisoformat(end)
    end_day = day + dt.timedelta(days=1) if e <= s else day
    return local_ms(day, s, tz), local_ms(end_day, e, tz)


def shift_window(day: dt.date, tmpl: ShiftTemplate, tz: ZoneInfo) -> ShiftWindow:
    """Where one shift template falls in UTC on one local date."""
    start, end = _window(day, tmpl.start, tmpl.end, tz.key)
    return ShiftWindow(day, tmpl.id, tmpl.name, start, end, tmpl.meal_minutes)


def slot_ms(day: dt.date, hhmm: str, window_start: int, tz: ZoneInfo) -> int:
    """A local HH:MM inside a shift that started on `day` (the next day if the time is earlier
    than the shift start, e.g. a 01:00 meal in a 23:00-07:00 shift)."""
    t = local_ms(day, dt.time.fromisoformat(hhmm), tz)
    if t < window_start:
        t = local_ms(day + dt.timedelta(days=1), dt.time.fromisoformat(hhmm), tz)
    return t


def parse_date(value: str) -> dt.date:
    return dt.date.fromisoformat(value)
