"""Referral (推荐有礼): both members rewarded once on the referred member's first purchase."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.models import ReferralProgramme, ReferralReward
from campaigns.services.referrals import reward_referral
from members.models import Member
from rewards.models import ActivityBonus, BonusAward, Coupon
from rewards.services import refund_purchase
from tests.campaigns.referral_helpers import bonus_points, post_committed, programme, referred_pair
from tests.members import factories
from tests.rewards.catalogue_factories import template
from tests.rewards.helpers import account_of, assert_ledger_invariants, post

pytestmark = pytest.mark.django_db


def test_first_purchase_rewards_both_with_the_default_programme(django_capture_on_commit_callbacks):
    referrer, referred = referred_pair()
    post_committed(django_capture_on_commit_callbacks, referred, "350.00")
    reward = ReferralReward.objects.get()
    assert (reward.referrer, reward.referred, reward.status) == (referrer, referred, "rewarded")
    # The referrer: the seeded "Referral" activity bonus (200, once per referred member).
    assert (reward.referrer_points, reward.referred_points) == (200, 100)
    assert bonus_points(referrer) == [200]
    assert bonus_points(referred) == [100]
    award = BonusAward.objects.get(member=referrer, bonus__kind=ActivityBonus.Kind.REFERRAL)
    assert award.reference == referred.member_no
    assert account_of(referred).balance == 350 + 100
    assert_ledger_invariants(referrer)
    assert_ledger_invariants(referred)


def test_second_purchase_gives_nothing_more(django_capture_on_commit_callbacks):
    referrer, referred = referred_pair()
    post_committed(django_capture_on_commit_callbacks, referred, "100.00")
    post_committed(django_capture_on_commit_callbacks, referred, "500.00")
    assert ReferralReward.objects.count() == 1
    assert bonus_points(referrer) == [200]
    assert bonus_points(referred) == [100]


def test_refund_and_re_post_of_the_first_purchase_rewards_once(django_capture_on_commit_callbacks):
    referrer, referred = referred_pair()
    at = timezone.now() - datetime.timedelta(hours=2)
    first = post_committed(django_capture_on_commit_callbacks, referred, "300.00", ref="TILL-1", ordered_at=at)
    with django_capture_on_commit_callbacks(execute=True):
        refund_purchase(purchase=first.purchase, external_ref="TILL-1-R")
    # The reward stays (no claw-back) ...
    reward = ReferralReward.objects.get()
    assert reward.purchase == first.purchase
    assert bonus_points(referrer) == [200]
    # ... and the same sale posted again (a new reference, or the same one replayed) gives nothing.
    post_committed(django_capture_on_commit_callbacks, referred, "300.00", ref="TILL-1-AGAIN")
    replay = post_committed(django_capture_on_commit_callbacks, referred, "300.00", ref="TILL-1", ordered_at=at)
    assert replay.created is False
    assert ReferralReward.objects.count() == 1
    assert bonus_points(referrer) == [200]
    assert bonus_points(referred) == [100]
    assert_ledger_invariants(referred)


def test_calling_the_service_again_answers_the_first_reward(django_capture_on_commit_callbacks):
    _referrer, referred = referred_pair()
    post_committed(django_capture_on_commit_callbacks, referred)
    again = reward_referral(member=referred)
    assert again.created is False
    assert again.reward == ReferralReward.objects.get()


def test_a_member_nobody_referred_gets_nothing(django_capture_on_commit_callbacks):
    member = factories.member()
    post_committed(django_capture_on_commit_callbacks, member)
    assert ReferralReward.objects.count() == 0
    assert reward_referral(member=member).reward is None
    assert bonus_points(member) == []


def test_no_reward_before_a_purchase():
    _referrer, referred = referred_pair()
    assert reward_referral(member=referred).reward is None
    assert ReferralReward.objects.count() == 0


def test_inactive_programme_records_the_first_purchase_unrewarded_for_good(django_capture_on_commit_callbacks):
    programme(is_active=False)
    referrer, referred = referred_pair()
    post_committed(django_capture_on_commit_callbacks, referred)
    reward = ReferralReward.objects.get()
    assert reward.status == ReferralReward.Status.NOT_REWARDED
    assert "off" in reward.note
    assert bonus_points(referrer) == bonus_points(referred) == []
    # Switching the programme on later does not reward a first purchase made while it was off.
    programme(is_active=True)
    post_committed(django_capture_on_commit_callbacks, referred)
    assert ReferralReward.objects.get().status == ReferralReward.Status.NOT_REWARDED
    assert bonus_points(referrer) == []


def test_self_referral_is_impossible(django_capture_on_commit_callbacks):
    member = factories.member()
    # No member can be created with their own code (it does not exist before them) ...
    with pytest.raises(Exception, match="referral code"):
        factories.member(referral_code="NOSUCHCODE")
    # ... and a forced self-reference (not possible through the admin or the API) rewards nothing.
    Member.objects.filter(pk=member.pk).update(referred_by=member)
    post_committed(django_capture_on_commit_callbacks, member)
    assert ReferralReward.objects.count() == 0
    assert bonus_points(member) == []


def test_the_database_refuses_a_self_referral_reward():
    from django.db import IntegrityError

    member = factories.member()
    purchase = factories.purchase(member)
    with pytest.raises(IntegrityError):
        ReferralReward.objects.create(referred=member, referrer=member, purchase=purchase, status="rewarded")


def test_fixed_points_and_coupons_for_both(django_capture_on_commit_callbacks):
    welcome = template(name="新客 ¥30", value="30.00")
    thanks = template(name="推荐 ¥50", value="50.00")
    programme(
        referrer_points_mode=ReferralProgramme.ReferrerPoints.FIXED,
        referrer_points=300,
        referrer_coupon_template=thanks,
        referred_points=0,
        referred_coupon_template=welcome,
    )
    referrer, referred = referred_pair()
    post_committed(django_capture_on_commit_callbacks, referred)
    reward = ReferralReward.objects.get()
    assert (reward.referrer_points, reward.referred_points) == (300, 0)
    assert bonus_points(referrer) == [300]
    assert bonus_points(referred) == []
    assert (reward.referrer_coupon.member, reward.referrer_coupon.template) == (referrer, thanks)
    assert (reward.referred_coupon.member, reward.referred_coupon.template) == (referred, welcome)
    assert set(Coupon.objects.values_list("source", flat=True)) == {Coupon.Source.REFERRAL}
    # The activity bonus was not used.
    assert not BonusAward.objects.filter(bonus__kind=ActivityBonus.Kind.REFERRAL).exists()


@pytest.mark.parametrize(("paid", "expected"), [("350.00", 35), ("99.99", 9), ("5.00", 0)])
def test_referrer_points_follow_the_first_purchase(django_capture_on_commit_callbacks, paid, expected):
    programme(referrer_points_mode=ReferralProgramme.ReferrerPoints.PERCENT, referrer_percent=Decimal("10"))
    referrer, referred = referred_pair()
    post_committed(django_capture_on_commit_callbacks, referred, paid)
    reward = ReferralReward.objects.get()
    assert reward.referrer_points == expected
    assert bonus_points(referrer) == ([expected] if expected else [])


def test_percentage_counts_the_first_purchase_not_a_later_one(django_capture_on_commit_callbacks):
    """A reward missed at the first purchase (the handler failed) is given on the next one, still
    counted on the first."""
    programme(referrer_points_mode=ReferralProgramme.ReferrerPoints.PERCENT, referrer_percent=Decimal("10"))
    _referrer, referred = referred_pair()
    first = post(referred, "200.00")  # its after-commit work never runs (a crash, say)
    post_committed(django_capture_on_commit_callbacks, referred, "900.00")
    reward = ReferralReward.objects.get()
    assert reward.purchase == first.purchase
    assert reward.referrer_points == 20


def test_an_inactive_coupon_template_skips_the_coupon_and_keeps_the_points(django_capture_on_commit_callbacks):
    programme(referred_coupon_template=template(name="已停用", is_active=False))
    _referrer, referred = referred_pair()
    post_committed(django_capture_on_commit_callbacks, referred)
    reward = ReferralReward.objects.get()
    assert reward.referred_coupon is None
    assert reward.referred_points == 100
    assert "No coupon" in reward.note


def test_a_frozen_referrer_gets_nothing_but_the_referred_member_does(django_capture_on_commit_callbacks):
    referrer, referred = referred_pair()
    Member.objects.filter(pk=referrer.pk).update(status=Member.Status.FROZEN)
    post_committed(django_capture_on_commit_callbacks, referred)
    reward = ReferralReward.objects.get()
    assert reward.status == ReferralReward.Status.REWARDED
    assert (reward.referrer_points, reward.referred_points) == (0, 100)
    assert bonus_points(referrer) == []


def test_a_failing_reward_never_fails_the_posting(django_capture_on_commit_callbacks, monkeypatch, caplog):
    from campaigns.services import referrals

    def boom(**kwargs):
        raise RuntimeError("reward broke")

    monkeypatch.setattr(referrals, "reward_referral", boom)
    _referrer, referred = referred_pair()
    result = post_committed(django_capture_on_commit_callbacks, referred, "120.00")
    assert result.points_earned == 120
    assert ReferralReward.objects.count() == 0
    assert "reward broke" in caplog.text


def test_a_rolled_back_posting_rewards_nothing(django_capture_on_commit_callbacks):
    from django.db import transaction

    _referrer, referred = referred_pair()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        post(referred, "100.00")
        raise RuntimeError("till crashed")
    assert ReferralReward.objects.count() == 0


def test_programme_needs_its_figures_for_fixed_and_percentage_modes():
    from django.core.exceptions import ValidationError

    p = ReferralProgramme.load()
    p.referrer_points_mode = ReferralProgramme.ReferrerPoints.FIXED
    with pytest.raises(ValidationError, match="points"):
        p.full_clean()
    p.referrer_points_mode = ReferralProgramme.ReferrerPoints.PERCENT
    with pytest.raises(ValidationError, match="percentage"):
        p.full_clean()
    p.referrer_percent = Decimal("101")
    with pytest.raises(ValidationError):
        p.full_clean()
