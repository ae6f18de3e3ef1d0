"""Questions about referrals (the writer: `campaigns.services.referrals`)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce

from campaigns.models import ReferralReward
from members.models import Member, Purchase


def first_purchase(member_id: int) -> Purchase | None:
    """The member's first purchase (earliest order time; the first recorded among equals)."""
    return Purchase.objects.filter(member_id=member_id).order_by("ordered_at", "id").first()


@dataclass(frozen=True)
class ReferredMember:
    member_no: str
    registered_at: object
    status: str  # "pending" (no purchase yet), "rewarded" or "not_rewarded"
    rewarded_at: object
    referrer_points: int
    referred_points: int


def referrals_of(member: Member) -> list[ReferredMember]:
    """The members `member` referred, newest first, with their reward status (one query)."""
    rows = Member.objects.filter(referred_by=member).select_related("referral_reward").order_by("-registered_at", "-id")
    result = []
    for row in rows:
        reward = getattr(row, "referral_reward", None)
        result.append(
            ReferredMember(
                member_no=row.member_no,
                registered_at=row.registered_at,
                status=reward.status if reward else "pending",
                rewarded_at=reward.created_at if reward else None,
                referrer_points=reward.referrer_points if reward else 0,
                referred_points=reward.referred_points if reward else 0,
            )
        )
    return result


def referrer_counts(queryset):
    """Annotate members with how many they referred, how many of those were rewarded and the
    referrer's points from them (subqueries: one query for any number of rows)."""
    referred = (
        Member.objects.filter(referred_by=OuterRef("pk")).order_by().values("referred_by").annotate(n=Count("pk"))
    )
    rewards = (
        ReferralReward.objects.filter(referrer=OuterRef("pk"), status=ReferralReward.Status.REWARDED)
        .order_by()
        .values("referrer")
    )
    return queryset.annotate(
        referred_count=Coalesce(Subquery(referred.values("n")), 0),
        rewarded_count=Coalesce(Subquery(rewards.annotate(n=Count("pk")).values("n")), 0),
        referrer_points_total=Coalesce(Subquery(rewards.annotate(s=Sum("referrer_points")).values("s")), 0),
    )
