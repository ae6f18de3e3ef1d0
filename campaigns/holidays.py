"""The dates of the holidays automations greet, per year (lunar ones through `lunardate`).

Spring Festival is the 1st of the 1st lunar month, Qixi the 7th of the 7th, Mid-Autumn the 15th
of the 8th; Valentine's Day is 14 February and Mother's Day the second Sunday of May.
"""

from __future__ import annotations

import datetime

from lunardate import LunarDate

LUNAR = {"spring_festival": (1, 1), "qixi": (7, 7), "mid_autumn": (8, 15)}


def _second_sunday_of_may(year: int) -> datetime.date:
    first = datetime.date(year, 5, 1)
    first_sunday = first + datetime.timedelta(days=(6 - first.weekday()) % 7)
    return first_sunday + datetime.timedelta(days=7)


def holiday_date(holiday: str, year: int) -> datetime.date:
    """The Gregorian date of `holiday` (an `Automation.Holiday` value) in `year`."""
    if holiday in LUNAR:
        month, day = LUNAR[holiday]
        return LunarDate(year, month, day).to_solar_date()
    if holiday == "valentines":
        return datetime.date(year, 2, 14)
    if holiday == "mothers_day":
        return _second_sunday_of_may(year)
    raise ValueError(f"unknown holiday {holiday!r}")


def next_holiday_date(holiday: str, on: datetime.date) -> datetime.date:
    """The holiday's first date on or after `on` (this year's, or next year's once it has passed)."""
    this_year = holiday_date(holiday, on.year)
    return this_year if this_year >= on else holiday_date(holiday, on.year + 1)
