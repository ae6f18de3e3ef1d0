"""The demo's campaigns slice: segments, a partner and the referral programme at work, a year of
campaigns (three past ones with their messages and results, one a pilot later expanded; one
scheduled; one recurring with its past runs; one draft), the marketing KPI targets, and the
classification and CLV run that the nightly task does (once the purchases are in).

Everything goes through `campaigns`' services and tasks at past moments (`demo.clock`). Sending
follows the outbox protocol of `campaigns.services.dispatch` step by step (claim, prepare, send),
without the live pacing: the development SMS provider writes to the SMS log, not to a carrier.
Configuration rows with no service (the partner and its offer, the KPI targets) are validated
with `full_clean()` and saved, as the admin's forms do.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q

from campaigns import tasks
from campaigns.holidays import holiday_date
from campaigns.models import (
    Campaign,
    CampaignKpiTarget,
    MessageTemplate,
    OutboxMessage,
    Partner,
    PartnerOffer,
    Repeat,
    Segment,
)
from campaigns.services import dispatch, receipts, recurring
from campaigns.services.campaigns import create_campaign, launch_campaign
from campaigns.services.message_templates import save_message_template
from campaigns.services.partners import issue_partner_offers_for
from campaigns.services.pilots import expand_campaign, launch_pilot
from campaigns.services.referrals import reward_referral
from campaigns.services.segments import save_segment
from demo.clock import at, day_at
from demo.configured import configured
from demo.data import document
from members.models import Member, Purchase

OWNER = "seed_demo"


@dataclass
class CampaignCounts:
    segments: int = 0
    campaigns: int = 0
    messages_sent: int = 0
    referral_rewards: int = 0
    partner_coupons: int = 0
    kpi_targets: int = 0
    classified: int = 0
    message_templates: int = 0
    receipts: int = 0


def ensure_partner(*, horizon: datetime.datetime, templates: dict) -> PartnerOffer | None:
    """A café partner whose coupon every purchase of ¥200 or more in the last months earns."""
    data = document("campaigns")["partner"]
    partner = Partner.objects.filter(code=data["code"]).first()
    if partner is None:
        partner = configured(Partner(name=data["name"], code=data["code"], contact=data["contact"]))
    offer = PartnerOffer.objects.filter(partner=partner).order_by("pk").first()
    if offer is None and data["coupon_template"] in templates:
        offer = configured(
            PartnerOffer(
                partner=partner,
                name=data["offer"],
                coupon_template=templates[data["coupon_template"]],
                threshold=Decimal(data["threshold"]),
                valid_from=horizon - datetime.timedelta(days=data["days"]),
            )
        )
    return offer


def reward_partners_and_referrals(
    counts: CampaignCounts, *, members: list[Member], offer: PartnerOffer | None, staff
) -> None:
    """What the purchase hooks do after a posting commits, done through the same services at the
    moment of each purchase (both are idempotent, so the hooks' own run after the seed's commit
    finds nothing left to do)."""
    if offer is not None:
        qualifying = (
            Purchase.objects.filter(member__in=members, total__gte=offer.threshold, ordered_at__gte=offer.valid_from)
            .order_by("ordered_at", "pk")
            .values_list("pk", "ordered_at")
        )
        for purchase_id, ordered_at in qualifying:
            with at(ordered_at + datetime.timedelta(minutes=1)):
                counts.partner_coupons += len(issue_partner_offers_for(purchase_ids=[purchase_id]))
    for member in members:
        if member.referred_by_id is None:
            continue
        first = Purchase.objects.filter(member=member).order_by("ordered_at", "pk").values_list("ordered_at", flat=True)
        if first:
            with at(first[0] + datetime.timedelta(minutes=1)):
                counts.referral_rewards += bool(reward_referral(member=member, actor=staff).created)


def ensure_segments(counts: CampaignCounts, *, actor) -> dict[str, Segment]:
    segments = {}
    for row in document("campaigns")["segments"]:
        segment = Segment.objects.filter(name=row["name"]).first()
        if segment is None:
            segment = save_segment(
                name=row["name"], rules=row["rules"], description=row.get("description", ""), actor=actor
            )
            counts.segments += 1
        segments[row["name"]] = segment
    return segments


def send_due(*, now: datetime.datetime | None = None) -> int:
    """Send every due outbox message: the dispatch protocol's claim → prepare → send, in batches."""
    sent = 0
    while ids := dispatch.claim_batch(owner=OWNER, batch_size=500, now=now):
        for message_id in ids:
            decision = dispatch.prepare_message(message_id=message_id, owner=OWNER, now=now)
            if decision.outcome == "send":
                sent += dispatch.send_prepared(message_id=message_id, owner=OWNER, decision=decision) == "sent"
    dispatch.complete_finished_campaigns(now=now)
    return sent


