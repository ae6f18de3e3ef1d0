"""Programme analytics of `campaigns` (docs/rules/analytics.md): the programme's return on its
cost, and the daily series of a running campaign. Reads only.

Programme ROI over a period (local dates, both included), with the managed assumptions
(`rewards.ProgrammeAssumptions`: margin %, cost of a point, cost of a message):

- campaign lift: for each campaign with a control group and messages sent in the period,
  incremental revenue = recipients' attributed revenue − recipients × the control group's revenue
  per member (the attribution of `campaigns.results`: purchases net of refunds within 30 days of
  the message, or of the campaign's start for the control group); campaigns without a control
  group have no measurable lift and count 0;
- member uplift = (members' average order value − walk-ins') × member orders in the period;
- incremental margin = (Σ incremental revenue + member uplift) × margin %;
- cost = points issued in the period × cost of a point + discounts members got on their purchases
  in the period (tier discount and coupons) + campaign messages sent in the period × cost of a
  message;
- ROI = (incremental margin − cost) ÷ cost (None when the cost is 0).

Daily series of one campaign, per local day: messages sent; participants (recipients who clicked a
message that day or bought that day within 30 days of their message); points redemptions by
recipients within their window; the campaign's coupons used that day.

Each function is a fixed number of grouped queries whatever the number of members or campaigns.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, DecimalField, Exists, ExpressionWrapper, F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from campaigns.models import Campaign, MessageEngagement, OfferGrant, OutboxMessage, SkipReason
from campaigns.results import DEFAULT_WINDOW_DAYS
from members.analytics import MembersVsWalkIns, add_months, members_vs_walk_ins
from members.models import Purchase
from rewards.analytics import points_summary
from rewards.models import Coupon, ProgrammeAssumptions, Redemption

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
MONEY = DecimalField(max_digits=16, decimal_places=2)
WINDOW = datetime.timedelta(days=DEFAULT_WINDOW_DAYS)
MAX_SERIES_DAYS = 92
PERMISSION = "rewards.view_programme_analytics"  # the page and the API: managers
MAX_DAYS = 3660  # the longest period, ten years: a cohort matrix stays a page


def default_period(today: datetime.date | None = None) -> tuple[datetime.date, datetime.date]:
    """The analytics' period when none is asked for: the last 12 calendar months up to today."""
    today = today or timezone.localdate()
    return add_months(today.replace(day=1), -11), today


