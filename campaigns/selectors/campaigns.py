"""Questions about campaigns: results counted from the outbox, the contact policy, audiences."""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass, field

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet

from campaigns.models import Campaign, Channel, ContactPolicy, OutboxMessage, Segment, SkipReason
from campaigns.segments import segment_members
from members.models import Consent, ConsentEvent, Member, Preference

API_SKIP_REASONS = ("no_consent", "opted_out", "frequency_cap", "quiet_hours", "control_group")


def contact_policy() -> ContactPolicy:
    """The single contact policy row (made again with the defaults if missing: `ContactPolicy.load`)."""
    return ContactPolicy.load()


@dataclass
class CampaignResults:
    audience: int = 0
    pending: int = 0
    sending: int = 0
    sent: int = 0  # accepted by the provider, no receipt yet
    delivered: int = 0  # a receipt said it arrived
    undelivered: int = 0  # a receipt said it did not
    failed: int = 0
    in_doubt: int = 0
    skipped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SkipReason.values, 0))

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    @property
    def accepted(self) -> int:
        """Accepted by the provider, whatever a receipt said since."""
        return self.sent + self.delivered + self.undelivered


def campaign_results(campaign: Campaign) -> CampaignResults:
    """Counts of the campaign's outbox by status and skip reason, in one grouped query."""
    results = CampaignResults()
    rows = (
        OutboxMessage.objects.filter(campaign=campaign)
        .order_by()
        .values("status", "skip_reason")
        .annotate(n=Count("id"))
    )
    for row in rows:
        results.audience += row["n"]
        if row["status"] == OutboxMessage.Status.SKIPPED:
            results.skipped[row["skip_reason"]] = results.skipped.get(row["skip_reason"], 0) + row["n"]
        else:
            setattr(results, row["status"], getattr(results, row["status"]) + row["n"])
    return results


def results_for(campaigns: list[Campaign]) -> dict[int, CampaignResults]:
    """Results of several campaigns in one grouped query (API and admin lists)."""
    return _grouped_results("campaign_id", [campaign.pk for campaign in campaigns])


def results_by_step(step_ids: list[int]) -> dict[int, CampaignResults]:
    """Outbox counts per campaign step (the runs of a recurring campaign), in one grouped query."""
    return _grouped_results("step_id", step_ids)


def _grouped_results(key: str, ids: list[int]) -> dict[int, CampaignResults]:
    """Outbox counts by status and skip reason for each of `ids` of `key` (campaign_id or step_id)."""
    results = {pk: CampaignResults() for pk in ids}
    rows = (
        OutboxMessage.objects.filter(**{f"{key}__in": list(results)})
        .order_by()
        .values(key, "status", "skip_reason")
        .annotate(n=Count("id"))
    )
    for row in rows:
        result = results[row[key]]
        result.audience += row["n"]
        if row["status"] == OutboxMessage.Status.SKIPPED:
            result.skipped[row["skip_reason"]] = result.skipped.get(row["skip_reason"], 0) + row["n"]
        else:
            setattr(result, row["status"], getattr(result, row["status"]) + row["n"])
    return results


def campaign_list() -> QuerySet[Campaign]:
    return Campaign.objects.select_related("segment", "created_by", "offer__coupon_template")


def audience_members(campaign: Campaign) -> QuerySet[Member]:
    """Who the campaign is for: its segment's members, or every member; never erased ones."""
    rules = campaign.segment.rules if campaign.segment_id else {}
    return segment_members(rules).exclude(status=Member.Status.ERASED)


def consent_topic(channel: str) -> str:
    return f"marketing_{channel}"


def consent_granted(channel: str):
    """An expression: the member (OuterRef "member_id") currently consents to marketing on channel."""
    return Exists(Consent.objects.filter(member_id=OuterRef("member_id"), topic=consent_topic(channel), granted=True))


def ever_granted(channel: str):
    """An expression: the member (OuterRef "member_id") once granted that consent (so a refusal
    now is an opt-out, not a consent never given)."""
    return Exists(
        ConsentEvent.objects.filter(member_id=OuterRef("member_id"), topic=consent_topic(channel), granted=True)
    )


def recent_contacts(member_id: int, since) -> int:
    """Marketing messages the member was sent (or may have been: sending, in doubt) since then."""
    return OutboxMessage.objects.filter(
        member_id=member_id,
        sending_at__gte=since,
        status__in=[
            OutboxMessage.Status.SENDING,
            OutboxMessage.Status.SENT,
            OutboxMessage.Status.IN_DOUBT,
            OutboxMessage.Status.DELIVERED,
            OutboxMessage.Status.UNDELIVERED,
        ],
    ).count()


def due_work_exists(now) -> bool:
    """Whether some outbox message of a sending campaign could be claimed now."""
    return (
        OutboxMessage.objects.filter(status=OutboxMessage.Status.PENDING, campaign__status=Campaign.Status.SENDING)
        .filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .exists()
    )


