"""Care plans through their services: selling (coverage, window, idempotency) and claims (dates,
allowance, product, original purchase), settling with a replacement, rejecting."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from members.models import Purchase, ServiceRecord
from rewards import selectors_care_plans, services
from rewards.errors import (
    AlreadyCovered,
    CarePlanNotOnSale,
    ClaimNotOpen,
    IdempotencyConflict,
    NoClaimsLeft,
    PlanExpired,
    ProductNotCovered,
    PurchaseRequired,
    SaleWindowClosed,
)
from rewards.models import CarePlan, CarePlanClaim, CarePlanSale, Coupon
from tests.members import factories
from tests.rewards import care_plan_helpers as h
from tests.rewards import catalogue_factories as cf

pytestmark = pytest.mark.django_db

DAY = h.DAY


def test_a_plan_sold_with_the_line_covers_seven_days_from_the_sale():
    sale = h.sold()
    assert (sale.starts_on, sale.ends_on) == (DAY, DAY + datetime.timedelta(days=6))
    assert sale.price_paid == Decimal("19.90")
    assert (sale.claims_allowed, sale.claims_used) == (1, 0)
    assert sale.product.sku == "ROSE-11"


def test_a_plan_of_months_ends_the_day_before_the_same_day_later():
    care_plan = h.plan(duration=12, duration_unit=CarePlan.DurationUnit.MONTHS, products=[factories.product()])
    sale = h.sold(care_plan=care_plan)
    assert sale.ends_on == datetime.date(2027, 4, 30)


def test_selling_again_with_the_same_key_answers_the_first_sale():
    member = factories.member()
    care_plan = h.plan(products=[factories.product()])
    item = h.bought(member)
    first = services.sell_care_plan(member=member, plan=care_plan, purchase_item=item, idempotency_key="S1", today=DAY)
    again = services.sell_care_plan(member=member, plan=care_plan, purchase_item=item, idempotency_key="S1", today=DAY)
    assert first.created and not again.created
    assert again.sale.pk == first.sale.pk
    assert CarePlanSale.objects.count() == 1


def test_the_same_key_for_another_line_is_a_conflict():
    member = factories.member()
    care_plan = h.plan(products=[factories.product()])
    services.sell_care_plan(
        member=member, plan=care_plan, purchase_item=h.bought(member), idempotency_key="S1", today=DAY
    )
    with pytest.raises(IdempotencyConflict):
        services.sell_care_plan(
            member=member, plan=care_plan, purchase_item=h.bought(member), idempotency_key="S1", today=DAY
        )


def test_a_line_carries_a_plan_once():
    member = factories.member()
    care_plan = h.plan(products=[factories.product()])
    item = h.bought(member)
    services.sell_care_plan(member=member, plan=care_plan, purchase_item=item, idempotency_key="S1", today=DAY)
    with pytest.raises(AlreadyCovered):
        services.sell_care_plan(member=member, plan=care_plan, purchase_item=item, idempotency_key="S2", today=DAY)


def test_a_product_the_plan_does_not_cover_is_refused():
    member = factories.member()
    vase = factories.product("VASE-1", "玻璃花瓶", "88.00", cat=factories.category("vases", "花瓶"))
    care_plan = h.plan(products=[factories.product()])
    with pytest.raises(ProductNotCovered) as refused:
        services.sell_care_plan(
            member=member, plan=care_plan, purchase_item=h.bought(member, vase), idempotency_key="S1", today=DAY
        )
    assert refused.value.code == "product_not_covered"
    assert "玻璃花瓶" in refused.value.detail


def test_a_category_covers_its_subcategories():
    flowers = factories.category("flowers", "鲜花")
    roses = factories.category("roses", "玫瑰")
    roses.parent = flowers
    roses.save()
    care_plan = h.plan(categories=[flowers])
    sale = h.sold(care_plan=care_plan)
    assert sale.plan == care_plan


def test_a_later_sale_within_the_window_is_accepted_and_after_it_refused():
    member = factories.member()
    care_plan = h.plan(products=[factories.product()], sell_within_days=3)
    item = h.bought(member)
    sale = services.sell_care_plan(
        member=member, plan=care_plan, purchase_item=item, idempotency_key="S1", today=DAY + datetime.timedelta(days=3)
    ).sale
    assert sale.starts_on == DAY + datetime.timedelta(days=3)
    with pytest.raises(SaleWindowClosed):
        services.sell_care_plan(
            member=member,
            plan=care_plan,
            purchase_item=h.bought(member),
            idempotency_key="S2",
            today=DAY + datetime.timedelta(days=4),
        )


def test_a_plan_off_sale_is_refused():
    member = factories.member()
    care_plan = h.plan(products=[factories.product()], is_active=False)
    with pytest.raises(CarePlanNotOnSale):
        services.sell_care_plan(
            member=member, plan=care_plan, purchase_item=h.bought(member), idempotency_key="S1", today=DAY
        )


def test_another_members_line_is_refused():
    care_plan = h.plan(products=[factories.product()])
    item = h.bought(factories.member())
    with pytest.raises(ValidationError) as refused:
        services.sell_care_plan(
            member=factories.member("李雷"), plan=care_plan, purchase_item=item, idempotency_key="S1", today=DAY
        )
    assert "purchase_item" in refused.value.message_dict


# --- claims ---


def claim(sale, *, day=DAY, key=None, **kwargs):
    return services.claim_care_plan(
        sale=sale, description="花束第三天就枯萎了", idempotency_key=key or h.key("C"), today=day, **kwargs
    )


def test_a_claim_in_the_period_opens_a_care_plan_service_record():
    sale = h.sold()
    result = claim(sale, day=DAY + datetime.timedelta(days=6))
    record = result.claim.service_record
    assert record.kind == ServiceRecord.Kind.CARE_CLAIM
    assert record.status == ServiceRecord.Status.OPEN
    assert record.member_id == sale.member_id
    assert "鲜花养护计划" in record.summary_text and "枯萎" in record.summary_text
    sale.refresh_from_db()
    assert sale.claims_used == 1


def test_a_claim_after_the_period_is_refused_with_the_end_date():
    sale = h.sold()
    with pytest.raises(PlanExpired) as refused:
        claim(sale, day=DAY + datetime.timedelta(days=7))
    assert refused.value.code == "plan_expired"
    assert "2026" in refused.value.detail
    assert not ServiceRecord.objects.exists()


def test_a_second_claim_beyond_the_allowance_is_refused():
    sale = h.sold()
    claim(sale)
    with pytest.raises(NoClaimsLeft) as refused:
        claim(sale)
    assert refused.value.code == "no_claims_left"
    assert CarePlanClaim.objects.count() == 1


def test_a_claim_retried_with_its_key_answers_the_first():
    sale = h.sold()
    first = claim(sale, key="C1")
    again = claim(sale, key="C1")
    assert not again.created and again.claim.pk == first.claim.pk
    sale.refresh_from_db()
    assert sale.claims_used == 1


def test_a_claim_for_another_product_is_refused():
    sale = h.sold()
    vase = factories.product("VASE-1", "玻璃花瓶", "88.00")
    with pytest.raises(ProductNotCovered):
        claim(sale, product=vase)


def test_a_claim_needs_the_original_purchase_when_the_line_was_returned():
    sale = h.sold()
    services.refund_purchase(purchase=sale.purchase_item.purchase, external_ref="RET-1")
    with pytest.raises(PurchaseRequired) as refused:
        claim(sale)
    assert refused.value.code == "purchase_required"


def test_a_plan_without_that_condition_accepts_a_claim_after_a_return():
    care_plan = h.plan(products=[factories.product()], requires_original_purchase=False)
    sale = h.sold(care_plan=care_plan)
    services.refund_purchase(purchase=sale.purchase_item.purchase, external_ref="RET-1")
    assert claim(sale).created


def test_settling_with_a_replacement_product_posts_a_zero_priced_line_and_costs_its_price():
    sale = h.sold()
    opened = claim(sale).claim
    settled = services.settle_care_plan_claim(claim=opened, replacement="product")
    purchase = Purchase.objects.get(pk=settled.replacement_purchase_id)
    line = purchase.items.get()
    assert (line.sku, line.unit_price, purchase.total) == ("ROSE-11", Decimal("0.00"), Decimal("0.00"))
    assert settled.cost == Decimal("199.00")
    assert settled.status == CarePlanClaim.Status.SETTLED
    settled.service_record.refresh_from_db()
    assert settled.service_record.status == ServiceRecord.Status.DONE
    with pytest.raises(ClaimNotOpen):
        services.settle_care_plan_claim(claim=settled, replacement="none")


def test_settling_with_a_coupon_issues_the_plans_coupon():
    template = cf.template(value=Decimal("30.00"))
    care_plan = h.plan(products=[factories.product()], replacement_coupon=template)
    sale = h.sold(care_plan=care_plan)
    settled = services.settle_care_plan_claim(claim=claim(sale).claim, replacement="coupon")
    coupon = Coupon.objects.get(pk=settled.replacement_coupon_id)
    assert coupon.member_id == sale.member_id and coupon.source == Coupon.Source.CARE_PLAN
    assert settled.cost == Decimal("30.00")


def test_rejecting_a_claim_cancels_its_record_and_gives_the_claim_back():
    sale = h.sold()
    rejected = services.reject_care_plan_claim(claim=claim(sale).claim, reason="人为损坏不在保障范围")
    rejected.service_record.refresh_from_db()
    assert rejected.service_record.status == ServiceRecord.Status.CANCELLED
    sale.refresh_from_db()
    assert sale.claims_used == 0
    assert claim(sale).created


def test_the_report_counts_sales_claims_rate_and_cost(django_assert_num_queries):
    care_plan = h.plan(products=[factories.product()])
    sales = [h.sold(care_plan=care_plan) for _ in range(4)]
    services.settle_care_plan_claim(claim=claim(sales[0]).claim, replacement="product")
    services.reject_care_plan_claim(claim=claim(sales[1]).claim, reason="不在保障范围")
    with django_assert_num_queries(2):
        (row,) = selectors_care_plans.care_plan_report()
    assert (row.sold, row.claims, row.settled, row.rejected) == (4, 2, 1, 1)
    assert row.revenue == Decimal("79.60")
    assert row.claim_rate == Decimal("25.0")
    assert row.cost == Decimal("199.00")
    assert row.cost_per_plan == Decimal("49.75")
