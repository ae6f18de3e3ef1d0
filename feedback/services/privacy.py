"""A ticket's personal data: erasure of a member reaches their tickets (called from
`feedback.receivers`), and every clear showing of a ticket's contact details is recorded."""

from __future__ import annotations

from django.db import transaction

from feedback.models import Attachment, Ticket, TicketEvent
from feedback.services._common import _delete_files
from members import services as member_services
from members.models import ContactDetailView, Member


@transaction.atomic
def anonymise_member_tickets(*, member: Member) -> int:
    """Erasure of a member reaches their tickets: contact data, texts and photos go; counts stay.

    Kind, channel, status, store and timestamps remain so complaint rates and SLA figures hold.
    """
    tickets = Ticket.objects.select_for_update().filter(member=member)
    ticket_ids = list(tickets.values_list("pk", flat=True))
    if not ticket_ids:
        return 0
    files = list(Attachment.objects.filter(ticket_id__in=ticket_ids).values_list("file", flat=True))
    Attachment.objects.filter(ticket_id__in=ticket_ids).delete()
    TicketEvent.objects.filter(ticket_id__in=ticket_ids).update(body="")
    for ticket in tickets:
        ticket.message = "—"
        ticket.contact_name = ticket.phone = ticket.email = ""
        ticket.phone_hash = ""
        ticket.order_ref = ""
        ticket.save(update_fields=["message", "contact_name", "phone", "email", "phone_hash", "order_ref"])
    transaction.on_commit(lambda: _delete_files(files))
    return len(ticket_ids)


def show_ticket_contact(*, user, ticket: Ticket, channel: str, path: str = "", client_ip: str = "") -> bool:
    """Record that `user` was shown the phone and email the customer left on `ticket` (support
    staff need them to answer), as a clear view of a member's details is recorded: who, which
    ticket (and its member), when, from where. Nothing to record when the ticket holds neither."""
    if not (ticket.phone or ticket.email):
        return False
    member_services.record_contact_view(
        user=user,
        member=ticket.member,
        subject=f"{Ticket._meta.verbose_name} {ticket.ticket_no}",
        channel=channel,
        path=path,
        client_ip=client_ip,
    )
    return True


ADMIN_CHANNEL = ContactDetailView.Channel.ADMIN
API_CHANNEL = ContactDetailView.Channel.API
