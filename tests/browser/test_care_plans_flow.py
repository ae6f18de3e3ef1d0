"""Browser (Chinese): care plans (issue 17) — a clerk sells the flower-care plan at the till with the
bouquet's line, and support's claim on a plan that has ended is refused with the reason."""

from __future__ import annotations

import datetime
import re

import pytest
from django.utils import timezone

from loyalty_crm.roles import STORE_STAFF, SUPPORT
from rewards.models import CarePlanClaim, CarePlanSale
from tests.browser.conftest import screenshot
from tests.browser.test_member_admin_flows import login
from tests.conftest import make_user
from tests.members import factories
from tests.rewards import care_plan_helpers as h
from tests.rewards.helpers import reseed_after_flush

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

SCAN_DELAY_MS = 5


@pytest.fixture(autouse=True)
def _programme_rows():
    """The migrations' tiers and base earning rule, which a transactional test before may have flushed."""
    reseed_after_flush()


def scan(page, code: str) -> None:
    page.keyboard.type(code, delay=SCAN_DELAY_MS)
    page.keyboard.press("Enter")


def test_a_clerk_sells_the_flower_care_plan_with_the_bouquet_at_the_till(live_server, zh_page):
    make_user("clerk", STORE_STAFF)
    factories.store()
    roses = factories.product("ROSE-11", "11枝红玫瑰花束", "199.00")
    factories.product("VASE-01", "玻璃花瓶", "80.00", cat=factories.category("vases", "花瓶"))
    plan = h.plan(products=[roses])
    member = factories.member(name="林晓红", phone="13812348000")
    page = zh_page
    login(page, live_server.url, "clerk")
    page.goto(f"{live_server.url}/admin/till/")
    scan(page, member.member_no)
    page.locator("#till-customer-card").wait_for()
    scan(page, "VASE-01")
    scan(page, "ROSE-11")
    offer = page.locator("#till-care-plan-offers input.till-care-plan")
    offer.wait_for()
    assert offer.count() == 1  # the vase has no plan; the bouquet has one
    label = page.locator("#till-care-plan-offers label").inner_text()
    assert "鲜花养护计划" in label and "11枝红玫瑰花束" in label and "¥19.90" in label
    offer.check()
    figures = page.locator("#till-figures")
    page.wait_for_function(
        "document.querySelector('#till-figures [data-figure=care_plans_total]').textContent === '¥19.90'"
    )
    # 199 + 80 = 279; regular tier 10% = 27.90 → 251.10; with the plan 271.00 to take.
    assert figures.locator("[data-figure=amount_due]").inner_text() == "¥251.10"
    assert figures.locator("[data-figure=amount_to_take]").inner_text() == "¥271.00"
    assert "护理计划" in page.locator("#till-care-plans").inner_text()
    screenshot(page, "care_plans_01_till_offer_zh")

    page.click("#till-confirm")
    page.wait_for_url(re.compile(r".*/admin/till/receipt/\d+/$"))
    receipt = page.locator("#content-main").inner_text()
    assert "鲜花养护计划" in receipt and "¥19.90" in receipt
    screenshot(page, "care_plans_02_receipt_zh")
    sale = CarePlanSale.objects.get()
    assert (sale.plan, sale.member, sale.purchase_item.sku) == (plan, member, "ROSE-11")
    assert sale.ends_on == timezone.localdate() + datetime.timedelta(days=6)


def test_support_sees_a_claim_after_the_period_refused_with_the_reason(live_server, zh_page):
    make_user("helpdesk", SUPPORT)
    factories.store()
    member = factories.member(name="周小雨", phone="13912345678")
    sale = h.sold(member)  # sold on 1 May 2026, covering 7 days
    page = zh_page
    login(page, live_server.url, "helpdesk")
    page.goto(f"{live_server.url}/admin/members/member/{member.pk}/change/")
    panel = page.locator("#care-plans-panel")
    assert "鲜花养护计划" in panel.inner_text() and "已结束" in panel.inner_text()
    panel.scroll_into_view_if_needed()
    screenshot(page, "care_plans_04_member_page_panel_zh")
    page.goto(f"{live_server.url}/admin/rewards/careplansale/{sale.pk}/claim/")
    page.fill("#id_description", "花束买回第十天枯萎了")
    page.click("input[type=submit]")
    error = page.locator(".errorlist").first
    error.wait_for()
    text = error.inner_text()
    assert "已于" in text and "结束" in text and "2026" in text
    screenshot(page, "care_plans_03_claim_refused_zh")
    assert not CarePlanClaim.objects.exists()


def test_a_member_sees_their_plans_and_a_manager_reads_the_report(live_server, browser, zh_page):
    from django.conf import settings

    from loyalty_crm.centre.session import start_session
    from loyalty_crm.roles import MANAGER
    from rewards import services

    make_user("boss", MANAGER)
    member = factories.member(name="周小雨", phone="13912345678")
    plan = h.plan(products=[factories.product()])
    running = h.sold(member, plan, day=timezone.localdate())
    h.sold(member, plan)  # 1 May 2026: ended
    claim = services.claim_care_plan(sale=running, description="花头下垂", idempotency_key="C1").claim
    services.settle_care_plan_claim(claim=claim, replacement="product")
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True)
    context.add_cookies(
        [{"name": settings.MEMBER_SESSION_COOKIE_NAME, "value": start_session(member), "url": f"{live_server.url}/m/"}]
    )
    phone = context.new_page()
    phone.goto(f"{live_server.url}/m/")
    phone.click("text=我的护理计划")
    phone.wait_for_url(f"{live_server.url}/m/care-plans/")
    active = phone.locator("#care-plans-active").inner_text()
    assert "鲜花养护计划" in active and "剩余 0 次理赔" in active
    screenshot(phone, "care_plans_05_member_centre_zh")
    context.close()

    page = zh_page
    login(page, live_server.url, "boss")
    page.goto(f"{live_server.url}/admin/rewards/careplan/")
    page.click("text=护理计划报表")
    table = page.locator("#care-plan-report").inner_text()
    assert "鲜花养护计划" in table and "50.0%" in table and "¥199.00" in table
    screenshot(page, "care_plans_06_report_zh")
    page.goto(f"{live_server.url}/admin/rewards/careplanclaim/{claim.pk}/change/")
    assert "已结案" in page.locator("#claim-status").inner_text()
    screenshot(page, "care_plans_07_claim_settled_zh")
