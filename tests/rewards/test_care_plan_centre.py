"""The member's care plans in the member centre: the page and `GET /api/v1/me/care-plans/`."""

import datetime

import pytest
from django.utils import timezone

from tests.members import factories
from tests.members.centre_pages_helpers import member_api, member_client
from tests.rewards import care_plan_helpers as h

pytestmark = pytest.mark.django_db


def test_the_page_shows_what_is_left_and_until_when(settings):
    member = factories.member()
    today = timezone.localdate()
    plan = h.plan(products=[factories.product()])
    h.sold(member, plan, day=today)
    h.sold(member, plan)  # 1 May 2026: ended
    html = member_client(member, HTTP_ACCEPT_LANGUAGE="zh-hans").get("/m/care-plans/").content.decode()
    assert "鲜花养护计划" in html
    assert (today + datetime.timedelta(days=6)).isoformat() in html
    assert 'id="care-plans-ended"' in html


def test_the_api_lists_running_plans_first_in_a_fixed_number_of_queries(django_assert_num_queries):
    member = factories.member()
    today = timezone.localdate()
    plan = h.plan(products=[factories.product()])
    h.sold(member, plan)
    sale = h.sold(member, plan, day=today)
    api = member_api(member)
    api.get("/api/v1/me/care-plans/")
    with django_assert_num_queries(3):  # the session, its member, the plans
        answer = api.get("/api/v1/me/care-plans/")
    rows = answer.json()
    assert answer.status_code == 200
    assert rows[0]["id"] == sale.pk and rows[0]["active"] is True
    assert (rows[0]["claims_left"], rows[0]["days_left"], rows[0]["product"]) == (1, 7, "11枝红玫瑰花束")
    assert rows[1]["active"] is False and rows[1]["claims_left"] == 0


def test_a_staff_token_is_refused(api_manager):
    assert api_manager.get("/api/v1/me/care-plans/").status_code in (401, 403)
