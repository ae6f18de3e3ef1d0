"""GET /api/v1/campaigns/{id}/results/: shape, roles, bad input, fixed query count."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns import results
from campaigns.services import offers
from tests.campaigns.helpers import campaign, drain, launched, member, no_quiet_hours

pytestmark = pytest.mark.django_db


def sent_campaign(recipients=2):
    no_quiet_hours()
    for _i in range(recipients):
        member(sms_consent=True)
    made = campaign()
    offers.set_offer(campaign=made, kind="points", points=10)
    launched(made)
    drain()
    return made


def test_results_for_marketing(api_marketing):
    made = sent_campaign()
    response = api_marketing.get(f"/api/v1/campaigns/{made.pk}/results/")
    assert response.status_code == 200
    body = response.json()
    assert body["campaign"] == made.pk and body["window_days"] == 30
    assert (body["audience"], body["sent"], body["accepted"], body["points_given"]) == (2, 2, 2, 20)
    assert (body["delivered"], body["undelivered"], body["delivery_rate"]) == (0, 0, None)  # no receipts yet
    assert body["skipped"]["control_group"] == 0 and body["lift"] is None
    assert body["points_cost"] == "0.20" and body["roi"] == pytest.approx(-1.0)
    assert set(body["recipients"]) == {"members", "repurchasers", "repurchase_rate", "revenue"}


def test_results_for_managers_not_store_staff_or_support(api_manager, api_staff, api_support, api_anon):
    made = sent_campaign(1)
    url = f"/api/v1/campaigns/{made.pk}/results/"
    assert api_manager.get(url).status_code == 200
    assert api_staff.get(url).status_code == 403
    assert api_support.get(url).status_code == 403
    assert api_anon.get(url).status_code in (401, 403)


def test_bad_window_and_unknown_campaign(api_marketing):
    made = sent_campaign(1)
    response = api_marketing.get(f"/api/v1/campaigns/{made.pk}/results/?window_days=0")
    assert response.status_code == 400 and "window_days" in response.json()
    assert api_marketing.get(f"/api/v1/campaigns/{made.pk}/results/?window_days=abc").status_code == 400
    assert api_marketing.get("/api/v1/campaigns/999999/results/").status_code == 404


def test_query_count_does_not_grow_with_recipients():
    small, large = sent_campaign(3), sent_campaign(30)
    counts = []
    for made in (small, large):
        with CaptureQueriesContext(connection) as queries:
            results.campaign_results(made)
        counts.append(len(queries))
    assert counts[0] == counts[1]
