"""Demo data earns real points: seed_demo's purchases go through the batch posting service."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db.models import F, Sum

from demo.analytics import WALK_INS_PER_MEMBER
from members.models import Member, Purchase
from rewards.models import LedgerEntry, PointsAccount, PurchasePosting, TierHistory
from tests.rewards.helpers import assert_ledger_invariants

pytestmark = pytest.mark.django_db


def test_demo_purchases_earn_points_and_move_tiers(settings):
    settings.DEBUG = True  # seed_demo runs only in development
    call_command("seed_demo", members=60, stdout=io.StringIO(), stderr=io.StringIO())
    purchases = Purchase.objects.count()
    assert purchases and PurchasePosting.objects.count() == purchases
    # Every member's purchase earns; a walk-in sale at the till (no member) earns nothing.
    walk_ins = Purchase.objects.filter(member__isnull=True).count()
    # the till's three, and a year of counter sales for the analytics (demo/analytics.py)
    assert walk_ins - Purchase.objects.filter(external_ref__startswith="WALKIN-").count() == 3
    assert walk_ins - 3 == int(60 * WALK_INS_PER_MEMBER) > 0
    # (a care plan's replacement is a zero-priced purchase: nothing to earn on, demo/care_plans.py)
    paid = Purchase.objects.filter(member__isnull=False, total__gt=0).count()
    assert LedgerEntry.objects.filter(kind="earn").count() == paid
    assert paid >= purchases - walk_ins - 5
    # Lifetime spend is the purchases' totals net of refunds (the till's demo return); tiers follow
    # it, with history.
    for account in PointsAccount.objects.select_related("member"):
        spent = Purchase.objects.filter(member=account.member).aggregate(s=Sum(F("total") - F("refunded_total")))["s"]
        assert account.lifetime_spend == spent
    assert PointsAccount.objects.exclude(tier__code="regular").exists()
    assert TierHistory.objects.filter(reason="purchase").exists()
    # Old purchases' points have expired (year-end policy), recent ones are spendable.
    assert LedgerEntry.objects.filter(kind="expire").exists()
    assert PointsAccount.objects.filter(balance__gt=0).exists()
    for member in Member.objects.all():
        assert_ledger_invariants(member)


def test_demo_rings_up_the_last_day_at_the_till_with_points_and_a_return(settings):
    from rewards.models import PurchaseRefund

    settings.DEBUG = True
    call_command("seed_demo", members=60, stdout=io.StringIO(), stderr=io.StringIO())
    till_sales = Purchase.objects.filter(external_ref__startswith="TILL-")
    assert till_sales.count() >= 4 and till_sales.filter(member__isnull=True).count() == 3
    assert PurchasePosting.objects.filter(purchase__in=till_sales, points_used__gt=0).exists()
    refund = PurchaseRefund.objects.get(external_ref__startswith="RET-")
    assert refund.lines and refund.purchase.items.filter(returned_quantity=1).exists()
