"""Redemptions with real threads on PostgreSQL: the balance never goes below zero (invariant 2),
stock never oversells, and the ledger still sums to the balance (invariant 1)."""

import pytest
from django.db.models import Sum

from rewards.errors import InsufficientPoints, OutOfStock
from rewards.models import Coupon, LedgerEntry, Redemption, RewardKind
from rewards.services.redemptions import cancel_redemption, redeem_reward
from tests.rewards import catalogue_factories as cf
from tests.rewards.helpers import account_of, assert_ledger_invariants
from tests.rewards.test_concurrency import _seeded_tiers_and_rules, run_at_once  # noqa: F401  (fixture)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def codes(results):
    return sorted("ok" if not isinstance(r, Exception) else getattr(r, "code", type(r).__name__) for r in results)


def test_forty_redemptions_at_once_against_a_thousand_points_give_exactly_ten():
    member = cf.funded_member(1000)
    reward = cf.reward(points_cost=100)

    def calls():
        return [(lambda i=i: redeem_reward(member=member, reward=reward, idempotency_key=f"T-{i}")) for i in range(40)]

    results = run_at_once(calls())

    assert codes(results) == ["insufficient_points"] * 30 + ["ok"] * 10
    assert all(isinstance(r, InsufficientPoints) for r in results if isinstance(r, Exception))
    assert account_of(member).balance == 0
    assert Redemption.objects.count() == 10
    assert LedgerEntry.objects.filter(member=member).aggregate(s=Sum("points"))["s"] == 0
    assert sorted(r.points_balance for r in results if not isinstance(r, Exception)) == list(range(0, 1000, 100))
    assert_ledger_invariants(member)


def test_twenty_redemptions_at_once_of_five_in_stock_give_exactly_five():
    reward = cf.reward(kind=RewardKind.COUPON, points_cost=10, stock=5)
    members = [cf.funded_member(1000, name=f"会员{i}") for i in range(20)]

    results = run_at_once(
        [
            (lambda m=m, i=i: redeem_reward(member=m, reward=reward, idempotency_key=f"S-{i}"))
            for i, m in enumerate(members)
        ]
    )

    assert codes(results) == ["ok"] * 5 + ["out_of_stock"] * 15
    assert all(isinstance(r, OutOfStock) for r in results if isinstance(r, Exception))
    reward.refresh_from_db()
    assert reward.stock == 0
    assert Coupon.objects.count() == 5
    for member in members:
        assert_ledger_invariants(member)
    assert sum(account_of(m).balance for m in members) == 20 * 1000 - 5 * 10


def test_the_same_key_twenty_times_at_once_redeems_once():
    member = cf.funded_member(1000)
    reward = cf.reward(points_cost=100, stock=10)

    results = run_at_once(
        [lambda: redeem_reward(member=member, reward=reward, idempotency_key="SAME") for _i in range(20)]
    )

    assert [r for r in results if isinstance(r, Exception)] == []
    assert sorted(r.created for r in results) == [False] * 19 + [True]
    assert {r.redemption.pk for r in results} == {Redemption.objects.get().pk}
    assert account_of(member).balance == 900
    reward.refresh_from_db()
    assert reward.stock == 9


def test_cancellations_and_redemptions_at_once_keep_points_and_stock_exact():
    member = cf.funded_member(1000)
    reward = cf.reward(points_cost=100, stock=6)
    first = [redeem_reward(member=member, reward=reward, idempotency_key=f"P-{i}").redemption for i in range(4)]

    calls = [lambda r=r: cancel_redemption(redemption=r) for r in first] * 2  # each cancelled twice at once
    calls += [(lambda i=i: redeem_reward(member=member, reward=reward, idempotency_key=f"N-{i}")) for i in range(6)]
    results = run_at_once(calls)

    assert codes(results[:8]).count("already_cancelled") == 4
    assert Redemption.objects.filter(status="cancelled").count() == 4
    completed = Redemption.objects.filter(status="completed").aggregate(s=Sum("quantity"))["s"] or 0
    reward.refresh_from_db()
    assert reward.stock == 6 - completed
    assert account_of(member).balance == 1000 - 100 * completed
    assert_ledger_invariants(member)
