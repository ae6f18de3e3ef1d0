"""`checkout_sale`: the till's sale and its care plans in one transaction, once per key."""

from decimal import Decimal

import pytest

from members.models import Purchase
from members.services import PurchaseLine
from rewards.errors import CarePlanNotOnSale, IdempotencyConflict, ProductNotCovered
from rewards.models import CarePlanSale, LedgerEntry
from rewards.services.care_plans import TillCarePlan
from rewards.services.till_checkout import checkout_sale
from tests.members import factories
from tests.rewards import care_plan_helpers as h

pytestmark = pytest.mark.django_db


@pytest.fixture
def roses():
    return factories.product("ROSE-11", "11枝红玫瑰花束", "199.00")


@pytest.fixture
def vase():
    return factories.product("VASE-01", "玻璃花瓶", "80.00", cat=factories.category("vases", "花瓶"))


def lines(*products):
    return [PurchaseLine(sku=product.sku, quantity=1, unit_price=product.unit_price) for product in products]


def test_the_plan_is_sold_with_the_posting(roses, vase):
    plan = h.plan(products=[roses])
    member = factories.member()
    result = checkout_sale(
        member=member, key="TILL-1", items=lines(vase, roses), care_plans=[TillCarePlan(line=1, plan=plan)]
    )
    assert result.created
    assert result.purchase.external_ref == "TILL-1"
    [sale] = result.care_plan_sales
    assert sale.purchase_item.sku == "ROSE-11"
    assert sale.purchase_item.purchase_id == result.purchase.pk
    assert sale.member_id == member.pk
    assert sale.price_paid == Decimal("19.90")
    assert sale.idempotency_key == f"TILL-1-CARE-1-{plan.pk}"


def test_a_sale_without_plans_posts_as_before(roses):
    member = factories.member()
    result = checkout_sale(member=member, key="TILL-2", items=lines(roses))
    assert result.care_plan_sales == []
    assert result.posting.points_earned > 0
    assert CarePlanSale.objects.count() == 0


def test_a_plan_that_cannot_be_sold_rolls_back_the_posting(roses, vase):
    plan = h.plan(products=[roses])
    member = factories.member()
    with pytest.raises(ProductNotCovered):
        checkout_sale(member=member, key="TILL-3", items=lines(vase, roses), care_plans=[TillCarePlan(0, plan)])
    assert not Purchase.objects.filter(external_ref="TILL-3").exists()
    assert not LedgerEntry.objects.filter(member=member).exists()
    assert CarePlanSale.objects.count() == 0


def test_a_plan_taken_off_sale_rolls_back_the_posting(roses):
    plan = h.plan(products=[roses], is_active=False)
    member = factories.member()
    with pytest.raises(CarePlanNotOnSale):
        checkout_sale(member=member, key="TILL-4", items=lines(roses), care_plans=[TillCarePlan(0, plan)])
    assert not Purchase.objects.filter(external_ref="TILL-4").exists()


def test_a_replay_answers_the_first_sale_and_writes_nothing(roses, vase):
    plan = h.plan(products=[roses])
    member = factories.member()
    args = {"member": member, "key": "TILL-5", "items": lines(vase, roses), "care_plans": [TillCarePlan(1, plan)]}
    first = checkout_sale(**args)
    entries = LedgerEntry.objects.filter(member=member).count()
    again = checkout_sale(**args)
    assert not again.created
    assert again.purchase.pk == first.purchase.pk
    assert [sale.pk for sale in again.care_plan_sales] == [sale.pk for sale in first.care_plan_sales]
    assert again.posting.points_earned == first.posting.points_earned
    assert Purchase.objects.filter(external_ref="TILL-5").count() == 1
    assert CarePlanSale.objects.count() == 1
    assert LedgerEntry.objects.filter(member=member).count() == entries


def test_the_same_key_with_another_basket_is_a_conflict(roses, vase):
    member = factories.member()
    checkout_sale(member=member, key="TILL-6", items=lines(roses))
    with pytest.raises(IdempotencyConflict):
        checkout_sale(member=member, key="TILL-6", items=lines(vase))
    assert [item.sku for item in Purchase.objects.get(external_ref="TILL-6").items.all()] == ["ROSE-11"]
