"""Points analytics for the owner (docs/rules/analytics.md): issued, redeemed, expired, the
redemption rate and breakage, the outstanding balance and what it costs, and what is due to expire.

Every figure is read from the append-only ledger (`LedgerEntry`) or the open lots (`PointsLot`),
so the numbers equal the ledger to the point. Periods are local dates, `start` and `end` both
included (`[start 00:00, end + 1 day 00:00)` in the shop's time zone).

- issued = earned + bonus + positive adjustments and transfers, less refund reversals
  (the points a refund took back were never really issued; the same rule as lifetime earned);
- redeemed = points spent (rewards, points paid at the till), less spends given back
  (a cancelled redemption, a returned points payment);
- expired = points the nightly expiry removed;
- adjusted out = negative manual adjustments and transfers (shown so the figures add up:
  change of the balance = issued − redeemed − expired − adjusted out);
- redemption rate = redeemed ÷ issued, breakage = expired ÷ issued (None when nothing was issued);
- outstanding = the sum of all ledger rows up to the end of the period (the members' balances then);
- expiring in N days = points still in lots whose expiry date is before today + N days
  (cumulative: the 60-day figure includes the 30-day one).

Each function is a fixed number of queries whatever the number of members.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Q, Sum
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from rewards.models import LedgerEntry, PointsAccount, PointsLot, ProgrammeAssumptions

Kind = LedgerEntry.Kind
CENT = Decimal("0.01")
EXPIRY_HORIZONS = (30, 60, 90)

_CREDIT = Q(kind__in=[Kind.EARN, Kind.BONUS]) | Q(kind__in=[Kind.ADJUSTMENT, Kind.TRANSFER], points__gt=0)
_ISSUED = _CREDIT | Q(kind=Kind.REFUND_REVERSAL)
_REDEEMED = Q(kind__in=[Kind.SPEND, Kind.REDEMPTION_RETURN, Kind.SPEND_RETURN])
_EXPIRED = Q(kind=Kind.EXPIRE)
_ADJUSTED_OUT = Q(kind__in=[Kind.ADJUSTMENT, Kind.TRANSFER], points__lt=0)


def _aware(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class PointsFlow:
    """Points moved in a period (a month, or any range)."""

    start: datetime.date
    end: datetime.date
    issued: int
    redeemed: int
    expired: int
    adjusted_out: int

    @property
    def redemption_rate(self) -> float | None:
        return _rate(self.redeemed, self.issued)

    @property
    def breakage(self) -> float | None:
        return _rate(self.expired, self.issued)


@dataclass(frozen=True)
class PointsSummary(PointsFlow):
    """A period's flow with the outstanding balance at its end and what expires from `today`."""

    outstanding: int = 0
    expiring_30: int = 0
    expiring_60: int = 0
    expiring_90: int = 0


@dataclass(frozen=True)
class Liability:
    """Outstanding points today, what they cost at the managed cost of a point, and the points
    due to expire within 30, 60 and 90 days (with their cost)."""

    today: datetime.date
    points: int
    cost_per_point: Decimal
    expiring: dict[int, int]

    @property
    def amount(self) -> Decimal:
        return (Decimal(self.points) * self.cost_per_point).quantize(CENT, ROUND_HALF_UP)

    def expiring_amount(self, days: int) -> Decimal:
        return (Decimal(self.expiring[days]) * self.cost_per_point).quantize(CENT, ROUND_HALF_UP)

    @property
    def expiring_rows(self) -> list[tuple[int, int, Decimal]]:
        """(days, points, cost) for each horizon, for tables."""
        return [(days, self.expiring[days], self.expiring_amount(days)) for days in EXPIRY_HORIZONS]


def expiring_points(today: datetime.date) -> dict[int, int]:
    """Points left in lots expiring before today + 30/60/90 days (one query)."""
    figures = PointsLot.objects.filter(remaining__gt=0).aggregate(
        **{
            f"d{days}": Coalesce(Sum("remaining", filter=Q(expires_on__lt=today + datetime.timedelta(days=days))), 0)
            for days in EXPIRY_HORIZONS
        }
    )
    return {days: figures[f"d{days}"] for days in EXPIRY_HORIZONS}


def points_summary(start: datetime.date, end: datetime.date, *, today: datetime.date | None = None) -> PointsSummary:
    """Issued, redeemed, expired between `start` and `end` (local dates, both included), the
    outstanding balance at the end of `end`, and the points expiring from `today`. Two queries."""
    if start > end:
        raise ValueError("start is after end")
    today = today or timezone.localdate()
    until = _aware(end + datetime.timedelta(days=1))
    figures = LedgerEntry.objects.filter(created_at__lt=until).aggregate(
        outstanding=Coalesce(Sum("points"), 0),
        **_period_aggregates(_aware(start)),
    )
    expiring = expiring_points(today)
    return PointsSummary(
        start=start,
        end=end,
        issued=figures["issued"],
        redeemed=figures["redeemed"],
        expired=figures["expired"],
        adjusted_out=figures["adjusted_out"],
        outstanding=figures["outstanding"],
        expiring_30=expiring[30],
        expiring_60=expiring[60],
        expiring_90=expiring[90],
    )


def _period_aggregates(since: datetime.datetime) -> dict:
    in_period = Q(created_at__gte=since)
    return {
        "issued": Coalesce(Sum("points", filter=in_period & _ISSUED), 0),
        "redeemed": -Coalesce(Sum("points", filter=in_period & _REDEEMED), 0),
        "expired": -Coalesce(Sum("points", filter=in_period & _EXPIRED), 0),
        "adjusted_out": -Coalesce(Sum("points", filter=in_period & _ADJUSTED_OUT), 0),
    }


def points_by_month(start: datetime.date, end: datetime.date) -> list[PointsFlow]:
    """One `PointsFlow` per calendar month from `start`'s month to `end`'s (local months), oldest
    first, months without a row included. One grouped query."""
    first = start.replace(day=1)
    last = end.replace(day=1)
    months = []
    month = first
    while month <= last:
        months.append(month)
        month = (month + datetime.timedelta(days=32)).replace(day=1)
    upto = (last + datetime.timedelta(days=32)).replace(day=1)
    rows = {
        (row["m"].date() if isinstance(row["m"], datetime.datetime) else row["m"]): row
        for row in LedgerEntry.objects.filter(created_at__gte=_aware(first), created_at__lt=_aware(upto))
        .annotate(m=TruncMonth("created_at"))
        .order_by()
        .values("m")
        .annotate(**_period_aggregates(_aware(first)))
    }
    flows = []
    for month in months:
        row = rows.get(month, {})
        next_month = (month + datetime.timedelta(days=32)).replace(day=1)
        flows.append(
            PointsFlow(
                start=month,
                end=next_month - datetime.timedelta(days=1),
                issued=row.get("issued", 0),
                redeemed=row.get("redeemed", 0),
                expired=row.get("expired", 0),
                adjusted_out=row.get("adjusted_out", 0),
            )
        )
    return flows


def outstanding_liability(today: datetime.date | None = None) -> Liability:
    """What the members hold now (the sum of the accounts' balances, equal to the ledger's sum) at
    the managed cost of a point, and what expires within 30/60/90 days. Three queries."""
    today = today or timezone.localdate()
    points = PointsAccount.objects.aggregate(b=Coalesce(Sum("balance"), 0))["b"]
    return Liability(
        today=today,
        points=points,
        cost_per_point=ProgrammeAssumptions.load().cost_per_point,
        expiring=expiring_points(today),
    )
