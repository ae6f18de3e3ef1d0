"""redeem_reward and cancel_redemption: the rules, idempotency, stock and the ledger invariants."""

import contextlib
import datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.utils import timezone

from members.services import MemberErased, erase_member
from rewards.errors import (
    AlreadyCancelled,
    CouponLimitReached,
    CouponUsed,
    IdempotencyConflict,
    InsufficientPoints,
    OutOfStock,
    RewardLimitReached,
    RewardUnavailable,
)
from rewards.models import Coupon, LedgerEntry, PointsLot, Redemption, Reward, RewardKind
from rewards.services import coupons as coupon_services
from rewards.services.integrity import find_balance_mismatches
from rewards.services.redemptions import cancel_redemption, redeem_reward
from tests.rewards import catalogue_factories as cf
from tests.rewards.helpers import account_of, assert_ledger_invariants, post

pytestmark = pytest.mark.django_db

SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))


def redeem(member, reward, quantity=1, key=None, actor=None):
    return redeem_reward(
        member=member, reward=reward, quantity=quantity, idempotency_key=key or cf.next_key(), actor=actor
    )


def snapshot(member, reward):
    """Everything a refused redemption must leave as it was."""
    reward.refresh_from_db()
    return (
        account_of(member).balance,
        reward.stock,
        LedgerEntry.objects.count(),
        Redemption.objects.count(),
        Coupon.objects.count(),
        list(PointsLot.objects.order_by("pk").values_list("remaining", flat=True)),
    )


def test_redemption_debits_points_takes_stock_and_writes_a_spend_row():
    member = cf.funded_member(500)
    reward = cf.reward(points_cost=120, stock=3)
    result = redeem(member, reward, quantity=2)
    assert result.created
    assert (result.points_spent, result.points_balance) == (240, 260)
    reward.refresh_from_db()
    assert reward.stock == 1
    entry = result.redemption.spend_entry
    assert (entry.kind, entry.points, entry.balance_after) == ("spend", -240, 260)
    assert account_of(member).balance == 260
    assert_ledger_invariants(member)


def test_redemption_spends_the_oldest_lots_first_and_remembers_their_dates():
    member = cf.funded_member(0)
    with time_machine.travel(datetime.datetime(2025, 3, 1, 10, tzinfo=SHANGHAI), tick=False):
        post(member, "80.00")  # earned 2025 → expires 2026-12-31
    with time_machine.travel(datetime.datetime(2026, 3, 1, 10, tzinfo=SHANGHAI), tick=False):
        post(member, "100.00")  # earned 2026 → expires 2027-12-31
        result = redeem(member, cf.reward(points_cost=150))
    assert result.redemption.lots_taken == [["2026-12-31", 80], ["2027-12-31", 70]]
    assert list(PointsLot.objects.order_by("expires_on").values_list("remaining", flat=True)) == [0, 30]


@pytest.mark.parametrize("balance", [0, 99])
def test_redemption_is_refused_when_the_balance_is_short_and_nothing_changes(balance):
    member = cf.funded_member(balance)
    reward = cf.reward(points_cost=100, stock=5)
    before = snapshot(member, reward) if balance else None
    with pytest.raises(InsufficientPoints):
        redeem(member, reward)
    if before:
        assert snapshot(member, reward) == before
    reward.refresh_from_db()
    assert reward.stock == 5
    assert not Redemption.objects.exists()


def test_redemption_is_refused_when_stock_is_short_and_nothing_changes():
    member = cf.funded_member(1000)
    reward = cf.reward(points_cost=100, stock=1)
    before = snapshot(member, reward)
    with pytest.raises(OutOfStock) as error:
        redeem(member, reward, quantity=2)
    assert "Only 1" in error.value.detail
    assert snapshot(member, reward) == before


def test_unlimited_stock_stays_unlimited():
    member = cf.funded_member(1000)
    reward = cf.reward(points_cost=10, stock=None)
    redeem(member, reward, quantity=5)
    reward.refresh_from_db()
    assert reward.stock is None


def test_inactive_reward_is_unavailable():
    member = cf.funded_member(1000)
    reward = cf.reward(is_active=False)
    with pytest.raises(RewardUnavailable, match="not offered"):
        redeem(member, reward)


def test_reward_outside_its_dates_is_unavailable():
    member = cf.funded_member(1000)
    now = timezone.now()
    later = cf.reward(name="later", valid_from=now + datetime.timedelta(days=1))
    ended = cf.reward(name="ended", valid_until=now - datetime.timedelta(minutes=1))
    with pytest.raises(RewardUnavailable, match="can be redeemed from"):
        redeem(member, later)
    with pytest.raises(RewardUnavailable, match="could be redeemed until"):
        redeem(member, ended)
    assert account_of(member).balance == 1000


def test_tier_restricted_reward_needs_the_tier():
    member = cf.funded_member(1000)
    reward = cf.reward(min_tier="gold")
    with pytest.raises(RewardUnavailable, match="Gold members and above"):
        redeem(member, reward)
    post(member, "5000.00")  # lifetime spend 5,000 → Gold
    assert account_of(member).tier.code == "gold"
    assert redeem(member, reward).created


