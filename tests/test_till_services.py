"""The till's services (issue 13): paying with points, the coupon at posting, walk-in sales,
returns by line and the receipt. Regular members get 10% off and earn 1 point per yuan paid."""

import datetime
from decimal import Decimal

import pytest
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from members import selectors as member_selectors
from members.models import Purchase, PurchaseItem
from members.services import PurchaseLine
from rewards import rules, selectors
from rewards.errors import CouponInvalid, IdempotencyConflict, InsufficientPoints, JoinTokenInvalid
from rewards.models import POINTS_PAYMENT_CACHE_KEY, Coupon, LedgerEntry, PointsPaymentSettings, PurchasePosting
from rewards.services import adjust_points, quote_return, refund_purchase, walkin
from rewards.services import coupons as coupon_services
from rewards.services.checkout import quote_checkout
from tests.members import factories
from tests.rewards import catalogue_factories as cf
from tests.rewards.helpers import account_of, assert_ledger_invariants, post

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _forget_cached_points_payment():
    """The settings are cached; a test's rolled-back row must not outlive it (rollbacks send no
    signals)."""
    cache.delete(POINTS_PAYMENT_CACHE_KEY)
    yield
    cache.delete(POINTS_PAYMENT_CACHE_KEY)


def basket(*prices, quantity=1):
    return [PurchaseLine(sku=f"SKU-{i}", quantity=quantity, unit_price=Decimal(p)) for i, p in enumerate(prices)]


def member_with(points):
    member = factories.member()
    current = selectors.points_summary(member).balance
    if points != current:
        adjust_points(member=member, points=points - current, reason="test funds", actor=None)
    return member


def coupon_for(member, **template):
    return coupon_services.issue_coupon(template=cf.template(**template), member=member, source=Coupon.Source.MANUAL)


def settings_row(**values):
    row = PointsPaymentSettings.objects.get_or_create(pk=1)[0]
    for name, value in values.items():
        setattr(row, name, value)
    row.save()
    return row


def till_post(member, items, **kwargs):
    return post(member, items=items, apply_member_pricing=True, **kwargs)


# --- the arithmetic ---------------------------------------------------------------------------


@pytest.mark.parametrize(("rate", "step"), [(100, 1), (30, 3), (1000, 10), (7, 7), (50, 1), (1, 1), (250, 5)])
def test_points_step_is_the_fewest_points_worth_whole_cents(rate, step):
    assert rules.points_step(rate) == step
    assert rules.points_value(step, rate) * rate == step  # exact


def test_points_payment_rounds_down_to_the_step_so_the_value_is_exact():
    terms = rules.PointsPaymentTerms(points_per_yuan=30, max_percent=50, min_points=30)
    payment = rules.points_payment(
        total=Decimal("100.00"), payable=Decimal("100.00"), balance=5000, asked=500, terms=terms
    )
    assert (payment.points_used, payment.points_value, payment.amount_due) == (498, Decimal("16.60"), Decimal("83.40"))
    assert payment.short_by == rules.POINTS_STEP
    # the cap: 50% of ¥100 = ¥50 = 1500 points
    assert payment.points_max == 1500


# --- the quote --------------------------------------------------------------------------------


def test_quote_spends_points_within_the_balance_and_earns_only_on_the_money():
    member = member_with(1000)
    quote = quote_checkout(member=member, items=basket("300.00"), points_to_use=500)
    assert (quote.subtotal, quote.tier_discount, quote.total) == (
        Decimal("300.00"),
        Decimal("30.00"),
        Decimal("270.00"),
    )
    assert (quote.points_balance, quote.points_max, quote.points_used) == (1000, 1000, 500)
    assert (quote.points_value, quote.amount_due) == (Decimal("5.00"), Decimal("265.00"))
    assert quote.points_to_earn == 265  # not 270: the points' ¥5 earns nothing (Odoo #150833)
    assert quote.points_message == ""


def test_quote_caps_points_at_the_percent_of_the_order():
    member = member_with(20000)
    quote = quote_checkout(member=member, items=basket("100.00"), points_to_use=6000)
    # total ¥90 after 10% off; at most 50% = ¥45 = 4,500 points
    assert (quote.points_max, quote.points_used, quote.points_value, quote.amount_due) == (
        4500,
        4500,
        Decimal("45.00"),
        Decimal("45.00"),
    )
    assert "50%" in quote.points_message
    assert quote.points_to_earn == 45


