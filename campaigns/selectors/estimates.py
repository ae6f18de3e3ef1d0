"""What a campaign will cost before it is launched (the launch page's estimate, issue 14).

Recipients: the audience members who consent to marketing on the channel (a best-channel
campaign: each member on their own channel, `best_channels`), less the control group's share.
SMS cost = recipients × SMS segments of the sample message × SMS_PRICE_PER_SEGMENT (CNY);
WeChat and email are free but counted, against each channel's daily budget.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import Exists, OuterRef

from campaigns import provider_templates
from campaigns.models import Campaign, CampaignChannel, Channel
from campaigns.ratelimit import budget_used
from campaigns.selectors.campaigns import audience_members, best_channels, consent_topic, contact_policy
from members.models import Consent

CENT = Decimal("0.01")


@dataclass
class ChannelEstimate:
    channel: str
    recipients: int
    segments: int  # SMS segments per message (1 for other channels)
    messages: int  # billed units: recipients × segments
    cost: Decimal
    budget: int  # per day, 0: no limit
    used_today: int

    @property
    def label(self) -> str:
        return str(Channel(self.channel).label)

    @property
    def remaining_today(self) -> int | None:
        return None if not self.budget else max(0, self.budget - self.used_today)

    @property
    def over_budget(self) -> bool:
        return bool(self.budget) and self.recipients > self.remaining_today


@dataclass
class CostEstimate:
    channels: list[ChannelEstimate]
    price_per_segment: Decimal

    @property
    def cost(self) -> Decimal:
        return sum((row.cost for row in self.channels), Decimal("0.00"))

    @property
    def recipients(self) -> int:
        return sum(row.recipients for row in self.channels)

    @property
    def over_budget(self) -> bool:
        return any(row.over_budget for row in self.channels)


def price_per_segment() -> Decimal:
    return Decimal(str(settings.SMS_PRICE_PER_SEGMENT))


def cost_estimate(campaign: Campaign, *, sample_text: str = "", sign_name: str = "", now=None) -> CostEstimate:
    """The estimate for `campaign`; `sample_text` is the message as one member gets it (its SMS
    length is taken for all). A fixed number of queries for a one-channel campaign."""
    now = now or datetime.datetime.now(datetime.UTC)
    members = audience_members(campaign)
    if campaign.channel == CampaignChannel.BEST:
        counts: dict[str, int] = {}
        ids = list(members.order_by("pk").values_list("pk", flat=True))
        for start in range(0, len(ids), 5000):
            for channel in best_channels(ids[start : start + 5000]).values():
                counts[channel] = counts.get(channel, 0) + 1
    else:
        consenting = Consent.objects.filter(
            member_id=OuterRef("pk"), topic=consent_topic(campaign.channel), granted=True
        )
        counts = {campaign.channel: members.filter(Exists(consenting)).count()}
    share = Decimal(100 - (campaign.control_group_pct or 0)) / 100
    policy = contact_policy()
    price = price_per_segment()
    rows = []
    for channel in (Channel.WECHAT, Channel.SMS, Channel.EMAIL):
        if channel not in counts:
            continue
        recipients = int((counts[channel] * share).to_integral_value(ROUND_HALF_UP))
        segments, cost = 1, Decimal("0.00")
        if channel == Channel.SMS:
            segments = provider_templates.sms_length(sample_text, sign_name).segments or 1
            cost = (Decimal(recipients * segments) * price).quantize(CENT, ROUND_HALF_UP)
        estimate = ChannelEstimate(
            channel=channel, recipients=recipients, segments=segments, messages=recipients * segments, cost=cost,
            budget=policy.daily_budget_for(channel), used_today=budget_used(channel, now=now),
        )  # fmt: skip
        rows.append(estimate)
    return CostEstimate(channels=rows, price_per_segment=price)
