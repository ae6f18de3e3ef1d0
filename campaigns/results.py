"""Results of a campaign: delivery, engagement, offers, repurchase against the control group, ROI.

Attribution rule (docs/rules/campaigns.md, "Results"): a recipient's purchase counts for the campaign when it
was made within `window_days` (default 30) after the message was sent to them
(`sent_at < ordered_at <= sent_at + window`); revenue is what was paid net of refunds. The
control group's reference time is the campaign's start (`started_at`), the moment their message
would have been queued — for a recurring campaign, the start of each run. A purchase may be
attributed to more than one campaign. A recurring campaign counts per message: a member in
three runs is three recipients (or three control-group members), each with their own window.

Delivery: `sent` = handed to the channel (accepted by the provider, or in doubt); `accepted` =
accepted by the provider; `delivered` / `undelivered` = what the provider's delivery receipts
said (SMS and WeChat send receipts; email has none, so an email campaign shows none delivered);
delivery rate = delivered / accepted (None until a receipt came). Open and click rates are over
`accepted`.

Rates: repurchase rate = members with at least one purchase in their window / members in the
group. Lift = (recipients' rate − control's rate) / control's rate (None without a control
group or when the control's rate is 0). Cost = bonus points given × `CAMPAIGN_POINT_VALUE`
(CNY per point) + the value of the campaign's coupons that were used (a fixed amount: its value;
a percentage: that share of the order's total; free delivery: 0). ROI = (attributed revenue −
cost) / cost (None when the cost is 0). Every figure is one grouped query; none loops over members.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import (
    Count,
    DateTimeField,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from campaigns import selectors
from campaigns.models import Campaign, MessageEngagement, OfferGrant, OutboxMessage, SkipReason
from members.models import Purchase
from rewards.models import Coupon, CouponKind

DEFAULT_WINDOW_DAYS = 30
ZERO = Decimal("0.00")
CENT = Decimal("0.01")
MONEY = DecimalField(max_digits=16, decimal_places=2)


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def lift(treated: float | None, control: float | None) -> float | None:
    """(treated − control) / control; None when either is unknown or the control's rate is 0."""
    if treated is None or not control:
        return None
    return (treated - control) / control


def roi(revenue: Decimal, cost: Decimal) -> float | None:
    """(revenue − cost) / cost; None when nothing was spent."""
    if not cost:
        return None
    return float((revenue - cost) / cost)


@dataclass
class GroupOutcome:
    members: int = 0
    repurchasers: int = 0
    revenue: Decimal = ZERO

    @property
    def repurchase_rate(self) -> float | None:
        return rate(self.repurchasers, self.members)


@dataclass
class Results:
    campaign_id: int
    window_days: int
    audience: int = 0
    sent: int = 0
    accepted: int = 0
    delivered: int = 0
    undelivered: int = 0
    failed: int = 0
    in_doubt: int = 0
    pending: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    opened: int = 0
    clicked: int = 0
    coupons_issued: int = 0
    coupons_redeemed: int = 0
    points_given: int = 0
    coupon_cost: Decimal = ZERO
    recipients: GroupOutcome = field(default_factory=GroupOutcome)
    control: GroupOutcome = field(default_factory=GroupOutcome)

    @property
    def delivery_rate(self) -> float | None:
        """delivered / accepted; None while no receipt has come."""
        if not (self.delivered or self.undelivered):
            return None
        return rate(self.delivered, self.accepted)

    @property
    def open_rate(self) -> float | None:
        return rate(self.opened, self.accepted)

    @property
    def click_rate(self) -> float | None:
        return rate(self.clicked, self.accepted)

    @property
    def redemption_rate(self) -> float | None:
        return rate(self.coupons_redeemed, self.coupons_issued)

    @property
    def points_cost(self) -> Decimal:
        return (Decimal(self.points_given) * Decimal(str(settings.CAMPAIGN_POINT_VALUE))).quantize(CENT, ROUND_HALF_UP)

    @property
    def cost(self) -> Decimal:
        return self.points_cost + self.coupon_cost

    @property
    def attributed_revenue(self) -> Decimal:
        return self.recipients.revenue

    @property
    def lift(self) -> float | None:
        return lift(self.recipients.repurchase_rate, self.control.repurchase_rate)

    @property
    def roi(self) -> float | None:
        return roi(self.attributed_revenue, self.cost)


