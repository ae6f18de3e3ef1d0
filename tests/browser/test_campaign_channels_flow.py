"""A marketer in China sends a WeChat campaign with an approved message template: sees the
template's fields and the cost estimate, launches it; dispatch runs against the WeChat test
double, a delivery receipt arrives, and the results page shows sent and delivered (issue 14)."""

import pytest

from campaigns.models import Campaign, MessageTemplate
from campaigns.services import dispatch, message_templates, receipts
from loyalty_crm.roles import MARKETING
from members.models import Member
from tests.browser.conftest import screenshot
from tests.campaigns.channel_doubles import wechat  # noqa: F401 (fixture: the WeChat provider double)
from tests.campaigns.helpers import drain, no_quiet_hours
from tests.conftest import make_user
from tests.members import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_marketer_sends_a_wechat_campaign_and_sees_it_delivered(live_server, zh_page, wechat):  # noqa: F811
    make_user("marketer", MARKETING)
    no_quiet_hours()
    follower = factories.member(name="陈美玲", consents={"marketing_wechat": True})
    Member.objects.filter(pk=follower.pk).update(wechat_openid="o-chen")
    template = message_templates.save_message_template(
        name="积分到账提醒",
        channel="wechat",
        provider_code="TM-POINTS-01",
        text="{{first.DATA}}您好，您当前积分{{points.DATA}}，会员等级{{tier.DATA}}。",
        variables={"first": "member.name", "points": "points_balance", "tier": "tier"},
    )
    wechat.answers = ["wx-msg-1"]
    page = zh_page
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "marketer")
    page.fill("#id_password", "pw-marketer")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")

    page.goto(f"{live_server.url}/admin/campaigns/messagetemplate/{template.pk}/change/")
    assert "陈美玲" not in page.locator(".template-sample").inner_text()  # a sample member, not a real one
    screenshot(page, "campaign_channels_01_template_zh")

    page.goto(f"{live_server.url}/admin/campaigns/campaign/add/")
    page.fill("#id_name", "积分到账微信提醒")
    page.select_option("#id_channel", "wechat")
    page.select_option("#id_message_template", str(template.pk))
    page.click("input[name=_continue]")
    page.wait_for_url("**/admin/campaigns/campaign/*/change/**", timeout=60_000)

    fields = page.locator(".campaign-template-fields").inner_text()
    assert "TM-POINTS-01" in fields and "points_balance" in fields and "first" in fields
    estimate = page.locator(".campaign-estimate")
    assert estimate.locator(".estimate-wechat td").nth(1).inner_text() == "1"  # one recipient
    assert "0.00" in estimate.inner_text()  # WeChat costs nothing
    assert "陈美玲您好，您当前积分" in page.locator(".campaign-preview-text").inner_text()
    screenshot(page, "campaign_channels_02_estimate_and_template_zh")

    page.click("button.campaign-launch")
    page.locator("text=已排期，将在开始时间发送").wait_for(timeout=60_000)
    campaign = Campaign.objects.get()
    dispatch.start_campaign(campaign_id=campaign.pk)
    drain()
    assert [sent["openid"] for sent in wechat.sent] == ["o-chen"]
    assert wechat.sent[0]["message"].template_code == "TM-POINTS-01"
    assert receipts.record_receipt(channel="wechat", provider_ref="wx-msg-1", delivered=True)

    page.goto(f"{live_server.url}/admin/campaigns/campaign/{campaign.pk}/results/")
    assert page.locator(".figure-sent").inner_text() == "1"
    assert page.locator(".figure-delivered").inner_text() == "1"
    assert page.locator(".figure-delivery-rate").inner_text() == "100%"
    screenshot(page, "campaign_channels_03_results_delivered_zh")
    assert MessageTemplate.objects.count() == 1
