"""Segments API and the members API's classification (docs/api.md "Segments, campaigns and contact policy")."""

import csv
import datetime
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.models import Segment
from campaigns.services.classification import classify_members
from campaigns.services.segments import save_segment
from tests.campaigns.segment_helpers import buy
from tests.members import factories

pytestmark = pytest.mark.django_db

SEGMENTS = "/api/v1/segments/"
MEMBERS = "/api/v1/members/"


def count_queries(client, url, params=None) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params or {})
    assert response.status_code == 200, response.content
    return len(queries)


# --- members API: classification and RFM --------------------------------------------------------


def test_member_detail_shows_classification_and_rfm(api_marketing, people):
    body = api_marketing.get(f"{MEMBERS}{people['alice'].member_no}/").json()
    assert body["classification"] == "high_value"
    assert body["rfm"]["score"] == body["rfm"]["recency"] + body["rfm"]["frequency"] + body["rfm"]["monetary"]
    assert body["rfm"]["recency_days"] == 10
    assert body["rfm"]["purchases_12m"] == 1
    assert body["rfm"]["spend_12m"] == "6000.00"
    carol = api_marketing.get(f"{MEMBERS}{people['carol'].member_no}/").json()
    assert (carol["classification"], carol["rfm"]) == ("no_purchases", None)


def test_member_never_classified_has_null_classification(api_staff, db):
    member = factories.member()
    body = api_staff.get(f"{MEMBERS}{member.member_no}/").json()
    assert (body["classification"], body["rfm"]) == (None, None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("high_value", {"Alice"}),
        ("ordinary", {"Bob"}),
        ("potential", {"Dave"}),
        ("lapsed", set()),
    ],  # Dave is frozen, still classified
)
def test_member_list_filters_by_classification(api_staff, people, value, expected):
    body = api_staff.get(MEMBERS, {"classification": value}).json()
    assert {row["name"] for row in body["results"]} == expected


def test_member_list_classification_filter_accepts_several_and_refuses_unknown(api_staff, people):
    body = api_staff.get(f"{MEMBERS}?classification=high_value&classification=ordinary").json()
    assert {row["name"] for row in body["results"]} == {"Alice", "Bob"}
    response = api_staff.get(MEMBERS, {"classification": "vip"})
    assert response.status_code == 400
    assert "classification" in response.json()


def test_member_list_query_count_does_not_grow_with_classified_rows(api_staff, db):
    for index in range(3):
        buy(factories.member(name=f"会员{index}"), "100.00", timezone.now() - datetime.timedelta(days=index + 1))
    classify_members(as_of=timezone.localdate())
    few = count_queries(api_staff, MEMBERS)
    for index in range(3, 30):
        buy(factories.member(name=f"会员{index}"), "100.00", timezone.now() - datetime.timedelta(days=index + 1))
    classify_members(as_of=timezone.localdate())
    assert count_queries(api_staff, MEMBERS) == few
    assert count_queries(api_staff, MEMBERS, {"classification": "high_value"}) == few  # all tied: all high value


# --- segments API ---------------------------------------------------------------------------------


