"""Aliyun SMS: the real SDK (alibabacloud_dysmsapi20170525) through `AliyunSmsProvider` against
the fake server (tests/fakes/aliyun_sms.py), which checks the ACS3-HMAC-SHA256 signature, the
timestamp and the nonce, and answers as Aliyun does."""

from __future__ import annotations

import datetime
import socket

import pytest
from alibabacloud_tea_openapi.utils import Utils

from campaigns.channels import ChannelError, ChannelInDoubt, TemplateMessage, send_otp, send_sms
from campaigns.channels.aliyun import ERRORS, aliyun_phone, message_ref

PHONE = "+8613800000000"
MESSAGE = TemplateMessage(
    template_code="SMS_100", params={"name": "张三", "points": "120"}, text="张三您好，您有120积分。"
)


def send(phone=PHONE, message=MESSAGE, reference="outbox-1"):
    return send_sms(phone=phone, message=message, reference=reference)


def test_an_accepted_message_returns_the_biz_id_and_the_numbers_tag(aliyun_sms):
    ref = send()
    accepted = aliyun_sms.find(reference="outbox-1")
    biz_id, tag = ref.split(":")
    assert biz_id == accepted.message_id and biz_id.endswith("^0")
    assert ref == message_ref(accepted.message_id, PHONE) and len(tag) == 16 and "13800000000" not in ref
    assert accepted.extra["PhoneNumbers"] == "13800000000"  # mainland: without +86
    assert accepted.template_code == "SMS_100" and accepted.sign_name == "会员俱乐部"
    assert accepted.params == {"name": "张三", "points": "120"}


def test_the_message_may_name_its_own_signature(aliyun_sms):
    send(message=TemplateMessage(template_code="SMS_100", params={}, sign_name="花店会员"))
    assert aliyun_sms.accepted[0].sign_name == "花店会员"


def test_an_international_number_keeps_its_country_code_without_plus(aliyun_sms):
    send(phone="+85261234567")
    assert aliyun_sms.accepted[0].extra["PhoneNumbers"] == "85261234567"
    assert aliyun_phone("+8613800000000") == "13800000000"


def test_each_message_signs_with_a_fresh_nonce_so_many_in_a_row_pass(aliyun_sms):
    ids = {send(reference=f"outbox-{n}") for n in range(20)}
    assert len(ids) == 20 and aliyun_sms.refused == []


@pytest.mark.parametrize(
    "code",
    [
        "isv.MOBILE_NUMBER_ILLEGAL",
        "isv.SMS_TEMPLATE_ILLEGAL",
        "isv.SMS_SIGNATURE_ILLEGAL",
        "isv.TEMPLATE_MISSING_PARAMETERS",
        "isv.AMOUNT_NOT_ENOUGH",
        "isv.OUT_OF_SERVICE",
        "isv.DENY_IP_RANGE",
        "InvalidAccessKeyId.NotFound",  # a gateway refusal: HTTP 404
    ],
)
def test_a_permanent_refusal_is_a_channel_error_never_retried(aliyun_sms, code):
    aliyun_sms.fail(PHONE, code)
    with pytest.raises(ChannelError) as refused:
        send()
    assert type(refused.value) is ChannelError
    assert refused.value.code == code and refused.value.temporary is False
    assert refused.value.reason == str(ERRORS[code][0])
    assert aliyun_sms.accepted == []


@pytest.mark.parametrize(
    "code",
    ["isv.BUSINESS_LIMIT_CONTROL", "isp.SYSTEM_ERROR", "Throttling.User", "ServiceUnavailable"],
)
def test_flow_control_and_system_busy_are_temporary(aliyun_sms, code):
    aliyun_sms.fail(PHONE, code)
    with pytest.raises(ChannelError) as refused:
        send()
    assert refused.value.code == code and refused.value.temporary is True


def test_an_unknown_code_is_permanent_and_keeps_aliyuns_message(aliyun_sms):
    aliyun_sms.fail(PHONE, "isv.SOMETHING_NEW")
    with pytest.raises(ChannelError) as refused:
        send()
    assert refused.value.code == "isv.SOMETHING_NEW" and not refused.value.temporary
    assert "isv.SOMETHING_NEW" in refused.value.reason


def test_the_fake_checks_templates_and_their_variables(aliyun_sms):
    aliyun_sms.templates = {"SMS_100": ["name", "points"], "SMS_OTP": ["code"]}
    with pytest.raises(ChannelError) as missing:
        send(message=TemplateMessage(template_code="SMS_100", params={"name": "张三"}))
    assert missing.value.code == "isv.TEMPLATE_MISSING_PARAMETERS"
    with pytest.raises(ChannelError) as unknown:
        send(message=TemplateMessage(template_code="SMS_999", params={}))
    assert unknown.value.code == "isv.SMS_TEMPLATE_ILLEGAL"


