"""Recording the first open and the first click of a campaign email (the signed tokens and the
tracked rendering: `campaigns.tracking`). One `MessageEngagement` row per message; each first is
written by a conditional update, so a repeated pixel or click changes nothing."""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from campaigns.models import MessageEngagement, OutboxMessage
from campaigns.tracking import read_click_token, read_open_token


def _engagement(message_id: int) -> MessageEngagement | None:
    campaign_id = (
        OutboxMessage.objects.filter(pk=message_id, status__in=[*OutboxMessage.ACCEPTED, OutboxMessage.Status.IN_DOUBT])
        .values_list("campaign_id", flat=True)
        .first()
    )
    if campaign_id is None:
        return None
    engagement, _created = MessageEngagement.objects.get_or_create(
        message_id=message_id, defaults={"campaign_id": campaign_id}
    )
    return engagement


def record_open(*, token: str) -> bool:
    """Record the first open of the message the pixel token names; False for a bad token."""
    message_id = read_open_token(token)
    if message_id is None or _engagement(message_id) is None:
        return False
    MessageEngagement.objects.filter(message_id=message_id, opened_at__isnull=True).update(opened_at=timezone.now())
    return True


def record_click(*, token: str) -> str | None:
    """Record the first click (and an open, if none yet); return the URL to go to, or None."""
    read = read_click_token(token)
    if read is None:
        return None
    message_id, url = read
    if _engagement(message_id) is None:
        return None
    now = timezone.now()
    MessageEngagement.objects.filter(message_id=message_id, clicked_at__isnull=True).update(
        clicked_at=now, clicked_url=url[:500]
    )
    MessageEngagement.objects.filter(Q(message_id=message_id) & Q(opened_at__isnull=True)).update(opened_at=now)
    return url
