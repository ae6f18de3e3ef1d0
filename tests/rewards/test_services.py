import datetime
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from members.models import Purchase
from rewards import services
from rewards.errors import AlreadyRefunded, IdempotencyConflict, InsufficientPoints, RefundExceedsPurchase
from rewards.models import EarnRule, LedgerEntry, PointsLot, TierHistory
from tests.members import factories
from tests.rewards.helpers import account_of, assert_ledger_invariants, line, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def member():
    return factories.member()


# --- earning -------------------------------------------------------------------------------


def test_posting_earns_one_point_per_yuan_rounded_down(member):
    result = post(member, "199.99")
    assert (result.points_earned, result.points_balance, result.created) == (199, 199, True)
    account = account_of(member)
    assert (account.balance, account.lifetime_earned, account.lifetime_spend) == (199, 199, Decimal("199.99"))
    assert_ledger_invariants(member)


def test_posting_records_the_purchase_in_members(member):
    result = post(member, "50.00")
    assert Purchase.objects.get(pk=result.purchase.pk).member == member


def test_crossing_the_silver_threshold_upgrades_at_once_with_history(member):
    first = post(member, "999.00")
    assert (first.tier.code, first.tier_changed) == ("regular", False)
    second = post(member, "1.00")
    assert (second.tier.code, second.tier_changed) == ("silver", True)
    history = TierHistory.objects.get(member=member)
    assert (history.from_tier.code, history.to_tier.code, history.reason) == ("regular", "silver", "purchase")
    assert history.purchase == second.purchase


def test_one_big_purchase_can_jump_several_tiers(member):
    assert post(member, "20000.00").tier.code == "diamond"


def test_designated_category_earns_double(member):
    EarnRule.objects.create(name="Roses x2", kind="category", rate=2, category=factories.category())
    result = post(member, items=[line("100.00", category="roses"), line("50.00", sku="VASE-1", category="vases")])
    assert result.points_earned == 250


def test_preview_names_the_rules_that_applied(member):
    EarnRule.objects.create(name="Roses x2", kind="category", rate=2, category=factories.category())
    preview = services.preview_points(items=[line("10.00", category="roses")])
    assert preview.points == 20
    assert [r.name for r in preview.rules] == ["1 point per 1 yuan paid", "Roses x2"]


def test_earn_lot_expires_at_the_end_of_next_year(member):
    ordered_at = timezone.now().replace(month=3, day=1)
    post(member, "10.00", ordered_at=ordered_at - datetime.timedelta(days=1))
    lot = PointsLot.objects.get()
    assert lot.expires_on == datetime.date(timezone.localdate(ordered_at - datetime.timedelta(days=1)).year + 1, 12, 31)


def test_backfilled_purchase_years_ago_counts_for_spend_but_its_points_expire_at_once(member):
    long_ago = timezone.now() - datetime.timedelta(days=365 * 4)
    result = post(member, "1200.00", ordered_at=long_ago)
    assert result.points_earned == 1200
    assert result.points_balance == 0
    assert result.tier.code == "silver"
    lot = PointsLot.objects.get()
    assert lot.expires_on.year == timezone.localdate(long_ago).year + 1
    assert (lot.remaining, lot.expired) == (0, 1200)
    assert list(LedgerEntry.objects.order_by("id").values_list("kind", "points")) == [
        ("earn", 1200),
        ("expire", -1200),
    ]
    assert_ledger_invariants(member)


# --- idempotency ---------------------------------------------------------------------------


def test_same_posting_again_returns_the_first_result_and_earns_once(member):
    ordered_at = timezone.now() - datetime.timedelta(hours=2)
    first = post(member, "100.00", ref="POS-A", ordered_at=ordered_at)
    post(member, "50.00")  # the balance moves on between the retries
    again = post(member, "100.00", ref="POS-A", ordered_at=ordered_at)
    assert not again.created
    assert (again.purchase.pk, again.points_earned, again.points_balance) == (first.purchase.pk, 100, 100)
    assert account_of(member).balance == 150
    assert Purchase.objects.filter(external_ref="POS-A").count() == 1