def test_a_bad_number_is_refused_by_the_fake_as_aliyun_does(aliyun_sms):
    with pytest.raises(ChannelError) as refused:
        send(phone="+86123")
    assert refused.value.code == "isv.MOBILE_NUMBER_ILLEGAL"


def test_a_timeout_is_in_doubt(aliyun_sms):
    aliyun_sms.hang(PHONE)
    with pytest.raises(ChannelInDoubt) as doubt:
        send()
    assert doubt.value.code == "timeout"
    assert aliyun_sms.find(reference="outbox-1").answered is False  # Aliyun had it: it may go out


def test_a_connection_closed_before_the_answer_is_in_doubt(aliyun_sms):
    aliyun_sms.close(PHONE)
    with pytest.raises(ChannelInDoubt) as doubt:
        send()
    assert doubt.value.code == "network.dropped"


def test_a_refused_connection_is_temporary_and_sent_nothing(aliyun_sms, settings):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.ALIYUN_SMS_ENDPOINT = f"127.0.0.1:{port}"
    with pytest.raises(ChannelError) as refused:
        send()
    assert type(refused.value) is ChannelError
    assert refused.value.code == "network.unreachable" and refused.value.temporary is True


def test_a_wrong_secret_is_refused_as_signature_does_not_match(aliyun_sms, settings):
    settings.ALIYUN_SMS_ACCESS_KEY_SECRET = "not-the-secret"
    with pytest.raises(ChannelError) as refused:
        send()
    assert refused.value.code == "SignatureDoesNotMatch" and not refused.value.temporary
    assert aliyun_sms.accepted == [] and aliyun_sms.refused == [("", "SignatureDoesNotMatch")]


def test_the_fake_refuses_a_replayed_nonce(aliyun_sms, monkeypatch):
    monkeypatch.setattr(Utils, "get_nonce", staticmethod(lambda: "the-same-nonce"))
    send(reference="outbox-1")
    with pytest.raises(ChannelError) as replayed:
        send(reference="outbox-2")
    assert replayed.value.code == "SignatureNonceUsed" and len(aliyun_sms.accepted) == 1


def test_the_fake_refuses_a_stale_timestamp(aliyun_sms, monkeypatch):
    stale = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    monkeypatch.setattr(Utils, "get_timestamp", staticmethod(lambda: stale))
    with pytest.raises(ChannelError) as refused:
        send()
    assert refused.value.code == "InvalidTimeStamp.Expired" and not refused.value.temporary


def test_a_message_without_a_template_code_is_refused_before_sending(aliyun_sms):
    with pytest.raises(ChannelError) as refused:
        send(message=TemplateMessage(template_code="", text="free text"))
    assert refused.value.code == "template_missing" and aliyun_sms.requests == 0


def test_one_time_codes_go_out_with_the_otp_template(aliyun_sms, settings):
    settings.SMS_OTP_TEMPLATE_CODE = "SMS_OTP"
    send_otp(phone=PHONE, code="246810", reference="otp-1")
    accepted = aliyun_sms.find(reference="otp-1")
    assert accepted.template_code == "SMS_OTP" and accepted.params == {"code": "246810"}


def test_the_fake_refuses_a_request_changed_after_signing(aliyun_sms, monkeypatch):
    from darabonba.core import DaraCore

    original = DaraCore.do_action

    def tampered(request, runtime_option=None):
        request.query["PhoneNumbers"] = "13900000000"  # another number, same signature
        return original(request, runtime_option)

    monkeypatch.setattr(DaraCore, "do_action", staticmethod(tampered))
    with pytest.raises(ChannelError) as refused:
        send()
    assert refused.value.code == "SignatureDoesNotMatch" and aliyun_sms.accepted == []


def test_the_fake_refuses_an_unsigned_request(fake_aliyun_sms):
    import requests

    answer = requests.post(f"http://{fake_aliyun_sms.endpoint}/?PhoneNumbers=13800000000", timeout=5)
    assert answer.status_code == 400 and answer.json()["Code"] == "IncompleteSignature"


def test_the_fake_runs_standalone():
    import subprocess
    import sys

    from django.conf import settings

    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.aliyun_sms", "--port", "0"],
        cwd=settings.BASE_DIR,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert "Fake Aliyun SMS" in line and "http://127.0.0.1:" in line
    finally:
        process.terminate()
        process.wait(timeout=10)
