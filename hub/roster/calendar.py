"""The site calendar: public holidays and 调休 working days, from the site's `holidays.csv`.

China moves weekend days to make long holidays (调休): a Saturday can be a working day and a
weekday a holiday. Weekly patterns and coverage targets follow the calendar, not the weekday,
so the calendar is data the site ships (from the State Council's notice), never a rule in code.

holidays.csv: `date,kind,name[,status]`; kind is `holiday` (放假) or `workday` (调休上班);
status is `official` (from the State Council's notice; the default) or `provisional` (a date known
before the notice: the statutory fixed dates and the lunar festivals' own days, without the
bridging days and 调休 working days only the notice sets). check-config warns about provisional
rows (they await the notice) without failing; `floorwatch holidays import NOTICE.csv` replaces
every row of the years the notice's file covers. Lines starting with `#` are comments (the source
of the dates).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path

from edge.exceptions import ConfigError
from hub.errors import HolidaysError

KINDS = ("holiday", "workday")
STATUSES = ("official", "provisional")
COLUMNS = ("date", "kind", "name", "status")


@dataclass(frozen=True)
class SiteCalendar:
    """Holidays and 调休 working days by date; any other day is a workday Monday to Friday."""

    holidays: dict[dt.date, str] = field(default_factory=dict)  # date -> name
    workdays: dict[dt.date, str] = field(default_factory=dict)  # 调休 working days (weekends worked)
    provisional: frozenset[dt.date] = frozenset()  # dates awaiting the official notice

    def provisional_years(self) -> dict[int, int]:
        """year -> how many of its rows are provisional (what check-config warns about)."""
        out: dict[int, int] = {}
        for d in self.provisional:
            out[d.year] = out.get(d.year, 0) + 1
        return dict(sorted(out.items()))

    def is_holiday(self, day: dt.date) -> bool:
        return day in self.holidays

    def is_workday(self, day: dt.date) -> bool:
        """A working day for office-hours patterns: Mon-Fri unless a holiday, or a 调休 day."""
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def day_type(self, day: dt.date) -> str:
        """holiday | weekend | workday: the day types coverage targets and fairness count."""
        if day in self.holidays:
            return "holiday"
        return "workday" if self.is_workday(day) else "weekend"

    def workdays_between(self, start: dt.date, end: dt.date) -> int:
        """Working days in [start, end) (negative when end is before start)."""
        if end < start:
            return -self.workdays_between(end, start)
        days = (end - start).days
        weeks, rest = divmod(days, 7)
        n = weeks * 5 + sum(1 for k in range(rest) if (start + dt.timedelta(days=weeks * 7 + k)).weekday() < 5)
        n -= sum(1 for d in self.holidays if start <= d < end and d.weekday() < 5)
        n += sum(1 for d in self.workdays if start <= d < end and d.weekday() >= 5)
        return n


def parse_holidays(text: str, path: str = "holidays.csv") -> tuple[SiteCalendar, list[ConfigError]]:
    """Read holidays.csv text; every bad row is an error naming its row, column and reason."""
    errors: list[ConfigError] = []
    holidays: dict[dt.date, str] = {}
    workdays: dict[dt.date, str] = {}
    provisional: set[dt.date] = set()
    lines = [(n, ln) for n, ln in enumerate(text.splitlines(), start=1) if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        return SiteCalendar(), errors
    header_no, header = lines[0]
    cols = [c.strip() for c in next(csv.reader([header]))]
    missing = [c for c in ("date", "kind", "name") if c not in cols]
    if missing:
        return SiteCalendar(), [ConfigError(path, f"row {header_no}", f"missing column(s): {', '.join(missing)}")]
    seen: dict[dt.date, int] = {}
    for lineno, line in lines[1:]:
        try:
            values = next(csv.reader(io.StringIO(line)))
        except csv.Error as exc:
            errors.append(ConfigError(path, f"row {lineno}", f"not valid CSV: {exc}"))
            continue
        row = dict(zip(cols, (v.strip() for v in values), strict=False))
        try:
            day = dt.date.fromisoformat(row.get("date", ""))
        except ValueError:
            errors.append(ConfigError(path, f"row {lineno}, column date", f"not a date YYYY-MM-DD: {row.get('date', '')!r}"))
            continue
        kind = row.get("kind", "")
        if kind not in KINDS:
            errors.append(ConfigError(path, f"row {lineno}, column kind", f"{kind!r} is not one of {', '.join(KINDS)}"))
            continue
        if day in seen:
            errors.append(ConfigError(path, f"row {lineno}, column date", f"{day} is already listed on row {seen[day]}"))
            continue
        seen[day] = lineno
        status = row.get("status") or "official"
        if status not in STATUSES:
            errors.append(ConfigError(path, f"row {lineno}, column status", f"{status!r} is not one of {', '.join(STATUSES)}"))
            continue
        if kind == "workday" and day.weekday() < 5:
            errors.append(ConfigError(path, f"row {lineno}, column kind",
                                      f"{day} is a {day:%A}: a 调休 working day is a weekend day"))
            continue
        (holidays if kind == "holiday" else workdays)[day] = row.get("name", "")
        if status == "provisional":
            provisional.add(day)
    return SiteCalendar(holidays, workdays, frozenset(provisional)), errors


def calendar_warnings(calendar: SiteCalendar, path: str = "holidays.csv") -> list[str]:
    """What check-config says without failing: years whose dates await the official notice."""
    return [f"{path}: {year} has {n} provisional row(s) awaiting the State Council's notice (no 调休 days yet);"
            f" replace them with `floorwatch holidays import` when it is published"
            for year, n in calendar.provisional_years().items()]


def merge_holidays(current: str, notice: str, path: str = "holidays.csv") -> tuple[str, list[int]]:
    """holidays.csv text with every row of the notice's years replaced by the notice's rows.

    Both are checked first (all or nothing: a ConfigError list is raised as HolidaysError); the
    comments of `current` are kept, the notice's rows are written `official` unless they say otherwise."""
    cal, errors = parse_holidays(notice, "notice")
    _, current_errors = parse_holidays(current, path)
    if errors or current_errors:
        raise HolidaysError(errors + current_errors)
    years = sorted({d.year for d in (*cal.holidays, *cal.workdays)})
    if not years:
        raise HolidaysError([ConfigError("notice", "-", "no dates: nothing to import")])
    comments = [ln for ln in current.splitlines() if ln.lstrip().startswith("#")]
    kept = []
    lines = [ln for ln in current.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if lines:
        cols = [c.strip() for c in next(csv.reader([lines[0]]))]
        for values in csv.reader(lines[1:]):
            row = dict(zip(cols, (v.strip() for v in values), strict=False))
            if dt.date.fromisoformat(row["date"]).year not in years:
                kept.append([row["date"], row["kind"], row.get("name", ""), row.get("status") or "official"])
    status = {d: ("provisional" if d in cal.provisional else "official") for d in (*cal.holidays, *cal.workdays)}
    new = [[d.isoformat(), "holiday", n, status[d]] for d, n in cal.holidays.items()]
    new += [[d.isoformat(), "workday", n, status[d]] for d, n in cal.workdays.items()]
    out = io.StringIO()
    for c in comments:
        out.write(c + "\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(sorted(kept + new))
    return out.getvalue(), years


def load_calendar(root: Path) -> tuple[SiteCalendar, list[ConfigError]]:
    """The calendar of a site folder (an empty one when it ships no holidays.csv)."""
    path = root / "holidays.csv"
    if not path.exists():
        return SiteCalendar(), []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return SiteCalendar(), [ConfigError(str(path), "-", f"cannot read: {exc}")]
    return parse_holidays(text, str(path))
