"""Questions that read points and tiers; no writes."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Exists, OuterRef, QuerySet, Sum
from django.utils import timezone

from members.models import Member
from rewards import rules
from rewards.models import EarnRule, LedgerEntry, PointsAccount, PointsLot, Tier


def members_in_tiers(queryset: QuerySet[Member], tier_codes: list[str]) -> QuerySet[Member]:
    """Members whose current tier is one of `tier_codes` (a member without a points account is in
    the entry tier), by EXISTS subqueries: never a join that could repeat a member."""
    codes = list(tier_codes)
    in_tier = Exists(PointsAccount.objects.filter(member_id=OuterRef("pk"), tier__code__in=codes))
    no_account = ~Exists(PointsAccount.objects.filter(member_id=OuterRef("pk")))
    lowest = Tier.objects.exclude(Exists(Tier.objects.filter(rank__lt=OuterRef("rank"))))
    entry_chosen = Exists(lowest.filter(code__in=codes))
    return queryset.filter(in_tier | (no_account & entry_chosen))


def tiers() -> list[Tier]:
    return list(Tier.objects.order_by("rank"))


def entry_tier() -> Tier:
    return Tier.objects.order_by("rank").first()


def tier_levels(all_tiers: list[Tier]) -> list[rules.TierLevel]:
    return [rules.TierLevel(id=t.pk, code=t.code, rank=t.rank, threshold=t.threshold) for t in all_tiers]


def active_earn_rules() -> list[rules.Rule]:
    return [
        rules.Rule(id=r.pk, name=r.name, kind=r.kind, rate=r.rate, product_id=r.product_id, category_id=r.category_id)
        for r in EarnRule.objects.filter(is_active=True).order_by("id")
    ]


@dataclass(frozen=True)
class ExpiringPoints:
    points: int
    expires_on: object


@dataclass(frozen=True)
class PointsSummary:
    balance: int
    lifetime_earned: int
    lifetime_spend: Decimal
    tier: Tier
    expiring: list[ExpiringPoints]


def points_summary(member: Member, *, expiring_dates: int = 3) -> PointsSummary:
    """Balance, lifetime figures, tier and the next points to expire (per date, soonest first)."""
    account = PointsAccount.objects.select_related("tier").filter(member=member).first()
    if account is None:
        return PointsSummary(0, 0, Decimal("0.00"), entry_tier(), [])
    due = (
        PointsLot.objects.filter(account=account, remaining__gt=0, expires_on__gte=timezone.localdate())
        .values("expires_on")
        .annotate(points=Sum("remaining"))
        .order_by("expires_on")[:expiring_dates]
    )
    return PointsSummary(
        balance=account.balance,
        lifetime_earned=account.lifetime_earned,
        lifetime_spend=account.lifetime_spend,
        tier=account.tier,
        expiring=[ExpiringPoints(points=row["points"], expires_on=row["expires_on"]) for row in due],
    )


def ledger_for(member: Member) -> QuerySet[LedgerEntry]:
    """The member's ledger rows, newest first."""
    return LedgerEntry.objects.filter(member=member).select_related("purchase", "actor").order_by("-id")


def ledger_sum(member: Member) -> int:
    return LedgerEntry.objects.filter(member=member).aggregate(total=Sum("points"))["total"] or 0