def test_paid_members_only_reward_needs_a_plan_with_member_only_rewards_in_force(manager):
    from rewards.models import MembershipPlan
    from rewards.selectors import rewards_available_to
    from rewards.services import buy_membership, cancel_membership

    member = cf.funded_member(1000)
    reward = cf.reward(plan_members_only=True)
    available = lambda: list(rewards_available_to(Reward.objects.all(), member))  # noqa: E731
    before = snapshot(member, reward)
    with pytest.raises(RewardUnavailable, match="paid members only"):
        redeem(member, reward)
    assert snapshot(member, reward) == before
    assert reward not in available()

    plain = MembershipPlan.objects.create(code="basic", name="Basic", price="9.00", member_only_rewards=False)
    buy_membership(member=member, plan=plain, external_ref="PLAN-1")
    with pytest.raises(RewardUnavailable, match="paid members only"):
        redeem(member, reward)

    cancel_membership(subscription=member.memberships.get(), actor=manager)
    plus = MembershipPlan.objects.get(code="annual-plus")
    assert plus.member_only_rewards
    buy_membership(member=member, plan=plus, external_ref="PLAN-2")
    assert reward in available()
    assert redeem(member, reward).created


def test_per_member_limit_counts_units_and_ignores_cancelled_redemptions():
    member = cf.funded_member(1000)
    reward = cf.reward(per_member_limit=2)
    first = redeem(member, reward, quantity=2)
    with pytest.raises(RewardLimitReached):
        redeem(member, reward)
    cancel_redemption(redemption=first.redemption)
    assert redeem(member, reward, quantity=2).created
    assert redeem(cf.funded_member(1000, name="另一位"), reward).created  # per member


def test_erased_member_cannot_redeem(manager):
    member = cf.funded_member(1000)
    erase_member(member=member, actor=manager)
    with pytest.raises(MemberErased):
        redeem(member, cf.reward())


@pytest.mark.parametrize("quantity", [0, -1, 101, True])
def test_quantity_must_be_a_whole_number_from_1_to_100(quantity):
    with pytest.raises(ValidationError):
        redeem(cf.funded_member(1000), cf.reward(), quantity=quantity)


def test_idempotency_key_is_required():
    with pytest.raises(ValidationError):
        redeem_reward(member=cf.funded_member(100), reward=cf.reward(), idempotency_key=" ")


def test_same_key_same_request_answers_the_first_result_without_writing():
    member = cf.funded_member(1000)
    reward = cf.reward(points_cost=100, stock=10)
    first = redeem(member, reward, key="K-1")
    entries = LedgerEntry.objects.count()
    again = redeem(member, reward, key="K-1")
    assert not again.created
    assert again.redemption.pk == first.redemption.pk
    assert (again.points_spent, again.points_balance) == (100, 900)
    assert LedgerEntry.objects.count() == entries
    reward.refresh_from_db()
    assert reward.stock == 9


def test_same_key_different_request_is_an_idempotency_conflict():
    member = cf.funded_member(1000)
    reward = cf.reward()
    redeem(member, reward, key="K-2")
    with pytest.raises(IdempotencyConflict):
        redeem(member, reward, quantity=2, key="K-2")
    with pytest.raises(IdempotencyConflict):
        redeem(cf.funded_member(1000, name="别人"), reward, key="K-2")
    with pytest.raises(IdempotencyConflict):
        redeem(member, cf.reward(name="other"), key="K-2")


def test_a_refused_key_may_be_retried_once_the_member_has_the_points():
    member = cf.funded_member(50)
    reward = cf.reward(points_cost=100)
    with pytest.raises(InsufficientPoints):
        redeem(member, reward, key="K-3")
    post(member, "60.00")
    assert redeem(member, reward, key="K-3").created


def test_coupon_reward_issues_one_coupon_per_unit_to_the_member():
    member = cf.funded_member(1000)
    reward = cf.reward(kind=RewardKind.COUPON, points_cost=50)
    result = redeem(member, reward, quantity=2)
    assert len(result.coupons) == 2
    assert {(c.member_id, c.source, c.status, c.redemption_id) for c in result.coupons} == {
        (member.pk, "redemption", "issued", result.redemption.pk)
    }
    assert redeem(member, reward, key="again").coupon is not None


def test_coupon_reward_over_the_coupon_limit_rolls_everything_back():
    member = cf.funded_member(1000)
    reward = cf.reward(kind=RewardKind.COUPON, coupon_template=cf.template(per_member_limit=1), stock=5)
    redeem(member, reward)
    before = snapshot(member, reward)
    with pytest.raises(CouponLimitReached):
        redeem(member, reward)
    assert snapshot(member, reward) == before


# --- cancellation ----------------------------------------------------------------------------


