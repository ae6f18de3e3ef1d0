"""Random sequences of earn / refund / adjust keep the ledger invariants (docs/design.md 1, 3, 4)."""

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

from rewards import services
from rewards.errors import AlreadyRefunded, InsufficientPoints, RefundExceedsPurchase
from rewards.models import PointsAccount, PurchasePosting
from tests.members import factories
from tests.rewards.helpers import assert_ledger_invariants, next_ref, post

pytestmark = pytest.mark.django_db

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("3000"), places=2)


class LedgerMachine(RuleBasedStateMachine):
    @initialize()
    def new_member(self):
        factories.product()
        self.member = factories.member()
        self.purchases = []

    @rule(amount=amounts, days_ago=st.sampled_from([0, 30, 400, 1200]))
    def earn(self, amount, days_ago):
        ordered_at = timezone.now() - datetime.timedelta(days=days_ago, hours=1)
        result = post(self.member, str(amount), ordered_at=ordered_at)
        self.purchases.append(result.purchase)

    @precondition(lambda self: self.purchases)
    @rule(
        index=st.sampled_from([-1, -1, 0, 1]),
        share=st.sampled_from([None, Decimal("0.1"), Decimal("0.5"), Decimal("1")]),
    )
    def refund(self, index, share):
        purchase = self.purchases[index % len(self.purchases)]  # -1: the latest, most often
        purchase.refresh_from_db()
        left = purchase.total - purchase.refunded_total
        amount = None if share is None else max(Decimal("0.01"), (left * share).quantize(Decimal("0.01")))
        try:
            services.refund_purchase(purchase=purchase, external_ref=next_ref("R"), amount=amount)
        except AlreadyRefunded:
            assert left == 0
        except RefundExceedsPurchase as exc:  # only when the amount is more than what is left
            assert amount is not None and amount > left, exc

    @rule(points=st.integers(min_value=-500, max_value=500).filter(bool))
    def adjust(self, points):
        account = PointsAccount.objects.filter(member=self.member).first()
        before = account.balance if account else 0
        try:
            services.adjust_points(member=self.member, points=points, reason="test", actor=None)
        except InsufficientPoints:
            assert points < 0 and before < -points

    @rule(share=st.sampled_from([Decimal("0.5"), Decimal("1")]))
    def spend(self, share):
        """Spend part of the balance (as a redemption would), so later refunds can make a debt."""
        account = PointsAccount.objects.filter(member=self.member).first()
        points = int((account.balance if account else 0) * share)
        if points > 0:
            services.adjust_points(member=self.member, points=-points, reason="spent", actor=None)

    @invariant()
    def ledger_matches_account(self):
        if hasattr(self, "member"):
            assert_ledger_invariants(self.member)

    @invariant()
    def refunds_never_reverse_more_than_earned(self):
        for posting in PurchasePosting.objects.filter(purchase__member=getattr(self, "member", None)):
            assert 0 <= posting.points_reversed <= posting.points_earned

    @invariant()
    def lifetime_spend_is_net_of_refunds(self):
        if not hasattr(self, "member"):
            return
        totals = PurchasePosting.objects.filter(purchase__member=self.member).aggregate(
            paid=Sum("purchase__total"), refunded=Sum("purchase__refunded_total")
        )
        net = (totals["paid"] or 0) - (totals["refunded"] or 0)
        account = PointsAccount.objects.filter(member=self.member).first()
        assert (account.lifetime_spend if account else 0) == net


def test_random_ledger_operations_keep_the_invariants():
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=50, stateful_step_count=12, deadline=None, suppress_health_check=list(HealthCheck)
        ),
    )
