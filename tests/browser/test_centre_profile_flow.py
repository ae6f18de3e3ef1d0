"""A member on a phone, in Chinese, in the member centre's "我的": withdraws SMS consent and sees the
history line, downloads their data, edits their preferences and asks to close their account."""

from __future__ import annotations

import json

import pytest
from django.conf import settings

from loyalty_crm.centre.session import start_session
from members.models import AccountClosureRequest, ConsentEvent, ConsentSource
from tests.browser.conftest import screenshot
from tests.members import factories
from tests.rewards.helpers import post, reseed_after_flush

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture(autouse=True)
def _programme_rows():
    """The migrations' tiers and base earning rule, which a transactional test before may have flushed."""
    reseed_after_flush()


def test_member_manages_consents_data_preferences_and_closure_on_a_phone(live_server, browser, tmp_path):
    member = factories.member(
        name="王小明", phone="13800138000", consents={"marketing_sms": True, "marketing_wechat": True}
    )
    factories.category("roses", "玫瑰")
    factories.category("lilies", "百合")
    post(member, "268.00", store=factories.store())
    context = browser.new_context(
        locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True, accept_downloads=True
    )
    context.add_cookies(
        [{"name": settings.MEMBER_SESSION_COOKIE_NAME, "value": start_session(member), "url": f"{live_server.url}/m/"}]
    )
    page = context.new_page()
    page.set_default_timeout(15000)

    page.goto(f"{live_server.url}/m/profile/")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert "138****8000" in page.content()
    screenshot(page, "centre_profile_01_me_zh")

    # Withdraw SMS consent; the history shows the line at once.
    page.goto(f"{live_server.url}/m/profile/consents/")
    page.locator("li[data-topic=marketing_sms] button[name=granted]").click()
    page.wait_for_load_state()
    assert page.locator("li[data-topic=marketing_sms] button[name=granted][value='1']").count() == 1
    assert page.locator("#consent-history li").count() == 3
    event = ConsentEvent.objects.filter(member=member).order_by("-id").first()
    assert (event.topic, event.granted, event.source) == ("marketing_sms", False, ConsentSource.MEMBER_CENTRE)
    screenshot(page, "centre_profile_02_consents_zh")

    # Download my data.
    page.goto(f"{live_server.url}/m/profile/privacy/")
    with page.expect_download() as download_info:
        page.locator("form[action$='/privacy/export/'] button").click()
    download = download_info.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert json.loads(saved.read_text(encoding="utf-8"))["member_no"] == member.member_no
    assert saved.suffix == ".json"

    # Edit preferences.
    page.goto(f"{live_server.url}/m/profile/preferences/")
    page.get_by_label("玫瑰").check()
    page.fill("#id_colours", "红色，白色")
    page.select_option("#id_channel", "微信")
    page.select_option("#id_contact_time", "周末上午")
    screenshot(page, "centre_profile_03_preferences_zh")
    page.locator("form button[type=submit].mc-btn").click()
    page.wait_for_url("**/m/profile/preferences/")
    kinds = sorted(member.preferences.values_list("kind", "value", "category__code"))
    assert kinds == [
        ("colour", "白色", None),
        ("colour", "红色", None),
        ("contact_time", "周末上午", None),
        ("favourite_category", "", "roses"),
        ("preferred_channel", "微信", None),
    ]

    # Ask to close the account: shown as pending.
    page.goto(f"{live_server.url}/m/profile/privacy/")
    page.fill("#id_reason", "搬到外地了")
    page.locator("form[action$='/privacy/close/'] button").click()
    page.wait_for_url("**/m/profile/privacy/")
    assert page.locator("form[action$='/close/withdraw/']").count() == 1
    assert AccountClosureRequest.objects.get(member=member).status == "requested"
    screenshot(page, "centre_profile_04_privacy_pending_zh")

    page.goto(f"{live_server.url}/m/purchases/")
    assert "268.00" in page.content()
    screenshot(page, "centre_profile_05_purchases_zh")
    page.locator("a[href^='/m/purchases/']").first.click()
    page.wait_for_url("**/m/purchases/*/")
    screenshot(page, "centre_profile_06_purchase_zh")
    page.locator("a[href^='/feedback/?purchase=']").click()
    page.wait_for_url("**/feedback/?purchase=*")
    assert page.input_value("#id_member_no") == member.member_no
    screenshot(page, "centre_profile_07_feedback_prefilled_zh")
    page.fill("#id_message", "花很新鲜，包装也很用心。")
    page.check("input[name=kind][value=praise]")
    page.click("button.fb-submit")
    page.wait_for_url("**/feedback/thanks/**")

    page.goto(f"{live_server.url}/m/feedback/")
    page.locator("a[href^='/m/feedback/']").first.click()
    page.wait_for_url("**/m/feedback/*/")
    assert "花很新鲜，包装也很用心。" in page.content()
    screenshot(page, "centre_profile_08_my_feedback_zh")
    context.close()
