"""Helpers for recurring-campaign tests: local times in Asia/Shanghai and a recurring campaign."""

from __future__ import annotations

import datetime
import zoneinfo

from campaigns.models import Segment
from tests.campaigns.helpers import campaign

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def at(day: str, time: str = "10:00") -> datetime.datetime:
    """An aware moment of local (Asia/Shanghai) day and time."""
    return datetime.datetime.fromisoformat(f"{day}T{time}").replace(tzinfo=SHANGHAI)


def vip_segment() -> Segment:
    return Segment.objects.create(name="VIP", rules={"tags": ["VIP"]})


def recurring(*, repeat="daily", time=datetime.time(10, 0), **kwargs):
    if "segment" not in kwargs:
        kwargs["segment"] = vip_segment()
    return campaign(repeat=repeat, repeat_time=time, **kwargs)
