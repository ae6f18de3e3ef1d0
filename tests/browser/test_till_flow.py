"""Browser (Chinese): the till (收银台) at a busy counter — a member's sale by scanner and keyboard
only, a double confirm, a walk-in sale with the join QR code, and a partial return (issue 13)."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty_crm.roles import STORE_STAFF
from members.models import Purchase
from rewards.models import Coupon
from rewards.services import coupons as coupon_services
from tests.browser.conftest import screenshot
from tests.browser.test_member_admin_flows import login
from tests.conftest import make_user
from tests.members import factories
from tests.rewards import catalogue_factories as cf
from tests.rewards.helpers import line, post

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

SCAN_DELAY_MS = 5  # a scanner types the code and Enter within milliseconds


def scan(page, code: str) -> None:
    page.keyboard.type(code, delay=SCAN_DELAY_MS)
    page.keyboard.press("Enter")


def type_slowly(page, text: str) -> None:
    page.keyboard.type(text, delay=90)  # a person, not a scanner


def shop():
    factories.store()
    return [
        factories.product("ROSE-11", "11枝红玫瑰花束", "199.00"),
        factories.product("LILY-05", "香水百合", "120.00"),
        factories.product("VASE-01", "玻璃花瓶", "80.00"),
    ]


def silver_member_close_to_gold():
    """A silver member with ¥4,800 spent (gold at ¥5,000) and the points it earned."""
    member = factories.member(name="林晓红", phone="13812348000")
    for amount in ("1600.00", "1600.00", "1600.00"):
        post(member, amount, ordered_at=timezone.now() - datetime.timedelta(days=30))
    return member


def test_staff_check_out_a_member_by_scanner_and_keyboard_only_and_see_the_upgrade(live_server, zh_page):
    make_user("clerk", STORE_STAFF)
    shop()
    member = silver_member_close_to_gold()
    coupon = coupon_services.issue_coupon(
        template=cf.template(name="满减券", value="20.00"), member=member, source="manual"
    )
    page = zh_page
    login(page, live_server.url, "clerk")
    page.goto(f"{live_server.url}/admin/till/")
    assert page.evaluate("document.activeElement.id") == "till-member"  # the focus starts in the member box

    scan(page, member.member_no)  # the member card
    page.locator("#till-customer-card").wait_for()
    assert "林晓红" in page.locator("#till-customer-name").inner_text()
    assert "银卡会员" in page.locator("#till-customer-detail").inner_text()
    assert page.evaluate("document.activeElement.id") == "till-product"
    for sku in ("ROSE-11", "LILY-05", "VASE-01", "ROSE-11"):
        scan(page, sku)
    rows = page.locator("#till-lines tbody tr")
    rows.nth(2).wait_for()
    assert rows.count() == 3
    page.wait_for_function("document.querySelector('#till-figures [data-figure=subtotal]').textContent === '¥598.00'")
    scan(page, coupon.code)  # the customer's coupon, scanned from their phone
    page.wait_for_function("document.activeElement.id === 'till-points'")
    page.keyboard.press("Control+A")
    type_slowly(page, "500")
    page.wait_for_function("document.querySelector('#till-figures [data-figure=points_used]').textContent === '500'")
    figures = page.locator("#till-figures")
    # 2 × 199 + 120 + 80 = 598; silver 15% = 89.70; coupon 20 → 488.30; 500 points = ¥5 → 483.30.
    assert figures.locator("[data-figure=tier_discount]").inner_text() == "−¥89.70"
    assert figures.locator("[data-figure=coupon_discount]").inner_text() == "−¥20.00"
    assert figures.locator("[data-figure=points_value]").inner_text() == "−¥5.00"
    assert figures.locator("[data-figure=amount_due]").inner_text() == "¥483.30"
    assert "升级为金卡会员" in figures.locator("[data-figure=tier_after]").inner_text()
    assert page.locator("#till-coupon-message").inner_text() == f"优惠券已抵扣 · {coupon.code} · −¥20.00"
    screenshot(page, "till_01_member_basket_quote_zh")

    page.keyboard.press("Enter")  # points → the confirm button
    assert page.evaluate("document.activeElement.id") == "till-confirm"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/admin/till/receipt/\d+/$"))
    receipt = page.locator("#content-main")
    assert "升级为金卡会员" in receipt.locator(".receipt-upgrade").inner_text()
    text = receipt.inner_text()
    assert "¥483.30" in text and "500" in text and coupon.code in text
    screenshot(page, "till_02_receipt_upgrade_zh")
    purchase = Purchase.objects.get(member=member, external_ref__startswith="TILL-")
    assert purchase.total == Decimal("483.30")
    assert Coupon.objects.get(pk=coupon.pk).status == Coupon.Status.REDEEMED

    # The 80 mm print view of the same receipt.
    page.set_viewport_size({"width": 420, "height": 900})
    page.goto(page.url + "?print=1")
    width = page.evaluate("document.querySelector('.receipt-paper').getBoundingClientRect().width")
    assert width < 330  # 80 mm at 96 dpi ≈ 302 px: nothing overflows the paper
    overflow = page.evaluate(
        "Array.from(document.querySelectorAll('.receipt-paper *')).some(e => e.scrollWidth > e.clientWidth + 1"
        " && getComputedStyle(e).overflow !== 'visible')"
    )
    assert not overflow
    screenshot(page, "till_03_receipt_print_80mm_zh")


def test_a_double_confirm_and_a_retried_request_record_the_sale_once(live_server, zh_page):
    make_user("clerk", STORE_STAFF)
    shop()
    member = factories.member(name="周雨", phone="13900001234")
    coupon_services.issue_coupon(template=cf.template(name="生日券", value="30.00"), member=member, source="manual")
    page = zh_page
    login(page, live_server.url, "clerk")
    page.goto(f"{live_server.url}/admin/members/member/{member.pk}/change/")
    coupons = page.locator("#coupons-panel")
    assert "生日券" in coupons.inner_text() and "可用" in coupons.inner_text()
    coupons.scroll_into_view_if_needed()
    screenshot(page, "till_04a_member_page_coupons_zh")
    page.get_by_role("link", name="为该会员收银").first.click()
    page.wait_for_url(f"**/admin/till/?member={member.member_no}")
    page.locator("#till-customer-card").wait_for()
    page.locator("#till-product").fill("百合")
    page.keyboard.press("Enter")
    page.locator("#till-lines tbody tr").first.wait_for()
    page.wait_for_function("document.querySelector('#till-figures [data-figure=amount_due]').textContent === '¥108.00'")

    # The network drops the answer: the browser sends the same request again (same key).
    def retry_once(route):
        route.fetch()
        route.continue_()

    page.route("**/admin/till/confirm/", retry_once)
    page.locator("#till-confirm").dblclick()
    page.wait_for_url(re.compile(r".*/admin/till/receipt/\d+/$"))
    assert Purchase.objects.filter(member=member).count() == 1
    screenshot(page, "till_04_double_confirm_receipt_zh")


def test_a_walk_in_sale_prints_the_join_qr_code(live_server, zh_page):
    make_user("clerk", STORE_STAFF)
    shop()
    page = zh_page
    login(page, live_server.url, "clerk")
    page.goto(f"{live_server.url}/admin/till/")
    page.locator("#till-walkin").click()
    assert "散客" in page.locator("#till-customer-name").inner_text()
    page.locator("#till-product").fill("blhp")  # 玻璃花瓶 by its pinyin initials
    page.keyboard.press("Enter")
    quantity = page.locator("#till-lines tbody tr .till-cell-quantity")
    quantity.wait_for()
    quantity.fill("2")
    page.wait_for_function("document.querySelector('#till-figures [data-figure=amount_due]').textContent === '¥160.00'")
    assert page.locator("#till-coupon").is_disabled() and page.locator("#till-points").is_disabled()
    assert page.locator("#till-figures [data-figure=points_to_earn]").inner_text() == "0"
    page.select_option("#id_payment_method", "cash")
    screenshot(page, "till_05_walk_in_basket_zh")
    page.locator("#till-confirm").click()
    page.wait_for_url(re.compile(r".*/admin/till/receipt/\d+/$"))
    assert page.locator(".receipt-qr svg").count() == 1
    assert "散客" in page.locator("#content-main").inner_text()
    screenshot(page, "till_06_walk_in_receipt_qr_zh")
    purchase = Purchase.objects.get()
    assert purchase.member is None and purchase.total == Decimal("160.00")


def test_a_partial_return_of_one_line(live_server, zh_page):
    from rewards.services import post_purchase

    make_user("clerk", STORE_STAFF)
    shop()
    member = factories.member(name="陈静", phone="13700005678")
    result = post_purchase(
        member=member,
        external_ref="TILL-" + "a" * 32,
        ordered_at=timezone.now() - datetime.timedelta(hours=1),
        items=[line("199.00", sku="ROSE-11"), line("80.00", sku="VASE-01", quantity=2)],
        apply_member_pricing=True,
    )
    purchase = result.purchase
    page = zh_page
    login(page, live_server.url, "clerk")
    page.goto(f"{live_server.url}/admin/till/returns/")
    page.locator("#returns-q").wait_for()
    scan(page, purchase.external_ref)  # the receipt's barcode
    page.wait_for_url(re.compile(rf".*\?purchase={purchase.pk}$"))
    vase = purchase.items.get(sku="VASE-01")
    page.locator(f"#qty-{vase.pk}").fill("1")
    page.wait_for_function("document.querySelector('#returns-quote [data-figure=money_back]').textContent !== '¥0.00'")
    money_back = page.locator("#returns-quote [data-figure=money_back]").inner_text()
    assert money_back == "¥72.00"  # ¥80 less the regular tier's 10%
    screenshot(page, "till_07_return_quote_zh")
    page.locator("#returns-confirm").click()
    page.wait_for_url(re.compile(rf".*\?purchase={purchase.pk}$"))
    assert "已退款" in page.locator("ul.messagelist").inner_text()
    vase.refresh_from_db()
    assert vase.returned_quantity == 1
    purchase.refresh_from_db()
    assert purchase.refunded_total == Decimal("72.00")
    screenshot(page, "till_08_return_done_zh")
