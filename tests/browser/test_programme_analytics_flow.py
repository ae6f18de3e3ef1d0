"""A manager in China reads the programme analytics (issue 18): the points figures, members against
walk-in customers, the retention heat map and the ROI with its assumptions; then a member's page
with the products recommended to them, and the monthly review at a chosen month."""

import datetime

import pytest

from loyalty_crm.roles import MANAGER
from members import services as member_services
from tests.browser.conftest import screenshot
from tests.campaigns.test_analytics_api import shop
from tests.conftest import make_user
from tests.rewards.helpers import reseed_after_flush

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def sign_in(page, live_server):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "manager")
    page.fill("#id_password", "pw-manager")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")


def test_manager_reads_the_programme_analytics_in_chinese(live_server, zh_page):
    reseed_after_flush()
    make_user("manager", MANAGER)
    shop(3)
    page = zh_page
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/admin/campaigns/campaign/programme-analytics/?start=2026-01-01&end=2026-02-28")
    assert page.locator("h1").inner_text() == "会员计划分析"
    assert page.locator('[data-figure="issued"]').inner_text() == "600"
    sales = page.locator("table.pa-sales").inner_text()
    assert "客单价" in sales and "¥75.00" in sales and "¥30.00" in sales
    assert page.locator("svg.heat-map g.heat-cell").count() == 2  # January: months 0 and 1 (nobody joined in February)
    assert "毛利率 40.00%" in page.locator("p.pa-assumptions").inner_text()
    screenshot(page, "programme_analytics_01_page_zh")

    page.click("text=近 12 个月")
    assert page.locator("h1").inner_text() == "会员计划分析"


def test_member_page_lists_recommendations_and_the_review_takes_a_month(live_server, zh_page):
    reseed_after_flush()
    make_user("manager", MANAGER)
    from decimal import Decimal

    from members.models import Member, ProductRecommendation
    from tests.members import factories

    shop(3)
    lily = factories.product(sku="LILY-9", name="粉百合花束", price="168.00")
    factories.product(sku="VASE-1", name="玻璃花瓶", price="88.00")
    first, second, _third = Member.objects.order_by("pk")
    for who, skus in ((first, ["ROSE-11", "LILY-9", "VASE-1"]), (second, ["VASE-1"])):
        member_services.record_purchase(
            member=who,
            external_ref=f"REC-{who.pk}",
            ordered_at=datetime.datetime(2026, 2, 20, 4, tzinfo=datetime.UTC),
            items=[member_services.PurchaseLine(sku=sku, quantity=1, unit_price=Decimal("10.00")) for sku in skus],
        )
    member_services.refresh_recommendations(now=datetime.datetime(2026, 3, 1, tzinfo=datetime.UTC))
    member_id = second.pk
    assert ProductRecommendation.objects.filter(member_id=member_id, product=lily).exists()
    page = zh_page
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/admin/members/member/{member_id}/change/")
    panel = page.locator(".m360-recommendations")
    assert "推荐商品" in panel.inner_text() and "粉百合花束" in panel.inner_text()
    panel.scroll_into_view_if_needed()
    screenshot(page, "programme_analytics_02_member_recommendations_zh")

    page.goto(f"{live_server.url}/admin/campaigns/campaign/monthly-report/?month=2026-02")
    assert page.locator("#id_month").input_value() == "2026-02"
    assert page.locator("table.report-table tbody tr").last.inner_text().startswith("2026-02")
    screenshot(page, "programme_analytics_03_monthly_review_month_zh")
