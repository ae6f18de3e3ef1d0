"""The shop's holiday calendar (`members.Holiday`) as dates: one spelling of each date rule, read
by marketing's holiday automations (their lead days) and by support's business hours (days off).

Rules: a fixed Gregorian month/day; a lunar month/day (through `lunardate`; 春节 is the 1st of the
1st lunar month, 元宵 the 15th, 七夕 the 7th of the 7th, 中秋 the 15th of the 8th); the n-th weekday
of a month (Mother's Day: the 2nd Sunday of May). A fixed 29 February falls on 28 February in a
common year; a lunar day a short month lacks falls on its last day.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from lunardate import LunarDate


@dataclass(frozen=True)
class HolidayDate:
    code: str
    name: str
    on: datetime.date
    lead_days: int
    days_off: int


def date_in_year(*, rule: str, month: int, day: int, weekday: int | None, year: int) -> datetime.date:
    """The Gregorian date of a holiday rule in `year` (a lunar rule: the lunar year that begins in
    `year`, so 春节 2027 is in February 2027)."""
    if rule == "lunar":
        for lunar_day in range(day, 0, -1):  # the 30th of a 29-day lunar month: its last day
            try:
                return LunarDate(year, month, lunar_day).to_solar_date()
            except ValueError:
                continue
        raise ValueError(f"no lunar date {month}/{day} in {year}")
    if rule == "nth_weekday":
        if weekday is None:
            raise ValueError("a weekday rule needs a weekday")
        first = datetime.date(year, month, 1)
        found = first + datetime.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (day - 1))
        if found.month != month:  # "the 5th Sunday" of a month with four: its last
            found -= datetime.timedelta(days=7)
        return found
    for last in range(day, 27, -1) if day > 28 else (day,):
        try:
            return datetime.date(year, month, last)
        except ValueError:
            continue
    raise ValueError(f"no date {month}/{day}")


def occurrences(holidays, start: datetime.date, end: datetime.date) -> list[HolidayDate]:
    """Every date of `holidays` (Holiday rows or objects with the same fields) from `start` to `end`
    inclusive, in date order. A lunar holiday near New Year is looked up in both lunar years."""
    found = []
    for holiday in holidays:
        for year in range(start.year - 1, end.year + 1):
            try:
                on = date_in_year(
                    rule=holiday.rule, month=holiday.month, day=holiday.day, weekday=holiday.weekday, year=year
                )
            except ValueError:
                continue
            if start <= on <= end:
                found.append(HolidayDate(holiday.code, holiday.name, on, holiday.lead_days, holiday.days_off))
    return sorted(found, key=lambda h: (h.on, h.code))


def next_date(holiday, on: datetime.date) -> datetime.date:
    """The holiday's first date on or after `on`."""
    for year in (on.year - 1, on.year, on.year + 1):
        try:
            found = date_in_year(rule=holiday.rule, month=holiday.month, day=holiday.day, weekday=holiday.weekday,
                                 year=year)  # fmt: skip
        except ValueError:
            continue
        if found >= on:
            return found
    raise ValueError(f"{holiday.code} has no date after {on}")


def days_off(holidays, start: datetime.date, end: datetime.date) -> set[datetime.date]:
    """The public-holiday days off between `start` and `end` (a holiday with `days_off` = 3 closes
    its date and the two days after)."""
    closed = set()
    for h in occurrences([h for h in holidays if h.days_off], start - datetime.timedelta(days=10), end):
        for offset in range(h.days_off):
            day = h.on + datetime.timedelta(days=offset)
            if start <= day <= end:
                closed.add(day)
    return closed
