"""WeChat, message templates, results with receipts, the daily budget and best-channel campaigns (issue 14)."""

from __future__ import annotations

import datetime
import zoneinfo
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from campaigns import provider_templates, results, rules, services
from campaigns.errors import TemplateRequired
from campaigns.models import MessageTemplate, OutboxMessage
from campaigns.selectors.estimates import cost_estimate
from campaigns.services import dispatch, message_templates, receipts
from members.models import Member, Preference
from tests.campaigns.helpers import campaign, drain, launched, no_quiet_hours
from tests.members import factories

pytestmark = pytest.mark.django_db
SH = zoneinfo.ZoneInfo("Asia/Shanghai")


def follower(name="王小明", openid="o-abc", **consents):
    consents = {"marketing_wechat": True, **consents}
    made = factories.member(name=name, consents=consents)
    if openid:
        Member.objects.filter(pk=made.pk).update(wechat_openid=openid)
        made.refresh_from_db()
    return made


def wechat_template(**changes) -> MessageTemplate:
    values = {
        "name": "积分提醒", "channel": "wechat", "provider_code": "TM-0001",
        "text": "{{first.DATA}}您好，您当前积分{{points.DATA}}。",
        "variables": {"first": "member.name", "points": "points_balance"},
    }  # fmt: skip
    values.update(changes)
    return message_templates.save_message_template(**values)


def sms_template(**changes) -> MessageTemplate:
    values = {
        "name": "会员积分", "channel": "sms", "provider_code": "SMS_123456789", "sign_name": "花漾",
        "text": "${name}您好，您有${points}积分，欢迎到店兑换。",
        "variables": {"name": "member.name", "points": "points_balance"},
    }  # fmt: skip
    values.update(changes)
    return message_templates.save_message_template(**values)


# --- templates ---------------------------------------------------------------------------------


def test_placeholders_in_the_three_provider_forms_are_read_and_filled():
    text = "${name}您好 {1} {{first.DATA}}"
    assert provider_templates.placeholders(text) == ["name", "1", "first"]
    assert provider_templates.fill(text, {"name": "李", "1": "2", "first": "3"}) == "李您好 2 3"


def test_sms_length_counts_the_signature_and_splits_in_parts_of_67():
    assert provider_templates.sms_length("字" * 64, "花漾") == provider_templates.SmsLength(chars=68, segments=1)
    assert provider_templates.sms_length("字" * 66, "花漾").segments == 1  # 70 exactly
    assert provider_templates.sms_length("字" * 67, "花漾").segments == 2  # 71: two parts
    assert provider_templates.sms_length("字" * 130, "花漾").segments == 2  # 134 = 2 × 67
    assert provider_templates.sms_length("字" * 131, "花漾").segments == 3


def test_a_template_refuses_unmapped_placeholders_and_unknown_fields():
    with pytest.raises(ValidationError) as refused:
        sms_template(variables={"name": "member.phone"})
    problems = " ".join(refused.value.message_dict["variables"])
    assert "points" in problems and "member.phone" in problems


def test_a_wechat_campaign_needs_a_wechat_template():
    with pytest.raises(ValidationError) as refused:
        campaign(channel="wechat", body="")
    assert "message_template" in refused.value.message_dict
    with pytest.raises(ValidationError) as wrong_kind:
        campaign(channel="wechat", body="", message_template=sms_template())
    assert "message_template" in wrong_kind.value.message_dict


def test_sms_without_a_template_cannot_launch_through_a_real_provider(settings):
    settings.SMS_PROVIDER = "tests.campaigns.channel_doubles.RealSmsProvider"
    made = campaign()
    with pytest.raises(TemplateRequired):
        services.launch_campaign(campaign=made)
    settings.SMS_PROVIDER = "campaigns.channels.DatabaseSmsProvider"
    assert services.launch_campaign(campaign=made).status == "scheduled"


# --- WeChat --------------------------------------------------------------------------------------


def test_a_wechat_campaign_sends_the_template_to_the_bound_openid_and_counts_receipts(wechat):
    no_quiet_hours()
    follower(name="李小花", openid="o-li")
    follower(name="没绑定", openid="")
    factories.member(consents={"marketing_sms": True})  # no WeChat consent
    wechat.answers = ["msg-1"]
    made = launched(campaign(channel="wechat", body="", message_template=wechat_template()))
    drain()
    assert len(wechat.sent) == 1
    sent = wechat.sent[0]
    assert sent["openid"] == "o-li" and sent["message"].template_code == "TM-0001"
    assert sent["message"].params == {"first": "李小花", "points": "0"}
    assert sent["message"].text == "李小花您好，您当前积分0。"
    unbound = made.outbox_messages.get(member__name="没绑定")
    assert (unbound.status, unbound.error, unbound.error_code) == ("failed", "No WeChat account bound", "no_address")
    assert receipts.record_receipt(channel="wechat", provider_ref="msg-1", delivered=True)
    figures = results.campaign_results(made)
    assert (figures.sent, figures.delivered, figures.undelivered, figures.failed) == (1, 1, 0, 1)
    assert figures.skipped == {"no_consent": 1} and figures.delivery_rate == 1.0


