"""A customer joins at the counter by scanning the store's QR poster, on a phone in Chinese (issue 15)."""

import pytest
from django.conf import settings

from members.models import ConsentTopic, Member, TermsAcceptance
from members.services import consent_state
from tests.browser.conftest import screenshot
from tests.members import factories
from tests.members.centre_helpers import PHONE, last_code, published

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_join_by_store_qr_with_a_code_from_the_sms_log(live_server, browser):
    store = factories.store("sh-009", "上海静安店")
    published("terms", "2026-12")
    published("privacy", "2026-12")
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto(f"{live_server.url}/m/join/?store=sh-009")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert "上海静安店" in page.locator(".mc-store").inner_text()
    screenshot(page, "centre_join_01_form_zh")

    page.fill("#id_phone", PHONE)
    page.fill("#id_name", "李小花")
    page.click("button[name=action][value=send]")
    page.wait_for_selector(".mc-msg")
    assert page.input_value("#id_name") == "李小花"  # kept across the step
    assert page.locator("button[name=action][value=send]").is_disabled()  # the resend countdown
    screenshot(page, "centre_join_02_code_sent_zh")

    page.fill("#id_code", last_code())
    page.check("#id_accept_terms")
    page.check("#id_marketing_sms")
    screenshot(page, "centre_join_03_filled_zh")
    page.click("button[name=action][value=join]")
    page.wait_for_url(f"{live_server.url}/m/")
    screenshot(page, "centre_join_04_joined_zh")

    cookies = {cookie["name"]: cookie for cookie in context.cookies()}
    member_cookie = cookies[settings.MEMBER_SESSION_COOKIE_NAME]
    assert member_cookie["httpOnly"] and member_cookie["path"] == "/m/"
    member = Member.objects.with_phone(PHONE).get()
    assert member.name == "李小花" and member.home_store == store
    assert member.source_channel == Member.SourceChannel.QR_STORE
    state = consent_state(member)
    assert state[ConsentTopic.MARKETING_SMS] and not state[ConsentTopic.MARKETING_EMAIL]
    assert TermsAcceptance.objects.filter(member=member).count() == 2
    context.close()


def test_sign_in_by_code_and_the_store_poster(live_server, browser):
    from tests.conftest import make_user

    store = factories.store("sh-009", "上海静安店")
    member = factories.member(phone=PHONE, name="王小明")
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto(f"{live_server.url}/m/login/?next=/m/points/")
    screenshot(page, "centre_login_01_phone_zh")
    page.fill("#id_phone", PHONE)
    page.click("button[name=action][value=send]")
    page.wait_for_selector("#id_code")
    screenshot(page, "centre_login_02_code_zh")
    page.fill("#id_code", last_code())
    page.click("button[name=action][value=verify]")
    page.wait_for_url(f"{live_server.url}/m/points/")
    cookie = {c["name"]: c for c in context.cookies()}[settings.MEMBER_SESSION_COOKIE_NAME]
    from loyalty_crm.centre.session import member_for_token

    assert member_for_token(cookie["value"]) == member
    context.close()

    make_user("poster-admin", is_superuser=True)
    context = browser.new_context(locale="zh-CN", viewport={"width": 1000, "height": 1400})
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "poster-admin")
    page.fill("#id_password", "pw-poster-admin")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    page.goto(f"{live_server.url}/admin/members/store/{store.pk}/join-poster/")
    assert page.locator(".poster svg").count() == 1
    screenshot(page, "centre_store_join_poster_a4")
    context.close()
