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
