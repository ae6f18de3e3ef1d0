"""Delivery receipts: a provider reports that a message it accepted reached the phone, or not.

The provider's webhooks (`campaigns.channels.hooks`) verify the request, then call
`record_receipt` once per message reported. Recording is idempotent: a receipt repeated (the
providers retry until answered 200) changes nothing; a receipt for a message we do not know
(another system's, or an OTP sent outside the outbox) waits as an `EarlyReceipt`: the provider
may report delivery before the worker that sent the message has stored the provider's message
id. The dispatcher applies waiting receipts right after it stores an id, and the recovery task
every minute (so a receipt committed while the worker was looking is applied within a minute);
those nobody claims are deleted after EARLY_RECEIPT_DAYS.
"""

from __future__ import annotations

import datetime

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from campaigns.models import EarlyReceipt, OutboxMessage

EARLY_RECEIPT_DAYS = 3

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
    also: tuple[str, ...] | list[str] = (),
) -> bool:
    """Mark the outbox message `provider_ref` on `channel` delivered or undelivered; True when a
    message changed (False: unknown, or already recorded). `also`: other ids the same message may
    be stored under (Aliyun: under a previous key, or a bare BizId from before batch sends); a
    receipt nobody holds yet waits under `provider_ref`."""
    if not provider_ref:
        return False
    at = at or timezone.now()
    refs = [provider_ref, *(ref for ref in also if ref and ref != provider_ref)]
    changed = _apply(channel=channel, provider_ref=refs, delivered=delivered, error_code=error_code, at=at)
    known = OutboxMessage.objects.filter(channel=channel, provider_ref__in=[ref[:100] for ref in refs])
    if not changed and not known.exists():
        try:
            with transaction.atomic():
                EarlyReceipt.objects.create(
                    channel=channel, provider_ref=provider_ref[:100], delivered=delivered,
                    error_code=error_code[:64], reported_at=at,
                )  # fmt: skip
        except IntegrityError:  # the same receipt again: it is waiting already
            pass
    return changed


def apply_early_receipts(
    *, channel: str | None = None, provider_refs: list[str] | None = None, now: datetime.datetime | None = None
) -> int:
    """Apply waiting receipts whose message now holds the provider's id (those of `provider_refs`
    on `channel`, or all); delete the applied ones and those older than EARLY_RECEIPT_DAYS.
    Returns how many messages changed."""
    now = now or timezone.now()
    waiting = EarlyReceipt.objects.all()
    if provider_refs is not None:
        waiting = waiting.filter(channel=channel, provider_ref__in=[ref[:100] for ref in provider_refs])
    else:
        known = OutboxMessage.objects.filter(channel=OuterRef("channel"), provider_ref=OuterRef("provider_ref"))
        waiting = waiting.filter(Exists(known))
    changed, done = 0, []
    for receipt in waiting.order_by("pk")[:1000]:
        changed += _apply(
            channel=receipt.channel, provider_ref=receipt.provider_ref, delivered=receipt.delivered,
            error_code=receipt.error_code, at=receipt.reported_at,
        )  # fmt: skip
        if OutboxMessage.objects.filter(channel=receipt.channel, provider_ref=receipt.provider_ref).exists():
            done.append(receipt.pk)
    if done:
        EarlyReceipt.objects.filter(pk__in=done).delete()
    if provider_refs is None:
        EarlyReceipt.objects.filter(created_at__lt=now - datetime.timedelta(days=EARLY_RECEIPT_DAYS)).delete()
    return changed


def _apply(
    *, channel: str, provider_ref: str | list[str], delivered: bool, error_code: str, at: datetime.datetime
) -> bool:
    changes = {
        "status": OutboxMessage.Status.DELIVERED if delivered else OutboxMessage.Status.UNDELIVERED,
        "delivered_at": at if delivered else None,
        "updated_at": timezone.now(),
    }
    if not delivered:
        changes["error_code"] = error_code[:64]
    refs = [provider_ref] if isinstance(provider_ref, str) else provider_ref
    return bool(
        OutboxMessage.objects.filter(
            channel=channel, provider_ref__in=[ref[:100] for ref in refs], status__in=RECEIVABLE
        ).update(**changes)
    )
