"""Reads a dispatch batch needs once rather than per message (`campaigns.services.dispatch`)."""

from __future__ import annotations

from django.db.models import Count

from campaigns.models import AutomationOccurrence, OutboxMessage
from members.models import Consent, ConsentEvent

# The statuses that count against the frequency cap (as `selectors.recent_contacts`).
CONTACTED = (
    OutboxMessage.Status.SENDING,
    OutboxMessage.Status.SENT,
    OutboxMessage.Status.IN_DOUBT,
    OutboxMessage.Status.DELIVERED,
    OutboxMessage.Status.UNDELIVERED,
)


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


def granted_consents(member_ids, topics) -> set[tuple[int, str]]:
    """The (member id, topic) pairs among `member_ids` × `topics` with consent granted now: a
    dispatch block's consent in one query."""
    return set(
        Consent.objects.filter(member_id__in=set(member_ids), topic__in=set(topics), granted=True).values_list(
            "member_id", "topic"
        )
    )


def once_granted(member_ids, topics) -> set[tuple[int, str]]:
    """The (member id, topic) pairs that were granted at some time (a refusal now is an opt-out)."""
    return set(
        ConsentEvent.objects.filter(member_id__in=set(member_ids), topic__in=set(topics), granted=True)
        .values_list("member_id", "topic")
        .distinct()
    )


def recent_contact_counts(member_ids, since) -> dict[int, int]:
    """`recent_contacts` for many members in one query: the marketing messages each was sent (or
    may have been: sending, in doubt) since then; members with none are left out."""
    return dict(
        OutboxMessage.objects.filter(member_id__in=set(member_ids), sending_at__gte=since, status__in=CONTACTED)
        .order_by()
        .values("member_id")
        .annotate(n=Count("pk"))
        .values_list("member_id", "n")
    )
