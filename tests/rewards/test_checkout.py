"""The checkout quote: tier discount first, then the coupon on what is left; half-up cents; no writes."""

from decimal import Decimal

import pytest

from members.services import PurchaseLine
from rewards.models import Coupon, CouponKind, LedgerEntry
from rewards.services import coupons as coupon_services
from rewards.services.checkout import quote_checkout
from tests.members import factories
from tests.rewards import catalogue_factories as cf
from tests.rewards.helpers import post

pytestmark = pytest.mark.django_db


def items(*prices, quantity=1):
    return [PurchaseLine(sku=f"SKU-{i}", quantity=quantity, unit_price=Decimal(p)) for i, p in enumerate(prices)]


def coupon_for(member, **template):
    return coupon_services.issue_coupon(template=cf.template(**template), member=member, source=Coupon.Source.MANUAL)


def test_regular_member_gets_ten_percent_off_and_earns_on_what_is_paid():
    member = factories.member()
    quote = quote_checkout(member=member, items=items("100.00", "99.50"))
    assert quote.subtotal == Decimal("199.50")
    assert quote.tier_discount == Decimal("19.95")
    assert quote.coupon_discount == Decimal("0.00")
    assert quote.total == Decimal("179.55")
    assert quote.points_to_earn == 179  # 1 point per yuan paid, rounded down
    assert quote.free_delivery is False
    assert quote.coupon is None


def test_tier_discount_rounds_half_up_to_the_cent():
    member = factories.member()
    # 10% of 0.45 = 0.045 → 0.05
    assert quote_checkout(member=member, items=items("0.45")).tier_discount == Decimal("0.05")


def test_coupon_applies_after_the_tier_discount_and_its_minimum_is_checked_on_that_amount():
    member = factories.member()
    coupon = coupon_for(member, value="30.00", min_spend="100.00")
    # 110 − 11 (10%) = 99 < 100: the coupon does not apply
    short = quote_checkout(member=member, items=items("110.00"), coupon_code=coupon.code)
    assert (short.tier_discount, short.coupon_discount, short.total) == (
        Decimal("11.00"),
        Decimal("0.00"),
        Decimal("99.00"),
    )
    assert (short.coupon.valid, short.coupon.reason) == (False, "below_min_spend")
    # 112 − 11.20 = 100.80 ≥ 100: 30 off
    enough = quote_checkout(member=member, items=items("112.00"), coupon_code=coupon.code)
    assert (enough.tier_discount, enough.coupon_discount, enough.total) == (
        Decimal("11.20"),
        Decimal("30.00"),
        Decimal("70.80"),
    )
    assert enough.points_to_earn == 70


def test_percentage_coupon_is_taken_on_the_amount_after_the_tier_discount():
    member = factories.member()
    post(member, "1000.00")  # Silver: 15% off
    coupon = coupon_for(member, kind=CouponKind.PERCENT, value="12.50")
    quote = quote_checkout(member=member, items=items("33.33", quantity=3), coupon_code=coupon.code)
    # 99.99 − 15.00 (14.9985 → 15.00) = 84.99; 12.5% of it = 10.62375 → 10.62
    assert (quote.subtotal, quote.tier_discount, quote.coupon_discount, quote.total) == (
        Decimal("99.99"),
        Decimal("15.00"),
        Decimal("10.62"),
        Decimal("74.37"),
    )


def test_fixed_coupon_never_takes_the_total_below_zero():
    member = factories.member()
    coupon = coupon_for(member, value="50.00")
    quote = quote_checkout(member=member, items=items("20.00"), coupon_code=coupon.code)
    assert (quote.coupon_discount, quote.total, quote.points_to_earn) == (
        Decimal("18.00"),
        Decimal("0.00"),
        0,
    )


def test_diamond_members_get_free_delivery():
    member = factories.member()
    post(member, "20000.00")
    quote = quote_checkout(member=member, items=items("100.00"))
    assert (quote.tier.code, quote.tier_discount, quote.free_delivery) == ("diamond", Decimal("25.00"), True)


def test_free_delivery_coupon_gives_free_delivery():
    member = factories.member()
    coupon = coupon_for(member, kind=CouponKind.FREE_DELIVERY, value="0")
    quote = quote_checkout(member=member, items=items("100.00"), coupon_code=coupon.code)
    assert (quote.free_delivery, quote.coupon_discount, quote.coupon.valid) == (True, Decimal("0.00"), True)


def test_another_members_coupon_gives_nothing():
    member = factories.member()
    coupon = coupon_for(factories.member(name="别人"))
    quote = quote_checkout(member=member, items=items("100.00"), coupon_code=coupon.code)
    assert (quote.coupon_discount, quote.coupon.reason) == (Decimal("0.00"), "not_yours")


def test_a_quote_changes_nothing():
    member = factories.member()
    coupon = coupon_for(member)
    entries = LedgerEntry.objects.count()
    quote_checkout(member=member, items=items("100.00"), coupon_code=coupon.code)
    coupon.refresh_from_db()
    assert coupon.status == "issued"
    assert LedgerEntry.objects.count() == entries


def test_a_paid_plan_in_force_gives_its_free_delivery_and_extra_points():
    from rewards.models import MembershipPlan
    from rewards.services import buy_membership

    member = factories.member()
    buy_membership(member=member, plan=MembershipPlan.objects.get(code="annual-plus"), external_ref="PLAN-Q")
    quote = quote_checkout(member=member, items=items("100.00"))
    assert quote.total == Decimal("90.00")
    assert quote.free_delivery is True
    assert quote.points_to_earn == 135  # 90 paid × 1.5 (the plan's multiplier)
