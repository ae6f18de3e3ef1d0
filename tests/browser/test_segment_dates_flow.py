"""Browser flows in Chinese (issue 18): a marketer builds the segment "bought roses in the last 90
days, churn risk above 60%" in the admin builder and sees its count; a member adds an important date
in the member centre on a phone."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone

from campaigns.models import MemberScore, Segment
from loyalty_crm.centre.session import start_session
from loyalty_crm.roles import MARKETING
from members import services as member_services
from members.models import Category, ImportantDate, Product
from tests.browser.conftest import screenshot
from tests.browser.test_segment_flow import login
from tests.conftest import make_user
from tests.members import factories
from tests.rewards.helpers import reseed_after_flush

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture(autouse=True)
def _programme_rows():
    reseed_after_flush()


def _shop():
    """Roses (with garden roses under them) and lilies; six members: three bought roses within 90
    days, two of them with a churn risk above 60% (Ann 0.72, Cat 0.65); Ben's risk is 0.40; Dan
    bought roses 120 days ago (risk 0.80); Eve bought lilies (0.90); Fay bought nothing."""
    flowers = Category.objects.create(code="flowers", name="鲜花")
    roses = Category.objects.create(code="roses", name="玫瑰", parent=flowers)
    garden = Category.objects.create(code="garden-roses", name="庭院玫瑰", parent=roses)
    lilies = Category.objects.create(code="lilies", name="百合", parent=flowers)
    Product.objects.create(sku="ROSE-11", name="11枝红玫瑰", category=roses, unit_price=Decimal("199.00"))
    Product.objects.create(sku="GROSE-1", name="庭院玫瑰", category=garden, unit_price=Decimal("99.00"))
    Product.objects.create(sku="LILY-5", name="5枝百合", category=lilies, unit_price=Decimal("129.00"))
    now = timezone.now()
    plan = [("Ann", "ROSE-11", 10, 0.72), ("Ben", "ROSE-11", 30, 0.40), ("Cat", "GROSE-1", 60, 0.65),
            ("Dan", "ROSE-11", 120, 0.80), ("Eve", "LILY-5", 5, 0.90), ("Fay", None, 0, 0.95)]  # fmt: skip
    for index, (name, sku, days, churn) in enumerate(plan):
        member = factories.member(name=name)
        if sku:
            member_services.record_purchase(
                member=member, external_ref=f"B-{index}", ordered_at=now - datetime.timedelta(days=days),
                items=[member_services.PurchaseLine(sku=sku, quantity=1, unit_price=Decimal("100.00"))],
            )  # fmt: skip
        MemberScore.objects.create(
            member=member, as_of=timezone.localdate(), classification="potential", churn_risk=churn,
            p_alive=1 - churn, computed_at=now,
        )  # fmt: skip


def test_marketer_builds_the_roses_and_churn_risk_segment(live_server, zh_page):
    make_user("marketer", MARKETING)
    _shop()
    page = zh_page
    login(page, live_server.url, "marketer")
    page.goto(f"{live_server.url}/admin/campaigns/segment/add/")
    page.wait_for_function("document.getElementById('segment-preview-count').textContent.includes('6')")
    page.fill("#id_name", "90天内买过玫瑰、流失风险高")
    page.select_option("#id_bought_category", "roses")
    page.wait_for_function("document.getElementById('segment-preview-count').textContent.includes('4 位')")
    page.fill("#id_bought_category_within_days", "90")
    page.wait_for_function("document.getElementById('segment-preview-count').textContent.includes('3 位')")
    page.fill("#id_churn_risk_min", "60")
    page.wait_for_function("document.getElementById('segment-preview-count').textContent.includes('2 位')")
    assert page.locator("#segment-preview-count").inner_text() == "2 位会员符合条件"
    assert page.get_by_text("购买行为").count() >= 1 and page.get_by_text("模型预测").count() >= 1
    page.locator("#id_churn_risk_min").scroll_into_view_if_needed()
    screenshot(page, "segments_01_roses_churn_builder_zh")
    page.click("input[name=_save]")
    page.wait_for_url(f"{live_server.url}/admin/campaigns/segment/")
    screenshot(page, "segments_02_roses_churn_list_zh")
    segment = Segment.objects.get()
    assert segment.rules == {"bought_category": {"category": "roses", "within_days": 90}, "churn_risk_min": 0.6}
    assert segment.size == 2
    listing = page.locator("#result_list").inner_text()
    assert "90天内买过玫瑰、流失风险高" in listing and "60%" in listing


def test_member_adds_an_important_date_on_a_phone(live_server, browser):
    member = factories.member(name="王小明", phone="13800138000", consents={"marketing_sms": True})
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True)
    context.add_cookies(
        [{"name": settings.MEMBER_SESSION_COOKIE_NAME, "value": start_session(member), "url": f"{live_server.url}/m/"}]
    )
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto(f"{live_server.url}/m/profile/")
    page.get_by_role("link", name="我的纪念日").click()
    page.wait_for_url(f"{live_server.url}/m/dates/")
    assert "还没有日子" in page.content()
    page.select_option("#id_kind", "anniversary")
    page.select_option("#id_month", "5")
    page.select_option("#id_day", "20")
    page.fill("#id_year", "2019")
    page.get_by_role("button", name="保存日子").click()
    page.wait_for_load_state()
    assert "保存纪念日需要会员同意资料处理" in page.content()  # the consent was not ticked
    page.get_by_label("同意店铺使用我的纪念日").check()
    screenshot(page, "centre_dates_01_add_zh")
    page.get_by_role("button", name="保存日子").click()
    page.wait_for_url(f"{live_server.url}/m/dates/")
    assert "已保存" in page.content() and "5月20日" in page.content()
    screenshot(page, "centre_dates_02_saved_zh")
    saved = ImportantDate.objects.get(member=member)
    assert (saved.kind, saved.month, saved.day, saved.year) == ("anniversary", 5, 20, "2019")
    context.close()