HANDED_TO_CHANNEL = (
    OutboxMessage.Status.SENDING,
    OutboxMessage.Status.SENT,
    OutboxMessage.Status.FAILED,
    OutboxMessage.Status.IN_DOUBT,
    OutboxMessage.Status.DELIVERED,
    OutboxMessage.Status.UNDELIVERED,
)


def handed_to_channel_on(channel: str, day) -> int:
    """Messages handed to `channel` on the local day `day` (Asia/Shanghai), for the daily budget."""
    zone = zoneinfo.ZoneInfo("Asia/Shanghai")
    start = datetime.datetime.combine(day, datetime.time(0, 0), tzinfo=zone)
    return OutboxMessage.objects.filter(
        channel=channel,
        status__in=HANDED_TO_CHANNEL,
        sending_at__gte=start,
        sending_at__lt=start + datetime.timedelta(days=1),
    ).count()


def best_channels(member_ids: list[int]) -> dict[int, str]:
    """For a best-channel campaign: each member's channel (`campaigns.rules.best_channel`) — their
    preferred channel if they consented to it and have its address, else the first of
    `rules.BEST_CHANNEL_ORDER` that works. Members no channel reaches are left out. Three queries."""
    from campaigns import rules

    preferred = dict(
        Preference.objects.filter(member_id__in=member_ids, kind=Preference.Kind.PREFERRED_CHANNEL)
        .order_by("member_id", "-updated_at")
        .values_list("member_id", "value")
    )
    consented: dict[int, set[str]] = {}
    topics = {consent_topic(channel): channel for channel in rules.BEST_CHANNEL_ORDER}
    for member_id, topic in Consent.objects.filter(
        member_id__in=member_ids, topic__in=list(topics), granted=True
    ).values_list("member_id", "topic"):
        consented.setdefault(member_id, set()).add(topics[topic])
    chosen = {}
    for member in Member.objects.filter(pk__in=member_ids).only("pk", "phone", "email", "wechat_openid"):
        reachable = {
            channel
            for channel, address in (("wechat", member.wechat_openid), ("sms", member.phone), ("email", member.email))
            if address
        }
        channel = rules.best_channel(
            preferred=_channel_word(preferred.get(member.pk, "")),
            consented=consented.get(member.pk, set()),
            reachable=reachable,
        )
        if channel:
            chosen[member.pk] = channel
    return chosen


def _channel_word(value: str) -> str:
    """A preferred-channel preference's value as a channel ("SMS", "短信", "微信" too)."""
    value = (value or "").strip().lower()
    return {"短信": "sms", "微信": "wechat", "邮件": "email", "电子邮件": "email", "e-mail": "email"}.get(value, value)


def error_counts(campaign: Campaign, limit: int = 10) -> list[dict]:
    """The campaign's failed and undelivered messages by provider error code (most frequent
    first), each with one of its reasons: `{error_code, error, n}`. One grouped query."""
    from django.db.models import Max

    return list(
        OutboxMessage.objects.filter(
            campaign=campaign,
            status__in=[OutboxMessage.Status.FAILED, OutboxMessage.Status.UNDELIVERED],
        )
        .exclude(error_code="", error="")
        .order_by()
        .values("error_code")
        .annotate(n=Count("id"), error=Max("error"))
        .order_by("-n", "error_code")[:limit]
    )


def handed_to_channels_on(day) -> dict[str, int]:
    """Messages handed to each channel on the local day `day` (the daily budget's count of
    `handed_to_channel_on`, for every channel at once): one grouped query."""
    zone = zoneinfo.ZoneInfo("Asia/Shanghai")
    start = datetime.datetime.combine(day, datetime.time(0, 0), tzinfo=zone)
    counts = dict.fromkeys(Channel.values, 0)
    for channel, n in (
        OutboxMessage.objects.filter(
            status__in=HANDED_TO_CHANNEL, sending_at__gte=start, sending_at__lt=start + datetime.timedelta(days=1)
        )
        .order_by()
        .values_list("channel")
        .annotate(n=Count("id"))
    ):
        counts[channel] = n
    return counts


RUNNING = (Campaign.Status.SENDING, Campaign.Status.SCHEDULED)


def running_campaigns(*, limit: int = 8) -> tuple[int, list[Campaign]]:
    """Campaigns being sent or scheduled (not the automations' campaigns, which stay "sending"
    while they exist), the next to start first, and how many there are. Two queries."""
    campaigns = Campaign.objects.filter(status__in=RUNNING, automation__isnull=True)
    listed = list(
        campaigns.select_related("segment").order_by(F("start_at").asc(nulls_first=True), "-created_at", "-id")[:limit]
    )
    return campaigns.count(), listed


def segments_by_size(*, limit: int = 8) -> tuple[int, list[Segment]]:
    """Segments with their last count (`Segment.size`, kept by `refresh_segment_sizes`; never a
    live count), the largest first, and how many segments exist. Two queries."""
    segments = Segment.objects.all()
    listed = list(segments.order_by(F("size").desc(nulls_last=True), "name")[:limit])
    return segments.count(), listed
