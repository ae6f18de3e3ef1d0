"""Replaying the shop's year: run a service call as if it happened at a past moment.

The services stamp their rows with `timezone.now()` (a redemption, a ticket, a campaign's send),
as they must in production. To give the demo a year of history made by those same services, the
seed travels in time around each call (time-machine). The clock stands still at the moment
travelled to, so the same seed stamps the same times (the seed sends without the live pacing,
which waits for the clock to move: see `demo.campaigns.send_due`).
"""

from __future__ import annotations

import datetime
import random
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager

import time_machine
from django.conf import settings
from django.utils import timezone


@contextmanager
def at(moment: datetime.datetime) -> Iterator[datetime.datetime]:
    with time_machine.travel(moment, tick=False):
        yield moment


def local_tz() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def start_of_today() -> datetime.datetime:
    """The start of the current day (Asia/Shanghai): the demo's history ends there."""
    return datetime.datetime.combine(timezone.localdate(), datetime.time(0, 0), tzinfo=local_tz())


def day_at(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=local_tz())


def days_before(horizon: datetime.datetime, rng: random.Random, first: int, last: int) -> datetime.datetime:
    """A moment in opening hours (10:00–19:59) between `last` and `first` days before `horizon`."""
    day = horizon.date() - datetime.timedelta(days=rng.randint(last, first))
    return day_at(day, rng.randint(10, 19), rng.randint(0, 59))
