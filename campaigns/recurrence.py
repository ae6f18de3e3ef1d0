"""Pure rules of a recurring campaign's schedule, without the ORM.

A schedule is "daily at 10:00", "weekly on Monday at 10:00" or "monthly on the 1st at 10:00",
in local time (settings.TIME_ZONE, Asia/Shanghai), optionally until a last day. Each run is an
*occurrence* named by its local day, so there is at most one run a day. Weekdays are ISO
numbers (1 = Monday … 7 = Sunday); days of the month stop at 28 so that every month has them.
"""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _

DAILY, WEEKLY, MONTHLY = "daily", "weekly", "monthly"
FREQUENCIES = (DAILY, WEEKLY, MONTHLY)


@dataclass(frozen=True)
class Schedule:
    frequency: str
    time: datetime.time
    weekday: int | None = None
    day: int | None = None
    until: datetime.date | None = None


def local_date(moment: datetime.datetime) -> datetime.date:
    """The day of `moment` in the schedules' time zone (settings.TIME_ZONE)."""
    return moment.astimezone(zoneinfo.ZoneInfo(settings.TIME_ZONE)).date()


def check_schedule(
    *,
    frequency: str,
    time: datetime.time | None,
    weekday: int | None,
    day: int | None,
    until: datetime.date | None,
    starts_on: datetime.date | None = None,
) -> dict[str, list[str]]:
    """The problems of a schedule, by its part ("frequency", "time", "weekday", "day", "until");
    empty when it is valid. The API shows these names; the admin maps them to its fields."""
    errors: dict[str, list[str]] = {}
    if frequency not in FREQUENCIES:
        errors["frequency"] = [_("Choose daily, weekly or monthly.")]
        return errors
    if time is None:
        errors["time"] = [_("Enter the time of day the campaign sends, e.g. 10:00.")]
    if frequency == WEEKLY:
        if weekday is None or not 1 <= weekday <= 7:
            errors["weekday"] = [_("A weekly campaign needs a weekday from 1 (Monday) to 7 (Sunday).")]
    elif weekday is not None:
        errors["weekday"] = [_("Only a weekly campaign has a weekday.")]
    if frequency == MONTHLY:
        if day is None or not 1 <= day <= 28:
            errors["day"] = [_("A monthly campaign needs a day of the month from 1 to 28.")]
    elif day is not None:
        errors["day"] = [_("Only a monthly campaign has a day of the month.")]
    if until is not None and starts_on is not None and until < starts_on:
        errors["until"] = [_("“Repeat until” must not be before the start.")]
    return errors


def is_run_day(schedule: Schedule, day: datetime.date) -> bool:
    """Whether the schedule runs on this local day (ignoring its start and end)."""
    if schedule.frequency == WEEKLY:
        return day.isoweekday() == schedule.weekday
    if schedule.frequency == MONTHLY:
        return day.day == schedule.day
    return True


def next_run(
    schedule: Schedule, *, after: datetime.datetime, tz: str, not_before: datetime.datetime | None = None
) -> datetime.datetime | None:
    """The first run strictly after `after` (and at or after `not_before`, the start), or None
    when `until` comes first."""
    zone = zoneinfo.ZoneInfo(tz)
    earliest = max(after, not_before - datetime.timedelta(microseconds=1)) if not_before else after
    day = earliest.astimezone(zone).date()
    for _i in range(400):  # a monthly schedule finds its day within 31 days; 400 is a safe bound
        if schedule.until is not None and day > schedule.until:
            return None
        if is_run_day(schedule, day):
            at = datetime.datetime.combine(day, schedule.time, tzinfo=zone)
            if at > earliest:
                return at
        day += datetime.timedelta(days=1)
    return None


def crontab_fields(schedule: Schedule) -> dict[str, str]:
    """The schedule as django-celery-beat CrontabSchedule fields (cron's weekday: 0 = Sunday)."""
    return {
        "minute": str(schedule.time.minute),
        "hour": str(schedule.time.hour),
        "day_of_week": str(schedule.weekday % 7) if schedule.frequency == WEEKLY else "*",
        "day_of_month": str(schedule.day) if schedule.frequency == MONTHLY else "*",
        "month_of_year": "*",
    }


def describe(schedule: Schedule) -> str:
    """For staff: "Every day at 10:00", "Every Monday at 10:00", "Every month on day 1 at 10:00"."""
    from campaigns.models import Weekday

    at = schedule.time.strftime("%H:%M")
    if schedule.frequency == WEEKLY:
        text = _("Every %(weekday)s at %(time)s") % {"weekday": Weekday(schedule.weekday).label, "time": at}
    elif schedule.frequency == MONTHLY:
        text = _("Every month on day %(day)s at %(time)s") % {"day": schedule.day, "time": at}
    else:
        text = _("Every day at %(time)s") % {"time": at}
    if schedule.until:
        text = _("%(schedule)s, until %(until)s") % {"schedule": text, "until": schedule.until.isoformat()}
    return text
