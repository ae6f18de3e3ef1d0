"""The analytics API: managers only, the issue's fields, integers for points, fractions for rates,
money as strings, a 400 naming the problem for bad dates, and fixed query counts."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from members import services as member_services
from rewards import services
from rewards.models import ActivityBonus
from tests.members import factories
from tests.rewards.helpers import line

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
PERIOD = "?from=2026-01-01&to=2026-02-28"


def local(day: str, hour: int = 12) -> datetime.datetime:
    return datetime.datetime.fromisoformat(day).replace(hour=hour, tzinfo=SHANGHAI)


def shop(members: int = 3) -> None:
    """Each member joins on 5 January, gets 200 points by hand and buys 100.00 (recorded without
    points) on 6 January and 50.00 on 3 February; one walk-in sale of 30.00 per member on 7 January."""
    ActivityBonus.objects.all().delete()
    for i in range(members):
        with time_machine.travel(local("2026-01-05"), tick=False):
            member = factories.member()
            services.adjust_points(member=member, points=200, reason="opening", actor=None)
        factories.purchase(member, "100.00", ordered_at=local("2026-01-06"))
        factories.purchase(member, "50.00", ordered_at=local("2026-02-03"))
        member_services.record_purchase(
            member=None, external_ref=f"WALK-{members}-{i}", ordered_at=local("2026-01-07"), items=[line("30.00")]
        )


def test_points_answer_the_issue_fields(api_manager):
    shop()
    body = api_manager.get(f"/api/v1/analytics/points/{PERIOD}").json()
    assert body["issued"] == 600 and body["redeemed"] == 0 and body["expired"] == 0
    assert body["redemption_rate"] == 0.0 and body["breakage"] == 0.0
    assert body["outstanding"] == 600
    assert {"expiring_30", "expiring_60", "expiring_90"} <= set(body)
    assert (body["from"], body["to"]) == ("2026-01-01", "2026-02-28")


def test_members_against_walk_ins_in_money_strings(api_manager):
    shop()
    body = api_manager.get(f"/api/v1/analytics/members-vs-walk-ins/{PERIOD}").json()
    assert body["members"] == {
        "orders": 6,
        "sales": "450.00",
        "average_order_value": "75.00",
        "buyers": 3,
        "purchase_frequency": 2.0,
        "repeat_purchase_rate": 1.0,
    }
    assert body["walk_ins"] == {"orders": 3, "sales": "90.00", "average_order_value": "30.00"}
    assert body["member_share_of_sales"] == pytest.approx(450 / 540)


def test_retention_is_a_cohort_matrix(api_manager):
    shop()
    body = api_manager.get(f"/api/v1/analytics/retention/{PERIOD}").json()
    assert body["cohorts"] == [
        {"month": "2026-01", "size": 3, "active": [3, 3], "rates": [1.0, 1.0]},
        {"month": "2026-02", "size": 0, "active": [0], "rates": [None]},
    ]


@pytest.mark.parametrize(
    "query, field",
    [
        ("?from=2026-13-01", "from"),
        ("?to=yesterday", "to"),
        ("?from=2026-03-01&to=2026-02-01", "from"),
        ("?from=1800-01-01&to=2026-01-01", "from"),
        ("?from=2000-01-01&to=2026-01-01", "from"),
    ],
)
@pytest.mark.parametrize("path", ["points", "members-vs-walk-ins", "retention"])
def test_bad_dates_are_a_400_naming_the_field(api_manager, path, query, field):
    answer = api_manager.get(f"/api/v1/analytics/{path}/{query}")
    assert answer.status_code == 400
    assert field in answer.json()


@pytest.mark.parametrize("path", ["points", "members-vs-walk-ins", "retention"])
def test_only_managers_may_read_the_analytics(api_marketing, api_staff, api_support, api_anon, api_manager, path):
    url = f"/api/v1/analytics/{path}/"
    for client in (api_marketing, api_staff, api_support):
        assert client.get(url).status_code == 403
    assert api_anon.get(url).status_code == 401
    assert api_manager.get(url).status_code == 200  # the default period: the last 12 months


@pytest.mark.parametrize("path", ["points", "members-vs-walk-ins", "retention"])
def test_query_counts_do_not_grow_with_the_shop(api_manager, path, django_assert_num_queries):
    shop(2)
    url = f"/api/v1/analytics/{path}/{PERIOD}"
    api_manager.get(url)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        assert api_manager.get(url).status_code == 200
    shop(12)
    with CaptureQueriesContext(connection) as many:
        assert api_manager.get(url).status_code == 200
    assert len(few) == len(many) <= 7
