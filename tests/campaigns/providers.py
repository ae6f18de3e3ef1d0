"""SMS providers for tests (named by dotted path in the SMS_PROVIDER setting)."""

from __future__ import annotations

import os
import time

from campaigns.channels import ChannelError, DatabaseSmsProvider, TemplateMessage


class SlowSmsProvider(DatabaseSmsProvider):
    """Takes SMS_TEST_DELAY seconds per message, then records it in the SMS log (the "delivery").

    While the file SMS_TEST_HOLD_FILE exists, a send blocks after its delivery is recorded and
    before it returns: the worker holds a delivered message it has not yet marked sent, which is
    the moment a crash is most likely to cause a duplicate.
    """

    def send(self, *, phone: str, message: TemplateMessage, reference: str) -> str:
        time.sleep(float(os.environ.get("SMS_TEST_DELAY", "0.05")))
        provider_ref = super().send(phone=phone, message=message, reference=reference)
        hold = os.environ.get("SMS_TEST_HOLD_FILE")
        deadline = time.monotonic() + 60
        while hold and os.path.exists(hold) and time.monotonic() < deadline:
            time.sleep(0.05)
        return provider_ref


class SlowBatchSmsProvider(SlowSmsProvider):
    """`SlowSmsProvider` that takes a block in one call (like Aliyun's SendBatchSms): SMS_TEST_DELAY
    seconds per call, then every message of the call recorded in the SMS log (delivered), then —
    while SMS_TEST_HOLD_FILE exists — held before the call returns: the worker holds a delivered
    batch it has not yet marked sent."""

    max_batch = 5

    def batch_key(self, message: TemplateMessage):
        return message.template_code or "text"

    def send_batch(self, items):
        time.sleep(float(os.environ.get("SMS_TEST_DELAY", "0.05")))
        refs = [DatabaseSmsProvider.send(self, phone=p, message=m, reference=r) for p, m, r in items]
        hold = os.environ.get("SMS_TEST_HOLD_FILE")
        deadline = time.monotonic() + 60
        while hold and os.path.exists(hold) and time.monotonic() < deadline:
            time.sleep(0.05)
        return refs


class RefusingSmsProvider:
    """Refuses every message as Aliyun refuses an invalid number (a permanent error)."""

    name = "refusing"

    def send(self, *, phone: str, message: TemplateMessage, reference: str) -> str:
        raise ChannelError("isv.MOBILE_NUMBER_ILLEGAL", "The phone number is not valid for SMS.")


class _CampaignTemplate:
    """Until campaigns carry their provider template (the dispatch work of issue 14), dispatch
    sends text with an empty template code: these test providers fill one in, so a campaign goes
    through the real provider and its fake server end to end."""

    template_code = ""

    def _templated(self, message: TemplateMessage) -> TemplateMessage:
        if message.template_code:
            return message
        return TemplateMessage(template_code=self.template_code, params={"1": message.text}, text=message.text)

    def send(self, *, phone: str, message: TemplateMessage, reference: str) -> str:
        return super().send(phone=phone, message=self._templated(message), reference=reference)

    def batch_key(self, message: TemplateMessage):
        return super().batch_key(self._templated(message))

    def send_batch(self, items):
        return super().send_batch([(phone, self._templated(message), ref) for phone, message, ref in items])


def _aliyun():
    from campaigns.channels.aliyun import AliyunSmsProvider

    return AliyunSmsProvider


def _tencent():
    from campaigns.channels.tencent import TencentSmsProvider

    return TencentSmsProvider


class CampaignAliyunSmsProvider(_CampaignTemplate, _aliyun()):
    template_code = "SMS_100"


class CampaignTencentSmsProvider(_CampaignTemplate, _tencent()):
    template_code = "1234567"
