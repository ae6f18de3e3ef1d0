"""The seeded rules of five greeting holidays as plain values, for code that needs their dates
without the database (the demo's history, tests). The date arithmetic is `members.holidays` (one
spelling of each rule); the holiday automations read the shop's calendar, `members.Holiday`.

Spring Festival is the 1st of the 1st lunar month, Qixi the 7th of the 7th, Mid-Autumn the 15th
of the 8th; Valentine's Day is 14 February and Mother's Day the second Sunday of May.
"""

from __future__ import annotations

import datetime

from members.holidays import date_in_year

# code → (rule, month, day, weekday), as seeded in members/migrations/0017_seed_holidays.py
RULES = {
    "spring_festival": ("lunar", 1, 1, None),
    "valentines": ("fixed", 2, 14, None),
    "qixi": ("lunar", 7, 7, None),
    "mothers_day": ("nth_weekday", 5, 2, 6),
    "mid_autumn": ("lunar", 8, 15, None),
}


def holiday_date(holiday: str, year: int) -> datetime.date:
    """The Gregorian date of `holiday` (one of RULES) in `year`."""
    if holiday not in RULES:
        raise ValueError(f"unknown holiday {holiday!r}")
    rule, month, day, weekday = RULES[holiday]
    return date_in_year(rule=rule, month=month, day=day, weekday=weekday, year=year)


def next_holiday_date(holiday: str, on: datetime.date) -> datetime.date:
    """The holiday's first date on or after `on` (this year's, or next year's once it has passed)."""
    this_year = holiday_date(holiday, on.year)
    return this_year if this_year >= on else holiday_date(holiday, on.year + 1)
