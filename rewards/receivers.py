"""`rewards` listening: activity bonuses for `members`' sign-ups and recorded interactions, and
the cached configuration dropped when its rows change.

Connected in `RewardsConfig.ready()`. The bonus handlers only translate the signal into a call of
`rewards.services.award_bonus`, which holds the rules (points, once per period). `members` sends
these signals after its transaction commits, so a failing bonus never undoes the registration.

Postings read the tiers, the expiry policy, the tier policy, the earning configuration (rules,
promotions, limits, plans) and the paying-with-points settings through the cache. Saving or
deleting one of their rows — through the admin, a service or a cascade — drops the cached value
at once and again at commit (a reader may cache the old row between the two); it lives a minute
at most anyway.
"""

from __future__ import annotations

from django.core.cache import cache
from django.db import transaction

from loyalty_crm import local_cache
from members.models import Interaction
from rewards.models import (
    EARNING_CONFIG_CACHE_KEY,
    EXPIRY_POLICY_CACHE_KEY,
    POINTS_PAYMENT_CACHE_KEY,
    TIER_POLICY_CACHE_KEY,
    TIERS_CACHE_KEY,
    ActivityBonus,
    EarningSettings,
    EarnRule,
    ExpiryPolicy,
    MembershipPlan,
    PointsPaymentSettings,
    Promotion,
    Tier,
    TierPolicy,
)

# Which recorded interaction earns which activity bonus.
INTERACTION_BONUSES = {
    Interaction.Kind.REVIEW: ActivityBonus.Kind.REVIEW,
    Interaction.Kind.SURVEY: ActivityBonus.Kind.SURVEY,
    Interaction.Kind.EVENT: ActivityBonus.Kind.EVENT,
}


def on_member_registered(sender, *, member, actor=None, **kwargs):
    from rewards.services import award_bonus

    award_bonus(member=member, kind=ActivityBonus.Kind.SIGN_UP, reference=member.member_no, actor=actor)


def on_interaction_recorded(sender, *, interaction, actor=None, **kwargs):
    kind = INTERACTION_BONUSES.get(interaction.kind)
    if kind is None:
        return
    from rewards.services import award_bonus

    award_bonus(
        member=interaction.member,
        kind=kind,
        reference=f"interaction:{interaction.pk}",
        actor=actor,
        at=interaction.occurred_at,
    )


def _forget(key: str) -> None:
    cache.delete(key)
    local_cache.forget_in_request(key)  # the request that changed it reads it again
    transaction.on_commit(lambda: cache.delete(key))


def forget_expiry_policy(**_kwargs) -> None:
    _forget(EXPIRY_POLICY_CACHE_KEY)


def forget_tier_policy(**_kwargs) -> None:
    _forget(TIER_POLICY_CACHE_KEY)


def forget_tiers(**_kwargs) -> None:
    from rewards.selectors import TIERS_LOCAL_CACHE

    _forget(TIERS_CACHE_KEY)
    local_cache.forget(TIERS_LOCAL_CACHE)  # every process's own copy


def forget_earning_config(**_kwargs) -> None:
    _forget(EARNING_CONFIG_CACHE_KEY)


def forget_points_payment(**_kwargs) -> None:
    _forget(POINTS_PAYMENT_CACHE_KEY)


# Which cached value each model's saves and deletes drop (connected in `RewardsConfig.ready()`).
CACHED_BY_MODEL = (
    (ExpiryPolicy, forget_expiry_policy),
    (TierPolicy, forget_tier_policy),
    (Tier, forget_tiers),
    (EarnRule, forget_earning_config),
    (Promotion, forget_earning_config),
    (EarningSettings, forget_earning_config),
    (MembershipPlan, forget_earning_config),
    (PointsPaymentSettings, forget_points_payment),
)
