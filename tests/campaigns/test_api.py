"""The campaigns API: status codes, shapes and permissions (docs/api.md "Segments, campaigns and contact policy")."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.models import Campaign, Segment
from campaigns.services import dispatch
from tests.campaigns.helpers import campaign, launched, member, no_quiet_hours

pytestmark = pytest.mark.django_db
CAMPAIGNS = "/api/v1/campaigns/"
POLICY = "/api/v1/contact-policy/"
BODY = {"name": "会员日", "channel": "sms", "body": "{{ member.name }}您好，会员日全场九折。"}


def test_marketing_creates_a_draft(api_marketing, marketing):
    response = api_marketing.post(CAMPAIGNS, BODY, format="json")
    assert response.status_code == 201
    assert response.json() == {"id": response.json()["id"], "status": "draft", "warnings": []}
    assert Campaign.objects.get().created_by == marketing


def test_create_with_segment_start_and_control_group(api_manager):
    segment = Segment.objects.create(name="上海店", rules={"stores": ["sh-001"]})
    body = BODY | {"segment": segment.pk, "start_at": "2026-12-01T10:00:00+08:00", "control_group_pct": 10}
    response = api_manager.post(CAMPAIGNS, body, format="json")
    assert response.status_code == 201
    made = Campaign.objects.get()
    assert (made.segment, made.control_group_pct, made.start_at.isoformat()) == (
        segment,
        10,
        "2026-12-01T02:00:00+00:00",
    )


def test_create_warns_about_unknown_fields(api_marketing):
    response = api_marketing.post(CAMPAIGNS, BODY | {"body": "{{ member.nick }}你好"}, format="json")
    assert response.status_code == 201
    assert "member.nick" in response.json()["warnings"][0]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"body": "{% if %}"}, "body"),
        ({"channel": "email"}, "subject"),
        ({"channel": "fax"}, "channel"),
        ({"control_group_pct": 91}, "control_group_pct"),
        ({"segment": 999}, "segment"),
    ],
)
def test_create_refuses_bad_input_with_400_naming_the_field(api_marketing, changes, field):
    response = api_marketing.post(CAMPAIGNS, BODY | changes, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Campaign.objects.exists()


def test_store_staff_and_support_may_not_touch_campaigns(api_staff, api_support):
    made = campaign()
    for client in (api_staff, api_support):
        assert client.post(CAMPAIGNS, BODY, format="json").status_code == 403
        assert client.get(CAMPAIGNS).status_code == 403
        assert client.get(f"{CAMPAIGNS}{made.pk}/").status_code == 403
        assert client.post(f"{CAMPAIGNS}{made.pk}/launch/").status_code == 403
        assert client.post(f"{CAMPAIGNS}{made.pk}/cancel/").status_code == 403
    made.refresh_from_db()
    assert made.status == "draft"


def test_anonymous_gets_401(api_anon):
    assert api_anon.get(CAMPAIGNS).status_code == 401
    assert api_anon.get(POLICY).status_code == 401


def test_launch_answers_202_scheduled_and_then_409(api_marketing, django_capture_on_commit_callbacks):
    made = campaign()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api_marketing.post(f"{CAMPAIGNS}{made.pk}/launch/")
    assert response.status_code == 202
    assert response.json() == {"status": "scheduled"}
    assert len(callbacks) == 1  # the start is enqueued after commit (start_at was empty: now)
    again = api_marketing.post(f"{CAMPAIGNS}{made.pk}/launch/")
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"


def test_cancel_then_cancel_again_is_409(api_marketing):
    made = campaign()
    assert api_marketing.post(f"{CAMPAIGNS}{made.pk}/cancel/").json() == {"status": "cancelled"}
    response = api_marketing.post(f"{CAMPAIGNS}{made.pk}/cancel/")
    assert response.status_code == 409 and response.json()["code"] == "invalid_transition"


def test_unknown_campaign_is_404(api_marketing):
    assert api_marketing.get(f"{CAMPAIGNS}999/").status_code == 404
    assert api_marketing.post(f"{CAMPAIGNS}999/launch/").status_code == 404


def test_detail_shows_status_and_counts(api_marketing):
    no_quiet_hours()
    member(sms_consent=True)
    member(sms_consent=True)
    member()  # no consent
    made = launched(campaign())
    dispatch.dispatch_batch(owner="w")
    body = api_marketing.get(f"{CAMPAIGNS}{made.pk}/").json()
    assert body["status"] == "completed"
    assert (body["audience"], body["sent"], body["failed"], body["in_doubt"]) == (3, 2, 0, 0)
    assert body["skipped"] == {
        "no_consent": 1, "opted_out": 0, "frequency_cap": 0, "quiet_hours": 0, "control_group": 0, "cancelled": 0,
        "nothing_to_remind": 0,
    }  # fmt: skip


def test_list_query_count_does_not_grow(api_marketing):
    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            response = api_marketing.get(CAMPAIGNS)
        assert response.status_code == 200
        return len(queries), response.json()["count"]

    for i in range(3):
        launched(campaign(name=f"c{i}"))
    few, n = count_queries()
    assert n == 3
    for i in range(27):
        launched(campaign(name=f"d{i}"))
    many, n = count_queries()
    assert n == 30
    assert few == many


def test_list_filters_by_status(api_marketing):
    campaign(name="draft one")
    launched(campaign(name="sent one"))
    body = api_marketing.get(CAMPAIGNS, {"status": "draft"}).json()
    assert [row["name"] for row in body["results"]] == ["draft one"]


# --- contact policy ----------------------------------------------------------------------------


def test_manager_reads_the_default_policy(api_manager):
    response = api_manager.get(POLICY)
    assert response.status_code == 200
    assert response.json() == {
        "quiet_hours": {"start": "21:00", "end": "09:00"},
        "timezone": "Asia/Shanghai",
        "frequency_cap": {"messages": 4, "days": 30},
        "send_rate": {"email": 20, "sms": 10, "wechat": 20},
        "daily_budget": {"email": 0, "sms": 0, "wechat": 0},
    }


def test_manager_patches_the_policy(api_manager):
    response = api_manager.patch(
        POLICY, {"frequency_cap": {"messages": 2, "days": 7}, "quiet_hours": None}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["frequency_cap"] == {"messages": 2, "days": 7}
    assert response.json()["quiet_hours"] is None
    assert response.json()["send_rate"] == {"email": 20, "sms": 10, "wechat": 20}  # untouched
    response = api_manager.patch(POLICY, {"quiet_hours": {"start": "22:30", "end": "08:00"}}, format="json")
    assert response.json()["quiet_hours"] == {"start": "22:30", "end": "08:00"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"frequency_cap": {"messages": 0, "days": 30}}, "frequency_cap"),
        ({"send_rate": {"email": 5}}, "send_rate"),
        ({"quiet_hours": {"start": "25:00", "end": "09:00"}}, "quiet_hours"),
        ({"quiet_hours": {"start": "09:00", "end": "09:00"}}, "quiet_hours"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
    ],
)
def test_bad_policy_is_400_and_changes_nothing(api_manager, body, field):
    response = api_manager.patch(POLICY, body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert api_manager.get(POLICY).json()["frequency_cap"] == {"messages": 4, "days": 30}


@pytest.mark.parametrize("client", ["api_marketing", "api_staff", "api_support"])
def test_only_managers_see_or_change_the_policy(request, client):
    api = request.getfixturevalue(client)
    assert api.get(POLICY).status_code == 403
    assert api.patch(POLICY, {"quiet_hours": None}, format="json").status_code == 403


@pytest.mark.parametrize(("body", "name"), [("{% lorem 300000 w %}", "lorem"), ("{% debug %}", "debug")])
def test_create_refuses_a_tag_outside_the_sandbox_naming_it(api_marketing, body, name):
    response = api_marketing.post(CAMPAIGNS, BODY | {"body": body}, format="json")
    assert response.status_code == 400
    assert f"“{name}”" in response.json()["body"][0]
    assert not Campaign.objects.exists()


def test_create_refuses_a_message_over_the_size_limit(api_marketing, settings):
    settings.CAMPAIGN_MESSAGE_MAX_CHARS = 50
    response = api_marketing.post(CAMPAIGNS, BODY | {"body": "会员日" * 20}, format="json")
    assert response.status_code == 400
    assert "60 characters" in response.json()["body"][0]
