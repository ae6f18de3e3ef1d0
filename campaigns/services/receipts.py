"""Delivery receipts: a provider reports that a message it accepted reached the phone, or not.

The provider's webhooks (`campaigns.channels.hooks`) verify the request, then call
`record_receipt` once per message reported. Recording is idempotent: a receipt repeated (the
providers retry until answered 200) changes nothing; a receipt for a message we do not know
(another system's, or an OTP sent outside the outbox) is ignored.
"""

from __future__ import annotations

import datetime

from django.utils import timezone

from campaigns.models import OutboxMessage

# A receipt may arrive before the worker that sent the message has marked it sent (the provider
# answered, the worker has not committed yet) or after recovery marked it in doubt.
RECEIVABLE = [OutboxMessage.Status.SENDING, OutboxMessage.Status.SENT, OutboxMessage.Status.IN_DOUBT]


def record_receipt(
    *,
    channel: str,
    provider_ref: str,
    delivered: bool,
    error_code: str = "",
    at: datetime.datetime | None = None,
) -> bool:
    """Mark the outbox message `provider_ref` on `channel` delivered or undelivered; True when a
    message changed (False: unknown, or already recorded)."""
    if not provider_ref:
        return False
    at = at or timezone.now()
    changes = {
        "status": OutboxMessage.Status.DELIVERED if delivered else OutboxMessage.Status.UNDELIVERED,
        "delivered_at": at if delivered else None,
        "updated_at": timezone.now(),
    }
    if not delivered:
        changes["error_code"] = error_code[:64]
    return bool(
        OutboxMessage.objects.filter(channel=channel, provider_ref=provider_ref[:100], status__in=RECEIVABLE).update(
            **changes
        )
    )
