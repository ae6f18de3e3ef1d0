"""The points panel on the member 360 page: content, pagination, query count and permissions."""

from __future__ import annotations

import datetime
import re

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from rewards import services
from rewards.models import TIER_POLICY_CACHE_KEY, PointsAccount, TierPolicy
from tests.conftest import make_user
from tests.members import factories
from tests.rewards.helpers import post

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def forget_cached_policy():
    cache.delete(TIER_POLICY_CACHE_KEY)
    yield
    cache.delete(TIER_POLICY_CACHE_KEY)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page_of(client, member, **params):
    response = client.get(reverse("admin:members_member_change", args=[member.pk]), params)
    assert response.status_code == 200
    return response.content.decode()


def ledger_points(html: str) -> list[str]:
    table = re.search(r'<table class="m360-table m360-ledger">(.*?)</table>', html, re.S).group(1)
    return re.findall(r'<td class="m360-money m360-(?:yes|no)">([^<]+)</td>', table)


@pytest.fixture
def member():
    return factories.member(name="积分会员")


def test_the_panel_shows_balance_lifetime_figures_tier_next_tier_and_expiry(manager, member):
    post(member, "1200.00")
    services.adjust_points(member=member, points=-200, reason="redeemed a vase", actor=manager)
    html = page_of(client_for(manager), member)
    assert '<dd class="m360-points-balance"><span class="m360-number">1000</span> points</dd>' in html
    assert '<dd class="m360-points-earned">1200</dd>' in html
    assert '<dd class="m360-points-spend">¥1,200.00</dd>' in html
    assert "<strong>Silver</strong>" in html
    assert "Lifetime spend: 1,200.00" in html
    assert "Gold from ¥5,000.00: <strong>¥3,800.00</strong> more spend to go" in html
    next_year_end = datetime.date(datetime.date.today().year + 1, 12, 31).isoformat()
    assert f"<strong>1000</strong> points on {next_year_end}" in html
    assert "Regular → <strong>Silver</strong>" in html  # the tier history
    assert "redeemed a vase" in html and "+1200" in html
    assert reverse("admin:rewards_pointsaccount_adjust", args=[PointsAccount.objects.get().pk]) in html


def test_the_top_tier_has_no_next_tier(manager, member):
    post(member, "25000.00")
    assert "The highest tier" in page_of(client_for(manager), member)


def test_points_policies_show_points_to_go(manager, member):
    TierPolicy(basis="lifetime_points").save()
    post(member, "300.00")
    html = page_of(client_for(manager), member)
    assert "Points earned, lifetime: 300" in html
    assert "Silver from 1,000 points: <strong>700</strong> points to go" in html


def test_a_member_in_grace_shows_when_the_downgrade_comes(manager, member):
    post(member, "1500.00")
    PointsAccount.objects.filter(member=member).update(below_since=datetime.date(2026, 1, 11))
    html = page_of(client_for(manager), member)
    assert "Below this tier's threshold since 2026-01-11: moves down on 2026-02-10" in html


def test_a_member_without_points_shows_the_entry_tier(manager, member):
    html = page_of(client_for(manager), member)
    assert '<span class="m360-number">0</span> points</dd>' in html
    assert "Silver from ¥1,000.00: <strong>¥1,000.00</strong> more spend to go" in html
    assert "No points yet." in html and "No tier changes yet." in html


def test_the_ledger_pages_by_20_newest_first_with_page_links(manager, member):
    for index in range(1, 46):
        post(member, f"{index}.00")
    client = client_for(manager)
    first = page_of(client, member)
    assert ledger_points(first) == [f"+{n}" for n in range(45, 25, -1)]
    assert "Page 1 of 3 (45 rows)" in first
    assert 'href="?ledger_page=2#points-ledger" rel="next"' in first
    third = page_of(client, member, ledger_page=3)
    assert ledger_points(third) == [f"+{n}" for n in range(5, 0, -1)]
    assert 'aria-current="page">3</strong>' in third
    assert page_of(client, member, ledger_page="x").count("+45") == 1  # a bad page number shows page 1
    assert ledger_points(page_of(client, member, ledger_page=99)) == ledger_points(third)  # past the end: last


def test_page_links_keep_the_other_parameters(manager, member):
    for _index in range(25):
        post(member, "1.00")
    html = page_of(client_for(manager), member, _changelist_filters="status__exact=active")
    assert 'href="?_changelist_filters=status__exact%3Dactive&amp;ledger_page=2#points-ledger"' in html


def test_the_panel_runs_the_same_queries_for_3_and_60_ledger_rows(manager, member):
    client = client_for(manager)

    def measure() -> int:
        with CaptureQueriesContext(connection) as queries:
            page_of(client, member)
        return len(queries)

    for _index in range(3):
        post(member, "10.00")
    measure()  # warm the process-wide caches
    few = measure()
    for _index in range(57):
        post(member, "10.00")
    services.adjust_points(member=member, points=5, reason="goodwill", actor=manager)
    post(member, "2000.00")  # a tier change too
    many = measure()
    assert few == many


def test_the_panel_adds_at_most_6_queries_to_the_member_page(manager, member):
    post(member, "10.00")
    client = client_for(manager)
    url = reverse("admin:members_member_change", args=[member.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as with_panel:
        client.get(url)
    manager.groups.first().permissions.remove(Permission.objects.get(codename="view_ledgerentry"))
    manager = type(manager).objects.get(pk=manager.pk)  # no cached permissions
    client = client_for(manager)
    client.get(url)
    with CaptureQueriesContext(connection) as without_panel:
        html = client.get(url).content.decode()
    assert "m360-points" not in html
    # the account, the tiers, expiring lots, tier history, the ledger's count and page
    assert len(with_panel) - len(without_panel) <= 6


@pytest.mark.parametrize("role", ["store_staff", "marketing", "support", "manager"])
def test_every_role_that_may_view_the_ledger_sees_the_panel(request, role, member):
    post(member, "10.00")
    user = request.getfixturevalue(role)
    assert user.has_perm("rewards.view_ledgerentry")
    assert "m360-points" in page_of(client_for(user), member)


def test_only_those_who_may_adjust_get_the_adjust_link(store_staff, member):
    post(member, "10.00")
    html = page_of(client_for(store_staff), member)
    assert "m360-points" in html
    assert "/adjust/" not in html


def test_without_the_ledger_permission_there_is_no_panel(member):
    user = make_user("viewer")
    user.user_permissions.add(Permission.objects.get(codename="view_member"))
    post(member, "10.00")
    html = page_of(client_for(user), member)
    assert "m360-points" not in html
    assert "Profile" in html


def test_the_panel_is_in_chinese_for_chinese_staff(manager, member):
    post(member, "1200.00")
    response = client_for(manager).get(
        reverse("admin:members_member_change", args=[member.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    html = response.content.decode()
    assert "积分、等级与流水" in html
    assert "银卡会员" in html
