"""Questions that read points and tiers; no writes."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import F, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from members.models import Member
from rewards import rules
from rewards.models import (
    Coupon,
    EarnRule,
    LedgerEntry,
    MembershipSubscription,
    PointsAccount,
    PointsLot,
    Redemption,
    Tier,
)


def tiers() -> list[Tier]:
    return list(Tier.objects.order_by("rank"))


def entry_tier() -> Tier:
    return Tier.objects.order_by("rank").first()


def tier_levels(all_tiers: list[Tier]) -> list[rules.TierLevel]:
    return [rules.TierLevel(id=t.pk, code=t.code, rank=t.rank, threshold=t.threshold) for t in all_tiers]


def active_earn_rules() -> list[rules.Rule]:
    return [
        rules.Rule(
            id=r.pk,
            name=r.name,
            kind=r.kind,
            rate=r.rate,
            product_id=r.product_id,
            category_id=r.category_id,
            tier_id=r.tier_id,
        )
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


def _day(at) -> datetime.date:
    if at is None:
        return timezone.localdate()
    if isinstance(at, datetime.datetime):
        return timezone.localdate(at)
    return at


def active_membership(member: Member, at: datetime.date | datetime.datetime | None = None):
    """The paid membership in force for the member on that day (today by default), or None.

    Active (not cancelled or expired) and `starts_on <= day <= ends_on`; a renewal bought ahead
    starts only after the current one ends, so at most one is in force."""
    day = _day(at)
    return (
        MembershipSubscription.objects.select_related("plan")
        .filter(member=member, status=MembershipSubscription.Status.ACTIVE, starts_on__lte=day, ends_on__gte=day)
        .order_by("starts_on", "id")
        .first()
    )


def memberships_of(member: Member) -> QuerySet[MembershipSubscription]:
    """The member's paid memberships, latest first."""
    return (
        MembershipSubscription.objects.filter(member=member)
        .select_related("member", "plan", "sold_by")
        .order_by("-starts_on", "-id")
    )


def free_delivery_for(member: Member, at: datetime.date | datetime.datetime | None = None) -> bool:
    """Free delivery from the member's tier (e.g. Diamond) or from a paid plan in force that day."""
    tier_free = PointsAccount.objects.filter(member=member).values_list("tier__free_delivery", flat=True).first()
    if tier_free is None:
        entry = entry_tier()
        tier_free = bool(entry and entry.free_delivery)
    if tier_free:
        return True
    subscription = active_membership(member, at)
    return bool(subscription and subscription.plan.free_delivery)


# --- catalogue, redemptions, coupons -------------------------------------------------------


def member_tier(member: Member) -> Tier:
    account = PointsAccount.objects.select_related("tier").filter(member=member).first()
    return account.tier if account else entry_tier()


def has_member_only_plan(member: Member, now) -> bool:
    subscription = active_membership(member, now)
    return bool(subscription and subscription.plan.member_only_rewards)


def rewards_available_to(queryset, member: Member, *, now=None):
    """Rewards `member` could redeem now (points aside): active, within their dates, in stock,
    open to the member's tier, and under the per-member limit."""
    now = now or timezone.now()
    tier = member_tier(member)
    had = (
        Redemption.objects.filter(member=member, reward=OuterRef("pk"), status=Redemption.Status.COMPLETED)
        .order_by()
        .values("reward")
        .annotate(n=Sum("quantity"))
        .values("n")
    )
    return (
        queryset.filter(is_active=True)
        .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=now))
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
        .filter(Q(stock__isnull=True) | Q(stock__gt=0))
        .filter(Q(min_tier__isnull=True) | Q(min_tier__rank__lte=tier.rank))
        .filter(Q(plan_members_only=False) | Q(plan_members_only=has_member_only_plan(member, now)))
        .annotate(redeemed_units=Coalesce(Subquery(had, output_field=IntegerField()), 0))
        .filter(Q(per_member_limit__isnull=True) | Q(per_member_limit__gt=F("redeemed_units")))
    )


def redemptions() -> QuerySet[Redemption]:
    coupons = Coupon.objects.select_related("template", "member").order_by("pk")
    return Redemption.objects.select_related("member", "reward", "actor", "cancelled_by").prefetch_related(
        Prefetch("coupons", queryset=coupons)
    )