def test_same_reference_with_a_different_body_is_a_conflict(member):
    ordered_at = timezone.now() - datetime.timedelta(hours=2)
    post(member, "100.00", ref="POS-A", ordered_at=ordered_at)
    with pytest.raises(IdempotencyConflict) as exc:
        post(member, "101.00", ref="POS-A", ordered_at=ordered_at)
    assert exc.value.code == "idempotency_conflict"
    assert account_of(member).balance == 100


def test_reference_of_a_purchase_recorded_without_points_is_a_conflict(member):
    factories.purchase(member, ref="IMPORTED-1")
    with pytest.raises(IdempotencyConflict):
        post(member, ref="IMPORTED-1")


def test_failed_posting_writes_nothing(member):
    with pytest.raises(ValidationError):
        post(member, items=[line("-1.00")])
    assert not Purchase.objects.exists()
    assert not LedgerEntry.objects.exists()


# --- refunds -------------------------------------------------------------------------------


def test_whole_refund_reverses_points_and_spend_and_lowers_the_tier(member):
    post(member, "900.00")
    big = post(member, "200.00")
    assert big.tier.code == "silver"
    refund = services.refund_purchase(purchase=big.purchase, external_ref="R-1")
    assert (refund.points_reversed, refund.points_balance, refund.tier.code) == (200, 900, "regular")
    account = account_of(member)
    assert (account.lifetime_spend, account.lifetime_earned) == (Decimal("900.00"), 900)
    big.purchase.refresh_from_db()
    assert big.purchase.refunded_total == Decimal("200.00")
    assert TierHistory.objects.filter(reason="refund", to_tier__code="regular").exists()
    assert_ledger_invariants(member)


def test_partial_refunds_are_proportional_and_add_up_to_what_was_earned(member):
    result = post(member, "99.00")
    first = services.refund_purchase(purchase=result.purchase, external_ref="R-1", amount=Decimal("33.00"))
    second = services.refund_purchase(purchase=result.purchase, external_ref="R-2", amount=Decimal("50.00"))
    third = services.refund_purchase(purchase=result.purchase, external_ref="R-3")
    assert [first.points_reversed, second.points_reversed, third.points_reversed] == [33, 50, 16]
    assert account_of(member).balance == 0
    assert_ledger_invariants(member)


def test_refund_cannot_exceed_what_is_left(member):
    result = post(member, "100.00")
    services.refund_purchase(purchase=result.purchase, external_ref="R-1", amount=Decimal("60.00"))
    with pytest.raises(RefundExceedsPurchase) as exc:
        services.refund_purchase(purchase=result.purchase, external_ref="R-2", amount=Decimal("40.01"))
    assert exc.value.code == "refund_exceeds_purchase"
    assert "40.00" in str(exc.value)


def test_refunding_a_fully_refunded_purchase_is_refused(member):
    result = post(member, "100.00")
    services.refund_purchase(purchase=result.purchase, external_ref="R-1")
    with pytest.raises(AlreadyRefunded):
        services.refund_purchase(purchase=result.purchase, external_ref="R-2")


def test_refund_reference_is_idempotent(member):
    result = post(member, "100.00")
    first = services.refund_purchase(purchase=result.purchase, external_ref="R-1", amount=Decimal("10.00"))
    again = services.refund_purchase(purchase=result.purchase, external_ref="R-1", amount=Decimal("10.00"))
    assert (again.created, again.points_reversed, again.refund.pk) == (False, 10, first.refund.pk)
    assert account_of(member).balance == 90
    with pytest.raises(IdempotencyConflict):
        services.refund_purchase(purchase=result.purchase, external_ref="R-1", amount=Decimal("20.00"))


def test_refund_takes_points_from_other_lots_before_going_negative(member):
    refunded = post(member, "100.00")
    post(member, "80.00")
    services.adjust_points(member=member, points=-100, reason="Redeemed a vase", actor=None)
    refund = services.refund_purchase(purchase=refunded.purchase, external_ref="R-1")
    assert refund.points_balance == -20
    assert_ledger_invariants(member)


