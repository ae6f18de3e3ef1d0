"""Writing outbox rows: the one batched insert that campaigns, pilots, recurring runs and
automations share (`campaigns.services.dispatch`, step 1 of its protocol).

The callers decide who gets a row and what it says (a control group, a pilot sample, a held-back
`not_before`); `add_messages` writes the rows in batches and skips the clear consent refusals.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone

from campaigns import selectors
from campaigns.models import CampaignStep, Channel, OutboxMessage, SkipReason

INSERT_BATCH = 5_000


def add_messages(*, step: CampaignStep, channel: str, messages: Iterable[OutboxMessage], now=None) -> int:
    """Insert `messages` (new rows of `step`, on `channel`) in batches of INSERT_BATCH; a row
    whose (step, member) exists already is left out by the unique constraint, so a second send is
    impossible. Then, when any row was offered, the step's pending members without consent on
    `channel` are skipped set-based — OPTED_OUT if they once consented, else NO_CONSENT (consent
    is checked again at send time; skipping the clear cases now saves the work and counts them).
    Returns how many rows were offered. The caller holds the campaign's lock."""
    now = now or timezone.now()
    offered = 0
    batch: list[OutboxMessage] = []
    for message in messages:
        batch.append(message)
        if len(batch) >= INSERT_BATCH:
            OutboxMessage.objects.bulk_create(batch, ignore_conflicts=True)
            offered += len(batch)
            batch.clear()
    if batch:
        OutboxMessage.objects.bulk_create(batch, ignore_conflicts=True)
        offered += len(batch)
    if offered:
        pending = OutboxMessage.objects.filter(step=step, status=OutboxMessage.Status.PENDING)
        # A best-channel campaign's rows each hold their member's own channel: check each channel.
        row_channels = [channel] if channel in Channel.values else list(Channel.values)
        for row_channel in row_channels:
            no_consent = pending.filter(channel=row_channel).filter(~selectors.consent_granted(row_channel))
            no_consent.filter(selectors.ever_granted(row_channel)).update(
                status=OutboxMessage.Status.SKIPPED, skip_reason=SkipReason.OPTED_OUT, updated_at=now
            )
            no_consent.update(status=OutboxMessage.Status.SKIPPED, skip_reason=SkipReason.NO_CONSENT, updated_at=now)
    return offered
