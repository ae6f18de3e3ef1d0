"""SMS providers for tests (named by dotted path in the SMS_PROVIDER setting)."""

from __future__ import annotations

import os
import time

from campaigns.channels import ChannelError, DatabaseSmsProvider


class SlowSmsProvider(DatabaseSmsProvider):
    """Takes SMS_TEST_DELAY seconds per message, then records it in the SMS log (the "delivery")."""

    def send(self, *, phone: str, text: str, reference: str) -> str:
        time.sleep(float(os.environ.get("SMS_TEST_DELAY", "0.05")))
        return super().send(phone=phone, text=text, reference=reference)


class RefusingSmsProvider:
    def send(self, *, phone: str, text: str, reference: str) -> str:
        raise ChannelError("number blocked by the carrier")
