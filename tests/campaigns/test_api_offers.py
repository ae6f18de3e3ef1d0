"""Offers through the API: `offer` on POST /api/v1/campaigns/ goes through `offers.set_offer`,
the detail shows it, and the offer is given when the campaign is sent."""

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.models import Campaign, CampaignOffer, SmsLog
from campaigns.services import offers
from rewards.models import Coupon, LedgerEntry
from tests.campaigns.helpers import campaign, drain, launched, member, no_quiet_hours
from tests.conftest import make_user, token_client
from tests.rewards import catalogue_factories

pytestmark = pytest.mark.django_db
CAMPAIGNS = "/api/v1/campaigns/"
BODY = {"name": "会员日", "channel": "sms", "body": "{{ member.name }}您好，券码{{ coupon.code }}。"}


def test_create_with_a_coupon_offer_and_the_detail_shows_it(api_marketing):
    coupon = catalogue_factories.template(name="满100减20")
    response = api_marketing.post(
        CAMPAIGNS, BODY | {"offer": {"kind": "coupon", "coupon_template": coupon.pk}}, format="json"
    )
    assert response.status_code == 201
    made = Campaign.objects.get(pk=response.json()["id"])
    assert (made.offer.kind, made.offer.coupon_template, made.offer.points) == ("coupon", coupon, 0)
    detail = api_marketing.get(f"{CAMPAIGNS}{made.pk}/").json()
    assert detail["offer"] == {"kind": "coupon", "coupon_template": coupon.pk, "coupon_name": "满100减20", "points": 0}


def test_create_with_bonus_points(api_manager):
    response = api_manager.post(CAMPAIGNS, BODY | {"offer": {"kind": "points", "points": 50}}, format="json")
    assert response.status_code == 201
    detail = api_manager.get(f"{CAMPAIGNS}{response.json()['id']}/").json()
    assert detail["offer"] == {"kind": "points", "coupon_template": None, "coupon_name": None, "points": 50}


def test_without_an_offer_the_detail_shows_null(api_marketing):
    response = api_marketing.post(CAMPAIGNS, BODY, format="json")
    assert response.status_code == 201
    assert api_marketing.get(f"{CAMPAIGNS}{response.json()['id']}/").json()["offer"] is None
    assert not CampaignOffer.objects.exists()


@pytest.mark.parametrize(
    ("offer", "field"),
    [
        ({"kind": "coupon", "coupon_template": 999999}, "coupon_template"),  # unknown template
        ({"kind": "coupon"}, "coupon_template"),  # no template
        ({"kind": "points", "points": 0}, "points"),
        ({"kind": "points", "points": -5}, "points"),
        ({"kind": "points"}, "points"),
        ({"kind": "coupon", "coupon_template": "TEMPLATE", "points": 10}, "points"),  # both given
        ({"kind": "points", "coupon_template": "TEMPLATE", "points": 10}, "points"),  # both given
        ({"kind": "points", "coupon_template": "TEMPLATE"}, "coupon_template"),
        ({"kind": "voucher"}, "kind"),
        ({"kind": "coupon", "coupon_template": "INACTIVE"}, "coupon_template"),
    ],
)
def test_bad_offer_is_400_naming_the_field_and_stores_nothing(api_marketing, offer, field):
    active = catalogue_factories.template()
    inactive = catalogue_factories.template(name="已停用", is_active=False)
    ids = {"TEMPLATE": active.pk, "INACTIVE": inactive.pk}
    offer = {key: ids.get(value, value) if isinstance(value, str) else value for key, value in offer.items()}
    response = api_marketing.post(CAMPAIGNS, BODY | {"offer": offer}, format="json")
    assert response.status_code == 400
    assert field in response.json()["offer"], response.json()
    assert not Campaign.objects.exists() and not CampaignOffer.objects.exists()


def test_a_bad_campaign_field_with_a_good_offer_is_400_on_that_field(api_marketing):
    response = api_marketing.post(
        CAMPAIGNS, BODY | {"channel": "email", "offer": {"kind": "points", "points": 5}}, format="json"
    )
    assert response.status_code == 400
    assert "subject" in response.json() and "offer" not in response.json()
    assert not Campaign.objects.exists()


def test_offer_needs_the_add_offer_permission(db):
    writer = make_user("writer")
    writer.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="campaigns", codename__in=["add_campaign", "view_campaign"])
    )
    client = token_client(writer)
    assert client.post(CAMPAIGNS, BODY | {"offer": {"kind": "points", "points": 5}}, format="json").status_code == 403
    assert not Campaign.objects.exists()
    assert client.post(CAMPAIGNS, BODY, format="json").status_code == 201


def test_store_staff_and_support_cannot_create_with_an_offer(api_staff, api_support):
    for client in (api_staff, api_support):
        response = client.post(CAMPAIGNS, BODY | {"offer": {"kind": "points", "points": 5}}, format="json")
        assert response.status_code == 403
    assert not Campaign.objects.exists()


def test_offer_made_through_the_api_is_given_on_send(api_marketing):
    no_quiet_hours()
    coupon = catalogue_factories.template(name="春季券")
    alice = member(name="Alice", sms_consent=True)
    response = api_marketing.post(
        CAMPAIGNS, BODY | {"offer": {"kind": "coupon", "coupon_template": coupon.pk}}, format="json"
    )
    launched(Campaign.objects.get(pk=response.json()["id"]))
    drain()
    issued = Coupon.objects.get()
    assert issued.member == alice and issued.template == coupon
    assert issued.code in SmsLog.objects.get().text
    points = api_marketing.post(CAMPAIGNS, BODY | {"offer": {"kind": "points", "points": 30}}, format="json")
    launched(Campaign.objects.get(pk=points.json()["id"]))
    drain()
    bonus = LedgerEntry.objects.get(kind=LedgerEntry.Kind.BONUS)
    assert (bonus.member, bonus.points) == (alice, 30)


def test_list_query_count_does_not_grow_with_offers(api_marketing):
    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            response = api_marketing.get(CAMPAIGNS)
        assert response.status_code == 200
        return len(queries), response.json()

    coupon = catalogue_factories.template()
    for i in range(2):
        offers.set_offer(campaign=campaign(name=f"c{i}"), kind="coupon", coupon_template=coupon)
    few, body = count_queries()
    assert {row["offer"]["kind"] for row in body["results"]} == {"coupon"}
    for i in range(20):
        made = campaign(name=f"d{i}")
        if i % 2:
            offers.set_offer(campaign=made, kind="points", points=i)
    many, body = count_queries()
    assert body["count"] == 22 and few == many