def test_marketing_creates_a_segment_and_gets_id_and_size(api_marketing, people, marketing):
    response = api_marketing.post(
        SEGMENTS, {"name": "VIP 邮件", "rules": {"tags": ["VIP"], "consented_channel": "email"}}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["size"] == 1 and body["name"] == "VIP 邮件"
    assert body["rules"] == {"tags": ["VIP"], "consented_channel": "email"}
    segment = Segment.objects.get(pk=body["id"])
    assert (segment.size, segment.created_by) == (1, marketing)


def test_create_without_rules_means_all_active_members(api_marketing, people):
    response = api_marketing.post(SEGMENTS, {"name": "全部"}, format="json")
    assert response.status_code == 201
    assert response.json()["size"] == 3


def test_bad_rules_answer_400_naming_the_key_and_store_nothing(api_marketing, people):
    response = api_marketing.post(
        SEGMENTS, {"name": "坏规则", "rules": {"tiers": ["platinum"], "birthday_month": 13}}, format="json"
    )
    assert response.status_code == 400
    errors = response.json()["rules"]
    assert set(errors) == {"tiers", "birthday_month"}
    assert "platinum" in str(errors["tiers"])
    assert not Segment.objects.exists()


def test_duplicate_name_is_400(api_marketing, people):
    save_segment(name="VIP", rules={})
    response = api_marketing.post(SEGMENTS, {"name": "VIP", "rules": {}}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()


def test_list_shows_stored_sizes_in_a_fixed_number_of_queries(api_marketing, people, manager):
    save_segment(name="S0", rules={"tags": ["VIP"]}, actor=manager)
    few = count_queries(api_marketing, SEGMENTS)
    for index in range(1, 20):
        save_segment(name=f"S{index}", rules={"birthday_month": index % 12 + 1}, actor=manager)
    assert count_queries(api_marketing, SEGMENTS) == few
    body = api_marketing.get(SEGMENTS, {"name": "S0"}).json()
    assert body["count"] == 1
    assert body["results"][0]["size"] == 2 and body["results"][0]["created_by"] == "manager"


def test_detail_counts_now_and_patch_changes_rules(api_marketing, people):
    segment = save_segment(name="VIP", rules={"tags": ["VIP"]})
    factories.member(name="Frank", tags=["VIP"])
    url = f"{SEGMENTS}{segment.pk}/"
    assert api_marketing.get(url).json()["size"] == 3  # counted now; the stored size is still 2
    response = api_marketing.patch(url, {"rules": {"tags": ["new"]}}, format="json")
    assert response.status_code == 200
    assert (response.json()["rules"], response.json()["size"]) == ({"tags": ["new"]}, 1)
    assert api_marketing.patch(url, {"rules": {"tags": 5}}, format="json").status_code == 400
    assert Segment.objects.get(pk=segment.pk).rules == {"tags": ["new"]}


def test_export_is_csv_without_contact_data(api_marketing, people):
    segment = save_segment(name="VIP", rules={"tags": ["VIP"]})
    response = api_marketing.get(f"{SEGMENTS}{segment.pk}/export/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["member_no", "name", "classification", "tier"]
    assert sorted(rows[1:]) == sorted(
        [
            [people["alice"].member_no, "Alice", "high_value", "gold"],
            [people["bob"].member_no, "Bob", "ordinary", "silver"],
        ]
    )
    assert people["alice"].phone not in text


def test_export_query_count_is_fixed_per_chunk(api_marketing, db, django_assert_max_num_queries):
    for index in range(40):
        factories.member(name=f"会员{index}", tags=["VIP"])
    segment = save_segment(name="VIP", rules={"tags": ["VIP"]})
    with django_assert_max_num_queries(12):
        response = api_marketing.get(f"{SEGMENTS}{segment.pk}/export/")
        assert len(b"".join(response.streaming_content).splitlines()) == 41


@pytest.mark.parametrize("client_name", ["api_staff", "api_support"])
def test_store_staff_and_support_get_403(request, people, client_name):
    client = request.getfixturevalue(client_name)
    segment = save_segment(name="VIP", rules={})
    assert client.get(SEGMENTS).status_code == 403
    assert client.post(SEGMENTS, {"name": "x", "rules": {}}, format="json").status_code == 403
    assert client.get(f"{SEGMENTS}{segment.pk}/").status_code == 403
    assert client.patch(f"{SEGMENTS}{segment.pk}/", {"name": "y"}, format="json").status_code == 403
    assert client.get(f"{SEGMENTS}{segment.pk}/export/").status_code == 403


def test_anonymous_gets_401(api_anon, db):
    assert api_anon.get(SEGMENTS).status_code == 401


def test_managers_may_do_everything(api_manager, people):
    response = api_manager.post(SEGMENTS, {"name": "M", "rules": {"classification": ["ordinary"]}}, format="json")
    assert response.status_code == 201
    pk = response.json()["id"]
    assert api_manager.get(f"{SEGMENTS}{pk}/export/").status_code == 200
    assert api_manager.patch(f"{SEGMENTS}{pk}/", {"name": "M2"}, format="json").status_code == 200


def test_unknown_segment_is_404(api_marketing, db):
    assert api_marketing.get(f"{SEGMENTS}999/").status_code == 404
    assert api_marketing.get(f"{SEGMENTS}999/export/").status_code == 404
