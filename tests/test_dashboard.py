"""The admin index dashboard: key figures, the 12-month chart, and who sees which store's figures."""

from __future__ import annotations

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from members import services
from members.models import Purchase, ServiceRecord, StaffProfile
from members.selectors import dashboard_figures
from tests.members import factories

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
TODAY = datetime.date(2025, 3, 15)


def at(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=SHANGHAI)


@pytest.fixture
def shop():
    """Two stores; members and sales spread over this month, earlier months and last year."""
    sh = factories.store("sh-001", "上海店", "上海")
    bj = factories.store("bj-001", "北京店", "北京")
    ann = factories.member(name="Ann", home_store=sh, registered_at=at(2025, 3, 1, 0, 30))  # March in Shanghai
    bob = factories.member(name="Bob", home_store=sh, registered_at=at(2025, 1, 20, 12))
    cai = factories.member(name="Cai", home_store=bj, registered_at=at(2024, 1, 5, 12))  # before the window
    services.update_member(member=bob, status="frozen")
    factories.purchase(ann, total="300.00", ordered_at=at(2025, 3, 2, 10), store=sh)
    refunded = factories.purchase(bob, total="200.00", ordered_at=at(2025, 3, 3, 10), store=sh)
    Purchase.objects.filter(pk=refunded.pk).update(refunded_total=Decimal("50.00"))  # rewards will own refunds
    factories.purchase(cai, total="1000.00", ordered_at=at(2025, 3, 4, 10), store=bj)
    factories.purchase(ann, total="80.00", ordered_at=at(2025, 2, 1, 0, 30), store=sh)  # January in UTC
    factories.purchase(cai, total="999.00", ordered_at=at(2024, 3, 31, 12), store=bj)  # before the window
    services.add_service_record(member=ann, kind="repair", summary="vase", store=sh)
    services.add_service_record(member=cai, kind="delivery", summary="roses", store=bj, status="in_progress")
    services.add_service_record(member=bob, kind="repair", summary="done", store=sh, status=ServiceRecord.Status.DONE)
    return {"sh": sh, "bj": bj}


def test_key_figures_count_members_sales_and_open_service_records(shop):
    figures = dashboard_figures(today=TODAY)
    assert figures.members_total == 3
    assert figures.members_active == 2
    assert figures.new_this_month == 1
    assert figures.purchases_this_month == 3
    assert figures.revenue_this_month == Decimal("1450.00")  # 300 + (200 − 50 refunded) + 1000
    assert figures.open_service_records == 2


def test_monthly_series_covers_the_last_12_months_in_the_shop_time_zone(shop):
    months = dashboard_figures(today=TODAY).months
    assert (months[0].month, months[-1].month, len(months)) == (
        datetime.date(2024, 4, 1),
        datetime.date(2025, 3, 1),
        12,
    )
    by_month = {m.month: m for m in months}
    assert by_month[datetime.date(2025, 3, 1)].new_members == 1
    assert by_month[datetime.date(2025, 1, 1)].new_members == 1
    assert by_month[datetime.date(2025, 3, 1)].revenue == Decimal("1450.00")
    assert by_month[datetime.date(2025, 2, 1)].revenue == Decimal("80.00")
    assert by_month[datetime.date(2025, 1, 1)].revenue == Decimal("0.00")
    assert sum(m.new_members for m in months) == 2  # Cai registered before the window
    assert by_month[datetime.date(2024, 12, 1)].revenue == Decimal("0.00")


def test_figures_for_one_store_leave_out_the_other_stores(shop):
    figures = dashboard_figures(today=TODAY, store=shop["sh"])
    assert (figures.members_total, figures.purchases_this_month) == (2, 2)
    assert figures.revenue_this_month == Decimal("450.00")
    assert figures.open_service_records == 1


def test_manager_sees_the_dashboard_above_the_app_list(client, manager, shop):
    client.force_login(manager)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    dashboard = response.context["dashboard"]
    assert dashboard["store"] is None
    assert len(dashboard["chart"]) == 12
    assert "Key figures · all stores" in response.text
    assert 'class="bar-chart bar-chart-revenue"' in response.text
    assert "app-members" in response.text  # the stock app list is still there


def test_chart_bars_are_scaled_to_the_busiest_month(client, manager):
    member = factories.member(name="Ann")
    factories.purchase(member, total="100.00")
    client.force_login(manager)
    chart = client.get(reverse("admin:index")).context["dashboard"]["chart"]
    assert max(bar["revenue_height"] for bar in chart) == 100
    assert max(bar["members_height"] for bar in chart) == 100
    assert chart[0]["members_height"] == 0


def test_store_staff_see_only_their_own_stores_figures(client, store_staff, shop):
    StaffProfile.objects.create(user=store_staff, store=shop["bj"])
    client.force_login(store_staff)
    response = client.get(reverse("admin:index"))
    dashboard = response.context["dashboard"]
    assert dashboard["store"] == shop["bj"]
    assert dashboard["figures"].members_total == 1
    assert "北京店" in response.text


def test_store_staff_without_a_store_are_told_to_ask_for_one(client, store_staff, shop):
    client.force_login(store_staff)
    response = client.get(reverse("admin:index"))
    assert response.context["dashboard"] == {"no_store": True}
    assert "not linked to a store" in response.text


def test_users_who_may_not_see_members_get_no_figures(client, shop):
    user = User.objects.create_user("intern", password="pw", is_staff=True)
    client.force_login(user)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert response.context["dashboard"] is None
    assert "Key figures" not in response.text


def test_dashboard_runs_the_same_number_of_queries_for_3_and_30_members(client, manager, monkeypatch):
    # The dashboard band alone: the manager's workspace panels are pinned in tests/test_home.py.
    monkeypatch.setattr("loyalty_crm.home.build_panels", lambda request: [])
    client.force_login(manager)

    def measure() -> int:
        cache.clear()  # the figures computed, not read from loyalty_crm.home's short cache
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("admin:index")).status_code == 200
        return len(queries)

    for i in range(3):
        factories.purchase(factories.member(name=f"m{i}"))
    measure()  # warm the process-wide caches first
    few = measure()
    for i in range(3, 30):
        factories.purchase(factories.member(name=f"m{i}"))
    assert measure() == few
    assert few <= 12  # measured: 10 (session, user, 2 permission, 5 figures, recent actions)