def seed_campaigns(counts: CampaignCounts, *, segments: dict[str, Segment], horizon: datetime.datetime, actor) -> None:
    data = document("campaigns")
    today = horizon.date()
    for row in data["campaigns"]:
        if Campaign.objects.filter(name=row["name"]).exists():
            continue
        day = _last_before(row["holiday"], today - datetime.timedelta(days=row.get("expand_after_days", 0) + 1))
        launched = day_at(day - datetime.timedelta(days=row["days_before"]), 10, 30)
        with at(launched):
            campaign = create_campaign(
                name=row["name"],
                channel=row["channel"],
                body=row["body"],
                segment=segments.get(row["segment"]),
                control_group_pct=row.get("control_group_pct", 0),
                actor=actor,
            ).campaign
            if row.get("pilot_pct"):
                launch_pilot(campaign=campaign, sample_pct=row["pilot_pct"], actor=actor)
            else:
                launch_campaign(campaign=campaign, actor=actor)
            dispatch.start_campaign(campaign_id=campaign.pk)
            counts.messages_sent += send_due()
        if row.get("pilot_pct"):
            with at(launched + datetime.timedelta(days=row["expand_after_days"])):
                expand_campaign(campaign=campaign, actor=actor)
                counts.messages_sent += send_due()
        counts.campaigns += 1
    _scheduled(counts, data["scheduled"], segments=segments, horizon=horizon, actor=actor)
    _recurring(counts, data["recurring"], segments=segments, horizon=horizon, actor=actor)
    _receipts(counts, data["receipts"])
    templates = ensure_message_templates(counts)
    _wechat_draft(counts, data["wechat_draft"], templates=templates, segments=segments, horizon=horizon, actor=actor)
    draft = data["draft"]
    if not Campaign.objects.filter(name=draft["name"]).exists():
        with at(horizon - datetime.timedelta(days=1, hours=-11)):
            create_campaign(
                name=draft["name"],
                channel=draft["channel"],
                body=draft["body"],
                segment=segments.get(draft["segment"]),
                actor=actor,
            )
        counts.campaigns += 1


def ensure_message_templates(counts: CampaignCounts) -> dict[str, MessageTemplate]:
    """The provider-approved SMS and WeChat templates a shop keeps (issue 14), through the service."""
    templates = {}
    for row in document("campaigns")["message_templates"]:
        template = MessageTemplate.objects.filter(name=row["name"]).first()
        if template is None:
            template = save_message_template(**row)
            counts.message_templates += 1
        templates[row["name"]] = template
    return templates


