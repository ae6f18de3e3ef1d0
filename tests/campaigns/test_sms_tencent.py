"""Tencent Cloud SMS: the real SDK (tencentcloud-sdk-python-sms, SmsClient.SendSms) through
`TencentSmsProvider` against the fake server (tests/fakes/tencent_sms.py), which checks the
TC3-HMAC-SHA256 signature and timestamp and answers as Tencent does."""

from __future__ import annotations

import socket
import time
import types

import pytest
from tencentcloud.common import abstract_client

from campaigns.channels import ChannelError, ChannelInDoubt, TemplateMessage, send_otp, send_sms
from campaigns.channels.tencent import ERRORS, template_params

PHONE = "+8613800000000"
MESSAGE = TemplateMessage(template_code="1234567", params={"1": "张三", "2": "120"}, text="张三您好，您有120积分。")


def send(phone=PHONE, message=MESSAGE, reference="outbox-1"):
    return send_sms(phone=phone, message=message, reference=reference)


def test_an_accepted_message_returns_the_serial_no(tencent_sms):
    serial = send()
    accepted = tencent_sms.find(reference="outbox-1")
    assert serial == accepted.message_id and serial.startswith("2640:")
    assert accepted.extra == {"PhoneNumber": "+8613800000000", "SmsSdkAppId": "1400000000"}
    assert accepted.template_code == "1234567" and accepted.sign_name == "会员俱乐部"
    assert accepted.params == ["张三", "120"]


def test_numbered_variables_go_in_number_order_named_ones_in_insertion_order():
    assert template_params({"2": "b", "10": "j", "1": "a", "3": "c", "4": "d", "5": "e", "6": "f", "7": "g",
                            "8": "h", "9": "i"}) == list("abcdefghij")  # fmt: skip
    assert template_params({"name": "张三", "points": "120"}) == ["张三", "120"]
    assert template_params({}) == []


def test_numbered_variables_with_a_gap_are_refused(tencent_sms):
    with pytest.raises(ChannelError) as refused:
        send(message=TemplateMessage(template_code="1234567", params={"1": "a", "3": "c"}))
    assert refused.value.code == "template_params" and tencent_sms.requests == 0


@pytest.mark.parametrize(
    "code",
    [
        "FailedOperation.PhoneNumberInBlacklist",
        "InvalidParameterValue.IncorrectPhoneNumber",
        "FailedOperation.TemplateIncorrectOrUnapproved",
        "FailedOperation.SignatureIncorrectOrUnapproved",
        "FailedOperation.InsufficientBalanceInSmsPackage",
        "AuthFailure.SecretIdNotFound",  # a request-level error
        "UnauthorizedOperation.RequestIpNotInWhitelist",  # a request-level error
    ],
)
def test_a_permanent_refusal_is_a_channel_error_never_retried(tencent_sms, code):
    tencent_sms.fail(PHONE, code)
    with pytest.raises(ChannelError) as refused:
        send()
    assert type(refused.value) is ChannelError
    assert refused.value.code == code and refused.value.temporary is False
    assert refused.value.reason == str(ERRORS[code][0])
    assert tencent_sms.accepted == []


@pytest.mark.parametrize(
    ("code", "level"),
    [
        ("LimitExceeded.PhoneNumberDailyLimit", ""),
        ("LimitExceeded.DeliveryFrequencyLimit", ""),
        ("InternalError.OtherError", ""),
        ("InternalError.SomethingUndocumented", ""),
        ("RequestLimitExceeded", ""),
        ("InternalError", "request"),
    ],
)
def test_frequency_limits_and_internal_errors_are_temporary(tencent_sms, code, level):
    tencent_sms.fail(PHONE, code, level=level)
    with pytest.raises(ChannelError) as refused:
        send()
    assert refused.value.code == code and refused.value.temporary is True


def test_tencents_own_timeout_is_in_doubt(tencent_sms):
    tencent_sms.fail(PHONE, "InternalError.Timeout", level="status")
    with pytest.raises(ChannelInDoubt):
        send()


def test_a_bad_number_is_refused_by_the_fake_as_tencent_does(tencent_sms):
    with pytest.raises(ChannelError) as refused:
        send(phone="+86123")
    assert refused.value.code == "InvalidParameterValue.IncorrectPhoneNumber"


def test_a_timeout_is_in_doubt(tencent_sms):
    tencent_sms.hang(PHONE)
    with pytest.raises(ChannelInDoubt) as doubt:
        send()
    assert doubt.value.code == "timeout"
    assert tencent_sms.find(reference="outbox-1").answered is False


def test_a_connection_closed_before_the_answer_is_in_doubt(tencent_sms):
    tencent_sms.close(PHONE)
    with pytest.raises(ChannelInDoubt) as doubt:
        send()
    assert doubt.value.code == "network.dropped"


def test_a_refused_connection_is_temporary_and_sent_nothing(tencent_sms, settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.TENCENT_SMS_ENDPOINT = f"127.0.0.1:{port}"
    with pytest.raises(ChannelError) as refused:
        send()
    assert type(refused.value) is ChannelError
    assert refused.value.code == "network.unreachable" and refused.value.temporary is True


def test_a_wrong_secret_is_refused_as_signature_failure(tencent_sms, settings):
    settings.TENCENT_SMS_SECRET_KEY = "not-the-key"
    with pytest.raises(ChannelError) as refused:
        send()
    assert refused.value.code == "AuthFailure.SignatureFailure" and not refused.value.temporary
    assert tencent_sms.accepted == []


def test_a_wrong_sdk_app_id_is_refused(tencent_sms, settings):
    settings.TENCENT_SMS_SDK_APP_ID = "1400999999"
    with pytest.raises(ChannelError) as refused:
        send()
    assert refused.value.code == "InvalidParameterValue.SdkAppIdNotExist" and not refused.value.temporary


def test_the_fake_refuses_a_stale_timestamp(tencent_sms, monkeypatch):
    stale = time.time() - 600
    monkeypatch.setattr(abstract_client, "time", types.SimpleNamespace(time=lambda: stale))
    with pytest.raises(ChannelError) as refused:
        send()
    assert refused.value.code == "AuthFailure.SignatureExpire" and not refused.value.temporary


def test_one_time_codes_go_out_with_the_otp_template(tencent_sms, settings):
    settings.SMS_OTP_TEMPLATE_CODE = "7654321"
    send_otp(phone=PHONE, code="246810", reference="otp-1")
    accepted = tencent_sms.find(reference="otp-1")
    assert accepted.template_code == "7654321" and accepted.params == ["246810"]


def test_the_fake_refuses_a_body_changed_after_signing(tencent_sms, monkeypatch):
    original = abstract_client.AbstractClient._build_req_inter

    def tampered(self, action, params, req, options=None):
        original(self, action, params, req, options)
        req.data = req.data.replace("+8613800000000", "+8613900000000")  # another number, same signature

    monkeypatch.setattr(abstract_client.AbstractClient, "_build_req_inter", tampered)
    with pytest.raises(ChannelError) as refused:
        send()
    assert refused.value.code == "AuthFailure.SignatureFailure" and tencent_sms.accepted == []