def test_quote_caps_points_at_the_balance_and_says_so():
    member = member_with(700)
    quote = quote_checkout(member=member, items=basket("300.00"), points_to_use=900)
    assert (quote.points_max, quote.points_used) == (700, 700)
    assert "700" in quote.points_message


def test_below_the_minimum_no_points_are_used():
    member = member_with(1000)
    quote = quote_checkout(member=member, items=basket("300.00"), points_to_use=99)
    assert (quote.points_used, quote.points_value, quote.amount_due) == (0, Decimal("0.00"), Decimal("270.00"))
    assert "100" in quote.points_message
    poor = member_with(80)
    assert quote_checkout(member=poor, items=basket("300.00"), points_to_use=80).points_max == 0


def test_a_manager_changes_the_rate_cap_and_minimum_and_the_quote_follows_at_once():
    member = member_with(5000)
    settings_row(points_per_yuan=50, max_percent=20, min_points=500)
    quote = quote_checkout(member=member, items=basket("100.00"), points_to_use=5000)
    # total ¥90; 20% = ¥18 = 900 points at 50 points per yuan
    assert (quote.points_max, quote.points_used, quote.points_value) == (900, 900, Decimal("18.00"))
    assert quote_checkout(member=member, items=basket("100.00"), points_to_use=400).points_used == 0
    settings_row(max_percent=0)
    off = quote_checkout(member=member, items=basket("100.00"), points_to_use=500)
    assert (off.points_max, off.points_used) == (0, 0)
    assert off.points_message


def test_points_do_not_pay_the_delivery_line_unless_allowed():
    member = member_with(100000)
    items = [*basket("100.00"), PurchaseLine(sku="DELIVERY", quantity=1, unit_price=Decimal("20.00"))]
    # total 120 − 12 = 108; the delivery line's share 108 × 20/120 = 18; 50% of 90 = ¥45
    assert quote_checkout(member=member, items=items, points_to_use=100000).points_max == 4500
    settings_row(covers_delivery=True)
    assert quote_checkout(member=member, items=items, points_to_use=100000).points_max == 5400


def test_walk_in_quote_has_no_tier_coupon_or_points():
    quote = quote_checkout(member=None, items=basket("300.00"), coupon_code="ANYTHING", points_to_use=500)
    assert quote.tier is None and quote.tier_after is None
    assert (quote.tier_discount, quote.coupon_discount, quote.total, quote.amount_due) == (
        Decimal("0.00"),
        Decimal("0.00"),
        Decimal("300.00"),
        Decimal("300.00"),
    )
    assert (quote.coupon.valid, quote.coupon.reason) == (False, "walk_in")
    assert (quote.points_used, quote.points_to_earn) == (0, 0)
    assert quote.points_message


def test_quote_names_the_tier_the_purchase_reaches():
    member = member_with(0)
    quote = quote_checkout(member=member, items=basket("1200.00"))
    # 1200 − 120 = ¥1,080 paid ≥ Silver's 1,000
    assert (quote.tier.code, quote.tier_after.code) == ("regular", "silver")
    small = quote_checkout(member=member, items=basket("100.00"))
    assert small.tier_after == small.tier


# --- posting ----------------------------------------------------------------------------------


def test_posting_records_the_quote_spends_points_redeems_the_coupon_and_earns_on_money_only():
    member = member_with(1000)
    coupon = coupon_for(member, value="20.00")
    items = basket("150.00", "150.00")
    quote = quote_checkout(member=member, items=items, coupon_code=coupon.code, points_to_use=500)
    result = till_post(member, items, coupon_code=coupon.code, points_to_use=500, ref="TILL-1")

    purchase = Purchase.objects.get(external_ref="TILL-1")
    # 300 − 30 (tier) − 20 (coupon) = 250; 500 points = ¥5; paid ¥245
    assert (purchase.subtotal, purchase.discount_total, purchase.points_value, purchase.total) == (
        Decimal("300.00"),
        Decimal("50.00"),
        Decimal("5.00"),
        Decimal("245.00"),
    )
    assert (result.tier_discount, result.coupon_discount, result.points_used, result.points_value) == (
        Decimal("30.00"),
        Decimal("20.00"),
        500,
        Decimal("5.00"),
    )
    assert result.points_earned == quote.points_to_earn == 245
    assert result.coupon == coupon and result.tier_before.code == "regular"
    coupon.refresh_from_db()
    assert (coupon.status, coupon.redeemed_ref) == (Coupon.Status.REDEEMED, "TILL-1")
    rows = list(LedgerEntry.objects.filter(purchase=purchase).order_by("id").values_list("kind", "points"))
    assert rows == [("spend", -500), ("earn", 245)]
    assert account_of(member).balance == 1000 - 500 + 245 == result.points_balance
    assert account_of(member).lifetime_spend == Decimal("245.00")
    posting = PurchasePosting.objects.get(purchase=purchase)
    assert (posting.coupon_id, posting.points_used) == (coupon.pk, 500)
    assert sum(points for _day, points in posting.lots_taken) == 500
    assert_ledger_invariants(member)