def test_an_sms_template_campaign_gives_the_provider_code_params_and_signature(sms):
    no_quiet_hours()
    factories.member(name="张三", consents={"marketing_sms": True})
    made = launched(campaign(body="", message_template=sms_template()))
    drain()
    message = sms.sent[0]["message"]
    if message is not None:  # the provider interface after issue 14 (a TemplateMessage)
        assert (message.template_code, message.sign_name) == ("SMS_123456789", "花漾")
        assert message.params == {"name": "张三", "points": "0"}
    assert sms.sent[0]["text"] == "张三您好，您有0积分，欢迎到店兑换。"
    assert made.outbox_messages.get().status == "sent"


# --- results -----------------------------------------------------------------------------------


def test_results_count_delivered_and_undelivered_and_the_delivery_rate(sms):
    no_quiet_hours()
    for _i in range(4):
        factories.member(consents={"marketing_sms": True})
    sms.answers = ["r1", "r2", "r3", "r4"]
    made = launched(campaign())
    drain()
    receipts.record_receipt(channel="sms", provider_ref="r1", delivered=True)
    receipts.record_receipt(channel="sms", provider_ref="r2", delivered=True)
    receipts.record_receipt(channel="sms", provider_ref="r3", delivered=False, error_code="MK:0005")
    figures = results.campaign_results(made)
    assert (figures.sent, figures.accepted, figures.delivered, figures.undelivered) == (4, 4, 2, 1)
    assert figures.delivery_rate == 0.5
    assert figures.recipients.members == 4  # receipts do not take recipients out of the repurchase count


# --- daily budget --------------------------------------------------------------------------------


def test_the_daily_budget_holds_messages_until_the_next_day_in_shanghai(sms):
    no_quiet_hours(sms_daily_budget=2, frequency_cap_messages=100)
    for _i in range(3):
        factories.member(consents={"marketing_sms": True})
    noon = datetime.datetime(2026, 3, 2, 12, 0, tzinfo=SH)
    with time_machine.travel(noon, tick=False):
        made = launched(campaign(), now=noon)
        drain()
    counts = dict(made.outbox_messages.values_list("status").annotate(n=__import__("django").db.models.Count("id")))
    assert counts == {"sent": 2, "pending": 1}
    waiting = made.outbox_messages.get(status="pending")
    assert waiting.not_before == datetime.datetime(2026, 3, 3, 0, 0, tzinfo=SH)
    with time_machine.travel(datetime.datetime(2026, 3, 3, 0, 1, tzinfo=SH), tick=False):
        drain()
    assert made.outbox_messages.filter(status="sent").count() == 3


def test_the_estimate_counts_segments_price_and_warns_over_the_budget(settings):
    settings.SMS_PRICE_PER_SEGMENT = "0.05"
    no_quiet_hours(sms_daily_budget=2)
    for _i in range(3):
        factories.member(consents={"marketing_sms": True})
    made = campaign()
    estimate = cost_estimate(made, sample_text="字" * 100, sign_name="花漾")
    (row,) = estimate.channels
    assert (row.recipients, row.segments, row.messages, row.cost) == (3, 2, 6, Decimal("0.30"))
    assert row.remaining_today == 2 and estimate.over_budget


def test_the_launch_page_shows_the_estimate_and_the_sms_count(admin_client):
    no_quiet_hours()
    factories.member(consents={"marketing_sms": True})
    made = campaign(body="", message_template=sms_template())
    page = admin_client.get(f"/admin/campaigns/campaign/{made.pk}/change/").content.decode()
    assert "campaign-estimate" in page and "campaign-sms-length" in page
    assert page.index("campaign-estimate") < page.index('name="name"')  # the estimate comes first
    assert "SMS_123456789" in page


# --- best channel --------------------------------------------------------------------------------


def test_best_channel_rule():
    assert rules.best_channel(preferred="sms", consented={"sms", "wechat"}, reachable={"sms", "wechat"}) == "sms"
    assert rules.best_channel(preferred="sms", consented={"wechat"}, reachable={"sms", "wechat"}) == "wechat"
    assert rules.best_channel(preferred="", consented={"email", "sms"}, reachable={"email", "sms"}) == "sms"
    assert rules.best_channel(preferred="wechat", consented={"wechat"}, reachable={"sms"}) is None


