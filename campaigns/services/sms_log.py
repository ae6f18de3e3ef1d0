"""The development SMS "provider"'s one write: the message stored in `SmsLog` (admin: SMS log)."""

from __future__ import annotations

from campaigns.models import SmsLog


def log_sms(*, phone: str, text: str, reference: str) -> SmsLog:
    """Store one text message instead of sending it (`channels.DatabaseSmsProvider`)."""
    return SmsLog.objects.create(phone=phone, text=text, reference=reference)
