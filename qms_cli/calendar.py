"""Working days and deadlines.

Working days follow mainland China's official calendar (holidays and make-up working
days, 调休) from the `chinesecalendar` package, with the store's own days on top
(qms.yaml `calendar: {workdays: [...], holidays: [...]}`). For a year the package has not
published, weekends plus the store's days are used and a warning is kept in `warnings`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo

from .i18n import _

DURATION = re.compile(r"^\s*(\d+)\s*(h|d|wd|w|mo)\s*$")
END_OF_DAY = time(23, 59, 59)


@dataclass
class WorkCalendar:
    workdays: set[date] = field(default_factory=set)  # store: working although weekend/holiday
    holidays: set[date] = field(default_factory=set)  # store: closed although a working day
    use_official: bool = True
    warnings: list[str] = field(default_factory=list)
    _unpublished: set[int] = field(default_factory=set)
    _known: dict[date, bool] = field(default_factory=dict)  # chinesecalendar scans its tables per call

    def is_workday(self, day: date) -> bool:
        known = self._known.get(day)
        if known is None:
            known = self._known[day] = self._is_workday(day)
        return known

    def _is_workday(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        if self.use_official and day.year not in self._unpublished:
            import chinese_calendar

            try:
                return bool(chinese_calendar.is_workday(day))
            except NotImplementedError:
                self._unpublished.add(day.year)
                self.warnings.append(
                    _("the official holiday calendar for {year} is not in the installed "
                      "'chinesecalendar' package; counting Monday to Friday plus the store's own "
                      "days (update the package, or list {year}'s days under calendar: in qms.yaml)").format(year=day.year)
                )
        return day.weekday() < 5

    def add_working_days(self, start: date, n: int) -> date:
        """The Nth working day after `start` (the day of receipt does not count)."""
        day = start
        counted = 0
        while counted < n:
            day += timedelta(days=1)
            if self.is_workday(day):
                counted += 1
        return day



# The longest time limit of each unit (ten years): a deadline beyond is a typing error,
# and working days are counted one by one.
LONGEST = {"h": 87_600, "d": 3_660, "wd": 2_500, "w": 520, "mo": 120}


def parse_duration(text: str) -> tuple[int, str]:
    m = DURATION.match(str(text)) if len(str(text)) < 20 else None
    if not m:
        raise ValueError(
            _("'{text}': expected a time limit such as 2h, 5wd (working days), 7d, 2w or 12mo").format(text=text)
        )
    n, unit = int(m.group(1)), m.group(2)
    if n > LONGEST[unit]:
        raise ValueError(_("'{text}': a time limit may be at most {limit} (ten years)").format(
            text=text, limit=f"{LONGEST[unit]}{unit}"))
    return n, unit


def due(start: datetime | date, limit: str, cal: WorkCalendar, tz: tzinfo) -> datetime:
    """When a time limit that starts at `start` runs out. Working days end at the close of
    the Nth working day after the day of `start` (in the store's time zone); a limit that
    starts on a date (not a moment) ends at the close of the day it lands on."""
    n, unit = parse_duration(limit)
    if not isinstance(start, datetime):
        if unit == "wd":
            return datetime.combine(cal.add_working_days(start, n), END_OF_DAY, tz)
        if unit == "mo":
            from dateutil.relativedelta import relativedelta

            return datetime.combine(start + relativedelta(months=n), END_OF_DAY, tz)
        days = n * 7 if unit == "w" else n if unit == "d" else 0
        return datetime.combine(start + timedelta(days=days, hours=n if unit == "h" else 0), END_OF_DAY, tz)
    local = start.astimezone(tz)
    if unit == "mo":
        from dateutil.relativedelta import relativedelta

        return local + relativedelta(months=n)
    if unit == "h":  # hours of real time, also across a change of the clocks
        return (start.astimezone(timezone.utc) + timedelta(hours=n)).astimezone(tz)
    if unit == "d":
        return local + timedelta(days=n)
    if unit == "w":
        return local + timedelta(weeks=n)
    day = cal.add_working_days(local.date(), n)
    return datetime.combine(day, END_OF_DAY, tz)


def end_of(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, END_OF_DAY, tz)