def test_a_coupon_used_with_one_purchase_is_refused_for_the_next_and_nothing_is_written():
    member = member_with(0)
    coupon = coupon_for(member, value="20.00")
    till_post(member, basket("100.00"), coupon_code=coupon.code)
    purchases, entries = Purchase.objects.count(), LedgerEntry.objects.count()
    with pytest.raises(CouponInvalid) as refused:
        till_post(member, basket("100.00"), coupon_code=coupon.code)
    assert refused.value.reason == "used"
    assert (Purchase.objects.count(), LedgerEntry.objects.count()) == (purchases, entries)


def test_an_unusable_coupon_writes_nothing():
    member = member_with(1000)
    other = factories.member()
    theirs = coupon_for(other)
    before = (Purchase.objects.count(), LedgerEntry.objects.count(), account_of(member).balance)
    for code, reason in ((theirs.code, "not_yours"), ("NOSUCHCODE12", "unknown")):
        with pytest.raises(CouponInvalid) as refused:
            till_post(member, basket("100.00"), coupon_code=code, points_to_use=200)
        assert refused.value.reason == reason
    assert (Purchase.objects.count(), LedgerEntry.objects.count(), account_of(member).balance) == before
    theirs.refresh_from_db()
    assert theirs.status == Coupon.Status.ISSUED


def test_points_the_balance_no_longer_covers_are_refused_and_nothing_is_written():
    member = member_with(1000)
    quote = quote_checkout(member=member, items=basket("300.00"), points_to_use=800)
    assert quote.points_used == 800
    adjust_points(member=member, points=-500, reason="another till spent them", actor=None)
    before = (Purchase.objects.count(), LedgerEntry.objects.count())
    with pytest.raises(InsufficientPoints):
        till_post(member, basket("300.00"), points_to_use=800)
    assert (Purchase.objects.count(), LedgerEntry.objects.count()) == before
    assert account_of(member).balance == 500


def test_points_beyond_the_cap_or_below_the_minimum_are_a_bad_request():
    member = member_with(20000)
    with pytest.raises(ValidationError) as refused:
        till_post(member, basket("100.00"), points_to_use=6000)
    assert "points_to_use" in refused.value.message_dict
    with pytest.raises(ValidationError):
        till_post(member, basket("100.00"), points_to_use=50)
    assert not Purchase.objects.filter(member=member).exists()


def test_a_till_purchase_takes_its_total_from_the_quote():
    member = member_with(0)
    with pytest.raises(ValidationError) as refused:
        till_post(member, basket("100.00"), total=Decimal("80.00"))
    assert "total" in refused.value.message_dict


def test_a_retry_answers_the_first_result_and_a_different_body_conflicts():
    member = member_with(1000)
    coupon = coupon_for(member)
    at = timezone.now() - datetime.timedelta(minutes=5)
    first = till_post(member, basket("300.00"), coupon_code=coupon.code, points_to_use=300, ref="TILL-R", ordered_at=at)
    again = till_post(
        member, basket("300.00"), coupon_code=coupon.code.lower(), points_to_use=300, ref="TILL-R", ordered_at=at
    )
    assert again.created is False
    assert (again.purchase.pk, again.points_used, again.points_value, again.coupon_discount, again.points_earned) == (
        first.purchase.pk,
        300,
        Decimal("3.00"),
        Decimal("20.00"),
        first.points_earned,
    )
    assert LedgerEntry.objects.filter(purchase=first.purchase, kind="spend").count() == 1
    with pytest.raises(IdempotencyConflict):
        till_post(member, basket("300.00"), coupon_code=coupon.code, points_to_use=400, ref="TILL-R", ordered_at=at)
    with pytest.raises(IdempotencyConflict):
        till_post(member, basket("300.00"), ref="TILL-R", ordered_at=at)


