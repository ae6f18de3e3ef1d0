"""Reads a dispatch batch needs once rather than per message (`campaigns.services.dispatch`)."""

from __future__ import annotations

from campaigns.models import AutomationOccurrence, OutboxMessage


def batch_rows(ids: list[int]) -> list[tuple[int, str, int, int, int]]:
    """(id, channel, campaign id, step id, member id) of the batch's messages, in id order."""
    return list(
        OutboxMessage.objects.filter(pk__in=ids)
        .order_by("pk")
        .values_list("pk", "channel", "campaign_id", "step_id", "member_id")
    )


def automation_step_ids(step_ids) -> set[int]:
    """The steps among `step_ids` that belong to an automation's occurrence (`automations.before_send`)."""
    return set(AutomationOccurrence.objects.filter(step_id__in=set(step_ids)).values_list("step_id", flat=True))
