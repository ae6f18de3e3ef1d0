"""The nightly re-evaluation racing purchase postings, with real threads on PostgreSQL."""

import datetime
import itertools

import pytest
import time_machine
from django.core.cache import cache

from rewards.models import TIER_POLICY_CACHE_KEY, PointsAccount, TierHistory, TierPolicy
from rewards.services.tiers import reevaluate_tiers
from tests.members import factories
from tests.rewards.helpers import assert_ledger_invariants, post
from tests.rewards.test_concurrency import _seeded_tiers_and_rules, run_at_once  # noqa: F401 (fixture)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))


def at(year, month, day, hour=10):
    return time_machine.travel(datetime.datetime(year, month, day, hour, tzinfo=SHANGHAI), tick=True)


def test_reevaluation_racing_purchases_leaves_tiers_and_history_consistent():
    cache.delete(TIER_POLICY_CACHE_KEY)
    TierPolicy(basis="window_spend", window_months=12, grace_days=30, downgrade=True).save()
    members = [factories.member(name=f"race{i}") for i in range(12)]
    with at(2025, 1, 10):
        for member in members:
            assert post(member, "1500.00").tier.code == "silver"
    with at(2026, 1, 11, 3):
        assert reevaluate_tiers().grace_started == len(members)

    with at(2026, 2, 10, 3):  # the grace period has ended: the night downgrades whoever has not bought
        cache.delete(TIER_POLICY_CACHE_KEY)
        calls = [lambda: reevaluate_tiers(batch_size=5)] + [lambda m=m: post(m, "1000.00") for m in members]
        results = run_at_once(calls)

    assert [r for r in results if isinstance(r, Exception)] == []
    for member in members:
        account = PointsAccount.objects.select_related("tier").get(member=member)
        # Every member bought 1,000 within the window: silver at the end, whichever ran first.
        assert (account.tier.code, account.below_since) == ("silver", None)
        history = list(TierHistory.objects.filter(member=member).order_by("id"))
        assert history[-1].to_tier_id == account.tier_id
        for before, after in itertools.pairwise(history):
            assert after.from_tier_id == before.to_tier_id  # an unbroken chain of changes
        assert [h.reason for h in history] in (
            ["purchase"],  # the purchase came first: the night found nothing to do
            ["purchase", "grace_ended", "purchase"],  # the night came first, the purchase upgraded again
        )
        assert_ledger_invariants(member)
    downgraded = TierHistory.objects.filter(reason="grace_ended").count()
    assert downgraded == results[0].downgrades


def test_nightly_expiry_racing_purchase_postings_neither_deadlocks_nor_loses_points():
    """Expiry locks accounts and then inserts ledger rows referencing their members; a posting locks
    the member and then the account. With the member locked FOR NO KEY UPDATE the expiry's
    foreign-key checks do not wait for the posting, so neither waits for the other in a cycle."""
    from rewards.services.expiry import expire_due_lots

    members = [factories.member(name=f"expiry-race{i}") for i in range(12)]
    with at(2024, 3, 1):
        for member in members:
            post(member, "100.00")  # 100 points, due to expire after 31 Dec 2025
    with at(2026, 1, 1, 2):
        calls = [lambda: expire_due_lots(batch_size=3)] + [lambda m=m: post(m, "50.00") for m in members]
        results = run_at_once(calls)

    assert [r for r in results if isinstance(r, Exception)] == []
    assert results[0].points == 100 * len(members)
    for member in members:
        assert PointsAccount.objects.get(member=member).balance == 50
        assert_ledger_invariants(member)