def test_the_spend_takes_the_oldest_lots_first():
    member = factories.member()
    start = selectors.points_summary(member).balance
    old = post(member, "300.00", ordered_at=datetime.datetime(2025, 6, 1, 12, tzinfo=datetime.UTC))
    new = post(member, "400.00")
    del old, new
    result = till_post(member, basket("1000.00"), points_to_use=300)
    posting = PurchasePosting.objects.get(purchase=result.purchase)
    assert next(points for _day, points in posting.lots_taken) >= min(300, start + 300)
    dates = [day for day, _points in posting.lots_taken]
    assert dates == sorted(dates)
    assert_ledger_invariants(member)


# --- walk-in sales ----------------------------------------------------------------------------


def test_a_walk_in_sale_is_recorded_without_member_points_or_ledger_rows():
    entries = LedgerEntry.objects.count()
    at = timezone.now() - datetime.timedelta(minutes=5)
    result = post(None, items=basket("88.00", "12.00"), apply_member_pricing=True, ref="WALK-1", ordered_at=at)
    purchase = Purchase.objects.get(external_ref="WALK-1")
    assert purchase.member_id is None
    assert (purchase.total, purchase.discount_total, purchase.points_value) == (
        Decimal("100.00"),
        Decimal("0.00"),
        Decimal("0.00"),
    )
    assert (result.points_earned, result.points_used, result.tier, result.tier_changed) == (0, 0, None, False)
    assert LedgerEntry.objects.count() == entries
    again = post(None, items=basket("88.00", "12.00"), apply_member_pricing=True, ref="WALK-1", ordered_at=at)
    assert (again.created, again.purchase.pk) == (False, purchase.pk)


def test_a_walk_in_cannot_use_a_coupon_or_points():
    with pytest.raises(CouponInvalid) as refused:
        post(None, items=basket("50.00"), coupon_code="ABCDEFGHJKMN")
    assert refused.value.reason == "walk_in"
    with pytest.raises(ValidationError):
        post(None, items=basket("50.00"), points_to_use=100)
    assert not Purchase.objects.filter(member__isnull=True).exists()


def test_walk_ins_count_in_the_sales_figures_and_compare_with_members():
    member, other = member_with(0), member_with(0)
    post(member, "100.00")
    post(member, "50.00")
    post(other, "150.00")
    post(None, items=basket("60.00"))
    post(None, items=basket("40.00"))
    # `post` orders an hour ago: the figures of that day's month
    figures = member_selectors.dashboard_figures(today=timezone.localdate(timezone.now() - datetime.timedelta(hours=1)))
    assert (figures.purchases_this_month, figures.revenue_this_month) == (5, Decimal("400.00"))
    start = timezone.now() - datetime.timedelta(days=1)
    comparison = member_selectors.member_and_walk_in_sales(start=start, end=timezone.now())
    assert (comparison.members.purchases, comparison.members.revenue, comparison.members.buyers) == (
        3,
        Decimal("300.00"),
        2,
    )
    assert (comparison.members.average, comparison.members.purchases_per_buyer) == (Decimal("100.00"), Decimal("1.50"))
    assert (comparison.walk_ins.purchases, comparison.walk_ins.revenue, comparison.walk_ins.average) == (
        2,
        Decimal("100.00"),
        Decimal("50.00"),
    )


