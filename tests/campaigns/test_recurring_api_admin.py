"""Recurring campaigns through the API (`recurrence`, `next_run_at`) and the admin (schedule
fields on a draft, next run, runs listed), with permissions and fixed query counts."""

import datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.models import Campaign
from campaigns.services import launch_campaign
from campaigns.services import recurring as recurring_service
from tests.campaigns.helpers import campaign, drain, member, no_quiet_hours
from tests.campaigns.recurring_helpers import at, recurring
from tests.campaigns.test_admin import form_data, logged_in

pytestmark = pytest.mark.django_db
CAMPAIGNS = "/api/v1/campaigns/"
ADMIN = "/admin/campaigns/campaign/"
BODY = {"name": "周一会员日", "channel": "sms", "body": "{{ member.name }}您好，今天会员日全场九折。"}


# --- API ---------------------------------------------------------------------------------------


def test_create_a_weekly_campaign_and_read_its_schedule(api_marketing):
    recurrence = {"frequency": "weekly", "time": "10:00", "weekday": 1, "until": "2026-12-31"}
    response = api_marketing.post(CAMPAIGNS, BODY | {"recurrence": recurrence}, format="json")
    assert response.status_code == 201
    made = Campaign.objects.get()
    assert (made.repeat, made.repeat_time, made.repeat_weekday, made.repeat_day, made.repeat_until) == (
        "weekly", datetime.time(10, 0), 1, None, datetime.date(2026, 12, 31),
    )  # fmt: skip
    body = api_marketing.get(f"{CAMPAIGNS}{made.pk}/").json()
    assert body["recurrence"] == recurrence | {"day": None}
    assert body["next_run_at"] is None  # a draft does not run
    with time_machine.travel(at("2026-03-04", "12:00"), tick=False):
        assert api_marketing.post(f"{CAMPAIGNS}{made.pk}/launch/").status_code == 202
        body = api_marketing.get(f"{CAMPAIGNS}{made.pk}/").json()
    assert body["status"] == "scheduled"
    assert body["next_run_at"] == "2026-03-09T10:00:00+08:00"


def test_a_one_off_campaign_shows_no_recurrence(api_marketing):
    made = campaign()
    body = api_marketing.get(f"{CAMPAIGNS}{made.pk}/").json()
    assert (body["recurrence"], body["next_run_at"]) == (None, None)
    assert api_marketing.post(CAMPAIGNS, BODY | {"recurrence": None}, format="json").status_code == 201


@pytest.mark.parametrize(
    ("recurrence", "field"),
    [
        ({"frequency": "hourly", "time": "10:00"}, "frequency"),
        ({"frequency": "daily"}, "time"),
        ({"frequency": "daily", "time": "25:00"}, "time"),
        ({"frequency": "weekly", "time": "10:00"}, "weekday"),
        ({"frequency": "weekly", "time": "10:00", "weekday": 8}, "weekday"),
        ({"frequency": "daily", "time": "10:00", "weekday": 2}, "weekday"),
        ({"frequency": "monthly", "time": "10:00", "day": 31}, "day"),
        ({"frequency": "monthly", "time": "10:00"}, "day"),
        ({"frequency": "daily", "time": "10:00", "until": "soon"}, "until"),
    ],
)
def test_bad_recurrence_is_400_naming_the_part(api_marketing, recurrence, field):
    response = api_marketing.post(CAMPAIGNS, BODY | {"recurrence": recurrence}, format="json")
    assert response.status_code == 400
    assert field in response.json()["recurrence"]
    assert not Campaign.objects.exists()


def test_until_before_the_start_and_end_at_are_400(api_marketing):
    daily = {"frequency": "daily", "time": "10:00"}
    early = BODY | {"start_at": "2026-06-01T10:00:00+08:00", "recurrence": daily | {"until": "2026-05-31"}}
    response = api_marketing.post(CAMPAIGNS, early, format="json")
    assert response.status_code == 400 and "until" in response.json()["recurrence"]
    response = api_marketing.post(CAMPAIGNS, BODY | {"end_at": "2026-06-01T10:00:00+08:00", "recurrence": daily},
                                  format="json")  # fmt: skip
    assert response.status_code == 400 and "end_at" in response.json()
    assert not Campaign.objects.exists()


