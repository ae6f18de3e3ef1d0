"""The API of issue 14's campaign side: message templates, WeChat and best-channel campaigns, the
cost estimate, the launch refusal without a template, delivery counts and the daily budget."""

from __future__ import annotations

import pytest

from campaigns.models import MessageTemplate
from campaigns.services import receipts
from tests.campaigns.helpers import drain, launched, no_quiet_hours
from tests.members import factories

pytestmark = pytest.mark.django_db
TEMPLATES = "/api/v1/message-templates/"
CAMPAIGNS = "/api/v1/campaigns/"

WECHAT = {
    "name": "积分提醒", "channel": "wechat", "purpose": "service", "provider_code": "TM-1",
    "text": "{{first.DATA}}您好，积分{{points.DATA}}",
    "variables": {"first": "member.name", "points": "points_balance"},
}  # fmt: skip


def test_marketing_adds_a_template_and_a_bad_mapping_is_a_400_naming_it(api_marketing):
    response = api_marketing.post(TEMPLATES, {**WECHAT, "variables": {"first": "member.phone"}}, format="json")
    assert response.status_code == 400
    problems = " ".join(response.json()["variables"])
    assert "member.phone" in problems and "points" in problems
    response = api_marketing.post(TEMPLATES, WECHAT, format="json")
    assert response.status_code == 201 and response.json()["provider_code"] == "TM-1"
    assert api_marketing.get(TEMPLATES).json()["count"] == 1


def test_store_staff_cannot_read_templates(api_staff):
    assert api_staff.get(TEMPLATES).status_code == 403


def test_a_wechat_campaign_through_the_api(api_marketing, wechat):
    no_quiet_hours()
    template = MessageTemplate.objects.create(**WECHAT)
    refused = api_marketing.post(CAMPAIGNS, {"name": "微信", "channel": "wechat"}, format="json")
    assert refused.status_code == 400 and "message_template" in refused.json()
    made = api_marketing.post(
        CAMPAIGNS, {"name": "微信", "channel": "wechat", "message_template": template.pk}, format="json"
    )
    assert made.status_code == 201
    follower = factories.member(consents={"marketing_wechat": True})
    type(follower).objects.filter(pk=follower.pk).update(wechat_openid="o-1")
    estimate = api_marketing.get(f"{CAMPAIGNS}{made.json()['id']}/estimate/").json()
    assert (estimate["recipients"], estimate["cost"], estimate["channels"][0]["channel"]) == (1, "0.00", "wechat")
    from campaigns.models import Campaign

    launched(Campaign.objects.get(pk=made.json()["id"]))
    wechat.answers = ["wx-1"]
    drain()
    receipts.record_receipt(channel="wechat", provider_ref="wx-1", delivered=True)
    detail = api_marketing.get(f"{CAMPAIGNS}{made.json()['id']}/").json()
    assert (detail["channel"], detail["message_template"], detail["sent"], detail["delivered"]) == (
        "wechat", template.pk, 1, 1,
    )  # fmt: skip
    results = api_marketing.get(f"{CAMPAIGNS}{made.json()['id']}/results/").json()
    assert (results["accepted"], results["delivered"], results["delivery_rate"]) == (1, 1, 1.0)


def test_launching_sms_without_a_template_through_a_real_provider_is_a_409(api_marketing, settings):
    settings.SMS_PROVIDER = "tests.campaigns.channel_doubles.RealSmsProvider"
    made = api_marketing.post(CAMPAIGNS, {"name": "短信", "channel": "sms", "body": "您好"}, format="json").json()
    response = api_marketing.post(f"{CAMPAIGNS}{made['id']}/launch/")
    assert response.status_code == 409 and response.json()["code"] == "template_required"


def test_a_best_channel_campaign_is_accepted(api_marketing):
    response = api_marketing.post(
        CAMPAIGNS, {"name": "最佳", "channel": "best", "subject": "春", "body": "您好"}, format="json"
    )
    assert response.status_code == 201


def test_managers_set_the_wechat_rate_and_the_daily_budgets(api_manager):
    response = api_manager.patch(
        "/api/v1/contact-policy/",
        {"send_rate": {"email": 20, "sms": 10, "wechat": 5}, "daily_budget": {"sms": 1000}},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["send_rate"]["wechat"] == 5 and body["daily_budget"] == {"email": 0, "sms": 1000, "wechat": 0}
    bad = api_manager.patch("/api/v1/contact-policy/", {"daily_budget": {"sms": -1}}, format="json")
    assert bad.status_code == 400
