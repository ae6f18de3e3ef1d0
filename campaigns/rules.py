"""Pure rules of dispatch, without the ORM: quiet hours and the control-group draw."""

from __future__ import annotations

import datetime
import hashlib
import zoneinfo


def in_quiet_hours(now: datetime.datetime, *, start: datetime.time | None, end: datetime.time | None, tz: str) -> bool:
    """Whether `now` falls in the window [start, end) local time; a window may span midnight."""
    if start is None or end is None or start == end:
        return False
    local = now.astimezone(zoneinfo.ZoneInfo(tz)).time()
    if start < end:
        return start <= local < end
    return local >= start or local < end


def quiet_hours_end(
    now: datetime.datetime, *, start: datetime.time | None, end: datetime.time | None, tz: str
) -> datetime.datetime | None:
    """When the quiet window holding `now` opens again (None when `now` is not in quiet hours)."""
    if not in_quiet_hours(now, start=start, end=end, tz=tz):
        return None
    zone = zoneinfo.ZoneInfo(tz)
    local = now.astimezone(zone)
    day = local.date()
    if local.time() >= end:  # spanning midnight and before it: the window ends tomorrow
        day += datetime.timedelta(days=1)
    return datetime.datetime.combine(day, end, tzinfo=zone)


def in_control_group(*, campaign_id: int, member_id: int, pct: int) -> bool:
    """A deterministic draw: the same campaign and member always give the same answer, and about
    `pct` per cent of members fall in the control group (SHA-256 spreads ids evenly)."""
    if pct <= 0:
        return False
    digest = hashlib.sha256(f"campaigns.control:{campaign_id}:{member_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10_000 < pct * 100


def in_pilot_sample(*, campaign_id: int, member_id: int, pct: int) -> bool:
    """The pilot's random share: deterministic, and drawn independently of the control group."""
    if pct <= 0:
        return False
    digest = hashlib.sha256(f"campaigns.pilot:{campaign_id}:{member_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10_000 < pct * 100