def test_a_walk_in_receipt_carries_a_join_link_valid_seven_days_once(time_machine):
    purchase = post(None, items=basket("60.00")).purchase
    receipt = selectors.receipt_for(purchase)
    assert receipt.join_url.startswith("/m/join/?receipt=")
    token = walkin.join_token(purchase)
    assert walkin.check_join_token(token) == purchase
    with pytest.raises(JoinTokenInvalid) as forged:
        walkin.check_join_token(token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    assert forged.value.reason == "invalid"
    other = signing.TimestampSigner(salt="another").sign(str(purchase.pk))
    with pytest.raises(JoinTokenInvalid):
        walkin.check_join_token(other)
    time_machine.move_to(timezone.now() + datetime.timedelta(days=7, minutes=1))
    with pytest.raises(JoinTokenInvalid) as expired:
        walkin.check_join_token(token)
    assert expired.value.reason == "expired"


def test_a_credited_walk_in_token_is_refused():
    purchase = post(None, items=basket("60.00")).purchase
    token = walkin.join_token(purchase)
    Purchase.objects.filter(pk=purchase.pk).update(member=factories.member())
    with pytest.raises(JoinTokenInvalid) as credited:
        walkin.check_join_token(token)
    assert credited.value.reason == "credited"


# --- returns by line --------------------------------------------------------------------------


def _lines(purchase):
    return list(PurchaseItem.objects.filter(purchase=purchase).order_by("pk"))


def test_returning_a_line_gives_back_its_money_share_and_points_share_and_reverses_earning():
    member = member_with(1000)
    items = [
        PurchaseLine(sku="A", quantity=2, unit_price=Decimal("100.00")),
        PurchaseLine(sku="B", quantity=1, unit_price=Decimal("100.00")),
    ]
    result = till_post(member, items, points_to_use=700)
    # 300 − 30 = 270; 700 points = ¥7; paid ¥263; earned 263
    assert (result.purchase.total, result.points_earned) == (Decimal("263.00"), 263)
    a, b = _lines(result.purchase)
    quote = quote_return(purchase=result.purchase, lines=[(a.pk, 1)])
    # one of A is a third of the goods: ¥87.66 (rounded down) and 233 points (700 / 3)
    assert (quote.money_back, quote.points_back, quote.points_reversed) == (Decimal("87.66"), 233, 87)
    balance = account_of(member).balance
    refund = refund_purchase(purchase=result.purchase, external_ref="RET-1", lines=[(a.pk, 1)])
    assert (refund.amount, refund.points_returned, refund.points_reversed) == (Decimal("87.66"), 233, 87)
    assert account_of(member).balance == balance + 233 - 87 == refund.points_balance
    a.refresh_from_db()
    assert a.returned_quantity == 1
    # the rest: everything paid comes back exactly
    refund_purchase(purchase=result.purchase, external_ref="RET-2", lines=[(a.pk, 1), (b.pk, 1)])
    purchase = Purchase.objects.get(pk=result.purchase.pk)
    assert purchase.refunded_total == purchase.total
    posting = PurchasePosting.objects.get(purchase=purchase)
    assert (posting.points_returned, posting.points_reversed) == (700, 263)
    assert account_of(member).balance == 1000
    kinds = LedgerEntry.objects.filter(purchase=purchase).values_list("kind", flat=True)
    assert set(kinds) == {"spend", "earn", "spend_return", "refund_reversal"}
    assert_ledger_invariants(member)


def test_a_line_is_never_returned_beyond_its_quantity():
    member = member_with(0)
    result = till_post(member, [PurchaseLine(sku="A", quantity=2, unit_price=Decimal("50.00"))])
    (a,) = _lines(result.purchase)
    refund_purchase(purchase=result.purchase, external_ref="RET-A", lines=[(a.pk, 2)])
    with pytest.raises(ValidationError) as refused:
        refund_purchase(purchase=result.purchase, external_ref="RET-B", lines=[(a.pk, 1)])
    assert "lines" in refused.value.message_dict
    with pytest.raises(ValidationError):
        quote_return(purchase=result.purchase, lines=[(a.pk, 1)])
    with pytest.raises(ValidationError):
        refund_purchase(purchase=result.purchase, external_ref="RET-C", lines=[(a.pk + 999, 1)])
    a.refresh_from_db()
    assert a.returned_quantity == 2


def test_a_return_by_lines_is_idempotent_on_its_reference():
    member = member_with(1000)
    result = till_post(member, basket("100.00", "100.00"), points_to_use=200)
    a, b = _lines(result.purchase)
    first = refund_purchase(purchase=result.purchase, external_ref="RET-I", lines=[(a.pk, 1)])
    again = refund_purchase(purchase=result.purchase, external_ref="RET-I", lines=[(a.pk, 1)])
    assert (again.created, again.refund.pk, again.points_returned) == (False, first.refund.pk, first.points_returned)
    with pytest.raises(IdempotencyConflict):
        refund_purchase(purchase=result.purchase, external_ref="RET-I", lines=[(b.pk, 1)])
    a.refresh_from_db()
    assert a.returned_quantity == 1


def test_a_walk_in_return_gives_money_back_only():
    result = post(None, items=basket("60.00", "40.00"))
    a, _b = _lines(result.purchase)
    refund = refund_purchase(purchase=result.purchase, external_ref="RET-W", lines=[(a.pk, 1)])
    assert (refund.amount, refund.points_returned, refund.points_reversed, refund.tier) == (
        Decimal("60.00"),
        0,
        0,
        None,
    )


def test_a_manager_refund_without_goods_keeps_its_reason():
    member = member_with(0)
    result = till_post(member, basket("100.00"))
    refund = refund_purchase(purchase=result.purchase, external_ref="RET-M", amount="10.00", reason="花有损伤")
    assert (refund.refund.reason, refund.amount, refund.points_returned) == ("花有损伤", Decimal("10.00"), 0)


# --- the receipt ------------------------------------------------------------------------------


def test_the_receipt_shows_discounts_points_and_the_upgrade_in_fixed_queries(django_assert_num_queries):
    member = member_with(1000)
    coupon = coupon_for(member, value="20.00")
    result = till_post(member, basket("1200.00"), coupon_code=coupon.code, points_to_use=500)
    with django_assert_num_queries(5):
        receipt = selectors.receipt_for(result.purchase)
    assert (receipt.subtotal, receipt.tier_discount, receipt.coupon_discount, receipt.coupon_code) == (
        Decimal("1200.00"),
        Decimal("120.00"),
        Decimal("20.00"),
        coupon.code,
    )
    assert (receipt.points_used, receipt.points_value, receipt.amount_paid) == (
        500,
        Decimal("5.00"),
        Decimal("1055.00"),
    )
    assert (receipt.points_earned, receipt.tier.code, receipt.tier_changed) == (1055, "silver", True)
    assert receipt.tier_name_before
    assert receipt.points_balance == account_of(member).balance
    assert receipt.expiring_points is not None
    assert receipt.join_url is None
    assert [line.sku for line in receipt.lines] == ["SKU-0"]
    assert receipt.partner_offers == [] and receipt.referral_reward is None


# --- the arithmetic, for any basket -----------------------------------------------------------

money = st.decimals(min_value=Decimal("0.00"), max_value=Decimal("99999.99"), places=2)


@settings(max_examples=300, deadline=None)
@given(
    total=money,
    balance=st.integers(min_value=0, max_value=10_000_000),
    asked=st.integers(min_value=0, max_value=10_000_000),
    rate=st.integers(min_value=1, max_value=1000),
    percent=st.integers(min_value=0, max_value=100),
    minimum=st.integers(min_value=0, max_value=5000),
)
def test_points_payment_never_breaks_its_limits(total, balance, asked, rate, percent, minimum):
    terms = rules.PointsPaymentTerms(points_per_yuan=rate, max_percent=percent, min_points=minimum)
    payment = rules.points_payment(total=total, payable=total, balance=balance, asked=asked, terms=terms)
    step = rules.points_step(rate)
    assert 0 <= payment.points_used <= min(asked, payment.points_max, balance)
    assert payment.points_used % step == 0 and payment.points_max % step == 0
    assert payment.points_used == 0 or payment.points_used >= minimum
    # the value is exact to the cent, within the cap, and the rest is paid in money
    assert Decimal(payment.points_used) / rate == payment.points_value
    assert payment.points_value <= total * percent / 100
    assert payment.amount_due + payment.points_value == total and payment.amount_due >= 0


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.tuples(money, st.integers(min_value=1, max_value=5)), min_size=1, max_size=5),
    paid=money,
    points=st.integers(min_value=0, max_value=100_000),
    data=st.data(),
)
def test_returns_in_any_steps_give_back_exactly_what_was_paid(lines, paid, points, data):
    returned = [0] * len(lines)
    money_back, points_back = Decimal("0.00"), 0
    order = data.draw(st.permutations([i for i, (_total, quantity) in enumerate(lines) for _unit in range(quantity)]))
    for index in order:
        rows_before = [(total, quantity, returned[i]) for i, (total, quantity) in enumerate(lines)]
        returned[index] += 1
        rows_after = [(total, quantity, returned[i]) for i, (total, quantity) in enumerate(lines)]
        before, after = rules.returned_weight(rows_before), rules.returned_weight(rows_after)
        step_money = rules.share_of(paid, returned=after[0], whole=after[1]) - rules.share_of(
            paid, returned=before[0], whole=before[1]
        )
        step_points = rules.points_share_of(points, returned=after[0], whole=after[1]) - rules.points_share_of(
            points, returned=before[0], whole=before[1]
        )
        assert step_money >= 0 and step_points >= 0
        money_back += step_money
        points_back += step_points
    whole = sum((total for total, _quantity in lines), Decimal("0"))
    if whole > 0:
        assert (money_back, points_back) == (paid, points)


