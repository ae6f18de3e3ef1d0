"""Coupons: issuing (limits, validity), validating (every reason), using once, voiding."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from rewards.errors import CouponInvalid, CouponLimitReached, CouponTemplateUnavailable, CouponUsed
from rewards.models import Coupon, CouponKind
from rewards.services import coupons as coupon_services
from rewards.services.coupons import CODE_ALPHABET, CODE_LENGTH, issue_coupon, redeem_coupon, validate_coupon
from tests.members import factories
from tests.rewards import catalogue_factories as cf

pytestmark = pytest.mark.django_db

SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))


def at(year, month, day, hour=12):
    return time_machine.travel(datetime.datetime(year, month, day, hour, tzinfo=SHANGHAI), tick=False)


def issue(member, template=None, **kwargs):
    return issue_coupon(template=template or cf.template(), member=member, source=Coupon.Source.MANUAL, **kwargs)


def test_codes_are_long_random_and_unambiguous():
    member = factories.member()
    template = cf.template()
    codes = {issue(member, template).code for _index in range(50)}
    assert len(codes) == 50
    for code in codes:
        assert len(code) == CODE_LENGTH >= 12
        assert set(code) <= set(CODE_ALPHABET)
    assert not set("01OIL") & set(CODE_ALPHABET)


def test_a_coupon_copies_its_template_so_later_edits_do_not_change_it():
    template = cf.template(value="20.00", min_spend="100.00")
    coupon = issue(factories.member(), template)
    template.value = Decimal("50.00")
    template.save()
    coupon.refresh_from_db()
    assert (coupon.kind, coupon.value, coupon.min_spend) == ("amount", Decimal("20.00"), Decimal("100.00"))


def test_expiry_is_the_earlier_of_the_days_after_issue_and_the_end_date():
    with at(2026, 5, 1):
        now = timezone.now()
        by_days = issue(factories.member(), cf.template(valid_days=30))
        by_end = issue(
            factories.member(name="b"), cf.template(valid_days=30, valid_until=now + datetime.timedelta(days=10))
        )
        forever = issue(factories.member(name="c"), cf.template())
    assert by_days.expires_at == now + datetime.timedelta(days=30)
    assert by_end.expires_at == now + datetime.timedelta(days=10)
    assert forever.expires_at is None


def test_per_member_limit_is_enforced_and_void_coupons_free_a_place():
    member = factories.member()
    template = cf.template(per_member_limit=2)
    first = issue(member, template)
    issue(member, template)
    with pytest.raises(CouponLimitReached):
        issue(member, template)
    assert issue(factories.member(name="other"), template)  # the limit is per member
    coupon_services.void_coupon(coupon=first)
    assert issue(member, template).status == "issued"


def test_inactive_or_ended_templates_issue_nothing():
    member = factories.member()
    with pytest.raises(CouponTemplateUnavailable):
        issue(member, cf.template(is_active=False))
    with pytest.raises(CouponTemplateUnavailable):
        issue(member, cf.template(valid_until=timezone.now() - datetime.timedelta(seconds=1)))
    assert not Coupon.objects.exists()


# --- validate ---------------------------------------------------------------------------------


def test_valid_fixed_amount_coupon_gives_its_value_capped_at_the_order():
    member = factories.member()
    coupon = issue(member, cf.template(value="20.00"))
    check = validate_coupon(code=coupon.code, member=member, order_total=Decimal("150.00"))
    assert (check.valid, check.discount, check.reason) == (True, Decimal("20.00"), "")
    small = validate_coupon(code=coupon.code, member=member, order_total=Decimal("15.00"))
    assert small.discount == Decimal("15.00")


def test_percentage_coupon_rounds_half_up_to_the_cent():
    member = factories.member()
    coupon = issue(member, cf.template(kind=CouponKind.PERCENT, value="15.00"))
    # 15% of 33.30 = 4.995 → 5.00
    assert validate_coupon(code=coupon.code, member=member, order_total=Decimal("33.30")).discount == Decimal("5.00")


def test_free_delivery_coupon_gives_no_discount_but_free_delivery():
    member = factories.member()
    coupon = issue(member, cf.template(kind=CouponKind.FREE_DELIVERY, value="0"))
    check = validate_coupon(code=coupon.code, member=member, order_total=Decimal("50.00"))
    assert (check.valid, check.discount, check.free_delivery) == (True, Decimal("0.00"), True)


def test_code_is_accepted_in_any_case_with_dashes():
    member = factories.member()
    code = issue(member).code
    typed = f"{code[:4].lower()}-{code[4:8]} {code[8:]}"
    assert validate_coupon(code=typed, member=member, order_total=Decimal("100")).valid


def test_every_reason_a_coupon_is_refused():
    member = factories.member()
    other = factories.member(name="别人")
    with at(2026, 5, 1):
        used = issue(member)
        redeem_coupon(code=used.code, member=member, external_ref="ORD-1")
        void = issue(member)
        coupon_services.void_coupon(coupon=void)
        expired = issue(member, cf.template(valid_days=1))
        later = issue(member, cf.template(valid_from=timezone.now() + datetime.timedelta(days=30)))
        minimum = issue(member, cf.template(min_spend="200.00"))
        foreign = issue(other)
    cases = {
        "NOSUCHCODE12": ("unknown", "No coupon has this code."),
        foreign.code: ("not_yours", "belongs to another member"),
        used.code: ("used", "already used (order ORD-1)"),
        void.code: ("void", "voided"),
        expired.code: ("expired", "expired on 2026-05-02 12:00"),
        later.code: ("not_yet_valid", "can be used from 2026-05-31 12:00"),
        minimum.code: ("below_min_spend", "at least ¥200.00"),
    }
    with at(2026, 5, 3):
        for code, (reason, words) in cases.items():
            check = validate_coupon(code=code, member=member, order_total=Decimal("199.99"))
            assert (check.valid, check.discount, check.reason) == (False, Decimal("0.00"), reason)
            assert words in check.detail
            with pytest.raises(CouponInvalid) as error:
                redeem_coupon(code=code, member=member, external_ref="ORD-2", order_total=Decimal("199.99"))
            assert error.value.reason == reason
            assert error.value.code == "coupon_invalid"


def test_a_coupon_is_valid_until_its_expiry_moment():
    member = factories.member()
    with at(2026, 5, 1):
        coupon = issue(member, cf.template(valid_days=1))
    with at(2026, 5, 2, 11):
        assert validate_coupon(code=coupon.code, member=member, order_total=Decimal("10")).valid
    with at(2026, 5, 2, 12):
        assert validate_coupon(code=coupon.code, member=member, order_total=Decimal("10")).reason == "expired"


# --- redeem / void ------------------------------------------------------------------------------


def test_redeeming_marks_the_coupon_used_once():
    member = factories.member()
    coupon = issue(member)
    use = redeem_coupon(code=coupon.code, member=member, external_ref="ORD-7")
    assert use.created
    coupon.refresh_from_db()
    assert (coupon.status, coupon.redeemed_ref) == ("redeemed", "ORD-7")
    assert coupon.redeemed_at is not None
    with pytest.raises(CouponInvalid, match="already used"):
        redeem_coupon(code=coupon.code, member=member, external_ref="ORD-8")


def test_redeeming_again_for_the_same_order_answers_the_first_use():
    member = factories.member()
    coupon = issue(member)
    first = redeem_coupon(code=coupon.code, member=member, external_ref="ORD-7")
    again = redeem_coupon(code=coupon.code, member=member, external_ref="ORD-7")
    assert not again.created
    assert again.coupon.redeemed_at == first.coupon.redeemed_at


def test_redeeming_checks_the_minimum_spend_when_the_order_total_is_given():
    member = factories.member()
    coupon = issue(member, cf.template(min_spend="100.00"))
    with pytest.raises(CouponInvalid, match="at least"):
        redeem_coupon(code=coupon.code, member=member, external_ref="O", order_total=Decimal("99.99"))
    assert redeem_coupon(code=coupon.code, member=member, external_ref="O", order_total=Decimal("100.00")).created


def test_a_used_coupon_cannot_be_voided():
    member = factories.member()
    coupon = issue(member)
    redeem_coupon(code=coupon.code, member=member, external_ref="ORD-1")
    with pytest.raises(CouponUsed):
        coupon_services.void_coupon(coupon=coupon)


def test_voiding_twice_changes_nothing():
    coupon = issue(factories.member())
    coupon_services.void_coupon(coupon=coupon, reason="first")
    coupon_services.void_coupon(coupon=coupon, reason="second")
    coupon.refresh_from_db()
    assert (coupon.status, coupon.void_reason) == ("void", "first")
