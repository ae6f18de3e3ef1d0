"""The campaign results page and the offer inline in the back office; roles."""

import pytest

from campaigns.models import CampaignOffer
from tests.campaigns.helpers import campaign, drain, launched, member, no_quiet_hours
from tests.campaigns.test_admin import CAMPAIGNS, form_data, logged_in
from tests.rewards import catalogue_factories

pytestmark = pytest.mark.django_db


def sent():
    no_quiet_hours()
    member(sms_consent=True)
    member()
    made = launched(campaign(name="已发送"))
    drain()
    return made


def test_results_page_for_marketing_and_managers(client, marketing, manager):
    made = sent()
    for user in (marketing, manager):
        response = logged_in(client, user).get(f"{CAMPAIGNS}{made.pk}/results/?window_days=14")
        assert response.status_code == 200
        figures = response.context["figures"]
        assert (figures.audience, figures.sent, figures.window_days) == (2, 1, 14)
        page = response.content.decode()
        assert "bar-chart-funnel" in page and "bar-chart-control" in page
    change = client.get(f"{CAMPAIGNS}{made.pk}/change/").content.decode()
    assert f"{CAMPAIGNS}{made.pk}/results/" in change


def test_results_page_refused_to_store_staff_and_support(client, store_staff, support):
    made = sent()
    for user in (store_staff, support):
        assert logged_in(client, user).get(f"{CAMPAIGNS}{made.pk}/results/").status_code in (302, 403)


def test_bad_window_falls_back_to_the_default(client, marketing):
    made = sent()
    response = logged_in(client, marketing).get(f"{CAMPAIGNS}{made.pk}/results/?window_days=x")
    assert response.context["window_days"] == 30


def test_offer_inline_saves_through_the_service(client, marketing):
    template = catalogue_factories.template(name="满100减20")
    data = form_data(**{
        "offer-TOTAL_FORMS": "1", "offer-0-kind": "coupon", "offer-0-coupon_template": str(template.pk),
        "offer-0-points": "0",
    })  # fmt: skip
    response = logged_in(client, marketing).post(f"{CAMPAIGNS}add/", data)
    assert response.status_code == 302, response.context["errors"] if response.context else response
    offer = CampaignOffer.objects.get()
    assert (offer.kind, offer.coupon_template_id, offer.points) == ("coupon", template.pk, 0)


def test_admin_launches_a_pilot_and_expands_it(client, marketing, store_staff):
    from campaigns.services import dispatch

    no_quiet_hours()
    for _i in range(10):
        member(sms_consent=True)
    made = campaign()
    logged_in(client, marketing)
    page = client.get(f"{CAMPAIGNS}{made.pk}/change/").content.decode()
    assert "campaign-pilot-form" in page
    client.post(f"{CAMPAIGNS}{made.pk}/pilot/", {"classification": "", "sample_pct": "50"})
    made.refresh_from_db()
    assert made.status == "scheduled" and made.pilot.sample_pct == 50
    dispatch.start_campaign(campaign_id=made.pk)
    drain()
    piloted = made.outbox_messages.count()
    page = client.get(f"{CAMPAIGNS}{made.pk}/change/").content.decode()
    assert "campaign-expand" in page
    logged_in(client, store_staff)
    assert client.post(f"{CAMPAIGNS}{made.pk}/expand/").status_code in (302, 403)
    assert made.outbox_messages.count() == piloted
    logged_in(client, marketing).post(f"{CAMPAIGNS}{made.pk}/expand/")
    assert made.outbox_messages.count() == 10
