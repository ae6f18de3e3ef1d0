"""Random sequences of top-up / pay / refund / cash-out / adjust / expire / gift keep stored value's
invariants: principal and bonus each equal their ledger sums, never below zero, the bonus lots hold
the bonus, and each operation moves exactly what its rule says (docs/rules/stored-value.md)."""

import datetime
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from rewards.errors import InsufficientBalance, PaymentRefundExceeded
from rewards.models import StoredValueEntry, TopUpRule
from rewards.services import stored_value
from tests.members import factories
from tests.rewards.helpers import next_ref
from tests.rewards.stored_value_helpers import assert_stored_value_invariants, balances

pytestmark = pytest.mark.django_db

D = Decimal
ZERO = D("0.00")
amounts = st.decimals(min_value=D("0.01"), max_value=D("2000"), places=2)


class StoredValueMachine(RuleBasedStateMachine):
    @initialize()
    def new_member(self):
        # The examples share one test transaction: lapse the dated bonus earlier examples' members
        # still hold, so the expiry rule below lapses this member's only.
        stored_value.expire_stored_value_bonuses(today=timezone.localdate() + datetime.timedelta(days=400))
        self.member = factories.member()
        # the examples share one test transaction: a new phone number each time
        self.phone = factories.next_phone()
        self.recipient = factories.member(phone=self.phone)
        self.rules = [
            TopUpRule.objects.create(name="500+50", pay_amount=D("500.00"), bonus_amount=D("50.00")),
            TopUpRule.objects.create(
                name="100+33.33 dated", pay_amount=D("100.00"), bonus_amount=D("33.33"), bonus_expires_after_days=5
            ),
            TopUpRule.objects.create(name="1+0.01", pay_amount=D("1.00"), bonus_amount=D("0.01")),
        ]
        self.payments = []
        # What the model expects, from each operation's own rule, not from the ledger.
        self.principal = self.bonus = ZERO

    @rule(amount=amounts, which=st.sampled_from([None, 0, 1, 2]))
    def top_up(self, amount, which):
        chosen = None if which is None else self.rules[which]
        if chosen is not None and amount < chosen.pay_amount:
            chosen = None
        result = stored_value.top_up(
            member=self.member, amount=amount, rule=chosen, external_ref=next_ref("TU"), payment_method="cash"
        )
        self.principal += amount
        self.bonus += chosen.bonus_amount if chosen else ZERO
        assert (result.principal, result.bonus) == (self.principal, self.bonus)

    @rule(share=st.sampled_from([D("0.01"), D("0.37"), D("0.5"), D("1"), D("1.01")]))
    def pay(self, share):
        total = self.principal + self.bonus
        amount = max(D("0.01"), (total * share).quantize(D("0.01")))
        try:
            result = stored_value.pay_from_balance(member=self.member, amount=amount, external_ref=next_ref("P"))
        except InsufficientBalance:
            assert amount > total
            return
        principal_share, bonus_share = -result.principal_delta, -result.bonus_delta
        assert principal_share + bonus_share == amount
        assert 0 <= principal_share <= self.principal and 0 <= bonus_share <= self.bonus
        # the principal share is the exact proportion, rounded to the cent
        assert abs(principal_share - amount * self.principal / total) <= D("0.005")
        self.principal -= principal_share
        self.bonus -= bonus_share
        self.payments.append(result.entry)

    @precondition(lambda self: self.payments)
    @rule(index=st.sampled_from([-1, 0, 1]), share=st.sampled_from([None, D("0.01"), D("0.5"), D("2")]))
    def refund(self, index, share):
        payment = self.payments[index % len(self.payments)]
        paid = -(payment.principal_delta + payment.bonus_delta)
        refunded = StoredValueEntry.objects.filter(refunded_payment=payment).aggregate(
            p=Sum("principal_delta"), b=Sum("bonus_delta")
        )
        left = paid - (refunded["p"] or ZERO) - (refunded["b"] or ZERO)
        amount = None if share is None else max(D("0.01"), (paid * share).quantize(D("0.01")))
        try:
            result = stored_value.refund_to_balance(payment=payment, amount=amount, external_ref=next_ref("R"))
        except PaymentRefundExceeded:
            assert left == 0 or (amount is not None and amount > left)
            return
        assert result.principal_delta + result.bonus_delta == (left if amount is None else amount)
        self.principal += result.principal_delta
        self.bonus += result.bonus_delta

    @rule()
    def cash_out(self):
        try:
            result = stored_value.cash_out(member=self.member, external_ref=next_ref("CO"))
        except InsufficientBalance:
            assert self.principal == 0
            return
        assert (result.principal_delta, result.bonus_delta) == (-self.principal, -self.bonus)
        self.principal = self.bonus = ZERO

    @rule(
        principal=st.decimals(min_value=D("-300"), max_value=D("300"), places=2),
        bonus=st.decimals(min_value=D("-30"), max_value=D("30"), places=2),
    )
    def adjust(self, principal, bonus):
        if not principal and not bonus:
            return
        try:
            stored_value.adjust_balance(
                member=self.member, principal_delta=principal, bonus_delta=bonus, reason="test", actor=None
            )
        except InsufficientBalance:
            assert self.principal + principal < 0 or self.bonus + bonus < 0
            return
        self.principal += principal
        self.bonus += bonus

    @rule()
    def expire_dated_bonuses(self):
        """Far in the future: every dated bonus lot lapses, the rest stays."""
        run = stored_value.expire_stored_value_bonuses(today=timezone.localdate() + datetime.timedelta(days=400))
        self.bonus -= run.amount
        assert self.bonus >= 0

    @rule(share=st.sampled_from([D("0.5"), D("1")]))
    def gift(self, share):
        amount = (self.principal * share).quantize(D("0.01"))
        if amount <= 0:
            return
        sent = stored_value.send_gift(
            buyer=self.member, recipient_phone=self.phone, amount=amount, external_ref=next_ref("G")
        )
        self.principal -= amount
        stored_value.claim_gift(code=sent.code, member=self.recipient)

    @invariant()
    def balances_match_the_model_and_the_ledger(self):
        if not hasattr(self, "member"):
            return
        assert balances(self.member) == (self.principal, self.bonus)
        assert_stored_value_invariants(self.member)
        assert_stored_value_invariants(self.recipient)

    @invariant()
    def refunds_never_return_more_than_their_payment_took(self):
        for payment in getattr(self, "payments", []):
            refunded = StoredValueEntry.objects.filter(refunded_payment=payment).aggregate(
                p=Sum("principal_delta"), b=Sum("bonus_delta")
            )
            assert (refunded["p"] or ZERO) <= -payment.principal_delta
            assert (refunded["b"] or ZERO) <= -payment.bonus_delta


def test_random_stored_value_operations_keep_the_invariants():
    run_state_machine_as_test(
        StoredValueMachine,
        settings=settings(
            max_examples=40, stateful_step_count=15, deadline=None, suppress_health_check=list(HealthCheck)
        ),
    )
