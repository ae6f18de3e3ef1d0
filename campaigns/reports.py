"""The monthly marketing review (the seeds' monthly review): one row per calendar month.

* campaigns sent: campaigns with at least one message sent in the month;
* recipients: members sent at least one campaign message in the month;
* participants: those recipients who, for a message of that month, clicked it, used its coupon,
  or bought within 30 days of it (`results.DEFAULT_WINDOW_DAYS`); participation rate =
  participants / recipients;
* repurchase rate of members: of the members who bought in the month, the share who had bought
  before the month;
* coupon redemption rate: campaign coupons issued in the month that have been used / issued;
* stored value (with `stored_value=True`, for holders of the liability permission): principal
  topped up and balance spent in the month, principal and bonus owed at the month's end — read
  through `rewards.selectors_stored_value.stored_value_by_month` (rewards owns the ledger; two
  queries more).

Each figure is one grouped query over the whole range (months in the current time zone).
KPI targets (`CampaignKpiTarget`) are a change versus a baseline month's actual value.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.functions import TruncMonth
from django.utils import timezone

from campaigns._sql import repurchase_counts
from campaigns.models import CampaignKpiTarget, MessageEngagement, OfferGrant, OutboxMessage
from campaigns.results import DEFAULT_WINDOW_DAYS, rate
from members.models import Purchase
from rewards.models import Coupon
from rewards.selectors_stored_value import stored_value_by_month

STORED_VALUE_PERMISSION = "rewards.view_stored_value_liability"


@dataclass
class Month:
    month: datetime.date
    campaigns_sent: int = 0
    recipients: int = 0
    participants: int = 0
    buyers: int = 0
    repeat_buyers: int = 0
    coupons_issued: int = 0
    coupons_redeemed: int = 0
    # Stored value (None: not read — the reader may not see the liability)
    stored_value_topped_up: Decimal | None = None
    stored_value_spent: Decimal | None = None
    stored_value_principal_owed: Decimal | None = None
    stored_value_bonus_owed: Decimal | None = None

    @property
    def participation_rate(self) -> float | None:
        return rate(self.participants, self.recipients)

    @property
    def repurchase_rate(self) -> float | None:
        return rate(self.repeat_buyers, self.buyers)

    @property
    def redemption_rate(self) -> float | None:
        return rate(self.coupons_redeemed, self.coupons_issued)


def month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def add_months(day: datetime.date, months: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


def _aware(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _key(value) -> datetime.date:
    return value.date() if isinstance(value, datetime.datetime) else value


def shows_stored_value(user) -> bool:
    """The review's stored-value section is the shop's liability: for those who may read it."""
    return user.has_perm(STORED_VALUE_PERMISSION)


def monthly_report(*, months: int = 12, today: datetime.date | None = None, stored_value: bool = False) -> list[Month]:
    """The last `months` calendar months up to and including today's, oldest first; with
    `stored_value`, each month's stored-value figures too."""
    today = today or timezone.localdate()
    first = add_months(month_start(today), -(months - 1))
    start, end = _aware(first), _aware(add_months(month_start(today), 1))
    rows = {add_months(first, i): Month(month=add_months(first, i)) for i in range(months)}

    sent = OutboxMessage.objects.filter(status__in=OutboxMessage.ACCEPTED, sent_at__gte=start, sent_at__lt=end)
    window = datetime.timedelta(days=DEFAULT_WINDOW_DAYS)
    clicked = MessageEngagement.objects.filter(message_id=OuterRef("pk"), clicked_at__isnull=False)
    redeemed = OfferGrant.objects.filter(message_id=OuterRef("pk"), coupon__status=Coupon.Status.REDEEMED)
    bought = Purchase.objects.filter(
        member_id=OuterRef("member_id"),
        ordered_at__gt=OuterRef("sent_at"),
        ordered_at__lte=OuterRef("sent_at") + window,
    )
    for row in (
        sent.annotate(m=TruncMonth("sent_at"), took_part=Exists(clicked) | Exists(redeemed) | Exists(bought))
        .order_by()
        .values("m")
        .annotate(
            campaigns=Count("campaign_id", distinct=True),
            recipients=Count("member_id", distinct=True),
            participants=Count("member_id", distinct=True, filter=Q(took_part=True)),
        )
    ):
        month = rows.get(_key(row["m"]))
        if month is not None:
            month.campaigns_sent, month.recipients, month.participants = (
                row["campaigns"], row["recipients"], row["participants"]
            )  # fmt: skip

    _add_repurchase(rows, end)

    for row in (
        OfferGrant.objects.filter(coupon__isnull=False, coupon__issued_at__gte=start, coupon__issued_at__lt=end)
        .annotate(m=TruncMonth("coupon__issued_at"))
        .order_by()
        .values("m")
        .annotate(issued=Count("id"), used=Count("id", filter=Q(coupon__status=Coupon.Status.REDEEMED)))
    ):
        month = rows.get(_key(row["m"]))
        if month is not None:
            month.coupons_issued, month.coupons_redeemed = row["issued"], row["used"]

    if stored_value:
        for figures in stored_value_by_month(first=first, months=months):
            month = rows[figures.month]
            month.stored_value_topped_up, month.stored_value_spent = figures.topped_up, figures.spent
            month.stored_value_principal_owed, month.stored_value_bonus_owed = (
                figures.principal_owed, figures.bonus_owed
            )  # fmt: skip
    return list(rows.values())


