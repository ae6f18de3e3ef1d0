"""Replies go out through the channel layer (email, WeChat, SMS) and are recorded truthfully.

Sending happens after the reply's transaction commits: in these tests (one transaction per test)
`django_capture_on_commit_callbacks(execute=True)` plays the commit.
"""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from campaigns.channels.base import ChannelError, ChannelInDoubt
from campaigns.models import SmsLog
from feedback import delivery, services
from feedback.models import ReplyDelivery
from members.models import Member
from tests.feedback.factories import ticket
from tests.members import factories as mf

pytestmark = pytest.mark.django_db

PHONE = "13500135123"


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """Run a call and what it left for after commit (the send)."""

    def run(call, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return call(*args, **kwargs)

    return run


@pytest.fixture
def wechat(monkeypatch, settings):
    """`send_wechat` of `campaigns.channels.wechat` replaced by one that records the sends (the real
    module stays in `sys.modules`: see `tests.campaigns.channel_doubles.wechat`)."""
    from campaigns.channels import wechat as module

    sent = []

    def send_wechat(*, openid, message, reference):
        sent.append({"openid": openid, "message": message, "reference": reference})
        return f"wx-{len(sent)}"

    monkeypatch.setattr(module, "send_wechat", send_wechat)
    settings.WECHAT_SERVICE_TEMPLATE_ID = "TPL-SERVICE-REPLY"
    return sent


def refusing(code="isv.BUSINESS_LIMIT_CONTROL", reason="Too many messages to this number"):
    def send_sms(*, phone, message, reference):
        raise ChannelError(code, reason)

    return send_sms


def link_path(text: str) -> str:
    """The ticket page's path in a message text."""
    start = text.index("/feedback/t/")
    return text[start:].split()[0]


# --- the choice of channel --------------------------------------------------------------------


def test_channel_order_is_email_then_wechat_then_sms(wechat):
    member = mf.member(phone=PHONE)
    Member.objects.filter(pk=member.pk).update(wechat_openid="o-abc")
    assert delivery.reply_channel(ticket(email="kehu@example.com", phone=PHONE)) == "email"
    assert delivery.reply_channel(ticket(phone=PHONE)) == "wechat"
    assert delivery.reply_channel(ticket(phone="13600136000")) == "sms"
    assert delivery.reply_channel(ticket()) is None


def test_wechat_is_not_chosen_when_not_configured(settings):
    member = mf.member(phone=PHONE)
    Member.objects.filter(pk=member.pk).update(wechat_openid="o-abc")
    settings.WECHAT_SERVICE_TEMPLATE_ID = ""
    assert delivery.reply_channel(ticket(phone=PHONE)) == "sms"


# --- email ------------------------------------------------------------------------------------


def test_email_reply_is_sent_recorded_and_stamps_first_response(support, commit):
    made = ticket(email="kehu@example.com", language="zh-hans")
    event = commit(services.reply, ticket=made, body="非常抱歉，我们明天补送。", actor=support)
    made.refresh_from_db()
    sent = event.delivery
    sent.refresh_from_db()
    assert (sent.channel, sent.status, sent.attempts) == ("email", "sent", 1)
    assert made.first_response_at == sent.sent_at is not None
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["kehu@example.com"]
    assert "非常抱歉" in mail.outbox[0].body and made.ticket_no in mail.outbox[0].subject
    assert "/feedback/t/" in mail.outbox[0].body


def test_smtp_error_records_the_reply_as_failed_and_leaves_first_response_empty(support, commit, monkeypatch):
    made = ticket(email="kehu@example.com")

    def fail(self, fail_silently=False):
        raise OSError("SMTP down")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", fail)
    event = commit(services.reply, ticket=made, body="您好", actor=support)
    made.refresh_from_db()
    failed = ReplyDelivery.objects.get(event=event)
    assert (failed.status, failed.error_code) == ("failed", "OSError")
    assert made.first_response_at is None
    assert made.events.filter(kind="reply", body="您好").exists()  # staff's words are kept


# --- SMS --------------------------------------------------------------------------------------


def test_phone_only_ticket_gets_an_sms_with_the_ticket_number_and_a_working_link(support, commit, client):
    made = ticket(phone=PHONE, contact_name="张三")
    long_reply = "您好，" + "我们已经安排了补送。" * 30
    event = commit(services.reply, ticket=made, body=long_reply, actor=support)
    sms = SmsLog.objects.get()
    assert made.ticket_no in sms.text and "/feedback/t/" in sms.text
    assert "补送" not in sms.text  # the reply itself is read on the page, not put into the SMS
    event.delivery.refresh_from_db()
    assert (event.delivery.channel, event.delivery.status) == ("sms", "sent")
    assert event.delivery.provider_ref == f"db-{sms.pk}"
    made.refresh_from_db()
    assert made.first_response_at is not None

    page = client.get(link_path(sms.text))
    assert page.status_code == 200
    text = page.content.decode()
    assert made.ticket_no in text and "我们已经安排了补送。" in text
    assert PHONE[-8:] not in text and "张三" not in text and made.message not in text

    tampered = link_path(sms.text)[:-3] + ("AAA/" if not link_path(sms.text).endswith("AAA/") else "BBB/")
    refused = client.get(tampered)
    assert refused.status_code == 404 and 'class="fb-ticket"' not in refused.content.decode()


def test_sms_uses_the_service_template_with_ticket_and_link(support, commit, monkeypatch, settings):
    settings.SMS_SERVICE_TEMPLATE_CODE = "SMS_987654"
    seen = []

    def send_sms(*, phone, message, reference):
        seen.append((phone, message, reference))
        return "provider-1"

    monkeypatch.setattr("campaigns.channels.send_sms", send_sms)
    made = ticket(phone=PHONE)
    event = commit(services.reply, ticket=made, body="收到", actor=support)
    ((phone, message, reference),) = seen
    assert phone == "+86" + PHONE and message.template_code == "SMS_987654"
    assert set(message.params) == {"ticket", "link"} and message.params["ticket"] == made.ticket_no
    assert reference == f"ticket-reply-{event.delivery.pk}"


def test_refused_sms_is_failed_with_the_reason_then_retry_succeeds_once(support, commit, monkeypatch):
    made = ticket(phone=PHONE)
    monkeypatch.setattr("campaigns.channels.send_sms", refusing())
    event = commit(services.reply, ticket=made, body="收到，正在处理", actor=support)
    failed = ReplyDelivery.objects.get(event=event)
    made.refresh_from_db()
    assert (failed.status, failed.error_code, failed.error_reason) == (
        "failed", "isv.BUSINESS_LIMIT_CONTROL", "Too many messages to this number",
    )  # fmt: skip
    assert made.first_response_at is None

    monkeypatch.undo()
    commit(services.retry_reply, delivery=failed, actor=support)
    failed.refresh_from_db()
    made.refresh_from_db()
    assert (failed.status, failed.attempts) == ("sent", 2) and made.first_response_at == failed.sent_at
    assert SmsLog.objects.count() == 1
    assert made.events.filter(kind="update", body_code="reply_retried").count() == 1

    with pytest.raises(services.ReplyNotRetryable):  # sent: never a second time
        commit(services.retry_reply, delivery=failed, actor=support)
    assert services.deliver_reply(delivery_id=failed.pk) is None
    assert SmsLog.objects.count() == 1


def test_a_lost_answer_is_in_doubt_and_never_retried(support, commit, monkeypatch):
    def lost(*, phone, message, reference):
        raise ChannelInDoubt("timeout", "No answer within 10 s")

    monkeypatch.setattr("campaigns.channels.send_sms", lost)
    event = commit(services.reply, ticket=ticket(phone=PHONE), body="收到", actor=support)
    doubtful = ReplyDelivery.objects.get(event=event)
    assert doubtful.status == "in_doubt" and doubtful.ticket.first_response_at is None
    with pytest.raises(services.ReplyNotRetryable):
        services.retry_reply(delivery=doubtful, actor=support)


def test_sending_waits_for_the_commit(support, django_capture_on_commit_callbacks):
    made = ticket(phone=PHONE)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        event = services.reply(ticket=made, body="收到", actor=support)
    assert len(callbacks) == 1 and SmsLog.objects.count() == 0
    assert ReplyDelivery.objects.get(event=event).status == "pending"


def test_stalled_replies_are_sent_or_reported_in_doubt(support, django_capture_on_commit_callbacks):
    pending = services.reply(ticket=ticket(phone=PHONE), body="一", actor=support).delivery  # commit never ran
    stuck = services.reply(ticket=ticket(phone="13600136000"), body="二", actor=support).delivery
    long_ago = timezone.now() - datetime.timedelta(hours=1)
    ReplyDelivery.objects.filter(pk=pending.pk).update(updated_at=long_ago)
    ReplyDelivery.objects.filter(pk=stuck.pk).update(status="sending", updated_at=long_ago)
    assert services.send_stalled_replies() == {"in_doubt": 1, "sent": 1}
    pending.refresh_from_db()
    stuck.refresh_from_db()
    assert (pending.status, stuck.status) == ("sent", "in_doubt")
    assert SmsLog.objects.count() == 1


# --- WeChat -----------------------------------------------------------------------------------


def test_wechat_is_chosen_when_the_member_has_a_bound_openid(support, commit, wechat):
    member = mf.member(phone=PHONE)
    Member.objects.filter(pk=member.pk).update(wechat_openid="o-bound-1")
    made = ticket(phone=PHONE)
    event = commit(services.reply, ticket=made, body="您好，已处理", actor=support)
    ((sent,),) = [wechat]
    assert sent["openid"] == "o-bound-1" and sent["message"].template_code == "TPL-SERVICE-REPLY"
    assert sent["message"].params["ticket"] == made.ticket_no and "/feedback/t/" in sent["message"].url
    assert SmsLog.objects.count() == 0
    event.delivery.refresh_from_db()
    assert (event.delivery.channel, event.delivery.status, event.delivery.provider_ref) == ("wechat", "sent", "wx-1")


# --- no channel, record only, calls -----------------------------------------------------------


def test_no_channel_refuses_the_reply_unless_record_only(support, commit):
    made = ticket()
    with pytest.raises(services.NoChannel) as caught:
        commit(services.reply, ticket=made, body="您好", actor=support)
    assert caught.value.code == "no_channel" and not made.events.filter(kind="reply").exists()
    event = commit(services.reply, ticket=made, body="您好", actor=support, record_only=True)
    made.refresh_from_db()
    assert event.delivery.status == "not_sendable" and made.first_response_at is None


def test_work_ticket_with_an_undeliverable_reply_changes_nothing(support):
    made = ticket()
    with pytest.raises(services.NoChannel):
        services.work_ticket(ticket=made, actor=support, priority="urgent", reply="您好", status="open")
    made.refresh_from_db()
    assert (made.status, made.priority) == ("new", "normal")


def made_an_hour_ago(**kwargs):
    with time_machine.travel(timezone.now() - datetime.timedelta(hours=1), tick=False):
        return ticket(**kwargs)


def test_recording_a_call_stamps_first_response_with_the_call_time(support, commit):
    made = made_an_hour_ago()
    called = made.created_at + datetime.timedelta(minutes=3)
    event = services.record_call(ticket=made, actor=support, called_at=called, note="已电话致歉")
    made.refresh_from_db()
    assert made.first_response_at == called
    assert (event.kind, event.at, event.body, event.actor) == ("call", called, "已电话致歉", support)
    services.record_call(ticket=made, actor=support, called_at=called + datetime.timedelta(minutes=30))
    made.refresh_from_db()
    assert made.first_response_at == called  # a later call keeps the earlier first response


def test_an_earlier_call_moves_first_response_back(support, commit):
    made = made_an_hour_ago(email="kehu@example.com")
    commit(services.reply, ticket=made, body="您好", actor=support)
    made.refresh_from_db()
    assert made.first_response_at > made.created_at + datetime.timedelta(minutes=59)
    called = made.created_at + datetime.timedelta(minutes=5)
    services.record_call(ticket=made, actor=support, called_at=called)
    made.refresh_from_db()
    assert made.first_response_at == called


@pytest.mark.parametrize(
    ("offset", "field"),
    [(datetime.timedelta(hours=1), "called_at"), (-datetime.timedelta(days=1), "called_at")],
)
def test_a_call_in_the_future_or_before_the_ticket_is_refused(support, offset, field):
    from django.core.exceptions import ValidationError

    made = ticket()
    with pytest.raises(ValidationError) as caught:
        services.record_call(ticket=made, actor=support, called_at=timezone.now() + offset)
    assert field in caught.value.message_dict
    made.refresh_from_db()
    assert made.first_response_at is None and not made.events.filter(kind="call").exists()


# --- the public ticket page -------------------------------------------------------------------


def test_ticket_page_shows_replies_only_and_no_contact_data(support, commit, client):
    made = ticket(phone=PHONE, email="kehu@example.com", contact_name="李四", message="我的地址是某某路1号")
    commit(services.reply, ticket=made, body="第一条回复", actor=support)
    services.add_note(ticket=made, body="内部备注：老顾客", actor=support)
    commit(services.reply, ticket=made, body="第二条回复", actor=support)
    url = reverse("feedback:ticket_page", args=[delivery.ticket_token(made.ticket_no)])
    response = client.get(url)
    text = response.content.decode()
    assert response.status_code == 200 and response["Referrer-Policy"] == "no-referrer"
    assert text.index("第一条回复") < text.index("第二条回复")
    for private in ("kehu@example.com", "kehu", PHONE, "李四", "内部备注", "某某路"):
        assert private not in text


def test_ticket_page_link_expires(settings, client):
    made = ticket()
    url = reverse("feedback:ticket_page", args=[delivery.ticket_token(made.ticket_no)])
    settings.FEEDBACK_TICKET_LINK_MAX_AGE_DAYS = 30
    with pytest.MonkeyPatch.context() as patch:
        later = timezone.now().timestamp() + 31 * 24 * 3600
        patch.setattr("time.time", lambda: later)
        assert client.get(url).status_code == 404
    assert client.get(url).status_code == 200


def test_a_token_of_another_salt_does_not_open_a_ticket(client):
    from django.core import signing

    made = ticket()
    other = signing.TimestampSigner(salt="feedback.thanks").sign(made.ticket_no)
    assert client.get(reverse("feedback:ticket_page", args=[other])).status_code == 404


def test_ticket_page_runs_a_fixed_number_of_queries(support, commit, client, django_assert_max_num_queries):
    made = ticket(email="kehu@example.com")
    for n in range(5):
        commit(services.reply, ticket=made, body=f"回复 {n}", actor=support)
    url = reverse("feedback:ticket_page", args=[delivery.ticket_token(made.ticket_no)])
    with django_assert_max_num_queries(2):
        assert client.get(url).status_code == 200


# --- the admin --------------------------------------------------------------------------------


def change_url(made):
    return reverse("admin:feedback_ticket_change", args=[made.pk])


def post_change(client, made, **fields):
    data = {
        "kind": made.kind, "priority": made.priority, "assignee": "", "team": "", "new_status": "", "reply": "",
        "internal_note": "", "_save": "Save", "events-TOTAL_FORMS": "0", "events-INITIAL_FORMS": "0",
    }  # fmt: skip
    data.update(fields)
    return client.post(change_url(made), data)


def test_admin_shows_where_the_reply_will_go_masked(client, support):
    client.force_login(support)
    text = client.get(change_url(ticket(phone=PHONE))).content.decode()
    assert "···5123" in text and "SMS" in text and PHONE not in text.split('name="reply"')[0].split("reply-channel")[-1]
    text = client.get(change_url(ticket(email="kehu@example.com"))).content.decode()
    assert "k***@example.com" in text


def test_admin_warns_when_no_channel_can_deliver_and_refuses_the_reply(client, support, commit):
    client.force_login(support)
    made = ticket()
    text = client.get(change_url(made)).content.decode()
    assert "No channel can deliver this reply: record a call instead." in text
    assert 'name="record_only"' in text and "record-call" in text
    response = commit(post_change, client, made, reply="您好", priority="urgent")
    assert response.status_code == 200 and "reply" in response.context["adminform"].form.errors
    made.refresh_from_db()
    assert made.priority == "normal" and not made.events.filter(kind="reply").exists()
    assert commit(post_change, client, made, reply="您好", record_only="on").status_code == 302
    assert made.events.get(kind="reply").delivery.status == "not_sendable"


def test_admin_retry_sends_a_failed_reply_once(client, support, commit, monkeypatch):
    client.force_login(support)
    made = ticket(phone=PHONE)
    monkeypatch.setattr("campaigns.channels.send_sms", refusing())
    event = commit(services.reply, ticket=made, body="收到", actor=support)
    monkeypatch.undo()
    url = reverse("admin:feedback_ticket_retry_reply", args=[made.pk, event.delivery.pk])
    assert client.get(url).status_code == 405
    assert commit(client.post, url).status_code == 302
    assert commit(client.post, url).status_code == 302  # a second click: refused with a message
    event.delivery.refresh_from_db()
    assert event.delivery.status == "sent" and SmsLog.objects.count() == 1


def test_admin_record_a_call(client, support):
    client.force_login(support)
    made = made_an_hour_ago()
    url = reverse("admin:feedback_ticket_record_call", args=[made.pk])
    assert client.get(url).status_code == 200
    called = timezone.localtime(made.created_at + datetime.timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(url, {"called_at": called, "note": "已致电道歉"})
    assert response.status_code == 302
    made.refresh_from_db()
    assert made.first_response_at is not None and made.events.filter(kind="call", body="已致电道歉").exists()
    future = timezone.localtime(timezone.now() + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    refused = client.post(url, {"called_at": future, "note": ""})
    assert refused.status_code == 400 and "future" in refused.content.decode()


def test_view_only_staff_cannot_retry_or_record_calls(client, db):
    from tests.conftest import make_user

    viewer = make_user("viewer")
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_ticket"))
    client.force_login(viewer)
    made = ticket(phone=PHONE)
    assert client.get(reverse("admin:feedback_ticket_record_call", args=[made.pk])).status_code == 403


# --- the API ----------------------------------------------------------------------------------

TICKETS = "/api/v1/tickets/"


def test_api_reply_answers_with_its_delivery(api_support, commit):
    made = ticket(phone=PHONE)
    response = commit(api_support.post, f"{TICKETS}{made.ticket_no}/replies/", {"body": "收到"}, format="json")
    assert response.status_code == 201
    body = response.json()
    # Here the test's transaction holds the commit until the response is built: still pending
    # (outside a test the send runs when the reply commits, before the answer — next test).
    assert body["delivery"]["channel"] == "sms" and body["delivery"]["status"] == "pending"
    detail = api_support.get(f"{TICKETS}{made.ticket_no}/").json()
    (reply,) = [entry for entry in detail["history"] if entry["kind"] == "reply"]
    assert reply["delivery"]["status"] == "sent" and detail["first_response_at"] is not None
    assert all(entry["delivery"] is None for entry in detail["history"] if entry["kind"] != "reply")


def test_api_reply_without_a_channel_is_409_unless_record_only(api_support, commit):
    made = ticket()
    url = f"{TICKETS}{made.ticket_no}/replies/"
    refused = commit(api_support.post, url, {"body": "您好"}, format="json")
    assert refused.status_code == 409 and refused.json()["code"] == "no_channel"
    assert not made.events.filter(kind="reply").exists()
    recorded = commit(api_support.post, url, {"body": "您好", "record_only": True}, format="json")
    assert recorded.status_code == 201
    assert recorded.json()["delivery"] == {**recorded.json()["delivery"], "channel": "", "status": "not_sendable"}


@pytest.mark.django_db(transaction=True)
def test_api_answers_what_the_provider_said_refused_then_retried(api_support, monkeypatch):
    # No test transaction: the reply commits and is sent before the API answers, as in production.
    made = ticket(phone=PHONE)
    monkeypatch.setattr("campaigns.channels.send_sms", refusing())
    response = api_support.post(f"{TICKETS}{made.ticket_no}/replies/", {"body": "收到"}, format="json")
    delivery_ = response.json()["delivery"]
    assert (delivery_["status"], delivery_["error_code"]) == ("failed", "isv.BUSINESS_LIMIT_CONTROL")
    made.refresh_from_db()
    assert made.first_response_at is None
    monkeypatch.undo()
    retry = f"{TICKETS}{made.ticket_no}/replies/{delivery_['id']}/retry/"
    assert api_support.post(retry).json()["status"] == "sent"
    made.refresh_from_db()
    assert made.first_response_at is not None
    again = api_support.post(retry)
    assert again.status_code == 409 and again.json()["code"] == "not_retryable"
    assert SmsLog.objects.count() == 1


def test_api_blank_reply_is_400(api_support):
    response = api_support.post(f"{TICKETS}{ticket(phone=PHONE).ticket_no}/replies/", {"body": " "}, format="json")
    assert response.status_code == 400 and "body" in response.json()


def test_api_records_a_call_as_first_response(api_support):
    made = made_an_hour_ago()
    called = made.created_at + datetime.timedelta(minutes=7)
    response = api_support.post(
        f"{TICKETS}{made.ticket_no}/calls/", {"called_at": called.isoformat(), "note": "已电话致歉"}, format="json"
    )
    assert response.status_code == 201
    made.refresh_from_db()
    assert made.first_response_at == called
    assert response.json()["note"] == "已电话致歉" and response.json()["first_response_at"] is not None
    future = api_support.post(
        f"{TICKETS}{made.ticket_no}/calls/",
        {"called_at": (timezone.now() + datetime.timedelta(days=1)).isoformat()},
        format="json",
    )
    assert future.status_code == 400 and "called_at" in future.json()


def test_api_replies_and_calls_need_the_right_to_work_tickets(api_staff):
    made = ticket(phone=PHONE)
    assert api_staff.post(f"{TICKETS}{made.ticket_no}/replies/", {"body": "x"}, format="json").status_code == 403
    assert api_staff.post(f"{TICKETS}{made.ticket_no}/calls/", {}, format="json").status_code == 403
    assert not made.events.filter(kind__in=["reply", "call"]).exists()
