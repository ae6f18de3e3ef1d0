"""Helpers for the stored-value tests: rules, a funded member, and the ledger invariants."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Sum

from rewards.models import StoredValueAccount, StoredValueBonusLot, StoredValueEntry, TopUpRule
from rewards.services import stored_value
from tests.rewards.helpers import next_ref

ZERO = Decimal("0.00")


def rule(pay: str = "500.00", bonus: str = "50.00", **kwargs) -> TopUpRule:
    return TopUpRule.objects.create(
        name=kwargs.pop("name", f"充{pay}送{bonus}"), pay_amount=Decimal(pay), bonus_amount=Decimal(bonus), **kwargs
    )


def fund(member, amount: str = "500.00", *, with_rule: TopUpRule | None = None, **kwargs):
    return stored_value.top_up(
        member=member,
        amount=amount,
        rule=with_rule,
        external_ref=kwargs.pop("external_ref", None) or next_ref("TU"),
        payment_method=kwargs.pop("payment_method", "cash"),
        **kwargs,
    )


def account(member) -> StoredValueAccount:
    return StoredValueAccount.objects.get(member=member)


def balances(member) -> tuple[Decimal, Decimal]:
    found = StoredValueAccount.objects.filter(member=member).first()
    return (found.principal, found.bonus) if found else (ZERO, ZERO)


def assert_stored_value_invariants(member) -> None:
    """Principal and bonus each equal their ledger sums and are ≥ 0; the bonus lots hold the bonus;
    every row's `after` figures chain from the previous row's."""
    found = StoredValueAccount.objects.filter(member=member).first()
    if found is None:
        assert not StoredValueEntry.objects.filter(member=member).exists()
        return
    sums = StoredValueEntry.objects.filter(account=found).aggregate(p=Sum("principal_delta"), b=Sum("bonus_delta"))
    assert found.principal == (sums["p"] or ZERO)
    assert found.bonus == (sums["b"] or ZERO)
    assert found.principal >= 0 and found.bonus >= 0
    lots = StoredValueBonusLot.objects.filter(account=found).aggregate(s=Sum("remaining"))["s"] or ZERO
    assert lots == found.bonus
    principal = bonus = ZERO
    for entry in StoredValueEntry.objects.filter(account=found).order_by("id"):
        principal += entry.principal_delta
        bonus += entry.bonus_delta
        assert (entry.principal_after, entry.bonus_after) == (principal, bonus)
