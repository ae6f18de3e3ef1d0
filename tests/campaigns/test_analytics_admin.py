"""The "Programme analytics" admin page: managers only, the figures of the selectors, a period
picker, and a fixed number of queries whatever the shop's size."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.campaigns.test_analytics_api import shop

pytestmark = pytest.mark.django_db
URL = "/admin/campaigns/campaign/programme-analytics/"


def test_managers_see_the_figures_of_the_period(client, manager):
    shop()
    client.force_login(manager)
    page = client.get(URL + "?start=2026-01-01&end=2026-02-28")
    assert page.status_code == 200
    text = page.content.decode()
    assert 'data-figure="issued">600<' in text
    assert "¥450.00" in text and "¥90.00" in text  # member and walk-in sales
    assert 'class="heat-map"' in text and "2026-01" in text
    assert "Assumptions: gross margin 40.00%" in text


@pytest.mark.parametrize("user", ["marketing", "store_staff", "support"])
def test_other_roles_may_not_open_it(client, user, request):
    client.force_login(request.getfixturevalue(user))
    assert client.get(URL).status_code == 403


def test_a_bad_period_is_said_and_the_default_shown(client, manager):
    client.force_login(manager)
    page = client.get(URL + "?start=2026-03-01&end=2026-02-01")
    assert page.status_code == 200
    assert "The start of the period is after its end." in page.content.decode()


def test_the_page_runs_the_same_number_of_queries_for_a_small_and_a_larger_shop(client, manager):
    client.force_login(manager)
    url = URL + "?start=2026-01-01&end=2026-02-28"
    shop(2)
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    shop(12)
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    assert len(few) == len(many)


def test_managers_edit_the_assumptions_and_the_page_uses_them(client, manager, marketing):
    from decimal import Decimal

    from rewards.models import ProgrammeAssumptions

    client.force_login(manager)
    listing = client.get("/admin/rewards/programmeassumptions/")
    assert listing.status_code == 302 and listing["Location"].endswith("/add/")
    saved = client.post(
        "/admin/rewards/programmeassumptions/add/",
        {"cost_per_point": "0.0200", "margin_percent": "35", "cost_per_message": "0.0800"},
    )
    assert saved.status_code == 302
    assert ProgrammeAssumptions.load().margin_percent == Decimal("35.00")
    assert client.get("/admin/rewards/programmeassumptions/")["Location"].endswith("/1/change/")
    assert client.get("/admin/rewards/programmeassumptions/add/")["Location"].endswith("/1/change/")  # one row
    assert "gross margin 35.00%" in client.get(URL).content.decode()
    refused = client.post(
        "/admin/rewards/programmeassumptions/1/change/",
        {"cost_per_point": "0.02", "margin_percent": "140", "cost_per_message": "0.08"},
    )
    assert refused.status_code == 200 and ProgrammeAssumptions.load().margin_percent == Decimal("35.00")
    client.force_login(marketing)
    assert client.get("/admin/rewards/programmeassumptions/1/change/").status_code == 403
