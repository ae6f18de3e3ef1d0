"""Dispatch in the test process: contact policy, control group, channels, leases and recovery."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from campaigns import selectors, services
from campaigns.models import Campaign, OutboxMessage, SmsLog
from campaigns.ratelimit import wait_for_send_slot
from campaigns.services import dispatch
from members.models import ConsentEvent
from members.services import set_consents
from tests.campaigns.helpers import campaign, drain, launched, member, no_quiet_hours

pytestmark = pytest.mark.django_db
SH = zoneinfo.ZoneInfo("Asia/Shanghai")


def statuses(made):
    return dict(made.outbox_messages.values_list("member_id", "status"))


def results(made):
    return selectors.campaign_results(made)


def test_sms_goes_to_consenting_members_through_the_provider():
    no_quiet_hours()
    yes = member(name="李小花", sms_consent=True)
    member(email_consent=True)  # consents to email only
    made = launched(campaign(body="{{ member.name }}您好"))
    drain()
    log = list(SmsLog.objects.all())
    assert [entry.text for entry in log] == ["李小花您好"]
    assert log[0].phone == yes.phone
    figures = results(made)
    assert (figures.audience, figures.sent, figures.skipped["no_consent"]) == (2, 1, 1)


def test_withdrawn_consent_counts_as_opted_out_and_is_honoured_at_once():
    no_quiet_hours()
    early = member(sms_consent=True)
    late = member(sms_consent=True)
    set_consents(member=early, consents={"marketing_sms": False})
    made = launched(campaign())
    assert statuses(made)[early.pk] == "skipped"  # known at start
    set_consents(member=late, consents={"marketing_sms": False})  # after the audience was resolved
    drain()
    figures = results(made)
    assert figures.skipped["opted_out"] == 2 and figures.sent == 0


def test_email_carries_a_signed_unsubscribe_link_and_headers():
    no_quiet_hours()
    member(name="王小明", email_consent=True)
    launched(campaign(channel="email", body="{{ member.name }}，您是{{ tier }}"))
    drain()
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.subject == "王小明，春天的花开了"
    assert sent.body.startswith("王小明，您是普通会员")
    link = sent.extra_headers["List-Unsubscribe"].strip("<>")
    assert "/unsubscribe/" in link and link in sent.body
    html, mimetype = sent.alternatives[0]
    assert mimetype == "text/html" and link in html


def test_member_without_an_address_fails_with_a_reason():
    no_quiet_hours()
    member(email=None, email_consent=True)
    made = launched(campaign(channel="email"))
    drain()
    message = made.outbox_messages.get()
    assert message.status == "failed" and message.error == "No email address"


def test_a_refusing_channel_marks_the_message_failed(settings):
    settings.SMS_PROVIDER = "tests.campaigns.providers.RefusingSmsProvider"
    no_quiet_hours()
    member(sms_consent=True)
    made = launched(campaign())
    drain()
    assert results(made).failed == 1
    assert made.outbox_messages.get().error == "The phone number is not valid for SMS."


def test_control_group_receives_nothing_and_is_counted():
    no_quiet_hours(frequency_cap_messages=100)
    for _i in range(60):
        member(sms_consent=True)
    made = launched(campaign(control_group_pct=50))
    drain()
    figures = results(made)
    held = figures.skipped["control_group"]
    assert 15 <= held <= 45
    assert figures.sent == 60 - held == SmsLog.objects.count()
    held_ids = set(made.outbox_messages.filter(skip_reason="control_group").values_list("member_id", flat=True))
    assert held_ids == {m for m in statuses(made) if dispatch.rules.in_control_group(
        campaign_id=made.pk, member_id=m, pct=50)}  # fmt: skip


def test_frequency_cap_counts_messages_across_campaigns():
    no_quiet_hours(frequency_cap_messages=2, frequency_cap_days=30)
    someone = member(sms_consent=True)
    for name in ("一", "二", "三"):
        launched(campaign(name=name))
        drain()
    assert SmsLog.objects.count() == 2
    third = Campaign.objects.get(name="三")
    assert results(third).skipped["frequency_cap"] == 1
    assert OutboxMessage.objects.filter(member=someone, status="sent").count() == 2


def test_frequency_cap_window_slides():
    no_quiet_hours(frequency_cap_messages=1, frequency_cap_days=30)
    member(sms_consent=True)
    with time_machine.travel(datetime.datetime(2026, 3, 1, 12, tzinfo=SH), tick=False):
        launched(campaign(name="早"))
        drain()
    with time_machine.travel(datetime.datetime(2026, 4, 5, 12, tzinfo=SH), tick=False):
        later = launched(campaign(name="晚"))
        drain()
    assert results(later).sent == 1


def test_quiet_hours_defer_messages_until_the_window_opens():
    services.update_contact_policy(quiet_hours_start=datetime.time(21), quiet_hours_end=datetime.time(9))
    member(sms_consent=True)
    evening = datetime.datetime(2026, 3, 10, 22, 30, tzinfo=SH)
    with time_machine.travel(evening, tick=False):
        made = launched(campaign())
        drain()
        message = made.outbox_messages.get()
        assert message.status == "pending"
        assert message.not_before == datetime.datetime(2026, 3, 11, 9, tzinfo=SH)
        assert SmsLog.objects.count() == 0
    with time_machine.travel(datetime.datetime(2026, 3, 11, 8, 59, tzinfo=SH), tick=False):
        drain()  # still not due
        assert SmsLog.objects.count() == 0
    with time_machine.travel(datetime.datetime(2026, 3, 11, 9, 1, tzinfo=SH), tick=False):
        drain()
    made.refresh_from_db()
    assert SmsLog.objects.count() == 1 and made.status == Campaign.Status.COMPLETED
    assert results(made).skipped["quiet_hours"] == 0


def test_quiet_hours_drop_a_message_only_when_the_campaign_ends_first():
    services.update_contact_policy(quiet_hours_start=datetime.time(21), quiet_hours_end=datetime.time(9))
    member(sms_consent=True)
    evening = datetime.datetime(2026, 3, 10, 22, 30, tzinfo=SH)
    with time_machine.travel(evening, tick=False):
        made = launched(campaign(end_at=evening + datetime.timedelta(hours=2)))
        drain()
    made.refresh_from_db()
    assert results(made).skipped["quiet_hours"] == 1
    assert made.status == Campaign.Status.COMPLETED


def test_expired_claims_return_to_pending_and_expired_sends_become_in_doubt(settings):
    no_quiet_hours()
    a, b = member(sms_consent=True), member(sms_consent=True)
    made = launched(campaign())
    claimed = dispatch.claim_batch(owner="dead-worker", batch_size=10)
    assert len(claimed) == 2
    first = made.outbox_messages.get(member=a)
    assert dispatch.prepare_message(message_id=first.pk, owner="dead-worker").outcome == "send"
    # The worker dies here: one message committed as `sending`, one only claimed.
    assert dispatch.claim_batch(owner="other", batch_size=10) == []  # leases still held
    later = timezone.now() + datetime.timedelta(seconds=settings.CAMPAIGN_LEASE_SECONDS + 1)
    recovery = dispatch.recover_expired_leases(now=later)
    assert (recovery.released, recovery.in_doubt) == (1, 1)
    drain(owner="other")
    assert statuses(made) == {a.pk: "in_doubt", b.pk: "sent"}
    assert SmsLog.objects.count() == 1  # the in-doubt message was not sent again
    made.refresh_from_db()
    assert made.status == Campaign.Status.COMPLETED
    assert results(made).in_doubt == 1


def test_a_worker_whose_lease_was_taken_over_does_not_send():
    no_quiet_hours()
    member(sms_consent=True)
    made = launched(campaign())
    [message_id] = dispatch.claim_batch(owner="slow", batch_size=10)
    OutboxMessage.objects.filter(pk=message_id).update(lease_expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert dispatch.claim_batch(owner="fast", batch_size=10) == [message_id]
    assert dispatch.prepare_message(message_id=message_id, owner="slow").outcome == "lost"
    assert dispatch.prepare_message(message_id=message_id, owner="fast").outcome == "send"
    assert made.outbox_messages.get().lease_owner == "fast"


def test_unsubscribe_withdrawal_is_recorded_with_its_source():
    no_quiet_hours()
    someone = member(email_consent=True)
    launched(campaign(channel="email"))
    drain()
    token = mail.outbox[0].extra_headers["List-Unsubscribe"].strip("<>").rstrip("/").rsplit("/", 1)[1]
    result = services.unsubscribe(token=token)
    assert result.member == someone and result.changed
    event = ConsentEvent.objects.filter(member=someone, topic="marketing_email").first()
    assert (event.granted, event.source) == (False, "unsubscribe")


def test_rate_limit_spreads_sends_over_seconds():
    clock = [1000.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        clock[0] += seconds

    for _i in range(7):
        wait_for_send_slot("sms-test", 3, clock=lambda: clock[0], sleep=sleep)
    # 3 in second 1000, 3 in 1001, 1 in 1002: two waits of a full second.
    assert slept == [1.0, 1.0]


def test_a_missing_policy_row_comes_back_with_the_documented_defaults():
    from campaigns.models import ContactPolicy

    ContactPolicy.objects.all().delete()
    policy = selectors.contact_policy()
    assert (policy.quiet_hours_start, policy.quiet_hours_end, policy.timezone) == (
        datetime.time(21), datetime.time(9), "Asia/Shanghai",
    )  # fmt: skip
    assert (policy.frequency_cap_messages, policy.frequency_cap_days, policy.email_rate, policy.sms_rate) == (
        4, 30, 20, 10,
    )  # fmt: skip


def test_a_message_over_the_size_limit_is_failed_not_sent(settings):
    no_quiet_hours()
    member(name="李小花" * 10, sms_consent=True)
    made = launched(campaign(body="{{ member.name }}您好"))  # fits when saved (sample names are shorter)
    settings.CAMPAIGN_MESSAGE_MAX_CHARS = 20  # the stored template now renders 32 characters
    drain()
    assert SmsLog.objects.count() == 0
    message = OutboxMessage.objects.get(campaign=made)
    assert message.status == "failed" and "MessageTooLong" in message.error
