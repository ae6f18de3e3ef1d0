"""True statuses (issue 14): what the provider said becomes the outbox status."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.utils import timezone

from campaigns.channels.base import ChannelError, ChannelInDoubt
from campaigns.models import EarlyReceipt, OutboxMessage
from campaigns.services import dispatch, offers, receipts
from rewards.models import Coupon
from tests.campaigns.helpers import campaign, drain, launched, member, no_quiet_hours
from tests.rewards import catalogue_factories

pytestmark = pytest.mark.django_db


def one_message(made) -> OutboxMessage:
    return made.outbox_messages.get()


def test_an_accepted_sms_is_sent_with_the_providers_message_id(sms):
    no_quiet_hours()
    member(name="李小花", sms_consent=True)
    sms.answers = ["aliyun-123"]
    made = launched(campaign(body="{{ member.name }}您好"))
    drain()
    message = one_message(made)
    assert (message.status, message.provider_ref, message.error_code) == ("sent", "aliyun-123", "")
    assert sms.sent[0]["text"] == "李小花您好"


def test_a_refusal_is_failed_with_the_providers_code_and_reason_and_never_retried(sms):
    no_quiet_hours()
    member(sms_consent=True)
    sms.answers = [ChannelError("isv.MOBILE_NUMBER_ILLEGAL", "手机号码格式错误")]
    made = launched(campaign())
    drain()
    message = one_message(made)
    assert (message.status, message.error_code) == ("failed", "isv.MOBILE_NUMBER_ILLEGAL")
    assert message.error == "手机号码格式错误"
    assert len(sms.sent) == 1


def test_a_temporary_refusal_waits_with_backoff_then_sends(sms):
    no_quiet_hours()
    member(sms_consent=True)
    sms.answers = [ChannelError("isv.BUSINESS_LIMIT_CONTROL", "触发流控", temporary=True), "ok-1"]
    made = launched(campaign())
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        drain()
    message = one_message(made)
    assert (message.status, message.retries, message.error_code) == ("pending", 1, "isv.BUSINESS_LIMIT_CONTROL")
    assert message.not_before == start + datetime.timedelta(minutes=1)
    with time_machine.travel(start + datetime.timedelta(seconds=30), tick=False):
        drain()  # not yet due
    assert len(sms.sent) == 1
    with time_machine.travel(start + datetime.timedelta(minutes=2), tick=False):
        drain()
    message.refresh_from_db()
    assert (message.status, message.provider_ref, message.error_code) == ("sent", "ok-1", "")


def test_the_backoff_grows_and_the_last_attempt_fails(sms, settings):
    settings.CAMPAIGN_MAX_SEND_ATTEMPTS = 3
    no_quiet_hours()
    member(sms_consent=True)
    busy = ChannelError("LimitExceeded", "busy", temporary=True)
    sms.answers = [busy, busy, busy, "never"]
    made = launched(campaign())
    at = timezone.now()
    waits = []
    for _try in range(3):
        with time_machine.travel(at, tick=False):
            drain()
        message = one_message(made)
        if message.status == "pending":
            waits.append(message.not_before - at)
            at = message.not_before + datetime.timedelta(seconds=1)
    assert waits == [datetime.timedelta(minutes=1), datetime.timedelta(minutes=5)]
    assert (message.status, message.error_code) == ("failed", "LimitExceeded")
    assert len(sms.sent) == 3


def test_a_retried_message_keeps_its_coupon_until_it_is_finally_failed(sms, settings):
    settings.CAMPAIGN_MAX_SEND_ATTEMPTS = 2
    no_quiet_hours()
    member(sms_consent=True)
    made = campaign(body="券码 {{ coupon.code }}")
    offers.set_offer(campaign=made, kind="coupon", coupon_template=catalogue_factories.template())
    busy = ChannelError("busy", "busy", temporary=True)
    sms.answers = [busy, busy]
    launched(made)
    at = timezone.now()
    with time_machine.travel(at, tick=False):
        drain()
    coupon = Coupon.objects.get()
    assert coupon.status == Coupon.Status.ISSUED  # not settled while it waits for a retry
    with time_machine.travel(at + datetime.timedelta(minutes=2), tick=False):
        drain()
    assert Coupon.objects.count() == 1  # the retry used the same coupon
    assert sms.sent[0]["text"] == sms.sent[1]["text"]
    coupon.refresh_from_db()
    assert coupon.status == Coupon.Status.VOID and one_message(made).status == "failed"


def test_a_lost_answer_is_in_doubt_and_never_sent_again(sms):
    no_quiet_hours()
    member(sms_consent=True)
    sms.answers = [ChannelInDoubt("timeout")]
    made = launched(campaign())
    drain()
    dispatch.recover_expired_leases(now=timezone.now() + datetime.timedelta(hours=1))
    drain()
    message = one_message(made)
    assert (message.status, message.error_code) == ("in_doubt", "timeout")
    assert len(sms.sent) == 1


def test_a_receipt_before_the_id_is_stored_is_kept_and_applied(sms):
    no_quiet_hours()
    member(sms_consent=True)
    sms.answers = ["early-1"]
    made = launched(campaign())
    # The provider reports delivery before the worker has stored its message id.
    assert receipts.record_receipt(channel="sms", provider_ref="early-1", delivered=True) is False
    assert EarlyReceipt.objects.filter(provider_ref="early-1").exists()
    drain()
    message = one_message(made)
    assert message.status == "delivered" and message.delivered_at is not None
    assert not EarlyReceipt.objects.exists()


def test_an_early_receipt_missed_by_the_worker_is_applied_by_the_recovery_task(sms):
    no_quiet_hours()
    member(sms_consent=True)
    made = launched(campaign())
    drain()
    message = one_message(made)
    # As if the receipt committed while the worker was looking: it waits, the minute task applies it.
    EarlyReceipt.objects.create(
        channel="sms", provider_ref=message.provider_ref, delivered=False, error_code="MK:0001",
        reported_at=timezone.now(),
    )  # fmt: skip
    dispatch.recover_expired_leases()
    message.refresh_from_db()
    assert (message.status, message.error_code) == ("undelivered", "MK:0001")
    assert not EarlyReceipt.objects.exists()


def test_receipts_for_unknown_messages_are_dropped_after_some_days(sms):
    receipts.record_receipt(channel="sms", provider_ref="someone-elses", delivered=True)
    receipts.record_receipt(channel="sms", provider_ref="someone-elses", delivered=True)  # repeated
    assert EarlyReceipt.objects.count() == 1
    dispatch.recover_expired_leases(now=timezone.now() + datetime.timedelta(days=receipts.EARLY_RECEIPT_DAYS + 1))
    assert not EarlyReceipt.objects.exists()
