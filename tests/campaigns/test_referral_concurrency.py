"""Real threads on PostgreSQL: the referral reward and a partner offer are given once even when
postings race (each thread has its own connection; after-commit work runs for real)."""

import contextlib

import pytest

from campaigns import lock_objects
from campaigns.errors import PartnerCodeInvalid
from campaigns.models import PartnerCode, PartnerOfferIssue, ReferralReward
from campaigns.services import partners, referrals
from members.models import Member, Purchase
from rewards.models import BonusAward, Coupon, LedgerEntry
from tests.campaigns.referral_helpers import accept_pool, coupon_offer, referred_pair
from tests.rewards.helpers import assert_ledger_invariants, post
from tests.rewards.test_bonus_concurrency import _seeded_bonuses_and_plan  # noqa: F401 (autouse fixture)
from tests.rewards.test_concurrency import _seeded_tiers_and_rules, run_at_once  # noqa: F401 (autouse fixture)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def referral_rows(member) -> list[tuple[str, int]]:
    return sorted(
        LedgerEntry.objects.filter(
            member=member, kind=LedgerEntry.Kind.BONUS, reason_code__startswith="referral_"
        ).values_list("reason_code", "points")
    )


def test_two_first_purchases_posted_at_once_reward_once():
    referrer, referred = referred_pair()
    results = run_at_once([lambda i=i: post(referred, "150.00", ref=f"RACE-{i}") for i in range(8)])
    assert [r for r in results if isinstance(r, Exception)] == []
    assert Purchase.objects.filter(member=referred).count() == 8
    reward = ReferralReward.objects.get()
    assert reward.status == ReferralReward.Status.REWARDED
    assert BonusAward.objects.filter(member=referrer, bonus__kind="referral").count() == 1
    assert [points for _reason, points in referral_rows(referred)] == [100]
    assert_ledger_invariants(referrer)
    assert_ledger_invariants(referred)


@contextlib.contextmanager
def campaigns_not_listening():
    """Post without the after-commit referral reward (as if it had crashed)."""
    from campaigns.referral_receivers import on_purchase_recorded
    from members.signals import purchase_recorded

    uid = "campaigns-referral-and-partner-offers"
    purchase_recorded.disconnect(dispatch_uid=uid)
    try:
        yield
    finally:
        purchase_recorded.connect(on_purchase_recorded, dispatch_uid=uid)


def test_twenty_simultaneous_reward_calls_give_once():
    referrer, referred = referred_pair()
    with campaigns_not_listening():
        post(referred, "100.00", ref="ONE")
    assert ReferralReward.objects.count() == 0
    results = run_at_once([lambda: referrals.reward_referral(member=referred)] * 20)
    assert [r for r in results if isinstance(r, Exception)] == []
    assert sorted(r.created for r in results) == [False] * 19 + [True]
    assert ReferralReward.objects.count() == 1
    assert BonusAward.objects.filter(member=referrer, bonus__kind="referral").count() == 1
    assert [points for _reason, points in referral_rows(referred)] == [100]


def test_the_database_refuses_a_second_reward_even_without_the_member_locks(monkeypatch):
    """Take the row locks away: the unique referred-member constraint still makes it once."""
    _referrer, referred = referred_pair()
    with campaigns_not_listening():
        post(referred, "100.00", ref="ONE")
    monkeypatch.setattr(lock_objects, "members_for_update", lambda ids: list(Member.objects.filter(pk__in=ids)))
    results = run_at_once([lambda: referrals.reward_referral(member=referred)] * 10)
    assert [r for r in results if isinstance(r, Exception)] == []
    assert sum(r.created for r in results) == 1
    assert ReferralReward.objects.count() == 1
    assert [points for _reason, points in referral_rows(referred)] == [100]


def test_one_purchase_gets_an_offer_once_when_issued_at_once():
    offer = coupon_offer()
    _referrer, member = referred_pair()
    purchase = post(member, "250.00", ref="BIG-1").purchase  # the offer is issued after commit
    results = run_at_once([lambda: partners.issue_offer(offer=offer, purchase=purchase)] * 10)
    assert [r for r in results if isinstance(r, Exception)] == []
    assert PartnerOfferIssue.objects.filter(offer=offer, purchase=purchase).count() == 1
    assert Coupon.objects.filter(source=Coupon.Source.PARTNER).count() == 1


def test_one_partner_code_accepted_at_two_tills_at_once_is_used_once():
    pool = accept_pool()
    PartnerCode.objects.create(pool=pool, code="BANK2026AAAA")
    _referrer, member = referred_pair()
    results = run_at_once(
        [
            lambda i=i: partners.accept_partner_code(code="BANK2026AAAA", member=member, external_ref=f"T-{i}")
            for i in range(6)
        ]
    )
    accepted = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, PartnerCodeInvalid)]
    assert len(accepted) == 1 and len(refused) == 5
    assert {r.reason for r in refused} == {"used"}
    assert Coupon.objects.filter(source=Coupon.Source.PARTNER).count() == 1
