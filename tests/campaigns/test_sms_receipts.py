"""Delivery receipts: POST /hooks/sms/aliyun/ and /hooks/sms/tencent/ (campaigns/channels/hooks.py).

A campaign goes out through the real provider SDK to its fake server; the fake builds the
provider's receipt push for what it accepted, and the hook marks the outbox message delivered or
undelivered — only with the token, once, and not from an old capture."""

from __future__ import annotations

import datetime
import json

import pytest
from django.utils import timezone

from campaigns.channels.aliyun import message_ref
from campaigns.models import MessageTemplate, OutboxMessage
from tests.campaigns import providers
from tests.campaigns.helpers import campaign, drain, launched, member, no_quiet_hours

pytestmark = pytest.mark.django_db

TOKEN = "receipt-token-0123456789abcdef"
HOOKS = {"aliyun": "/hooks/sms/aliyun/", "tencent": "/hooks/sms/tencent/"}
ANSWERS = {"aliyun": {"code": 0, "msg": "成功"}, "tencent": {"result": 0, "errmsg": "OK"}}


@pytest.fixture(params=["aliyun", "tencent"])
def provider(request, settings):
    """(name, fake) with one SMS campaign message sent through it."""
    name = request.param
    fake = request.getfixturevalue(f"{name}_sms")
    settings.SMS_PROVIDER = f"tests.campaigns.providers.Campaign{name.capitalize()}SmsProvider"
    settings.SMS_RECEIPT_TOKEN = TOKEN
    no_quiet_hours()
    member(sms_consent=True)
    # A real provider sends only approved templates (issue 14): the campaign names one, whose code
    # is the one the fake server knows.
    template = MessageTemplate.objects.create(
        name="通知", channel="sms", text="{1}", variables={"1": "member.name"},
        provider_code=getattr(providers, f"Campaign{name.capitalize()}SmsProvider").template_code,
    )  # fmt: skip
    launched(campaign(body="", message_template=template))
    drain()
    return name, fake


def sent_message() -> OutboxMessage:
    return OutboxMessage.objects.get()


def post(client, name, body, *, token=TOKEN, content_type="application/json"):
    url = HOOKS[name] + (f"?token={token}" if token is not None else "")
    data = body if isinstance(body, (str, bytes)) else json.dumps(body, ensure_ascii=False)
    return client.post(url, data=data, content_type=content_type)


def receipt(name, fake, *, delivered=True, at=None):
    accepted = fake.accepted[0]
    if name == "aliyun":
        return fake.receipt(accepted, delivered=delivered, err_code="" if delivered else "MK:0005", report_time=at)
    return fake.receipt(accepted, delivered=delivered, errmsg="" if delivered else "MK:0005", report_time=at)


def provider_ref(name, accepted) -> str:
    """The id the outbox stores: Tencent's SerialNo; Aliyun's BizId with the number's tag (one BizId
    names a whole SendBatchSms call)."""
    return message_ref(accepted.message_id, accepted.phone) if name == "aliyun" else accepted.message_id


def test_the_campaign_message_was_sent_through_the_provider(provider):
    name, fake = provider
    message = sent_message()
    accepted = fake.find(reference=f"outbox-{message.pk}")
    assert message.status == OutboxMessage.Status.SENT and message.provider_ref == provider_ref(name, accepted)


def test_a_good_receipt_marks_the_message_delivered(client, provider):
    name, fake = provider
    response = post(client, name, [receipt(name, fake)])
    assert response.status_code == 200 and response.json() == ANSWERS[name]
    message = sent_message()
    assert message.status == OutboxMessage.Status.DELIVERED and message.delivered_at is not None


def test_a_failed_receipt_marks_it_undelivered_with_the_error_code(client, provider):
    name, fake = provider
    assert post(client, name, [receipt(name, fake, delivered=False)]).status_code == 200
    message = sent_message()
    assert message.status == OutboxMessage.Status.UNDELIVERED and message.error_code == "MK:0005"


@pytest.mark.parametrize("token", [None, "", "wrong-token", TOKEN + "x"])
def test_a_missing_or_forged_token_is_refused(client, provider, token):
    name, fake = provider
    assert post(client, name, [receipt(name, fake)], token=token).status_code == 403
    assert sent_message().status == OutboxMessage.Status.SENT


def test_no_configured_token_refuses_everyone(client, provider, settings):
    name, fake = provider
    settings.SMS_RECEIPT_TOKEN = ""
    assert post(client, name, [receipt(name, fake)], token="").status_code == 403


def test_an_address_outside_the_allow_list_is_refused(client, provider, settings):
    name, fake = provider
    settings.SMS_RECEIPT_ALLOWED_IPS = ["100.64.0.0/10"]
    assert post(client, name, [receipt(name, fake)]).status_code == 403
    settings.SMS_RECEIPT_ALLOWED_IPS = ["127.0.0.1/32"]
    assert post(client, name, [receipt(name, fake)]).status_code == 200


def test_a_replayed_receipt_changes_nothing(client, provider):
    name, fake = provider
    body = [receipt(name, fake)]
    post(client, name, body)
    first = sent_message()
    assert post(client, name, body).status_code == 200  # providers retry: still answered 200
    # …and a later contradicting report changes nothing either
    assert post(client, name, [receipt(name, fake, delivered=False)]).status_code == 200
    again = sent_message()
    assert (again.status, again.delivered_at, again.error_code) == (first.status, first.delivered_at, "")


def test_a_receipt_older_than_the_window_is_ignored(client, provider, settings):
    name, fake = provider
    settings.SMS_RECEIPT_MAX_AGE_HOURS = 72
    old = timezone.now() - datetime.timedelta(hours=73)
    assert post(client, name, [receipt(name, fake, at=timezone.localtime(old))]).status_code == 200
    assert sent_message().status == OutboxMessage.Status.SENT


def test_an_unknown_message_id_is_ignored(client, provider):
    name, fake = provider
    report = receipt(name, fake)
    report["biz_id" if name == "aliyun" else "sid"] = "not-ours-123"
    assert post(client, name, [report]).status_code == 200
    assert sent_message().status == OutboxMessage.Status.SENT


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("{not json", "The body is not JSON."),
        (b"\xff\xfe", "The body is not JSON."),
        ('{"biz_id": "1"}', "The body must be a JSON list of reports."),
        ("[1]", "Report 0 is not a JSON object."),
        ("[{}]", "Report 0 has no"),
    ],
)
def test_a_malformed_body_is_400_naming_the_problem(client, provider, body, problem):
    name, _fake = provider
    response = post(client, name, body)
    assert response.status_code == 400 and response.json()["detail"].startswith(problem)


def test_a_report_with_a_bad_time_is_400(client, provider):
    name, fake = provider
    report = receipt(name, fake)
    report["report_time" if name == "aliyun" else "user_receive_time"] = "yesterday"
    response = post(client, name, [report])
    assert response.status_code == 400 and "is not a time like" in response.json()["detail"]


def test_a_huge_body_is_400(client, provider, settings):
    name, fake = provider
    settings.SMS_RECEIPT_MAX_BYTES = 1000
    response = post(client, name, [receipt(name, fake)] * 20)
    assert response.status_code == 400 and "larger than 1000 bytes" in response.json()["detail"]


def test_only_post_is_accepted(client, provider):
    name, _fake = provider
    assert client.get(HOOKS[name] + f"?token={TOKEN}").status_code == 405


def test_the_hooks_need_no_csrf_token(provider):
    from django.test import Client

    name, fake = provider
    response = post(Client(enforce_csrf_checks=True), name, [receipt(name, fake)])
    assert response.status_code == 200