def test_walk_ins_are_never_classified_and_do_not_move_members_ranks():
    """The nightly classification reads every purchase: a walk-in (no member) must neither break
    it nor rank as a customer of its own (one big walk-in sale would otherwise take the top spot)."""
    from campaigns.models import MemberScore
    from campaigns.services.classification import classify_members
    from tests.campaigns.segment_helpers import at, buy
    from tests.campaigns.segment_helpers import member as shop_member

    shop = {name: shop_member(name) for name in "ABCDE"}
    for rank, name in enumerate("ABCDE"):
        buy(shop[name], f"{(5 - rank) * 100}.00", at("2026-06-01"))
    post(None, items=basket("9999.00"), ordered_at=at("2026-06-02"))
    classify_members(as_of=datetime.date(2026, 6, 30))
    classes = {score.member_id: score.classification for score in MemberScore.objects.all()}
    assert classes[shop["A"].pk] == "high_value"  # the top 20% of five members: A alone
    assert [classes[shop[name].pk] for name in "BCDE"] == ["potential"] * 4
    assert None not in classes


# --- the settings in the admin ----------------------------------------------------------------


def test_managers_change_paying_with_points_and_the_quote_follows_at_once(manager, store_staff):
    from django.test import Client
    from django.urls import reverse

    def client_for(user):
        client = Client()
        client.force_login(user)
        return client

    row = PointsPaymentSettings.objects.get()  # seeded by the migration, with the defaults
    assert (row.points_per_yuan, row.max_percent, row.min_points, row.covers_delivery) == (100, 50, 100, False)
    member = member_with(10000)
    assert quote_checkout(member=member, items=basket("100.00"), points_to_use=10000).points_max == 4500
    change = reverse("admin:rewards_pointspaymentsettings_change", args=[row.pk])
    manager_client = client_for(manager)
    assert manager_client.get(reverse("admin:rewards_pointspaymentsettings_add")).status_code == 403
    values = {"points_per_yuan": "200", "max_percent": "10", "min_points": "50", "delivery_sku": "DELIVERY"}
    assert manager_client.post(change, values).status_code == 302
    # ¥90 × 10% = ¥9 = 1,800 points at 200 points per yuan: the cached settings were dropped
    assert quote_checkout(member=member, items=basket("100.00"), points_to_use=10000).points_max == 1800
    refused = manager_client.post(change, values | {"max_percent": "101", "points_per_yuan": "0"})
    assert set(refused.context["adminform"].form.errors) == {"max_percent", "points_per_yuan"}
    assert client_for(store_staff).get(change).status_code == 200  # reads it
    assert client_for(store_staff).post(change, values | {"max_percent": "90"}).status_code == 403
    assert manager_client.post(reverse("admin:rewards_pointspaymentsettings_delete", args=[row.pk])).status_code == 403
    row.refresh_from_db()
    assert (row.points_per_yuan, row.max_percent) == (200, 10)


def test_points_given_back_by_a_return_do_not_count_as_earned_for_a_points_window_tier():
    from rewards.services import tiers as tier_rules

    member = member_with(1000)  # one adjustment of 1000: earned in the window
    result = till_post(member, basket("300.00"), points_to_use=500)  # earns 265 on ¥265 paid
    (line,) = _lines(result.purchase)
    refund_purchase(purchase=result.purchase, external_ref="RET-W", lines=[(line.pk, 1)])
    policy = tier_rules.Policy(basis="window_points", window_months=12)
    account = account_of(member)
    # 1000 + 265 earned − 265 reversed; the 500 points given back were spent, not earned
    assert tier_rules.qualifying_figure(account, policy=policy) == Decimal("1000")
    assert tier_rules.window_bases([account], policy=policy) == {member.pk: Decimal("1000")}
    assert LedgerEntry.objects.filter(member=member, kind="spend_return").get().points == 500
