"""Sales analytics from the purchase records (docs/rules/analytics.md): members against walk-ins
(purchases without a member, rung up at the till), the repeat-purchase rate and cohort retention.

Periods are local dates, `start` and `end` both included. Sales are money paid net of refunds
(`total − refunded_total`, points paid at the till are not money); an order is a purchase row.

- average order value = sales ÷ orders, to the cent (half up);
- purchase frequency (members) = member orders ÷ members who bought;
- repeat-purchase rate = members with two or more orders in the period ÷ members who bought;
- member share of sales = member sales ÷ all sales;
- retention: members grouped by the month they joined (`registered_at`, local), for each month
  since joining (0 = the joining month) the share of the cohort with at least one purchase in
  that month. Only months up to `end`'s month are filled.

Each function is a fixed number of grouped queries whatever the number of members.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from members.models import Member, Purchase

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
MONEY = DecimalField(max_digits=16, decimal_places=2)


def _aware(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _period(start: datetime.date, end: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    if start > end:
        raise ValueError("start is after end")
    return _aware(start), _aware(end + datetime.timedelta(days=1))


def _month(value) -> datetime.date:
    if isinstance(value, datetime.datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
        return value.date().replace(day=1)
    return value.replace(day=1)


def add_months(day: datetime.date, months: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


def months_between(first: datetime.date, last: datetime.date) -> int:
    return (last.year - first.year) * 12 + last.month - first.month


@dataclass(frozen=True)
class SalesGroup:
    orders: int
    sales: Decimal
    buyers: int | None = None  # distinct members (None for walk-ins: they have no identity)
    repeat_buyers: int | None = None

    @property
    def average_order_value(self) -> Decimal | None:
        if not self.orders:
            return None
        return (self.sales / self.orders).quantize(CENT, ROUND_HALF_UP)

    @property
    def purchase_frequency(self) -> float | None:
        return self.orders / self.buyers if self.buyers else None

    @property
    def repeat_purchase_rate(self) -> float | None:
        return self.repeat_buyers / self.buyers if self.buyers else None


@dataclass(frozen=True)
class MembersVsWalkIns:
    start: datetime.date
    end: datetime.date
    members: SalesGroup
    walk_ins: SalesGroup

    @property
    def sales(self) -> Decimal:
        return self.members.sales + self.walk_ins.sales

    @property
    def member_share_of_sales(self) -> float | None:
        total = self.sales
        return float(self.members.sales / total) if total else None

    @property
    def aov_uplift(self) -> Decimal | None:
        """Member average order value less the walk-ins' (None when either has no order)."""
        member, walk_in = self.members.average_order_value, self.walk_ins.average_order_value
        if member is None or walk_in is None:
            return None
        return member - walk_in


def _net_paid():
    return ExpressionWrapper(F("total") - F("refunded_total"), output_field=MONEY)


def members_vs_walk_ins(start: datetime.date, end: datetime.date) -> MembersVsWalkIns:
    """Orders, sales, buyers and repeat buyers of members and walk-ins in the period. Two queries."""
    since, until = _period(start, end)
    purchases = Purchase.objects.filter(ordered_at__gte=since, ordered_at__lt=until)
    is_member = Q(member__isnull=False)
    figures = purchases.aggregate(
        member_orders=Count("id", filter=is_member),
        member_sales=Coalesce(Sum(_net_paid(), filter=is_member), ZERO, output_field=MONEY),
        member_buyers=Count("member_id", distinct=True, filter=is_member),
        walk_in_orders=Count("id", filter=~is_member),
        walk_in_sales=Coalesce(Sum(_net_paid(), filter=~is_member), ZERO, output_field=MONEY),
    )
    repeat_buyers = (
        purchases.filter(is_member).order_by().values("member_id").annotate(n=Count("id")).filter(n__gte=2).count()
    )
    return MembersVsWalkIns(
        start=start,
        end=end,
        members=SalesGroup(
            orders=figures["member_orders"],
            sales=Decimal(figures["member_sales"]).quantize(CENT),
            buyers=figures["member_buyers"],
            repeat_buyers=repeat_buyers,
        ),
        walk_ins=SalesGroup(orders=figures["walk_in_orders"], sales=Decimal(figures["walk_in_sales"]).quantize(CENT)),
    )


@dataclass(frozen=True)
class Cohort:
    month: datetime.date  # the joining month
    size: int
    active: list[int]  # members with a purchase in month 0, 1, … since joining (up to the period's end)

    @property
    def rates(self) -> list[float | None]:
        return [count / self.size if self.size else None for count in self.active]


@dataclass(frozen=True)
class RetentionMatrix:
    start: datetime.date
    end: datetime.date
    cohorts: list[Cohort]

    @property
    def width(self) -> int:
        """The number of month columns (the oldest cohort's)."""
        return max((len(cohort.active) for cohort in self.cohorts), default=0)


def retention_matrix(start: datetime.date, end: datetime.date) -> RetentionMatrix:
    """Cohorts of members who joined in the months from `start`'s to `end`'s, with the share of each
    that bought in each month since joining, up to `end`'s month. Two queries."""
    if start > end:
        raise ValueError("start is after end")
    first, last = start.replace(day=1), end.replace(day=1)
    since, until = _aware(first), _aware(add_months(last, 1))
    joined = Member.objects.filter(registered_at__gte=since, registered_at__lt=until)
    sizes = {
        _month(row["m"]): row["n"]
        for row in joined.annotate(m=TruncMonth("registered_at")).order_by().values("m").annotate(n=Count("id"))
    }
    active: dict[tuple[datetime.date, datetime.date], int] = {}
    for row in (
        Purchase.objects.filter(
            member__registered_at__gte=since,
            member__registered_at__lt=until,
            ordered_at__gte=since,
            ordered_at__lt=until,
        )
        .annotate(cohort=TruncMonth("member__registered_at"), m=TruncMonth("ordered_at"))
        .order_by()
        .values("cohort", "m")
        .annotate(n=Count("member_id", distinct=True))
    ):
        active[(_month(row["cohort"]), _month(row["m"]))] = row["n"]
    cohorts = []
    month = first
    while month <= last:
        span = months_between(month, last) + 1
        cohorts.append(
            Cohort(
                month=month,
                size=sizes.get(month, 0),
                active=[active.get((month, add_months(month, k)), 0) for k in range(span)],
            )
        )
        month = add_months(month, 1)
    return RetentionMatrix(start=start, end=end, cohorts=cohorts)
