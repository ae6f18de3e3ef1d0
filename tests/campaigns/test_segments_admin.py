"""Admin: the segment form (rules as fields), the live count endpoint, export, scores, policy."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.models import ClassificationPolicy, Segment
from campaigns.services.segments import save_segment
from tests.members import factories

pytestmark = pytest.mark.django_db

SEGMENTS = "/admin/campaigns/segment/"
PREVIEW = "/admin/campaigns/segment/preview/"


@pytest.fixture
def login(client, request):
    def _login(role: str):
        client.force_login(request.getfixturevalue(role))
        return client

    return _login


def test_marketing_adds_a_segment_through_the_form(login, people, marketing):
    client = login("marketing")
    page = client.get(f"{SEGMENTS}add/")
    assert page.status_code == 200
    body = page.content.decode()
    assert 'id="segment-preview"' in body and "segment_preview.js" in body
    assert 'name="rules"' not in body  # no raw JSON for users
    response = client.post(
        f"{SEGMENTS}add/",
        {
            "name": "二月生日 VIP",
            "description": "",
            "classification": ["high_value", "potential"],
            "tiers": ["gold"],
            "stores": ["sh-001"],
            "tags": ["VIP"],
            "min_spend_12m": "100",
            "last_purchase_after": "2020-01-01",
            "last_purchase_before": "",
            "birthday_month": ["2"],
            "consented_channel": "email",
            "_save": "1",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    segment = Segment.objects.get()
    assert segment.rules == {
        "classification": ["high_value", "potential"], "tiers": ["gold"], "stores": ["sh-001"], "tags": ["VIP"],
        "min_spend_12m": "100.00", "last_purchase_after": "2020-01-01", "birthday_month": 2,
        "consented_channel": "email",
    }  # fmt: skip
    assert (segment.size, segment.created_by) == (1, marketing)


def test_the_change_form_shows_the_saved_rules(login, people):
    segment = save_segment(name="VIP", rules={"tags": ["VIP"], "birthday_month": [2, 7], "tiers": ["gold"]})
    response = login("marketing").get(f"{SEGMENTS}{segment.pk}/change/")
    form = response.context["adminform"].form
    assert form.initial["tags"] == ["VIP"] and form.initial["birthday_month"] == [2, 7]
    body = response.content.decode()
    assert '<option value="VIP" selected>' in body
    assert body.count("checked") == 3  # two months and one tier


def test_form_errors_are_shown_next_to_the_field_and_nothing_is_saved(login, people):
    response = login("marketing").post(
        f"{SEGMENTS}add/",
        {"name": "坏日期", "last_purchase_after": "2026-05-02", "last_purchase_before": "2026-05-01", "_save": "1"},
    )
    assert response.status_code == 200
    assert "last_purchase_before" in response.context["adminform"].form.errors
    assert not Segment.objects.exists()


def test_preview_counts_the_rules_being_edited(login, people):
    client = login("marketing")
    assert client.get(PREVIEW).json()["size"] == 3
    body = client.get(PREVIEW, {"tags": "VIP", "consented_channel": "sms"}).json()
    assert body["size"] == 1 and "1" in body["text"]
    assert client.get(PREVIEW, {"classification": ["high_value", "ordinary"]}).json()["size"] == 2


def test_preview_reports_errors_by_field(login, people):
    response = login("marketing").get(PREVIEW, {"min_spend_12m": "-5", "birthday_month": "13"})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"min_spend_12m", "birthday_month"}


def test_preview_query_count_is_fixed(login, people):
    client = login("marketing")
    client.get(PREVIEW)  # warm the session and permission caches
    with CaptureQueriesContext(connection) as few:
        client.get(PREVIEW, {"tags": "VIP", "stores": "sh-001", "tiers": "gold"})
    for index in range(20):
        factories.member(name=f"会员{index}", tags=["VIP"])
    with CaptureQueriesContext(connection) as many:
        client.get(PREVIEW, {"tags": "VIP", "stores": "sh-001", "tiers": "gold"})
    assert len(many) == len(few)


@pytest.mark.parametrize("role", ["store_staff", "support"])
def test_store_staff_and_support_may_not_see_segments_or_preview(login, people, role):
    client = login(role)
    assert client.get(SEGMENTS).status_code == 403
    assert client.get(PREVIEW).status_code == 403
    assert client.get("/admin/campaigns/memberscore/").status_code == 403


def test_preview_needs_a_login(client, db):
    assert client.get(PREVIEW).status_code == 302


def test_changelist_query_count_is_fixed(login, people, manager):
    client = login("marketing")
    save_segment(name="S0", rules={"tags": ["VIP"]}, actor=manager)
    with CaptureQueriesContext(connection) as few:
        assert client.get(SEGMENTS).status_code == 200
    for index in range(1, 30):
        save_segment(name=f"S{index}", rules={"classification": ["lapsed"], "birthday_month": 3}, actor=manager)
    with CaptureQueriesContext(connection) as many:
        response = client.get(SEGMENTS)
    assert len(many) == len(few)
    assert "S29" in response.content.decode()


def test_export_action_downloads_one_segment(login, people):
    segment = save_segment(name="VIP", rules={"tags": ["VIP"]})
    response = login("marketing").post(SEGMENTS, {"action": "export_members", "_selected_action": [segment.pk]})
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert text.splitlines()[0] == "member_no,name,classification,tier"
    assert len(text.splitlines()) == 3


def test_export_action_wants_exactly_one_segment(login, people):
    a = save_segment(name="A", rules={})
    b = save_segment(name="B", rules={})
    response = login("marketing").post(
        SEGMENTS, {"action": "export_members", "_selected_action": [a.pk, b.pk]}, follow=True
    )
    assert "exactly one" in response.content.decode() or "一个" in response.content.decode()


def test_member_scores_are_read_only_with_a_class_filter_and_chart(login, people):
    client = login("marketing")
    response = client.get("/admin/campaigns/memberscore/", {"classification__exact": "high_value"})
    assert response.status_code == 200
    body = response.content.decode()
    assert people["alice"].member_no in body and people["bob"].member_no not in body
    assert "class-chart" in body
    assert client.get("/admin/campaigns/memberscore/add/").status_code == 403


def test_member_scores_changelist_query_count_is_fixed(login, people):
    client = login("manager")
    with CaptureQueriesContext(connection) as few:
        client.get("/admin/campaigns/memberscore/")
    for index in range(20):
        factories.member(name=f"会员{index}")
    from campaigns.services.classification import classify_members

    classify_members()
    with CaptureQueriesContext(connection) as many:
        client.get("/admin/campaigns/memberscore/")
    assert len(many) == len(few)


def test_only_managers_change_the_policy(login, people):
    url = "/admin/campaigns/classificationpolicy/1/change/"
    assert login("marketing").post(url, {"high_value_share": 30}).status_code == 403
    client = login("manager")
    assert client.get("/admin/campaigns/classificationpolicy/").status_code == 302
    response = client.post(
        url, {"high_value_share": 30, "window_months": 6, "lapsed_after_days": 400, "clv_horizon_months": 12}
    )
    assert response.status_code == 302
    policy = ClassificationPolicy.current()
    assert (policy.high_value_share, policy.window_months, policy.lapsed_after_days) == (30, 6, 400)


def test_policy_refuses_a_share_above_100(login, people):
    response = login("manager").post(
        "/admin/campaigns/classificationpolicy/1/change/",
        {"high_value_share": 120, "window_months": 12, "lapsed_after_days": 730, "clv_horizon_months": 12},
    )
    assert response.status_code == 200
    assert "high_value_share" in response.context["adminform"].form.errors


def test_member_page_shows_the_classification(login, people):
    body = login("manager").get(f"/admin/members/member/{people['alice'].pk}/change/").content.decode()
    assert "m360-classification" in body and "RFM" in body
