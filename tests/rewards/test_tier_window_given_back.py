"""Points given back are no points earned: with tiers by points earned in a window, a cancelled
redemption's `redemption_return` (like a returned points payment's `spend_return`) does not count,
in the posting's figure, the batch's and the nightly re-evaluation's (docs/rules/points.md)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.cache import cache

from rewards import services
from rewards.models import TIER_POLICY_CACHE_KEY, LedgerEntry, TierPolicy
from rewards.services import tiers as tier_rules
from rewards.services.redemptions import cancel_redemption, redeem_reward
from tests.members import factories
from tests.rewards import catalogue_factories as cf
from tests.rewards.helpers import account_of, post

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def window_points_policy():
    cache.delete(TIER_POLICY_CACHE_KEY)
    policy = TierPolicy.objects.get()
    policy.basis, policy.window_months = "window_points", 12
    policy.save()
    yield
    cache.delete(TIER_POLICY_CACHE_KEY)


@pytest.fixture
def member_with_a_cancelled_redemption():
    """800 points given by hand (earned in the window), 300 of them spent on a reward and given back
    when the redemption is cancelled: 800 earned in the window, not 1,100."""
    member = factories.member()
    services.adjust_points(member=member, points=800, reason="welcome", actor=None)
    reward = cf.reward(points_cost=300)
    redemption = redeem_reward(member=member, reward=reward, idempotency_key="RED-1").redemption
    cancel_redemption(redemption=redemption, reason="changed their mind")
    return member


def test_the_returned_points_do_not_count_as_earned(member_with_a_cancelled_redemption):
    member = member_with_a_cancelled_redemption
    assert LedgerEntry.objects.filter(member=member, kind="redemption_return").get().points == 300
    assert account_of(member).balance == 800
    policy = tier_rules.Policy(basis="window_points", window_months=12)
    account = account_of(member)
    assert tier_rules.qualifying_figure(account, policy=policy) == Decimal("800")  # not 800 + 300
    assert tier_rules.window_bases([account], policy=policy) == {member.pk: Decimal("800")}


def test_the_nightly_re_evaluation_does_not_upgrade_on_returned_points(member_with_a_cancelled_redemption):
    member = member_with_a_cancelled_redemption
    result = tier_rules.reevaluate_tiers()
    assert result.upgrades == 0
    assert account_of(member).tier.code == "regular"  # 800 < Silver's 1,000 (1,100 would have been Silver)


def test_points_earned_by_a_purchase_still_count(member_with_a_cancelled_redemption):
    member = member_with_a_cancelled_redemption
    posted = post(member, "250.00")  # 250 points: 800 + 250 = 1,050 ≥ 1,000
    assert posted.points_earned == 250
    assert posted.tier.code == "silver"
    policy = tier_rules.Policy(basis="window_points", window_months=12)
    assert tier_rules.qualifying_figure(account_of(member), policy=policy) == Decimal("1050")
