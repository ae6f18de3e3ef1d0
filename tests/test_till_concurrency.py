"""Two tills at once on PostgreSQL (issue 13): real threads, each with its own connection and
transaction, through the API."""

from decimal import Decimal

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from members.models import Purchase, PurchaseItem
from rewards import selectors
from rewards.models import POINTS_PAYMENT_CACHE_KEY, Coupon, LedgerEntry
from rewards.services import adjust_points, integrity
from rewards.services import coupons as coupon_services
from tests.conftest import token_client
from tests.members import factories
from tests.rewards import catalogue_factories as cf
from tests.rewards.helpers import account_of, assert_ledger_invariants, reseed_after_flush
from tests.rewards.test_concurrency import run_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PURCHASES = "/api/v1/purchases/"
ITEMS = [{"sku": "ROSE-11", "quantity": 1, "unit_price": "2000.00"}]


@pytest.fixture(autouse=True)
def _seeded(transactional_db):
    reseed_after_flush()
    cache.delete(POINTS_PAYMENT_CACHE_KEY)


def funded(points):
    member = factories.member()
    balance = selectors.points_summary(member).balance
    if points != balance:
        adjust_points(member=member, points=points - balance, reason="test funds", actor=None)
    return member


def till(token, payload):
    def call():
        api = APIClient(raise_request_exception=False)
        api.credentials(HTTP_AUTHORIZATION=token)
        response = api.post(PURCHASES, payload, format="json")
        return response.status_code, response.json()

    return call


def test_two_tills_spending_the_same_points_at_once_one_201_one_409(store_staff):
    member = funded(1000)
    token = token_client(store_staff)._credentials["HTTP_AUTHORIZATION"]
    bodies = [
        {
            "member": member.member_no,
            "external_ref": f"TILL-{index}",
            "ordered_at": "2026-01-10T10:00:00+08:00",
            "items": [{"sku": "ROSE-11", "quantity": 1, "unit_price": "200.00"}],
            "points_to_use": 800,
        }
        for index in range(2)
    ]

    results = run_at_once([till(token, body) for body in bodies])

    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(status for status, _body in results) == [201, 409]
    (refused,) = [body for status, body in results if status == 409]
    assert refused["code"] == "insufficient_points"
    (posted,) = [body for status, body in results if status == 201]
    assert Purchase.objects.count() == 1
    assert list(
        LedgerEntry.objects.filter(kind__in=["spend", "earn"]).order_by("id").values_list("kind", "points")
    ) == [("spend", -800), ("earn", posted["points_earned"])]
    # 200 − 20 (10%) = 180; 800 points = ¥8; 172 paid and earned: 372 left, not enough for 800
    assert posted["points_earned"] == 172
    assert account_of(member).balance == 1000 - 800 + 172 == posted["points_balance"]
    assert integrity.find_balance_mismatches() == []
    assert_ledger_invariants(member)


def test_two_tills_using_the_same_coupon_at_once_one_201_one_409(store_staff):
    member = funded(0)
    coupon = coupon_services.issue_coupon(template=cf.template(), member=member, source=Coupon.Source.MANUAL)
    token = token_client(store_staff)._credentials["HTTP_AUTHORIZATION"]
    bodies = [
        {
            "member": member.member_no,
            "external_ref": f"TILL-C{index}",
            "ordered_at": "2026-01-10T10:00:00+08:00",
            "items": ITEMS,
            "coupon_code": coupon.code,
        }
        for index in range(2)
    ]

    results = run_at_once([till(token, body) for body in bodies])

    assert sorted(status for status, _body in results) == [201, 409]
    assert {body["code"] for status, body in results if status == 409} == {"coupon_invalid"}
    assert Purchase.objects.count() == 1
    coupon.refresh_from_db()
    assert coupon.redeemed_ref == Purchase.objects.get().external_ref
    assert integrity.find_balance_mismatches() == []


def test_returns_of_one_line_at_once_never_return_more_than_was_bought(store_staff):
    member = funded(1000)
    token = token_client(store_staff)._credentials["HTTP_AUTHORIZATION"]
    status, posted = till(
        token,
        {
            "member": member.member_no,
            "external_ref": "TILL-R",
            "ordered_at": "2026-01-10T10:00:00+08:00",
            "items": [{"sku": "ROSE-11", "quantity": 3, "unit_price": "100.00"}],
            "points_to_use": 900,
        },
    )()
    assert status == 201
    (item,) = PurchaseItem.objects.filter(purchase_id=posted["id"])

    def give_back(index):
        def call():
            api = APIClient(raise_request_exception=False)
            api.credentials(HTTP_AUTHORIZATION=token)
            response = api.post(
                f"{PURCHASES}{posted['id']}/refund/",
                {"external_ref": f"RET-{index}", "lines": [{"item": item.pk, "quantity": 1}]},
                format="json",
            )
            return response.status_code, response.json()

        return call

    results = run_at_once([give_back(index) for index in range(5)])

    assert sorted(status for status, _body in results) == [201] * 3 + [400] * 2
    item.refresh_from_db()
    assert item.returned_quantity == 3
    purchase = Purchase.objects.get(pk=posted["id"])
    assert purchase.refunded_total == purchase.total
    assert sum(body["points_returned"] for status, body in results if status == 201) == 900
    assert account_of(member).balance == 1000
    assert integrity.find_balance_mismatches() == []
    assert_ledger_invariants(member)
    assert Decimal(posted["total"]) == purchase.total