def test_a_best_channel_campaign_puts_each_member_on_their_channel(sms, wechat):
    no_quiet_hours()
    on_wechat = follower(name="微信用户", openid="o-1", marketing_sms=True)
    prefers_sms = follower(name="偏好短信", openid="o-2", marketing_sms=True)
    Preference.objects.create(member=prefers_sms, kind=Preference.Kind.PREFERRED_CHANNEL, value="短信")
    only_email = factories.member(name="邮件用户", email="a@example.com", consents={"marketing_email": True})
    made = launched(campaign(channel="best", subject="春季", body="{{ member.name }}您好"))
    channels = dict(made.outbox_messages.values_list("member_id", "channel"))
    assert channels == {on_wechat.pk: "wechat", prefers_sms.pk: "sms", only_email.pk: "email"}
    drain()
    statuses = dict(made.outbox_messages.values_list("member_id", "status"))
    assert statuses[prefers_sms.pk] == "sent" and statuses[only_email.pk] == "sent"
    # No WeChat template on this campaign: its WeChat member fails with a clear reason, not silently.
    failed = made.outbox_messages.get(member=on_wechat)
    assert (failed.status, failed.error_code) == ("failed", "no_template")


def test_dispatch_batch_reports_retries(sms):
    from campaigns.channels.base import ChannelError

    no_quiet_hours()
    factories.member(consents={"marketing_sms": True})
    sms.answers = [ChannelError("busy", temporary=True)]
    launched(campaign())
    result = dispatch.dispatch_batch(owner="w")
    assert (result.claimed, result.retried, result.sent) == (1, 1, 0)
    assert OutboxMessage.objects.get().status == "pending"
    assert timezone.now() < OutboxMessage.objects.get().not_before


def test_the_template_admin_shows_a_form_error_for_an_unmapped_placeholder(admin_client):
    url = "/admin/campaigns/messagetemplate/add/"
    data = {
        "name": "积分", "channel": "sms", "purpose": "marketing", "provider_code": "SMS_1", "sign_name": "花漾",
        "text": "${name}您好，积分${points}", "variables": '{"name": "member.name"}',
    }  # fmt: skip
    refused = admin_client.post(url, data)
    assert refused.status_code == 200 and "points" in refused.content.decode()
    assert not MessageTemplate.objects.exists()
    data["variables"] = '{"name": "member.name", "points": "points_balance"}'
    assert admin_client.post(url, data).status_code == 302
    saved = MessageTemplate.objects.get()
    page = admin_client.get(f"/admin/campaigns/messagetemplate/{saved.pk}/change/").content.decode()
    assert "【花漾】王小明您好，积分1280" in page  # the sample, with the signature


def test_the_automation_admin_offers_wechat_with_a_template(admin_client):
    from campaigns.models import Automation

    automation = Automation.objects.filter(kind=Automation.Kind.BIRTHDAY).first()
    page = admin_client.get(f"/admin/campaigns/automation/{automation.pk}/change/").content.decode()
    assert 'value="wechat"' in page and "id_message_template" in page


def test_the_budget_counter_gives_exactly_the_budget_and_restarts_from_the_outbox(sms):
    from django.core.cache import cache

    from campaigns.ratelimit import take_daily_budget

    now = datetime.datetime(2026, 5, 1, 10, 0, tzinfo=SH)
    taken = [take_daily_budget("sms", 3, now=now) for _i in range(5)]
    assert taken == [True, True, True, False, False]
    # A flushed cache starts again from what the outbox says was handed over today (here: nothing).
    cache.delete("campaigns:budget:sms:2026-05-01")
    assert take_daily_budget("sms", 3, now=now)
    assert take_daily_budget("sms", 3, now=now + datetime.timedelta(days=1))  # a new day in Shanghai


def test_the_wechat_double_leaves_the_real_channel_module_in_place(wechat):
    """The double replaces `send_wechat` only: code that imports `campaigns.channels.wechat` for the
    first time during such a test (the member centre's WeChat sign-in, when the URLconf loads) gets
    the real module, whose `wechat_enabled` later tests call. A stand-in module in `sys.modules` once
    made the member-centre sign-in page fail with a 500 after the WeChat campaign browser test."""
    import importlib
    import sys

    from campaigns.channels import TemplateMessage

    module = importlib.import_module("campaigns.channels.wechat")
    assert sys.modules["campaigns.channels.wechat"] is module
    assert callable(module.wechat_enabled) and callable(module.wechat_provider)
    message = TemplateMessage(template_code="TM-1", params={}, text="")
    assert module.send_wechat(openid="o-1", message=message, reference="r-1").startswith("ref-")
    assert [sent["openid"] for sent in wechat.sent] == ["o-1"]
