"""Care plans at the till: offered for a covered line with their price, sold in the same confirm
(once, whatever the retries), refused for a walk-in or a product the plan does not cover."""

import json
import uuid

import pytest
from django.test import Client

from members.models import Purchase
from rewards.models import CarePlanSale
from tests.members import factories
from tests.rewards import care_plan_helpers as h
from tests.rewards import catalogue_factories as cf

pytestmark = pytest.mark.django_db

QUOTE = "/admin/till/quote/"
CONFIRM = "/admin/till/confirm/"


def client_for(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def quote(client, body):
    return client.post(QUOTE, json.dumps(body), content_type="application/json")


def confirm(client, body, key):
    return client.post(CONFIRM, {"key": key, "basket": json.dumps(body), "payment_method": "wechat_pay"})


@pytest.fixture
def shop():
    roses = factories.product("ROSE-11", "11枝红玫瑰花束", "199.00")
    vase = factories.product("VASE-01", "玻璃花瓶", "80.00", cat=factories.category("vases", "花瓶"))
    plan = h.plan(products=[roses])
    return roses, vase, plan


def test_the_quote_offers_the_plan_for_the_covered_line_and_adds_its_price(store_staff, shop):
    _roses, _vase, plan = shop
    member = cf.funded_member(points=0)
    body = {"member_no": member.member_no, "lines": [{"sku": "VASE-01"}, {"sku": "ROSE-11"}]}
    client = client_for(store_staff)
    offered = quote(client, body).json()
    assert offered["care_plan_offers"] == [
        {
            "line": 1,
            "sku": "ROSE-11",
            "product": "11枝红玫瑰花束",
            "plans": [{"id": plan.pk, "name": "鲜花养护计划", "price": "19.90", "coverage": plan.coverage}],
        }
    ]
    assert offered["care_plans_total"] == "0.00"
    chosen = quote(client, {**body, "care_plans": [{"line": 1, "plan": plan.pk}]}).json()
    assert chosen["care_plans_total"] == "19.90"
    assert chosen["amount_to_take"] == f"{float(chosen['amount_due']) + 19.90:.2f}"


def test_a_plan_ticked_for_an_uncovered_line_is_a_400(store_staff, shop):
    _roses, _vase, plan = shop
    member = cf.funded_member(points=0)
    body = {"member_no": member.member_no, "lines": [{"sku": "VASE-01"}], "care_plans": [{"line": 0, "plan": plan.pk}]}
    answer = quote(client_for(store_staff), body)
    assert answer.status_code == 400
    assert "not offered" in answer.json()["error"]


def test_confirm_sells_the_plan_with_the_line_once(store_staff, shop):
    _roses, _vase, plan = shop
    member = cf.funded_member(points=0)
    body = {
        "member_no": member.member_no,
        "lines": [{"sku": "VASE-01"}, {"sku": "ROSE-11"}],
        "care_plans": [{"line": 1, "plan": plan.pk}],
    }
    key = f"TILL-{uuid.uuid4().hex}"
    client = client_for(store_staff)
    assert confirm(client, body, key).status_code == 302
    assert confirm(client, body, key).status_code == 302
    purchase = Purchase.objects.get(external_ref=key)
    sale = CarePlanSale.objects.get()
    assert sale.purchase_item.purchase == purchase and sale.purchase_item.sku == "ROSE-11"
    assert sale.member == member and sale.sold_by == store_staff


def test_a_walk_in_may_not_buy_a_plan_and_nothing_is_recorded(store_staff, shop):
    _roses, _vase, plan = shop
    body = {"walk_in": True, "lines": [{"sku": "ROSE-11"}], "care_plans": [{"line": 0, "plan": plan.pk}]}
    key = f"TILL-{uuid.uuid4().hex}"
    answer = confirm(client_for(store_staff), body, key)
    assert answer.status_code == 400
    assert not Purchase.objects.filter(external_ref=key).exists()
    assert not CarePlanSale.objects.exists()
