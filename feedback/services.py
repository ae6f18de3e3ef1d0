"""The verbs of customer feedback: submit, work a ticket through its workflow, note, reply.

Every change to a ticket writes a `TicketEvent` in the same transaction, so the history is
complete. Photos are checked and re-encoded in memory first (`feedback.images`); files are
written only after every input has passed, and deleted again if the ticket cannot be saved.
(Called inside a caller's transaction that rolls back later, the files would stay behind
without a row: callers here — views, API, admin — call it outside any transaction.)
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone, translation
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from feedback.images import clean_photos
from feedback.models import Attachment, Ticket, TicketEvent, new_ticket_no
from loyalty_crm import crypto
from loyalty_crm.errors import DomainError
from members import services as member_services
from members.models import Member, Purchase, ServiceRecord, Store
from members.normalize import normalise_email, normalise_phone

log = logging.getLogger(__name__)

MAX_MESSAGE_LENGTH = 2000
MAX_NAME_LENGTH = 100
MAX_REF_LENGTH = 64

S = Ticket.Status
TRANSITIONS: dict[str, set[str]] = {
    S.NEW: {S.OPEN},
    S.OPEN: {S.WAITING, S.RESOLVED},
    S.WAITING: {S.OPEN, S.RESOLVED},
    S.RESOLVED: {S.CLOSED, S.OPEN},
    S.CLOSED: {S.OPEN},
}


class FeedbackError(DomainError):
    code = "feedback_error"


class InvalidTransition(FeedbackError):
    code = "invalid_transition"


class ReplyNotSent(FeedbackError):
    code = "reply_not_sent"


def allowed_transitions(status: str) -> list[str]:
    """The statuses a ticket in `status` may move to, in workflow order."""
    targets = TRANSITIONS.get(status, set())
    return [value for value in Ticket.Status.values if value in targets]


# --- submission -------------------------------------------------------------------------------


def _find_member(*, member_no: str, phone: str, email: str) -> Member | None:
    members = Member.objects.not_erased()
    if member_no:
        found = members.filter(member_no=member_no).first()
        if found:
            return found
    if phone:
        found = members.with_phone(phone).first()
        if found:
            return found
    if email:
        return members.with_email(email).first()
    return None


def _validate(*, kind, channel, message, contact_name, phone, email, member_no, purchase_ref, photos) -> dict:
    errors: dict[str, list] = {}
    data: dict = {}
    if kind not in Ticket.Kind.values:
        errors["kind"] = [_("Choose what kind of feedback this is.")]
    if channel not in Ticket.Channel.values:
        errors["channel"] = [_("“%(value)s” is not a known channel.") % {"value": channel}]
    message = (message or "").strip()
    if not message:
        errors["message"] = [_("Please write your message.")]
    elif len(message) > MAX_MESSAGE_LENGTH:
        errors["message"] = [
            _("The message has %(count)s characters; at most %(limit)s are accepted.")
            % {"count": len(message), "limit": MAX_MESSAGE_LENGTH}
        ]
    data["message"] = message
    contact_name = (contact_name or "").strip()
    if len(contact_name) > MAX_NAME_LENGTH:
        errors["contact_name"] = [_("At most %(limit)s characters.") % {"limit": MAX_NAME_LENGTH}]
    data["contact_name"] = contact_name
    data["phone"] = ""
    if (phone or "").strip():
        try:
            data["phone"] = normalise_phone(phone)
        except ValidationError as error:
            errors["phone"] = error.messages
    data["email"] = ""
    if (email or "").strip():
        try:
            data["email"] = normalise_email(email)
        except ValidationError:
            errors["email"] = [_("“%(value)s” is not a valid email address.") % {"value": email.strip()}]
    for field, value in (("member_no", member_no), ("purchase_ref", purchase_ref)):
        value = (value or "").strip()
        if len(value) > MAX_REF_LENGTH:
            errors[field] = [_("At most %(limit)s characters.") % {"limit": MAX_REF_LENGTH}]
        data[field] = value
    try:
        data["photos"] = clean_photos(photos)
    except ValidationError as error:
        errors["photos"] = error.messages
    if errors:
        raise ValidationError(errors)
    return data


def _store_files(ticket: Ticket, photos) -> list[str]:
    written = []
    for photo in photos:
        name = default_storage.save(
            f"feedback/{secrets.token_urlsafe(24)}.{photo.extension}", ContentFile(photo.content)
        )
        written.append(name)
        Attachment.objects.create(
            ticket=ticket,
            file=name,
            original_name=photo.original_name,
            size=len(photo.content),
            width=photo.width,
            height=photo.height,
            content_type=photo.content_type,
        )
    return written


def _delete_files(names: Iterable[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:  # pragma: no cover - best effort; the file has no row pointing at it
            log.warning("Could not delete orphaned feedback file %s", name)


def submit_feedback(
    *,
    kind: str,
    message: str,
    contact_name: str = "",
    phone: str = "",
    email: str = "",
    member_no: str = "",
    purchase_ref: str = "",
    store: Store | None = None,
    photos=(),
    channel: str,
    language: str = "",
    actor=None,
) -> Ticket:
    """Record a customer's feedback as a new ticket.

    Every input is checked first (message length, kind, contact data, up to 3 photos); one
    ValidationError names every refused field and nothing is stored. A phone, email or member
    number that matches a member links the ticket to them, and to their purchase with
    `purchase_ref`; a linked complaint also lands on the member's profile as a service record.
    """
    data = _validate(
        kind=kind,
        channel=channel,
        message=message,
        contact_name=contact_name,
        phone=phone,
        email=email,
        member_no=member_no,
        purchase_ref=purchase_ref,
        photos=photos,
    )
    written: list[str] = []
    try:
        with transaction.atomic():
            member = _find_member(member_no=data["member_no"], phone=data["phone"], email=data["email"])
            purchase = None
            if member and data["purchase_ref"]:
                purchase = Purchase.objects.filter(member=member, external_ref=data["purchase_ref"]).first()
            ticket_no = new_ticket_no()
            while Ticket.objects.filter(ticket_no=ticket_no).exists():  # pragma: no cover - 1 in 8e14
                ticket_no = new_ticket_no()
            ticket = Ticket.objects.create(
                ticket_no=ticket_no,
                kind=kind,
                channel=channel,
                message=data["message"],
                contact_name=data["contact_name"],
                phone=data["phone"],
                phone_hash=crypto.lookup_hash(data["phone"]) if data["phone"] else "",
                email=data["email"],
                member=member,
                purchase=purchase,
                store=store,
                order_ref=data["purchase_ref"],
                language=(language or "")[:10],
            )
            TicketEvent.objects.create(
                ticket=ticket, kind=TicketEvent.Kind.CREATED, to_status=ticket.status, actor=_user(actor)
            )
            written = _store_files(ticket, data["photos"])
            if member and kind == Ticket.Kind.COMPLAINT:
                member_services.add_service_record(
                    member=member,
                    kind=ServiceRecord.Kind.COMPLAINT,
                    summary=Truncator(
                        _("Feedback %(no)s: %(text)s") % {"no": ticket_no, "text": data["message"]}
                    ).chars(200),
                    details=data["message"],
                    store=store,
                    actor=actor,
                )
    except BaseException:
        _delete_files(written)
        raise
    return ticket


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


# --- workflow ---------------------------------------------------------------------------------


def _locked(ticket: Ticket) -> Ticket:
    return Ticket.objects.select_for_update().get(pk=ticket.pk)


def _sync(target: Ticket, source: Ticket) -> None:
    for field in ("status", "priority", "assignee_id", "first_response_at", "resolved_at", "updated_at"):
        setattr(target, field, getattr(source, field))


@transaction.atomic
def change_status(*, ticket: Ticket, to: str, actor, note: str = "") -> Ticket:
    """Move a ticket along the workflow (new → open ⇄ waiting → resolved → closed; reopen from
    resolved or closed). Anything else raises `InvalidTransition`. Resolving stamps
    `resolved_at`; reopening clears it."""
    locked = _locked(ticket)
    if to not in TRANSITIONS.get(locked.status, set()):
        raise InvalidTransition(
            _("A ticket that is “%(from)s” cannot become “%(to)s”.")
            % {"from": Ticket.Status(locked.status).label, "to": _label(to)}
        )
    before = locked.status
    locked.status = to
    if to == S.RESOLVED:
        locked.resolved_at = timezone.now()
    elif to == S.OPEN and before in (S.RESOLVED, S.CLOSED):
        locked.resolved_at = None
    locked.save(update_fields=["status", "resolved_at", "updated_at"])
    TicketEvent.objects.create(
        ticket=locked,
        kind=TicketEvent.Kind.STATUS_CHANGE,
        from_status=before,
        to_status=to,
        body=(note or "").strip(),
        actor=_user(actor),
    )
    _sync(ticket, locked)
    return locked


def _label(status: str) -> str:
    try:
        return str(Ticket.Status(status).label)
    except ValueError:
        return str(status)


@transaction.atomic
def add_note(*, ticket: Ticket, body: str, actor) -> TicketEvent:
    """An internal note: staff only, never sent to the customer."""
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": [_("Write the note first.")]})
    locked = _locked(ticket)
    locked.save(update_fields=["updated_at"])
    return TicketEvent.objects.create(ticket=locked, kind=TicketEvent.Kind.INTERNAL_NOTE, body=body, actor=_user(actor))


@transaction.atomic
def reply(*, ticket: Ticket, body: str, actor) -> TicketEvent:
    """Answer the customer: emailed when the ticket has an email address, always recorded.

    The first reply stamps `first_response_at`. If the email cannot be sent the reply is not
    recorded either (`ReplyNotSent`), so the history never claims an answer nobody received.
    """
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": [_("Write the reply first.")]})
    locked = _locked(ticket)
    now = timezone.now()
    if locked.first_response_at is None:
        locked.first_response_at = now
    locked.save(update_fields=["first_response_at", "updated_at"])
    event = TicketEvent.objects.create(
        ticket=locked, kind=TicketEvent.Kind.REPLY, body=body, actor=_user(actor), at=now
    )
    if locked.email:
        with translation.override(locked.language or translation.get_language()):
            subject = _("Re: your feedback %(no)s") % {"no": locked.ticket_no}
            text = body + "\n\n-- \n" + _("Your ticket number: %(no)s") % {"no": locked.ticket_no}
        try:
            EmailMessage(subject=subject, body=text, to=[locked.email]).send()
        except Exception as error:  # SMTP and connection errors of any backend
            log.warning("Reply to ticket %s not sent: %s", locked.ticket_no, error)
            raise ReplyNotSent(_("The reply could not be emailed; it was not recorded. Try again later.")) from error
    _sync(ticket, locked)
    return event


UPDATABLE = {"priority", "assignee"}


@transaction.atomic
def update_ticket(*, ticket: Ticket, actor, **changes) -> Ticket:
    """Change priority and/or assignee (status goes through `change_status`), recorded in the history."""
    unknown = set(changes) - UPDATABLE
    if unknown:
        raise ValidationError({field: [_("This field cannot be changed here.")] for field in sorted(unknown)})
    locked = _locked(ticket)
    described = []
    if "priority" in changes and changes["priority"] != locked.priority:
        if changes["priority"] not in Ticket.Priority.values:
            raise ValidationError({"priority": [_("“%(value)s” is not a priority.") % {"value": changes["priority"]}]})
        described.append(
            _("priority: %(old)s → %(new)s")
            % {"old": locked.get_priority_display(), "new": Ticket.Priority(changes["priority"]).label}
        )
        locked.priority = changes["priority"]
    if "assignee" in changes and changes["assignee"] != locked.assignee:
        new = changes["assignee"]
        if new is not None and not (new.is_active and new.is_staff):
            raise ValidationError({"assignee": [_("Tickets can only be assigned to active staff.")]})
        described.append(
            _("assignee: %(old)s → %(new)s")
            % {
                "old": locked.assignee.get_username() if locked.assignee else "—",
                "new": new.get_username() if new else "—",
            }
        )
        locked.assignee = new
    if described:
        locked.save(update_fields=["priority", "assignee", "updated_at"])
        TicketEvent.objects.create(
            ticket=locked, kind=TicketEvent.Kind.UPDATE, body="; ".join(described), actor=_user(actor)
        )
    _sync(ticket, locked)
    return locked


def assign_tickets(*, tickets: Iterable[Ticket], assignee, actor) -> int:
    """Assign several tickets (the admin's bulk action); returns how many changed hands."""
    changed = 0
    for ticket in sorted(tickets, key=lambda t: t.pk):  # primary-key order: no lock-order deadlocks
        before = ticket.assignee_id
        update_ticket(ticket=ticket, actor=actor, assignee=assignee)
        changed += before != ticket.assignee_id
    return changed


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
