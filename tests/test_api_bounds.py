"""Numbers too large for the database are refused with a 400 naming the field (issue 11, found by
the OpenAPI fuzzer): a basket adding up beyond the money columns (PostgreSQL: "numeric field
overflow", the quote: `decimal.InvalidOperation`), a quantity or a points grant beyond the integer
columns ("integer out of range"). Each was a 500; the limits are declared in the schema too."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from campaigns.models import Campaign, CampaignOffer
from campaigns.services.offers import set_offer
from members import services as member_services
from members.models import Purchase
from members.services import MAX_LINE_QUANTITY, MAX_PURCHASE_AMOUNT, PurchaseLine
from rewards.models import LedgerEntry
from rewards.services import adjust_points
from rewards.services.ledger import MAX_POINTS_PER_GRANT
from tests.campaigns.helpers import campaign
from tests.members import factories

pytestmark = pytest.mark.django_db

YESTERDAY = (timezone.now() - datetime.timedelta(days=1)).isoformat()
TOO_MUCH = [
    pytest.param({"quantity": 1000, "unit_price": "9999999999.99"}, id="beyond-the-money-columns"),
    pytest.param({"quantity": 2, "unit_price": "9999999.99"}, id="two-lines-worth-beyond-the-limit"),
    pytest.param({"quantity": 3_000_000_000, "unit_price": "1.00"}, id="quantity-beyond-the-integers"),
    pytest.param({"quantity": MAX_LINE_QUANTITY + 1, "unit_price": "0.01"}, id="quantity-beyond-the-limit"),
]


@pytest.fixture
def member(db):
    return factories.member()


@pytest.mark.parametrize("line", TOO_MUCH)
def test_posting_a_basket_beyond_the_limits_is_400_on_items_and_stores_nothing(api_manager, member, line):
    body = {
        "member": member.member_no,
        "external_ref": "BIG-1",
        "ordered_at": YESTERDAY,
        "items": [{"sku": "A", **line}],
    }

    response = api_manager.post("/api/v1/purchases/", body, format="json")

    assert response.status_code == 400, response.content
    assert "items" in response.json()
    assert not Purchase.objects.exists()


@pytest.mark.parametrize("line", TOO_MUCH)
@pytest.mark.parametrize("path", ["/api/v1/checkout/quote/", "/api/v1/points/preview/"])
def test_pricing_a_basket_beyond_the_limits_is_400_on_items(api_manager, member, path, line):
    body = {"member": member.member_no, "items": [{"sku": "A", **line}]}

    response = api_manager.post(path, body, format="json")

    assert response.status_code == 400, response.content
    assert "items" in response.json()


def test_a_basket_at_the_limit_is_still_posted(api_manager, member):
    body = {
        "member": member.member_no,
        "external_ref": "BIG-OK",
        "ordered_at": YESTERDAY,
        "items": [{"sku": "A", "quantity": 1, "unit_price": str(MAX_PURCHASE_AMOUNT)}],
    }

    response = api_manager.post("/api/v1/purchases/", body, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["total"] == str(MAX_PURCHASE_AMOUNT)


def test_the_posting_service_refuses_the_same_for_every_caller(member):
    """Imports and the till post through `record_purchase` without the API's serializer."""
    line = PurchaseLine(sku="A", quantity=2, unit_price=MAX_PURCHASE_AMOUNT)

    with pytest.raises(ValidationError) as refused:
        member_services.record_purchase(
            member=member, external_ref="BIG-2", ordered_at=timezone.now(), items=[line], store=None
        )

    assert "items" in refused.value.message_dict
    assert not Purchase.objects.exists()


@pytest.mark.parametrize("points", [3_000_000_000, -3_000_000_000, MAX_POINTS_PER_GRANT + 1])
def test_adjusting_beyond_the_limit_is_400_on_points_and_writes_nothing(api_manager, member, points):
    response = api_manager.post(
        f"/api/v1/members/{member.member_no}/points/adjust/", {"points": points, "reason": "typo"}, format="json"
    )

    assert response.status_code == 400, response.content
    assert "points" in response.json()
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.ADJUSTMENT).exists()


def test_the_adjustment_service_refuses_it_for_the_admin_too(member):
    with pytest.raises(ValidationError) as refused:
        adjust_points(member=member, points=MAX_POINTS_PER_GRANT + 1, reason="typo", actor=None)

    assert "points" in refused.value.message_dict


def test_a_campaign_offering_points_beyond_the_limit_is_400_and_stores_nothing(api_manager):
    body = {"name": "x", "channel": "sms", "body": "hi", "offer": {"kind": "points", "points": 3_000_000_000}}

    response = api_manager.post("/api/v1/campaigns/", body, format="json")

    assert response.status_code == 400, response.content
    assert "points" in response.json()["offer"]
    assert not Campaign.objects.exists() and not CampaignOffer.objects.exists()


def test_the_offer_service_refuses_it_for_the_admin_too():
    draft = campaign()

    with pytest.raises(ValidationError) as refused:
        set_offer(campaign=draft, kind=CampaignOffer.Kind.POINTS, points=MAX_POINTS_PER_GRANT + 1)

    assert "points" in refused.value.message_dict


def test_the_schema_declares_the_limits(api_manager):
    import yaml

    schema = yaml.safe_load(api_manager.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi").content)
    components = schema["components"]["schemas"]
    item = components["ItemInputRequest"]["properties"]
    adjust = components["AdjustInputRequest"]["properties"]["points"]

    assert item["quantity"]["maximum"] == MAX_LINE_QUANTITY
    assert (adjust["minimum"], adjust["maximum"]) == (-MAX_POINTS_PER_GRANT, MAX_POINTS_PER_GRANT)