def _add_repurchase(rows: dict[datetime.date, Month], end: datetime.datetime) -> None:
    """Each month's buyers and repeat buyers (bought before the month) into `rows` (one query,
    set-based: `campaigns._sql.repurchase_counts`)."""
    firsts = sorted(rows)
    bounds = [_aware(month) for month in firsts] + [end]
    for index, (buyers, repeat_buyers) in repurchase_counts(bounds).items():
        month = rows[firsts[index]]
        month.buyers, month.repeat_buyers = buyers, repeat_buyers


def repurchase_by_month(*, months: int = 6, today: datetime.date | None = None) -> list[Month]:
    """The repurchase rate of members for the last `months` calendar months up to today's, oldest
    first (the monthly review's figure, without its other columns): one query."""
    today = today or timezone.localdate()
    first = add_months(month_start(today), -(months - 1))
    rows = {add_months(first, i): Month(month=add_months(first, i)) for i in range(months)}
    _add_repurchase(rows, _aware(add_months(month_start(today), 1)))
    return list(rows.values())


@dataclass
class TargetStatus:
    target: CampaignKpiTarget
    baseline: float | None  # the metric in the baseline month
    goal: float | None  # baseline × (1 + change %)
    actual: float | None  # the metric in the latest month up to the deadline
    actual_month: datetime.date | None
    deadline: datetime.date

    @property
    def met(self) -> bool | None:
        if self.goal is None or self.actual is None:
            return None
        rising = self.target.change_percent >= 0
        return self.actual >= self.goal if rising else self.actual <= self.goal


def _span(targets: list[CampaignKpiTarget], today: datetime.date) -> int:
    """How many months up to today's the targets' baselines need (at most 36)."""
    if not targets:
        return 1
    oldest = min(month_start(t.baseline_month) for t in targets)
    return max(1, min((today.year - oldest.year) * 12 + today.month - oldest.month + 1, 36))


def target_statuses(*, today: datetime.date | None = None, metric: str | None = None) -> list[TargetStatus]:
    """Each KPI target (with `metric`, that metric's only) with its baseline, goal and the latest
    actual value (at most 36 months back). The repurchase rate alone reads only its own figure."""
    today = today or timezone.localdate()
    targets = CampaignKpiTarget.objects.all()
    if metric is not None:
        targets = targets.filter(metric=metric)
    targets = list(targets)
    if not targets:
        return []
    build = repurchase_by_month if metric == CampaignKpiTarget.Metric.REPURCHASE_RATE else monthly_report
    return _statuses(targets, build(months=_span(targets, today), today=today), today)


def repurchase_with_target(
    *, months: int, today: datetime.date | None = None
) -> tuple[list[Month], TargetStatus | None]:
    """The repurchase rate of the last `months` months and the status of its (first) KPI target,
    from one computation of the series (it spans the target's baseline month too)."""
    today = today or timezone.localdate()
    targets = list(CampaignKpiTarget.objects.filter(metric=CampaignKpiTarget.Metric.REPURCHASE_RATE))
    report = repurchase_by_month(months=max(months, _span(targets, today)), today=today)
    statuses = _statuses(targets, report, today) if targets else []
    return report[-months:], next(iter(statuses), None)


def _statuses(targets: list[CampaignKpiTarget], months: list[Month], today: datetime.date) -> list[TargetStatus]:
    report = {m.month: m for m in months}
    statuses = []
    for target in targets:
        baseline_month = month_start(target.baseline_month)
        deadline = add_months(baseline_month, target.months)
        baseline_row = report.get(baseline_month)
        baseline = getattr(baseline_row, target.metric) if baseline_row else None
        goal = baseline * (1 + float(target.change_percent / Decimal(100))) if baseline is not None else None
        latest_month = min(deadline, month_start(today))
        latest_row = report.get(latest_month)
        actual = getattr(latest_row, target.metric) if latest_row else None
        statuses.append(
            TargetStatus(
                target=target, baseline=baseline, goal=goal, actual=actual, actual_month=latest_month, deadline=deadline
            )
        )
    return statuses