def test_cancelling_returns_points_and_stock_and_voids_the_coupon(manager):
    member = cf.funded_member(300)
    reward = cf.reward(kind=RewardKind.COUPON, points_cost=100, stock=2)
    result = redeem(member, reward)
    cancelled = cancel_redemption(redemption=result.redemption, actor=manager, reason="customer changed mind")
    assert (cancelled.points_returned, cancelled.points_balance) == (100, 300)
    reward.refresh_from_db()
    assert reward.stock == 2
    coupon = Coupon.objects.get()
    assert coupon.status == "void"
    redemption = Redemption.objects.get()
    assert (redemption.status, redemption.cancelled_by, redemption.points_returned) == ("cancelled", manager, 100)
    row = LedgerEntry.objects.filter(kind="redemption_return").get()
    assert (row.points, row.actor) == (100, manager)
    assert "customer changed mind" in row.reason
    assert_ledger_invariants(member)
    assert find_balance_mismatches() == []


def test_returned_points_do_not_count_as_earned_again():
    member = cf.funded_member(300)
    earned = account_of(member).lifetime_earned
    cancel_redemption(redemption=redeem(member, cf.reward(points_cost=100)).redemption)
    assert account_of(member).lifetime_earned == earned


def test_returned_points_keep_the_expiry_dates_they_had():
    member = cf.funded_member(0)
    with time_machine.travel(datetime.datetime(2025, 3, 1, 10, tzinfo=SHANGHAI), tick=False):
        post(member, "80.00")
    with time_machine.travel(datetime.datetime(2026, 3, 1, 10, tzinfo=SHANGHAI), tick=False):
        post(member, "100.00")
        redemption = redeem(member, cf.reward(points_cost=150)).redemption
        cancel_redemption(redemption=redemption)
    returned = PointsLot.objects.filter(entry__kind="redemption_return").order_by("expires_on")
    assert [(lot.expires_on.isoformat(), lot.points, lot.remaining) for lot in returned] == [
        ("2026-12-31", 80, 80),
        ("2027-12-31", 70, 70),
    ]
    assert account_of(member).balance == 180
    assert_ledger_invariants(member)


def test_returned_points_whose_date_has_passed_expire_at_once():
    member = cf.funded_member(0)
    with time_machine.travel(datetime.datetime(2025, 3, 1, 10, tzinfo=SHANGHAI), tick=False):
        post(member, "100.00")  # expires 2026-12-31
    with time_machine.travel(datetime.datetime(2026, 12, 30, 10, tzinfo=SHANGHAI), tick=False):
        redemption = redeem(member, cf.reward(points_cost=100)).redemption
    with time_machine.travel(datetime.datetime(2027, 1, 5, 10, tzinfo=SHANGHAI), tick=False):
        result = cancel_redemption(redemption=redemption)
    assert result.points_balance == 0
    kinds = list(LedgerEntry.objects.order_by("pk").values_list("kind", "points"))
    assert kinds[-2:] == [("redemption_return", 100), ("expire", -100)]
    assert_ledger_invariants(member)


def test_cancelling_twice_is_refused():
    member = cf.funded_member(300)
    redemption = redeem(member, cf.reward()).redemption
    cancel_redemption(redemption=redemption)
    with pytest.raises(AlreadyCancelled):
        cancel_redemption(redemption=redemption)
    assert account_of(member).balance == 300


def test_cancelling_after_the_coupon_was_used_is_refused_and_changes_nothing():
    member = cf.funded_member(300)
    reward = cf.reward(kind=RewardKind.COUPON, points_cost=100, stock=4)
    result = redeem(member, reward)
    coupon_services.redeem_coupon(code=result.coupon.code, member=member, external_ref="ORDER-9")
    before = snapshot(member, reward)
    with pytest.raises(CouponUsed):
        cancel_redemption(redemption=result.redemption)
    assert snapshot(member, reward) == before
    assert Redemption.objects.get().status == "completed"


def test_the_ledger_sums_to_the_balance_after_many_redemptions_and_cancellations():
    member = cf.funded_member(1000)
    rewards = [cf.reward(name=f"r{i}", points_cost=30 + i * 20, stock=3) for i in range(3)]
    done = []
    for index in range(9):
        with contextlib.suppress(OutOfStock, InsufficientPoints):
            done.append(redeem(member, rewards[index % 3]).redemption)
        if index % 4 == 3 and done:
            cancel_redemption(redemption=done.pop(0))
    assert_ledger_invariants(member)
    spent = Redemption.objects.filter(status="completed").aggregate(s=Sum("points_spent"))["s"]
    assert account_of(member).balance == 1000 - spent
    for reward in rewards:
        reward.refresh_from_db()
        held = Redemption.objects.filter(reward=reward, status="completed").aggregate(s=Sum("quantity"))["s"] or 0
        assert reward.stock == 3 - held


def test_stock_cannot_go_below_zero_in_the_database():
    from django.db import IntegrityError, transaction

    reward = cf.reward(stock=0)
    with pytest.raises(IntegrityError), transaction.atomic():
        Reward.objects.filter(pk=reward.pk).update(stock=-1)