def _receipts(counts: CampaignCounts, data: dict) -> None:
    """Delivery receipts for the past SMS campaign that sent the most: most delivered, every n-th
    not (the carrier's error code), as the provider's webhook reports them."""
    sent_count = Count("outbox_messages", filter=Q(outbox_messages__status=OutboxMessage.Status.SENT))
    campaign = (
        Campaign.objects.filter(channel="sms", status=Campaign.Status.COMPLETED, automation__isnull=True)
        .annotate(n=sent_count)
        .filter(n__gt=0)
        .order_by("-n", "pk")
        .first()
    )
    if campaign is None:
        return
    sent = OutboxMessage.objects.filter(campaign=campaign, status=OutboxMessage.Status.SENT).exclude(provider_ref="")
    for index, (provider_ref, sent_at) in enumerate(sent.order_by("pk").values_list("provider_ref", "sent_at")):
        delivered = (index + 1) % data["undelivered_every"] != 0
        counts.receipts += receipts.record_receipt(
            channel="sms", provider_ref=provider_ref, delivered=delivered,
            error_code="" if delivered else data["error_code"], at=sent_at + datetime.timedelta(seconds=7),
        )  # fmt: skip


def _wechat_draft(counts, row, *, templates, segments, horizon, actor) -> None:
    """A WeChat campaign draft with its approved template, ready to preview and launch."""
    if Campaign.objects.filter(name=row["name"]).exists():
        return
    with at(horizon - datetime.timedelta(days=1, hours=-10)):
        create_campaign(
            name=row["name"],
            channel=row["channel"],
            message_template=templates[row["template"]],
            segment=segments.get(row["segment"]),
            actor=actor,
        )
    counts.campaigns += 1


def _last_before(holiday: str, day: datetime.date) -> datetime.date:
    found = holiday_date(holiday, day.year)
    return found if found <= day else holiday_date(holiday, day.year - 1)


def _scheduled(counts, row, *, segments, horizon, actor) -> None:
    if Campaign.objects.filter(name=row["name"]).exists():
        return
    with at(horizon - datetime.timedelta(hours=14)):
        campaign = create_campaign(
            name=row["name"],
            channel=row["channel"],
            body=row["body"],
            segment=segments.get(row["segment"]),
            start_at=day_at(horizon.date() + datetime.timedelta(days=row["days_ahead"]), 10, 0),
            actor=actor,
        ).campaign
        launch_campaign(campaign=campaign, actor=actor)
    counts.campaigns += 1


def _recurring(counts, row, *, segments, horizon, actor) -> None:
    """Weekly since five weeks ago; its past runs are replayed as beat would have run them."""
    if Campaign.objects.filter(name=row["name"]).exists():
        return
    hour, minute = (int(part) for part in row["time"].split(":"))
    start = horizon - datetime.timedelta(days=35)
    with at(start):
        campaign = create_campaign(
            name=row["name"],
            channel=row["channel"],
            body=row["body"],
            segment=segments.get(row["segment"]),
            start_at=start,
            repeat=Repeat.WEEKLY,
            repeat_time=datetime.time(hour, minute),
            repeat_weekday=row["weekday"],
            actor=actor,
        ).campaign
        launch_campaign(campaign=campaign, actor=actor)
    day = start.date()
    while day < horizon.date():
        if day.isoweekday() == row["weekday"]:
            with at(day_at(day, hour, minute + 1)):
                if recurring.run_occurrence(campaign_id=campaign.pk):
                    counts.messages_sent += send_due()
        day += datetime.timedelta(days=1)
    counts.campaigns += 1


def ensure_kpi_targets(counts: CampaignCounts, *, horizon: datetime.datetime) -> None:
    today = horizon.date()
    for row in document("campaigns")["kpi_targets"]:
        if CampaignKpiTarget.objects.filter(metric=row["metric"]).exists():
            continue
        configured(
            CampaignKpiTarget(
                metric=row["metric"],
                baseline_month=_months_back(today, row["baseline_months_ago"]),
                change_percent=Decimal(row["change_percent"]),
                months=row["months"],
            )
        )
        counts.kpi_targets += 1


def _months_back(day: datetime.date, months: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 - months
    return datetime.date(index // 12, index % 12 + 1, 1)


def classify(counts: CampaignCounts) -> None:
    """The nightly task's work, run now: classification, RFM and CLV, then the segments' sizes."""
    result = tasks.classify_members.run()
    counts.classified = result["members"]
