"""Stored value under real threads on PostgreSQL: each thread has its own connection and transaction."""

from decimal import Decimal

import pytest

from rewards.errors import InsufficientBalance
from rewards.models import StoredValueEntry, TopUp, TopUpRule
from rewards.services import stored_value
from tests.members import factories
from tests.rewards.helpers import reseed_after_flush
from tests.rewards.stored_value_helpers import assert_stored_value_invariants, balances, fund
from tests.rewards.test_concurrency import run_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
D = Decimal


@pytest.fixture(autouse=True)
def _seeded_tiers_and_rules(transactional_db):
    """A transactional test before this one may have flushed the migrations' seed rows."""
    reseed_after_flush()


def test_forty_payments_of_100_at_once_against_1000_give_exactly_ten():
    member = factories.member()
    fund(member, "1000.00")

    calls = [
        (lambda i=i: stored_value.pay_from_balance(member=member, amount="100.00", external_ref=f"PAY-{i}"))
        for i in range(40)
    ]
    results = run_at_once(calls)

    successes = [r for r in results if not isinstance(r, Exception)]
    refusals = [r for r in results if isinstance(r, InsufficientBalance)]
    assert (len(successes), len(refusals)) == (10, 30), [r for r in results if isinstance(r, Exception)][:3]
    assert balances(member) == (D("0.00"), D("0.00"))
    assert StoredValueEntry.objects.filter(kind=StoredValueEntry.Kind.PAYMENT).count() == 10
    assert_stored_value_invariants(member)


def test_twenty_identical_top_ups_at_once_record_one():
    member = factories.member()
    offer = TopUpRule.objects.create(name="充500送50", pay_amount=D("500.00"), bonus_amount=D("50.00"))

    def top_up():
        return stored_value.top_up(
            member=member, amount="500.00", rule=offer, external_ref="TU-RACE", payment_method="wechat_pay"
        )

    results = run_at_once([top_up] * 20)

    assert [r for r in results if isinstance(r, Exception)] == []
    assert sorted(r.created for r in results) == [False] * 19 + [True]
    assert {r.top_up.pk for r in results} == {TopUp.objects.get().pk}
    assert {(r.principal, r.bonus) for r in results} == {(D("500.00"), D("50.00"))}
    assert balances(member) == (D("500.00"), D("50.00"))
    assert_stored_value_invariants(member)


def test_the_same_reference_for_two_members_at_once_is_written_once_and_conflicts_once():
    first, second = factories.member(), factories.member()

    results = run_at_once(
        [
            lambda: fund(first, "100.00", external_ref="TU-SHARED"),
            lambda: fund(second, "100.00", external_ref="TU-SHARED"),
        ]
    )

    assert sorted(type(r).__name__ for r in results) == ["IdempotencyConflict", "TopUpResult"]
    assert TopUp.objects.count() == 1


def test_a_refund_racing_payments_and_a_top_up_leaves_the_sums_right():
    member = factories.member()
    fund(member, "500.00", with_rule=TopUpRule.objects.create(name="r", pay_amount=D("500"), bonus_amount=D("50")))
    payment = stored_value.pay_from_balance(member=member, amount="220.00", external_ref="PAY-0").entry

    calls = [
        lambda: stored_value.refund_to_balance(payment=payment, amount="110.00", external_ref="R-1"),
        lambda: stored_value.refund_to_balance(payment=payment, amount="110.00", external_ref="R-2"),
        lambda: stored_value.refund_to_balance(payment=payment, amount="110.00", external_ref="R-3"),
        lambda: stored_value.pay_from_balance(member=member, amount="300.00", external_ref="PAY-1"),
        lambda: stored_value.pay_from_balance(member=member, amount="300.00", external_ref="PAY-2"),
        lambda: fund(member, "100.00"),
    ]
    results = run_at_once(calls)

    refunds = [r for r in results[:3] if not isinstance(r, Exception)]
    assert len(refunds) == 2  # 220 paid: two refunds of 110, the third refused
    assert sum((r.principal_delta + r.bonus_delta for r in refunds), D(0)) == D("220.00")
    unexpected = [
        r
        for r in results
        if isinstance(r, Exception) and r.code not in {"refund_exceeds_payment", "insufficient_balance"}
    ]
    assert unexpected == []
    paid = sum(1 for r in results[3:5] if not isinstance(r, Exception))
    principal, bonus = balances(member)
    assert principal + bonus == D("550.00") + D("100.00") - paid * D("300.00")
    assert_stored_value_invariants(member)
