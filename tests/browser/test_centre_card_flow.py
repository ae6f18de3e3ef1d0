"""Browser on a phone (390×844, Chinese): a signed-in member sees the card with its QR code and
barcode, opens the large card, redeems a reward, sees the coupon at once and opens its QR, and reads
the points history and the wallet. Screenshots land in var/screenshots/centre_*.png."""

from __future__ import annotations

import pytest
from django.conf import settings

from loyalty_crm.centre.session import start_session
from rewards import services
from rewards.models import Coupon, Redemption, RewardKind
from tests.browser.conftest import screenshot
from tests.members import factories
from tests.rewards import catalogue_factories as cf
from tests.rewards.helpers import post, reseed_after_flush
from tests.rewards.stored_value_helpers import fund, rule

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture(autouse=True)
def _programme_rows():
    """The migrations' tiers and base earning rule, which a transactional test before may have flushed."""
    reseed_after_flush()


@pytest.fixture
def phone(browser, live_server):
    """A phone-sized Chinese browser; the member's session cookie is set per test."""
    context = browser.new_context(
        locale="zh-CN",
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        extra_http_headers={"Accept-Language": "zh-CN,zh;q=0.9"},
    )
    page = context.new_page()
    page.set_default_timeout(15000)
    external = []
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(live_server.url) else None)
    page.external_requests = external
    yield context, page
    context.close()


def sign_in(context, live_server, member) -> None:
    context.add_cookies(
        [{"name": settings.MEMBER_SESSION_COOKIE_NAME, "value": start_session(member), "url": f"{live_server.url}/m/"}]
    )


def no_horizontal_overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_a_member_sees_the_card_redeems_a_reward_and_shows_the_coupon(live_server, phone):
    context, page = phone
    member = factories.member(name="林小雨")
    post(member, "552.20", ref="POS-1001")
    services.adjust_points(member=member, points=300, reason="门店活动", actor=None)
    fund(member, "500.00", with_rule=rule("500.00", "100.00", bonus_expires_after_days=60))
    cf.reward(
        name="满100减20优惠券",
        kind=RewardKind.COUPON,
        points_cost=200,
        coupon_template=cf.template(name="满100减20", value="20.00", min_spend="100.00", valid_days=30),
    )
    cf.reward(name="精美花瓶", points_cost=2000)
    cf.reward(name="金卡专享下午茶", points_cost=100, min_tier="gold")
    sign_in(context, live_server, member)

    page.goto(f"{live_server.url}/m/")
    card = page.locator(".mcp-member-card")
    card.wait_for()
    assert "林小雨" in card.inner_text()
    assert page.locator(".mcp-qr svg").is_visible() and page.locator(".mcp-barcode svg").is_visible()
    assert page.locator(".mcp-qr svg").bounding_box()["width"] >= 120
    assert "升级" in page.locator(".mcp-next").inner_text()
    assert no_horizontal_overflow(page)
    screenshot(page, "centre_01_card_zh")

    page.click("text=出示会员码 >> nth=-1")
    page.wait_for_url("**/m/card/")
    assert page.locator(".mcp-qr-large svg").bounding_box()["width"] >= 250
    assert no_horizontal_overflow(page)
    screenshot(page, "centre_02_show_card_zh")

    page.goto(f"{live_server.url}/m/rewards/")
    assert "还差" in page.locator("[data-reason=insufficient_points]").inner_text()
    assert no_horizontal_overflow(page)
    screenshot(page, "centre_03_rewards_zh")
    page.locator(".mcp-reward", has_text="满100减20优惠券").locator("button").click()
    page.wait_for_url("**/m/rewards/redemptions/**")
    coupon = Coupon.objects.get(member=member)
    assert coupon.code in page.locator("main").inner_text()
    assert Redemption.objects.filter(member=member).count() == 1
    screenshot(page, "centre_04_redeemed_zh")

    page.click(f"text={coupon.code}")
    page.wait_for_url(f"**/m/coupons/{coupon.code}/")
    assert page.locator(".mcp-qr-large svg").is_visible()
    assert no_horizontal_overflow(page)
    screenshot(page, "centre_05_coupon_qr_zh")

    page.goto(f"{live_server.url}/m/coupons/")
    assert page.locator(f"#valid a[href$='/m/coupons/{coupon.code}/']").is_visible()
    screenshot(page, "centre_06_coupons_zh")

    page.goto(f"{live_server.url}/m/points/")
    history = page.locator(".mcp-history").inner_text()
    assert "满100减20优惠券" in history and "-200" in history
    assert no_horizontal_overflow(page)
    screenshot(page, "centre_07_points_zh")

    page.goto(f"{live_server.url}/m/wallet/")
    assert "¥600.00" in page.locator("main").inner_text()
    assert no_horizontal_overflow(page)
    screenshot(page, "centre_08_wallet_zh")
    assert page.external_requests == []
