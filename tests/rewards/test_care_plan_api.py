"""The care-plan API: plans, sales (201, 200 on retry, 409 with the code) and claims."""

import pytest
from django.db import connection
from django.utils import timezone

from members.models import ServiceRecord
from rewards.models import CarePlan, CarePlanSale
from tests.members import factories
from tests.rewards import care_plan_helpers as h

pytestmark = pytest.mark.django_db

PLANS = "/api/v1/care-plans/"
SALES = "/api/v1/care-plans/sales/"


def claims_url(sale):
    return f"/api/v1/care-plans/sales/{sale.pk}/claims/"


def test_managers_create_a_plan_for_products_and_categories(api_manager):
    factories.product()
    factories.category("vases", "花瓶")
    body = {
        "code": "extended-vase",
        "name": "花瓶延保",
        "coverage": "一年内意外破损换新一次",
        "products": ["ROSE-11"],
        "categories": ["vases"],
        "price": "29.00",
        "duration": 12,
        "duration_unit": "months",
        "claims_allowed": 1,
    }
    answer = api_manager.post(PLANS, body, format="json")
    assert answer.status_code == 201, answer.json()
    plan = CarePlan.objects.get(pk=answer.json()["id"])
    assert [p.sku for p in plan.products.all()] == ["ROSE-11"]
    assert answer.json()["categories"] == ["vases"]


def test_a_plan_with_nothing_to_cover_is_a_400_naming_the_field(api_manager):
    answer = api_manager.post(
        PLANS, {"code": "x", "name": "x", "coverage": "x", "price": "1.00", "duration": 7}, format="json"
    )
    assert answer.status_code == 400
    assert "products" in answer.json()


def test_store_staff_may_not_create_plans_but_may_read_them(api_staff):
    h.plan(products=[factories.product()])
    assert api_staff.post(PLANS, {}, format="json").status_code == 403
    answer = api_staff.get(PLANS)
    assert answer.status_code == 200 and answer.json()["count"] == 1


def test_selling_answers_201_then_200_with_the_same_key(api_staff):
    member = factories.member()
    plan = h.plan(products=[factories.product()])
    item = h.bought(member, day=timezone.localdate())
    body = {"member": member.member_no, "plan": plan.pk, "purchase_item": item.pk, "idempotency_key": "SALE-1"}
    first = api_staff.post(SALES, body, format="json")
    again = api_staff.post(SALES, body, format="json")
    assert first.status_code == 201, first.json()
    assert again.status_code == 200 and again.json() == first.json()
    data = first.json()
    assert data["plan"] == {"id": plan.pk, "name": "鲜花养护计划"}
    assert (data["claims_left"], data["product"], data["price_paid"]) == (1, "ROSE-11", "19.90")
    assert CarePlanSale.objects.count() == 1


def test_selling_for_an_uncovered_product_is_409_product_not_covered(api_staff):
    member = factories.member()
    plan = h.plan(products=[factories.product()])
    vase = factories.product("VASE-1", "玻璃花瓶", "88.00", cat=factories.category("vases", "花瓶"))
    item = h.bought(member, vase, day=timezone.localdate())
    body = {"member": member.member_no, "plan": plan.pk, "purchase_item": item.pk, "idempotency_key": "SALE-1"}
    answer = api_staff.post(SALES, body, format="json")
    assert answer.status_code == 409
    assert answer.json()["code"] == "product_not_covered"


def test_an_unknown_plan_or_line_is_a_400(api_staff):
    member = factories.member()
    body = {"member": member.member_no, "plan": 999, "purchase_item": 999, "idempotency_key": "K"}
    answer = api_staff.post(SALES, body, format="json")
    assert answer.status_code == 400
    assert set(answer.json()) == {"plan", "purchase_item"}


def test_support_opens_a_claim_and_a_retry_answers_200(api_support):
    sale = h.sold(day=timezone.localdate())
    body = {"description": "花束第二天就蔫了", "idempotency_key": "CLAIM-1"}
    first = api_support.post(claims_url(sale), body, format="json")
    again = api_support.post(claims_url(sale), body, format="json")
    assert first.status_code == 201, first.json()
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    record = ServiceRecord.objects.get(pk=first.json()["service_record"])
    assert record.kind == ServiceRecord.Kind.CARE_CLAIM


def test_a_claim_after_the_period_is_409_plan_expired(api_support):
    sale = h.sold()  # sold on 1 May 2026 for 7 days
    answer = api_support.post(claims_url(sale), {"description": "枯萎", "idempotency_key": "C"}, format="json")
    assert answer.status_code == 409
    assert answer.json()["code"] == "plan_expired"
    assert "2026" in answer.json()["detail"]


def test_a_second_claim_is_409_no_claims_left(api_support):
    sale = h.sold(day=timezone.localdate())
    api_support.post(claims_url(sale), {"description": "枯萎", "idempotency_key": "C1"}, format="json")
    answer = api_support.post(claims_url(sale), {"description": "又枯萎", "idempotency_key": "C2"}, format="json")
    assert answer.status_code == 409
    assert answer.json()["code"] == "no_claims_left"


def test_a_claim_for_another_product_is_409_product_not_covered(api_support):
    sale = h.sold(day=timezone.localdate())
    factories.product("VASE-1", "玻璃花瓶", "88.00")
    body = {"description": "破了", "idempotency_key": "C1", "sku": "VASE-1"}
    answer = api_support.post(claims_url(sale), body, format="json")
    assert answer.status_code == 409 and answer.json()["code"] == "product_not_covered"


def test_store_staff_may_not_open_claims_and_marketing_may_not_sell(api_staff, api_marketing):
    sale = h.sold(day=timezone.localdate())
    assert api_staff.post(claims_url(sale), {"description": "x", "idempotency_key": "C"}).status_code == 403
    assert api_marketing.post(SALES, {}, format="json").status_code == 403


# 3 on PostgreSQL, where the token, its user and permissions are one query (issue 20).
SALES_LIST_QUERIES = 3 if connection.vendor == "postgresql" else 4


def test_the_sales_list_runs_a_fixed_number_of_queries(api_manager, django_assert_num_queries):
    plan = h.plan(products=[factories.product()])
    h.sold(care_plan=plan)
    with django_assert_num_queries(SALES_LIST_QUERIES):
        api_manager.get(SALES)
    for _ in range(4):
        h.sold(care_plan=plan)
    with django_assert_num_queries(SALES_LIST_QUERIES):
        answer = api_manager.get(SALES)
    assert answer.json()["count"] == 5
