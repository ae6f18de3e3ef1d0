"""Topics on tickets: staff set them (the ticket page's inline, or `tag_ticket` for scripts and
the demo); `feedback.topics` suggests them from the message's keywords."""

from __future__ import annotations

from django.db import transaction

from feedback.models import Ticket, TicketTopic, Topic
from feedback.services._common import _user


@transaction.atomic
def tag_ticket(*, ticket: Ticket, topics: list[Topic], actor=None) -> list[TicketTopic]:
    """Add `topics` to the ticket; a topic already on it stays as it was (who set it first, when).
    Returns the ticket's topics."""
    have = set(ticket.ticket_topics.values_list("topic_id", flat=True))
    TicketTopic.objects.bulk_create(
        [TicketTopic(ticket=ticket, topic=topic, set_by=_user(actor)) for topic in topics if topic.pk not in have],
        ignore_conflicts=True,
    )
    return list(ticket.ticket_topics.select_related("topic"))
