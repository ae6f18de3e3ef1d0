"""Pure rules of `campaigns`, without the ORM (no query, no write; easy to test and trust):
quiet hours, the control-group and pilot draws, which purchases earn a partner offer, and the
referrer's points. (The automations' defaults and checks: `campaigns.automation_rules`.)"""

from __future__ import annotations

import datetime
import hashlib
import zoneinfo
from decimal import ROUND_DOWN, Decimal

from campaigns.models import PartnerOffer, ReferralProgramme
from members.models import Purchase

# "Best channel" campaigns: a member's preferred channel when they consented to it and can be
# reached on it, else the first of these they consented to and can be reached on.
BEST_CHANNEL_ORDER = ("wechat", "sms", "email")


def best_channel(*, preferred: str, consented: set[str], reachable: set[str]) -> str | None:
    """The channel a best-channel campaign uses for one member (None: no channel reaches them)."""
    usable = consented & reachable
    if preferred in usable:
        return preferred
    return next((channel for channel in BEST_CHANNEL_ORDER if channel in usable), None)


def retry_backoff(retries: int, *, base_seconds: int = 60, factor: int = 5) -> datetime.timedelta:
    """How long a temporarily refused message waits before its next try: 1, 5, 25 minutes…"""
    return datetime.timedelta(seconds=base_seconds * factor ** max(0, retries))


def local_day(now: datetime.datetime, tz: str = "Asia/Shanghai") -> datetime.date:
    return now.astimezone(zoneinfo.ZoneInfo(tz)).date()


def next_local_midnight(now: datetime.datetime, tz: str = "Asia/Shanghai") -> datetime.datetime:
    """The start of the next day in `tz` (a daily budget's new day)."""
    zone = zoneinfo.ZoneInfo(tz)
    tomorrow = now.astimezone(zone).date() + datetime.timedelta(days=1)
    return datetime.datetime.combine(tomorrow, datetime.time(0, 0), tzinfo=zone)


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


def partner_offer_qualifies(offer: PartnerOffer, purchase: Purchase) -> bool:
    """Whether `purchase` earns `offer`: valid when the purchase was made, threshold reached by
    its paid total."""
    at = purchase.ordered_at
    return (
        offer.threshold <= purchase.total
        and (offer.valid_from is None or offer.valid_from <= at)
        and (offer.valid_until is None or offer.valid_until > at)
    )


def referrer_points_for(programme: ReferralProgramme, purchase: Purchase) -> int:
    """Points of the fixed or percentage modes (the activity bonus gives its own)."""
    mode = programme.referrer_points_mode
    if mode == ReferralProgramme.ReferrerPoints.FIXED:
        return programme.referrer_points
    if mode == ReferralProgramme.ReferrerPoints.PERCENT:
        points = (purchase.total * programme.referrer_percent / 100).quantize(Decimal("1"), rounding=ROUND_DOWN)
        return int(points)
    return 0
