"""`GET /api/v1/members/{member_no}/tier-history/`: the member's tier changes, newest first."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rewards import services
from tests.members import factories
from tests.rewards.helpers import post

pytestmark = pytest.mark.django_db


@pytest.fixture
def member():
    return factories.member()


def url(member) -> str:
    return f"/api/v1/members/{member.member_no}/tier-history/"


def test_lists_changes_newest_first_with_reason_and_figure(api_staff, member):
    post(member, "600.00")
    silver = post(member, "400.00")
    post(member, "4000.00")
    services.refund_purchase(purchase=silver.purchase, external_ref="R-1")
    data = api_staff.get(url(member)).json()
    assert data["count"] == 3
    assert [(r["from_tier"]["code"], r["to_tier"]["code"], r["reason"]) for r in data["results"]] == [
        ("gold", "silver", "refund"),
        ("silver", "gold", "purchase"),
        ("regular", "silver", "purchase"),
    ]
    first = data["results"][-1]
    assert first["purchase"] == silver.purchase.external_ref
    assert (first["basis"], first["figure"], first["window_months"], first["below_since"]) == (
        "lifetime_spend",
        "1000.00",
        None,
        None,
    )
    assert (first["reason_label"], first["note"]) == ("Purchase", "Lifetime spend: 1,000.00")
    assert data["results"][0]["figure"] == str(Decimal("4600.00"))


def test_is_paginated(api_staff, member):
    post(member, "1000.00")
    post(member, "4000.00")
    data = api_staff.get(url(member), {"page_size": 1}).json()
    assert (data["count"], len(data["results"]), data["results"][0]["to_tier"]["code"]) == (2, 1, "gold")
    assert data["next"]


def test_labels_follow_the_language(api_staff, member):
    post(member, "1000.00")
    row = api_staff.get(url(member), HTTP_ACCEPT_LANGUAGE="zh-hans").json()["results"][0]
    assert (row["to_tier"]["name"], row["reason_label"]) == ("银卡会员", "消费")
    assert row["note"].startswith("累计消费")


def test_a_member_without_changes_has_an_empty_list(api_staff, member):
    assert api_staff.get(url(member)).json() == {"count": 0, "next": None, "previous": None, "results": []}


def test_an_unknown_member_answers_404(api_staff):
    assert api_staff.get("/api/v1/members/M404/tier-history/").status_code == 404


def test_needs_a_login(api_anon, member):
    assert api_anon.get(url(member)).status_code == 401


@pytest.mark.parametrize("client", ["api_staff", "api_marketing", "api_support", "api_manager"])
def test_every_role_with_the_view_permission_may_read(request, client, member):
    assert request.getfixturevalue(client).get(url(member)).status_code == 200


def test_staff_without_the_view_permission_answer_403(member):
    from tests.conftest import make_user, token_client

    assert token_client(make_user("nobody")).get(url(member)).status_code == 403


def test_runs_the_same_queries_for_3_and_30_changes(api_staff, member):
    from rewards.models import Tier

    def changes(count):
        for _index in range(count):
            post(member, "1000.00")
            services.refund_purchase(
                purchase=member.purchases.order_by("-id").first(), external_ref=f"R-{count}-{_index}"
            )

    def measure():
        with CaptureQueriesContext(connection) as queries:
            assert api_staff.get(url(member)).status_code == 200
        return len(queries)

    assert Tier.objects.filter(code="silver").exists()
    changes(2)  # 4 rows
    measure()
    few = measure()
    changes(13)  # 30 rows
    assert member.tier_history.count() == 30
    assert measure() == few