def _net_paid():
    return ExpressionWrapper(F("total") - F("refunded_total"), output_field=MONEY)


def _group_outcome(messages, *, start, window: datetime.timedelta) -> GroupOutcome:
    """Members of `messages` (outbox rows) and their purchases in (start, start + window]; `start`
    is an expression on the outbox row (its sent_at) or a fixed time."""
    purchases = Purchase.objects.filter(
        member_id=OuterRef("member_id"), ordered_at__gt=start, ordered_at__lte=start + window
    )
    revenue = purchases.order_by().values("member_id").annotate(s=Sum(_net_paid())).values("s")[:1]
    figures = messages.annotate(bought=Exists(purchases), spent=Subquery(revenue, output_field=MONEY)).aggregate(
        members=Count("id"),
        repurchasers=Count("id", filter=Q(bought=True)),
        revenue=Coalesce(Sum("spent"), Value(ZERO), output_field=MONEY),
    )
    return GroupOutcome(
        members=figures["members"], repurchasers=figures["repurchasers"], revenue=Decimal(figures["revenue"] or 0)
    )


def _coupon_cost(campaign: Campaign) -> tuple[int, int, Decimal]:
    """(issued, used, value used) of the campaign's coupons."""
    grants = OfferGrant.objects.filter(campaign=campaign, coupon__isnull=False)
    order_total = Purchase.objects.filter(external_ref=OuterRef("coupon__redeemed_ref")).values("total")[:1]
    counts = grants.aggregate(issued=Count("id"), used=Count("id", filter=Q(coupon__status=Coupon.Status.REDEEMED)))
    cost = ZERO
    used = grants.filter(coupon__status=Coupon.Status.REDEEMED).annotate(order_total=Subquery(order_total))
    for kind, value, total in used.values_list("coupon__kind", "coupon__value", "order_total"):
        if kind == CouponKind.AMOUNT:
            cost += value
        elif kind == CouponKind.PERCENT and total is not None:
            cost += (Decimal(total) * value / 100).quantize(CENT, ROUND_HALF_UP)
    return counts["issued"], counts["used"], cost


def campaign_results(campaign: Campaign, *, window_days: int = DEFAULT_WINDOW_DAYS) -> Results:
    window = datetime.timedelta(days=window_days)
    counts = selectors.campaign_results(campaign)
    results = Results(
        campaign_id=campaign.pk,
        window_days=window_days,
        audience=counts.audience,
        sent=counts.accepted + counts.in_doubt,
        accepted=counts.accepted,
        delivered=counts.delivered,
        undelivered=counts.undelivered,
        failed=counts.failed,
        in_doubt=counts.in_doubt,
        pending=counts.pending + counts.sending,
        skipped={reason: n for reason, n in counts.skipped.items() if n},
    )
    engagement = MessageEngagement.objects.filter(campaign=campaign).aggregate(
        opened=Count("pk", filter=Q(opened_at__isnull=False)), clicked=Count("pk", filter=Q(clicked_at__isnull=False))
    )
    results.opened, results.clicked = engagement["opened"], engagement["clicked"]
    results.coupons_issued, results.coupons_redeemed, results.coupon_cost = _coupon_cost(campaign)
    results.points_given = OfferGrant.objects.filter(campaign=campaign).aggregate(p=Coalesce(Sum("points"), 0))["p"]
    outbox = OutboxMessage.objects.filter(campaign=campaign)
    results.recipients = _group_outcome(
        outbox.filter(status__in=OutboxMessage.ACCEPTED), start=OuterRef("sent_at"), window=window
    )
    if campaign.started_at:
        # Each run of a recurring campaign has its own start (the run's time); a one-off campaign's
        # control group starts with the campaign.
        control = outbox.filter(status=OutboxMessage.Status.SKIPPED, skip_reason=SkipReason.CONTROL_GROUP).annotate(
            control_start=Coalesce(
                F("step__campaign_occurrence__ran_at"), Value(campaign.started_at, output_field=DateTimeField())
            )
        )
        results.control = _group_outcome(control, start=OuterRef("control_start"), window=window)
    return results
