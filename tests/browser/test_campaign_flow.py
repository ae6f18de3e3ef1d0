"""A marketer in China writes an SMS campaign in the admin, previews it and launches it; a customer
opens the unsubscribe link of an email and confirms."""

import pytest

from campaigns.channels import unsubscribe_token
from campaigns.models import Campaign
from loyalty_crm.roles import MARKETING
from members import loyalty
from members.services import consent_state
from tests.browser.conftest import screenshot
from tests.campaigns.helpers import member
from tests.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_marketer_writes_previews_and_launches_a_campaign(live_server, zh_page):
    make_user("marketer", MARKETING)
    customer = member(name="陈美玲", sms_consent=True)
    page = zh_page
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "marketer")
    page.fill("#id_password", "pw-marketer")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")

    page.goto(f"{live_server.url}/admin/campaigns/campaign/add/")
    page.fill("#id_name", "母亲节问候")
    page.select_option("#id_channel", "sms")
    page.fill(
        "#id_body", "{{ member.name }}您好！母亲节快乐，您是{{ tier }}，现有{{ points_balance }}积分。{{ member.nick }}"
    )
    page.fill("#id_control_group_pct", "10")
    screenshot(page, "campaigns_01_add_zh")
    page.click("input[name=_continue]")
    page.wait_for_url("**/admin/campaigns/campaign/*/change/**", timeout=60_000)
    body = page.locator("body").inner_text()
    assert "member.nick" in body and "不是会员字段" in body  # the warning, in Chinese
    balance = loyalty.snapshots([customer])[customer.pk].points_balance  # e.g. a sign-up bonus
    assert f"陈美玲您好！母亲节快乐，您是普通会员，现有{balance}积分。" in body  # the preview
    screenshot(page, "campaigns_02_saved_with_preview_zh")

    page.click("button.campaign-launch")
    page.locator("text=已排期，将在开始时间发送").wait_for(timeout=60_000)  # the success message
    assert "已排期" in page.locator("body").inner_text()
    screenshot(page, "campaigns_03_launched_zh")
    assert Campaign.objects.get().status in ("scheduled", "sending", "completed")


def test_customer_unsubscribes_from_an_email_link(live_server, zh_page):
    someone = member(name="赵强", email_consent=True)
    token = unsubscribe_token(member_no=someone.member_no, channel="email")
    page = zh_page
    page.goto(f"{live_server.url}/unsubscribe/{token}/")
    assert "不再接收营销邮件" in page.locator("h1").inner_text()
    screenshot(page, "campaigns_04_unsubscribe_confirm_zh")
    page.click("button[type=submit]")
    page.locator("text=您已成功退订").wait_for()
    screenshot(page, "campaigns_05_unsubscribed_zh")
    assert consent_state(someone)["marketing_email"] is False
    page.goto(f"{live_server.url}/unsubscribe/{token[:-3]}abc/")
    assert "此链接无效" in page.locator("h1").inner_text()
