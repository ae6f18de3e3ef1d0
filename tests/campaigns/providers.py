"""SMS providers for tests (named by dotted path in the SMS_PROVIDER setting)."""

from __future__ import annotations

import os
import time

from campaigns.channels import ChannelError, DatabaseSmsProvider


class SlowSmsProvider(DatabaseSmsProvider):
    """Takes SMS_TEST_DELAY seconds per message, then records it in the SMS log (the "delivery").

    While the file SMS_TEST_HOLD_FILE exists, a send blocks after its delivery is recorded and
    before it returns: the worker holds a delivered message it has not yet marked sent, which is
    the moment a crash is most likely to cause a duplicate.
    """

    def send(self, *, phone: str, text: str, reference: str) -> str:
        time.sleep(float(os.environ.get("SMS_TEST_DELAY", "0.05")))
        provider_ref = super().send(phone=phone, text=text, reference=reference)
        hold = os.environ.get("SMS_TEST_HOLD_FILE")
        deadline = time.monotonic() + 60
        while hold and os.path.exists(hold) and time.monotonic() < deadline:
            time.sleep(0.05)
        return provider_ref


class RefusingSmsProvider:
    def send(self, *, phone: str, text: str, reference: str) -> str:
        raise ChannelError("number blocked by the carrier")
