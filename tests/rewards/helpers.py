"""Helpers for rewards tests: post purchases through the service and check the ledger invariants."""

from __future__ import annotations

import datetime
import importlib
import itertools
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from members.services import PurchaseLine
from rewards import services
from rewards.models import ActivityBonus, EarnRule, LedgerEntry, PointsAccount, PointsLot, Tier

_refs = itertools.count(1)


def next_ref(prefix: str = "POS") -> str:
    return f"{prefix}-{next(_refs):07d}"


def line(unit_price: str, sku: str = "ROSE-11", quantity: int = 1, category: str = "") -> PurchaseLine:
    return PurchaseLine(sku=sku, quantity=quantity, unit_price=Decimal(unit_price), category=category)


def post(member, amount: str = "100.00", *, ref: str | None = None, ordered_at=None, items=None, **kwargs):
    return services.post_purchase(
        member=member,
        external_ref=ref or next_ref(),
        ordered_at=ordered_at or timezone.now() - datetime.timedelta(hours=1),
        items=items or [line(amount)],
        **kwargs,
    )


def account_of(member) -> PointsAccount:
    return PointsAccount.objects.select_related("tier").get(member=member)


def assert_ledger_invariants(member) -> None:
    """Invariant 1 and the lots' bookkeeping: balance == ledger sum; lots hold exactly the
    balance when it is not negative, and nothing when it is (a debt)."""
    account = PointsAccount.objects.filter(member=member).first()
    if account is None:
        assert not LedgerEntry.objects.filter(member=member).exists()
        return
    ledger_sum = LedgerEntry.objects.filter(member=member).aggregate(s=Sum("points"))["s"] or 0
    assert account.balance == ledger_sum
    remaining = PointsLot.objects.filter(account=account).aggregate(s=Sum("remaining"))["s"] or 0
    assert remaining == max(account.balance, 0)
    assert account.balance <= account.lifetime_earned


def reseed_after_flush() -> None:
    """For a transactional test: the migrations' tiers and base earning rule, which a transactional
    test before it may have flushed. The activity bonuses are removed instead: on a fresh database
    (this test first) a new member would get the sign-up bonus, after a flush not; these tests
    count earning only."""
    seed = importlib.import_module("rewards.migrations.0002_seed_tiers_rules_roles")
    if not Tier.objects.exists():
        for code, name, rank, threshold, discount, free_delivery, benefits in seed.TIERS:
            Tier.objects.create(
                code=code,
                name=name,
                rank=rank,
                threshold=Decimal(threshold),
                discount_percent=Decimal(discount),
                free_delivery=free_delivery,
                benefits=benefits,
            )
    if not EarnRule.objects.filter(kind="base").exists():
        EarnRule.objects.create(name="1 point per 1 yuan paid", kind="base", rate=1)
    ActivityBonus.objects.all().delete()
