"""Real threads on PostgreSQL: a bonus is awarded once per period even when requests race."""

import importlib

import pytest

from rewards import services
from rewards.models import ActivityBonus, BonusAward, LedgerEntry, MembershipPlan, MembershipSubscription
from tests.members import factories
from tests.rewards.helpers import account_of, assert_ledger_invariants
from tests.rewards.test_concurrency import _seeded_tiers_and_rules, run_at_once  # noqa: F401 (autouse fixture)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _seeded_bonuses_and_plan(_seeded_tiers_and_rules):  # noqa: F811
    """A transactional test before this one may have flushed the migration's seed rows."""
    seed = importlib.import_module("rewards.migrations.0006_earning_seed")
    for kind, points, limit in seed.BONUSES:
        ActivityBonus.objects.get_or_create(kind=kind, defaults={"points": points, "limit": limit})
    if not MembershipPlan.objects.exists():
        MembershipPlan.objects.create(**seed.PLAN)


def test_twenty_simultaneous_awards_of_one_bonus_give_it_once():
    member = factories.member()  # committed: the sign-up bonus (100) is given after commit
    results = run_at_once([lambda: services.award_bonus(member=member, kind="review")] * 20)
    assert [r for r in results if isinstance(r, Exception)] == []
    assert sorted(r.awarded for r in results) == [False] * 19 + [True]
    assert BonusAward.objects.filter(bonus__kind="review").count() == 1
    assert sorted(LedgerEntry.objects.values_list("kind", "points")) == [("bonus", 20), ("bonus", 100)]
    assert account_of(member).balance == 120
    assert_ledger_invariants(member)


def test_the_database_refuses_a_second_award_even_without_the_member_lock(monkeypatch):
    """Take the member lock away: the unique (member, bonus, period) constraint still holds."""
    from rewards import lock_objects
    from rewards.services import bonuses

    member = factories.member()
    monkeypatch.setattr(bonuses.lock_objects, "member_for_update", lambda pk: type(member).objects.get(pk=pk))
    assert lock_objects.member_for_update is not None
    results = run_at_once([lambda: services.award_bonus(member=member, kind="event")] * 10)
    assert [r for r in results if isinstance(r, Exception)] == []
    assert sum(r.awarded for r in results) == 1
    assert BonusAward.objects.filter(bonus__kind="event").count() == 1
    assert_ledger_invariants(member)


def test_simultaneous_sales_with_one_reference_sell_once():
    member = factories.member()
    plan = MembershipPlan.objects.get()
    results = run_at_once([lambda: services.buy_membership(member=member, plan=plan, external_ref="TILL-9")] * 10)
    assert [r for r in results if isinstance(r, Exception)] == []
    assert sorted(r.created for r in results) == [False] * 9 + [True]
    assert MembershipSubscription.objects.count() == 1
