"""Topics on tickets: staff set them — `set_ticket_topics` (the ticket page's inline and the API's
PATCH `topics`), or `tag_ticket` (adds only, for scripts and the demo); `feedback.topics` suggests
them from the message's keywords."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from feedback import event_texts
from feedback.event_texts import EventText
from feedback.models import Ticket, TicketEvent, TicketTopic, Topic
from feedback.services._common import _user

MAX_TOPICS = 20


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


@transaction.atomic
def set_ticket_topics(*, ticket: Ticket, topics: list[Topic], actor=None) -> list[TicketTopic]:
    """Make the ticket's topics exactly `topics`: the missing ones are added (set by `actor`, now),
    the others removed; a topic kept stays as it was (who set it first, when). A topic that is not
    active may stay on a ticket that has it but cannot be added. Under the ticket's row lock, with
    one history event naming the topics before and after (none when nothing changed). Returns the
    ticket's topics."""
    wanted = {topic.pk: topic for topic in topics}
    if len(wanted) > MAX_TOPICS:
        raise ValidationError({"topics": [_("At most %(max)d topics per ticket.") % {"max": MAX_TOPICS}]})
    locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
    have = {row.topic_id: row for row in TicketTopic.objects.filter(ticket=locked).select_related("topic")}
    added = [topic for pk, topic in wanted.items() if pk not in have]
    inactive = [topic for topic in added if not topic.is_active]
    if inactive:
        raise ValidationError(
            {"topics": [_("The topic “%(topic)s” is not active.") % {"topic": inactive[0].display_name}]}
        )
    removed = [pk for pk in have if pk not in wanted]
    if added or removed:
        before = sorted(row.topic.name for row in have.values())
        TicketTopic.objects.filter(ticket=locked, topic_id__in=removed).delete()
        TicketTopic.objects.bulk_create(
            [TicketTopic(ticket=locked, topic=topic, set_by=_user(actor)) for topic in added]
        )
        after = sorted(topic.name for topic in wanted.values())
        locked.save(update_fields=["updated_at"])
        TicketEvent.objects.create(
            ticket=locked,
            kind=TicketEvent.Kind.UPDATE,
            body_code=EventText.FIELD_CHANGES,
            body_params={"changes": [event_texts.field_change("topics", ", ".join(before), ", ".join(after))]},
            actor=_user(actor),
        )
    return list(TicketTopic.objects.filter(ticket=locked).select_related("topic").order_by("topic__name"))