def test_balance_goes_negative_only_when_the_refunded_points_were_spent(member):
    result = post(member, "100.00")
    services.adjust_points(member=member, points=-60, reason="Redeemed", actor=None)
    refund = services.refund_purchase(purchase=result.purchase, external_ref="R-1")
    assert refund.points_balance == -60
    assert_ledger_invariants(member)


def test_unspent_refund_never_goes_negative(member):
    result = post(member, "100.00")
    assert services.refund_purchase(purchase=result.purchase, external_ref="R-1").points_balance == 0


def test_future_earning_repays_a_debt_first(member):
    result = post(member, "100.00")
    services.adjust_points(member=member, points=-100, reason="Redeemed", actor=None)
    services.refund_purchase(purchase=result.purchase, external_ref="R-1")
    assert post(member, "30.00").points_balance == -70
    assert post(member, "100.00").points_balance == 30
    assert PointsLot.objects.filter(remaining__gt=0).get().remaining == 30
    assert_ledger_invariants(member)


# --- adjustments ---------------------------------------------------------------------------


def test_adjustment_records_reason_and_actor(member, manager):
    result = services.adjust_points(member=member, points=50, reason="Goodwill for a late delivery", actor=manager)
    assert result.points_balance == 50
    assert (result.entry.kind, result.entry.reason, result.entry.actor) == ("adjustment", result.entry.reason, manager)
    assert_ledger_invariants(member)


def test_adjustment_needs_a_reason(member, manager):
    with pytest.raises(ValidationError) as exc:
        services.adjust_points(member=member, points=5, reason="  ", actor=manager)
    assert "reason" in exc.value.message_dict


def test_deduction_beyond_the_balance_is_refused(member, manager):
    post(member, "10.00")
    with pytest.raises(InsufficientPoints):
        services.adjust_points(member=member, points=-11, reason="typo", actor=manager)
    assert account_of(member).balance == 10


@time_machine.travel(datetime.datetime(2026, 6, 15, 12, tzinfo=datetime.UTC), tick=False)
def test_deduction_consumes_the_oldest_lots_first(member):
    post(member, "10.00", ordered_at=datetime.datetime(2026, 6, 1, tzinfo=datetime.UTC))
    post(member, "10.00", ordered_at=datetime.datetime(2025, 5, 1, tzinfo=datetime.UTC))
    services.adjust_points(member=member, points=-15, reason="Redeemed", actor=None)
    lots = PointsLot.objects.order_by("expires_on").values_list("expires_on", "remaining")
    assert list(lots) == [(datetime.date(2026, 12, 31), 0), (datetime.date(2027, 12, 31), 5)]


# --- the ledger is append-only ---------------------------------------------------------------


def test_ledger_rows_cannot_be_updated_or_deleted(member):
    post(member, "10.00")
    entry = LedgerEntry.objects.get()
    entry.points = 1000
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        entry.delete()
    with pytest.raises(TypeError):
        LedgerEntry.objects.update(points=1)
    with pytest.raises(TypeError):
        LedgerEntry.objects.all().delete()


def test_member_with_points_cannot_be_deleted(member):
    from django.db.models import ProtectedError

    post(member, "10.00")
    with pytest.raises(ProtectedError):
        member.delete()


def test_partial_then_whole_refund_adds_up_to_the_total_exactly(member):
    # Found by the stateful test: decimals summed in SQL are floats on SQLite.
    result = post(member, "160.54")
    services.refund_purchase(purchase=result.purchase, external_ref="R-1", amount=Decimal("16.05"))
    services.refund_purchase(purchase=result.purchase, external_ref="R-2")
    result.purchase.refresh_from_db()
    assert result.purchase.refunded_total == Decimal("160.54")
    assert account_of(member).balance == 0


def test_free_purchase_earns_nothing_and_writes_no_ledger_row(member):
    result = post(member, "0.00")
    assert (result.points_earned, result.points_balance) == (0, 0)
    assert not LedgerEntry.objects.exists()
    assert account_of(member).lifetime_spend == Decimal("0.00")


def test_erased_member_cannot_earn(member):
    from members.services import MemberErased, erase_member

    erase_member(member=member)
    with pytest.raises(MemberErased):
        post(member, "10.00")
    with pytest.raises(MemberErased):
        services.adjust_points(member=member, points=5, reason="x", actor=None)