def _aware(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _money(value) -> Decimal:
    return Decimal(value or 0).quantize(CENT, ROUND_HALF_UP)


@dataclass(frozen=True)
class CampaignLift:
    campaign_id: int
    name: str
    recipients: int
    revenue: Decimal
    control_members: int
    control_revenue: Decimal

    @property
    def has_control(self) -> bool:
        return self.control_members > 0

    @property
    def control_revenue_per_member(self) -> Decimal | None:
        return self.control_revenue / self.control_members if self.control_members else None

    @property
    def incremental_revenue(self) -> Decimal:
        """Recipients' revenue above what the same number of control members spent; 0 without a
        control group (nothing to compare with)."""
        if not self.control_members:
            return ZERO
        return _money(self.revenue - self.recipients * self.control_revenue / self.control_members)


@dataclass(frozen=True)
class ProgrammeRoi:
    start: datetime.date
    end: datetime.date
    margin_percent: Decimal
    cost_per_point: Decimal
    cost_per_message: Decimal
    campaigns: list[CampaignLift]
    sales: MembersVsWalkIns
    points_issued: int
    member_discounts: Decimal
    messages_sent: int

    @property
    def margin(self) -> Decimal:
        return self.margin_percent / 100

    @property
    def campaign_incremental_revenue(self) -> Decimal:
        return sum((c.incremental_revenue for c in self.campaigns), ZERO)

    @property
    def member_uplift_revenue(self) -> Decimal:
        uplift = self.sales.aov_uplift
        return _money(uplift * self.sales.members.orders) if uplift is not None else ZERO

    @property
    def campaign_margin(self) -> Decimal:
        return _money(self.campaign_incremental_revenue * self.margin)

    @property
    def member_uplift_margin(self) -> Decimal:
        return _money(self.member_uplift_revenue * self.margin)

    @property
    def incremental_margin(self) -> Decimal:
        return self.campaign_margin + self.member_uplift_margin

    @property
    def points_cost(self) -> Decimal:
        return _money(self.points_issued * self.cost_per_point)

    @property
    def messages_cost(self) -> Decimal:
        return _money(self.messages_sent * self.cost_per_message)

    @property
    def cost(self) -> Decimal:
        return self.points_cost + self.member_discounts + self.messages_cost

    @property
    def roi(self) -> float | None:
        if not self.cost:
            return None
        return float((self.incremental_margin - self.cost) / self.cost)


def _net_paid():
    return ExpressionWrapper(F("total") - F("refunded_total"), output_field=MONEY)


def _revenue_within(start) -> Subquery:
    purchases = Purchase.objects.filter(
        member_id=OuterRef("member_id"), ordered_at__gt=start, ordered_at__lte=start + WINDOW
    )
    return Subquery(
        purchases.order_by().values("member_id").annotate(s=Sum(_net_paid())).values("s")[:1], output_field=MONEY
    )


def campaign_lifts(
    start: datetime.date, end: datetime.date, *, campaign_ids: list[int] | None = None
) -> list[CampaignLift]:
    """Each campaign with messages sent in the period (with `campaign_ids`, only those campaigns),
    its recipients' and control group's revenue. Three grouped queries."""
    since, until = _aware(start), _aware(end + datetime.timedelta(days=1))
    sent = OutboxMessage.objects.filter(status__in=OutboxMessage.ACCEPTED, sent_at__gte=since, sent_at__lt=until)
    if campaign_ids is not None:
        sent = sent.filter(campaign_id__in=campaign_ids)
    recipients = {
        row["campaign_id"]: row
        for row in sent.annotate(spent=_revenue_within(OuterRef("sent_at")))
        .order_by()
        .values("campaign_id")
        .annotate(members=Count("id"), revenue=Coalesce(Sum("spent"), Value(ZERO), output_field=MONEY))
    }
    if not recipients:
        return []
    control = {
        row["campaign_id"]: row
        for row in OutboxMessage.objects.filter(
            campaign_id__in=list(recipients),
            status=OutboxMessage.Status.SKIPPED,
            skip_reason=SkipReason.CONTROL_GROUP,
        )
        .annotate(control_start=Coalesce(F("step__campaign_occurrence__ran_at"), F("campaign__started_at")))
        .filter(control_start__gte=since, control_start__lt=until)
        .annotate(spent=_revenue_within(OuterRef("control_start")))
        .order_by()
        .values("campaign_id")
        .annotate(members=Count("id"), revenue=Coalesce(Sum("spent"), Value(ZERO), output_field=MONEY))
    }
    names = dict(Campaign.objects.filter(pk__in=list(recipients)).values_list("pk", "name"))
    lifts = []
    for campaign_id in sorted(recipients):
        treated, reference = recipients[campaign_id], control.get(campaign_id, {})
        lifts.append(
            CampaignLift(
                campaign_id=campaign_id,
                name=names.get(campaign_id, ""),
                recipients=treated["members"],
                revenue=_money(treated["revenue"]),
                control_members=reference.get("members", 0),
                control_revenue=_money(reference.get("revenue", ZERO)),
            )
        )
    return lifts


def programme_roi(start: datetime.date, end: datetime.date) -> ProgrammeRoi:
    """The programme's incremental margin against its cost over the period, with the assumptions."""
    if start > end:
        raise ValueError("start is after end")
    since, until = _aware(start), _aware(end + datetime.timedelta(days=1))
    assumptions = ProgrammeAssumptions.load()
    discounts = Purchase.objects.filter(member__isnull=False, ordered_at__gte=since, ordered_at__lt=until).aggregate(
        d=Coalesce(Sum("discount_total"), Value(ZERO), output_field=MONEY)
    )["d"]
    messages = OutboxMessage.objects.filter(
        status__in=OutboxMessage.ACCEPTED, sent_at__gte=since, sent_at__lt=until
    ).count()
    return ProgrammeRoi(
        start=start,
        end=end,
        margin_percent=assumptions.margin_percent,
        cost_per_point=assumptions.cost_per_point,
        cost_per_message=assumptions.cost_per_message,
        campaigns=campaign_lifts(start, end),
        sales=members_vs_walk_ins(start, end),
        points_issued=points_summary(start, end).issued,
        member_discounts=_money(discounts),
        messages_sent=messages,
    )


# --- daily series of one campaign -------------------------------------------------------------


@dataclass
class Day:
    day: datetime.date
    sent: int = 0
    participants: int = 0
    redemptions: int = 0
    coupons_used: int = 0


@dataclass
class DailySeries:
    campaign_id: int
    start: datetime.date
    end: datetime.date
    days: list[Day] = field(default_factory=list)

    def values(self, name: str) -> list[int]:
        return [getattr(day, name) for day in self.days]


def series_range(campaign: Campaign, today: datetime.date | None = None) -> tuple[datetime.date, datetime.date] | None:
    """The days a campaign's series covers: from its first send to today (or its completion plus
    the attribution window), at most the last 92 days; None before it started."""
    today = today or timezone.localdate()
    if campaign.started_at is None:
        return None
    start = timezone.localdate(campaign.started_at)
    end = today
    if campaign.completed_at is not None:
        end = min(today, timezone.localdate(campaign.completed_at) + WINDOW)
    start = max(start, end - datetime.timedelta(days=MAX_SERIES_DAYS - 1))
    return (start, end) if start <= end else None


def daily_series(campaign: Campaign, start: datetime.date, end: datetime.date) -> DailySeries:
    """Per day from `start` to `end`: sent, participants, points redemptions, coupons used.
    Five grouped queries."""
    since, until = _aware(start), _aware(end + datetime.timedelta(days=1))
    days = {}
    day = start
    while day <= end:
        days[day] = Day(day=day)
        day += datetime.timedelta(days=1)
    accepted = OutboxMessage.objects.filter(campaign=campaign, status__in=OutboxMessage.ACCEPTED)
    for row in (
        accepted.filter(sent_at__gte=since, sent_at__lt=until)
        .annotate(d=TruncDate("sent_at"))
        .order_by()
        .values("d")
        .annotate(n=Count("id"))
    ):
        if row["d"] in days:
            days[row["d"]].sent = row["n"]

    engaged: set[tuple[int, datetime.date]] = set()
    engaged.update(
        MessageEngagement.objects.filter(campaign=campaign, clicked_at__gte=since, clicked_at__lt=until)
        .annotate(d=TruncDate("clicked_at"))
        .values_list("message__member_id", "d")
        .distinct()
    )
    in_window = accepted.filter(
        member_id=OuterRef("member_id"),
        sent_at__lt=OuterRef("ordered_at"),
        sent_at__gte=OuterRef("ordered_at") - WINDOW,
    )
    engaged.update(
        Purchase.objects.filter(ordered_at__gte=since, ordered_at__lt=until, member__isnull=False)
        .filter(Exists(in_window))
        .annotate(d=TruncDate("ordered_at"))
        .values_list("member_id", "d")
        .distinct()
    )
    for _member, day in engaged:
        if day in days:
            days[day].participants += 1

    redeemed_in_window = accepted.filter(
        member_id=OuterRef("member_id"),
        sent_at__lt=OuterRef("created_at"),
        sent_at__gte=OuterRef("created_at") - WINDOW,
    )
    for row in (
        Redemption.objects.filter(created_at__gte=since, created_at__lt=until, cancelled_at__isnull=True)
        .filter(Exists(redeemed_in_window))
        .annotate(d=TruncDate("created_at"))
        .order_by()
        .values("d")
        .annotate(n=Count("id"))
    ):
        if row["d"] in days:
            days[row["d"]].redemptions = row["n"]

    for row in (
        OfferGrant.objects.filter(
            campaign=campaign,
            coupon__status=Coupon.Status.REDEEMED,
            coupon__redeemed_at__gte=since,
            coupon__redeemed_at__lt=until,
        )
        .annotate(d=TruncDate("coupon__redeemed_at"))
        .order_by()
        .values("d")
        .annotate(n=Count("id"))
    ):
        if row["d"] in days:
            days[row["d"]].coupons_used = row["n"]
    return DailySeries(campaign_id=campaign.pk, start=start, end=end, days=list(days.values()))


__all__ = [
    "CampaignLift",
    "DailySeries",
    "ProgrammeRoi",
    "campaign_lifts",
    "daily_series",
    "default_period",
    "programme_roi",
    "series_range",
]