def test_store_staff_may_not_create_recurring_campaigns(api_staff, api_support):
    body = BODY | {"recurrence": {"frequency": "daily", "time": "10:00"}}
    for client in (api_staff, api_support):
        assert client.post(CAMPAIGNS, body, format="json").status_code == 403
    assert not Campaign.objects.exists()


def test_cancel_through_the_api_disables_the_beat_entry(api_marketing):
    made = recurring()
    launch_campaign(campaign=made)
    assert api_marketing.post(f"{CAMPAIGNS}{made.pk}/cancel/").status_code == 200
    made.refresh_from_db()
    assert made.periodic_task.enabled is False
    assert api_marketing.get(f"{CAMPAIGNS}{made.pk}/").json()["next_run_at"] is None


def test_list_query_count_does_not_grow_with_recurring_campaigns(api_marketing):
    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            response = api_marketing.get(CAMPAIGNS)
        assert response.status_code == 200
        return len(queries), response.json()["results"]

    for i in range(3):
        launch_campaign(campaign=recurring(name=f"r{i}", segment=None))
    few, rows = count_queries()
    assert all(row["recurrence"]["frequency"] == "daily" and row["next_run_at"] for row in rows)
    for i in range(27):
        launch_campaign(campaign=recurring(name=f"s{i}", segment=None, repeat="monthly", repeat_day=1))
    many, rows = count_queries()
    assert len(rows) > 3 and few == many


# --- admin -------------------------------------------------------------------------------------


def schedule_data(**changes):
    schedule = {"repeat": "weekly", "repeat_time": "09:30", "repeat_weekday": "5", "repeat_day": "", "repeat_until": ""}
    return form_data(**(schedule | changes))


def test_marketing_adds_a_weekly_draft_in_the_admin(client, marketing):
    logged_in(client, marketing)
    response = client.post(f"{ADMIN}add/", schedule_data())
    assert response.status_code == 302
    made = Campaign.objects.get()
    assert (made.repeat, made.repeat_time, made.repeat_weekday) == ("weekly", datetime.time(9, 30), 5)
    page = client.get(f"{ADMIN}{made.pk}/change/").content.decode()
    assert 'name="repeat_weekday"' in page  # editable on a draft


def test_admin_shows_a_schedule_error_on_its_field(client, marketing):
    logged_in(client, marketing)
    response = client.post(f"{ADMIN}add/", schedule_data(repeat_weekday=""))
    assert response.status_code == 200
    assert "repeat_weekday" in response.context["adminform"].form.errors
    assert not Campaign.objects.exists()


def test_a_launched_recurring_campaign_shows_next_run_and_runs_read_only(client, marketing):
    no_quiet_hours()
    member(sms_consent=True, tags=["VIP"])
    made = recurring()
    launch_campaign(campaign=made, now=at("2026-03-01"))
    for day in ("2026-03-02", "2026-03-03"):
        with time_machine.travel(at(day), tick=True):
            recurring_service.run_occurrence(campaign_id=made.pk, now=at(day))
            drain()
    logged_in(client, marketing)
    with time_machine.travel(at("2026-03-03", "12:00"), tick=False):
        page = client.get(f"{ADMIN}{made.pk}/change/").content.decode()
    assert 'name="repeat_weekday"' not in page  # read-only once launched
    assert "campaign-runs" in page and "2026-03-02" in page and "2026-03-03" in page
    assert "March 4, 2026, 10 a.m." in page  # the next run
    assert client.post(f"{ADMIN}{made.pk}/change/", schedule_data()).status_code == 403


def test_admin_list_shows_the_schedule_with_fixed_queries(client, marketing):
    logged_in(client, marketing)

    def count():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(ADMIN)
            assert response.status_code == 200
        return len(queries), response.content.decode()

    for i in range(3):
        launch_campaign(campaign=recurring(name=f"a{i}", segment=None))
    few, page = count()
    for i in range(27):
        launch_campaign(campaign=recurring(name=f"b{i}", segment=None, repeat="weekly", repeat_weekday=2))
    many, page = count()
    assert few == many
    assert "Every day at 10:00" in page and "Every Tuesday at 10:00" in page


def test_store_staff_cannot_open_campaigns_in_the_admin(client, store_staff):
    made = recurring(segment=None)
    logged_in(client, store_staff)
    assert client.get(f"{ADMIN}{made.pk}/change/").status_code in (302, 403)
    assert client.post(f"{ADMIN}add/", schedule_data()).status_code in (302, 403)
    assert Campaign.objects.count() == 1
