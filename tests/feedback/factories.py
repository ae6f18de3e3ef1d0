"""Tickets made through `feedback.services`, the way the product makes them."""

from feedback import services
from feedback.models import Ticket


def ticket(
    kind=Ticket.Kind.COMPLAINT, message="花束送到时已经枯萎了。", channel=Ticket.Channel.WEB, **kwargs
) -> Ticket:
    return services.submit_feedback(kind=kind, message=message, channel=channel, **kwargs)


def ticket_in(status: str, actor=None, **kwargs) -> Ticket:
    """A ticket walked along the workflow to `status`."""
    made = ticket(**kwargs)
    path = {
        "new": [],
        "open": ["open"],
        "waiting": ["open", "waiting"],
        "resolved": ["open", "resolved"],
        "closed": ["open", "resolved", "closed"],
    }[status]
    for step in path:
        services.change_status(ticket=made, to=step, actor=actor)
    return made
