"""Customer feedback becomes a ticket: every input checked, photos re-encoded, files written last.

Photos are checked and re-encoded in memory first (`feedback.images`); files are written only
after every input has passed, and deleted again if the ticket cannot be saved. (Called inside a
caller's transaction that rolls back later, the files would stay behind without a row: callers
here — views, API, admin — call it outside any transaction.)
"""

from __future__ import annotations

import datetime
import secrets

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from feedback import priority
from feedback.event_texts import EventText
from feedback.images import clean_photos
from feedback.models import Attachment, PriorityRule, Team, Ticket, TicketEvent, new_ticket_no
from feedback.services._common import _delete_files, _user
from feedback.services.service_levels import _deadline_fields
from loyalty_crm import crypto
from members import services as member_services
from members.models import Member, Purchase, ServiceRecord, Store
from members.normalize import normalise_email, normalise_phone
from members.summaries import Summary

MAX_MESSAGE_LENGTH = 2000
MAX_NAME_LENGTH = 100
MAX_REF_LENGTH = 64


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


# Times staff enter may run this far ahead of the server's clock (a phone's clock running fast).
CLOCK_SKEW = datetime.timedelta(minutes=2)


def _validate_times(errors: dict, data: dict, *, contacted_at, first_response_at, now) -> None:
    """When the customer reached us (now when not given) and, for a call or chat typed in
    afterwards, when they were answered: neither in the future, the answer not before the contact."""
    for field, value in (("contacted_at", contacted_at), ("first_response_at", first_response_at)):
        if value is not None and timezone.is_naive(value):
            errors[field] = [_("Give the time with its time zone.")]
        elif value is not None and value > now + CLOCK_SKEW:
            errors[field] = [_("This time is in the future.")]
    data["contacted_at"] = min(contacted_at, now) if contacted_at is not None and "contacted_at" not in errors else now
    data["first_response_at"] = None
    if first_response_at is not None and "first_response_at" not in errors:
        if "contacted_at" not in errors and first_response_at < data["contacted_at"]:
            errors["first_response_at"] = [_("The customer cannot have been answered before they reached us.")]
        else:
            data["first_response_at"] = min(first_response_at, now)


def _validate(
    *, kind, channel, message, contact_name, phone, email, member_no, purchase_ref, photos,
    contacted_at=None, first_response_at=None, now=None,
) -> dict:  # fmt: skip
    errors: dict[str, list] = {}
    data: dict = {}
    _validate_times(
        errors, data, contacted_at=contacted_at, first_response_at=first_response_at, now=now or timezone.now()
    )
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


def _record_answer_on_contact(ticket: Ticket, *, actor) -> TicketEvent:
    """The answer given when the customer reached us, in the history at its time: a phone call,
    or an answer on contact for a chat or the counter."""
    waited = int((ticket.first_response_at - ticket.contacted_at).total_seconds())
    kind = TicketEvent.Kind.CALL if ticket.channel == Ticket.Channel.PHONE else TicketEvent.Kind.ANSWERED
    return TicketEvent.objects.create(
        ticket=ticket,
        kind=kind,
        body_code=EventText.ANSWERED_ON_CONTACT,
        body_params={"seconds": waited},
        actor=_user(actor),
        at=ticket.first_response_at,
    )


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
    contacted_at: datetime.datetime | None = None,
    first_response_at: datetime.datetime | None = None,
) -> Ticket:
    """Record a customer's feedback as a new ticket.

    Every input is checked first (message length, kind, contact data, up to 3 photos, the times);
    one ValidationError names every refused field and nothing is stored. A phone, email or member
    number that matches a member links the ticket to them, and to their purchase with
    `purchase_ref`; a linked complaint also lands on the member's profile as a service record.

    Service levels measure the customer's wait: deadlines count from `contacted_at` (now unless
    staff give the time a call or chat came in), in the business hours of the ticket's team. A
    call or chat typed in afterwards may carry `first_response_at`, the time the customer was
    answered: recorded as a call (phone) or an answer on contact, it is the first response, so
    the ticket is measured, not alarmed. The priority comes from the priority rules and who the
    customer is (`feedback.priority`); a VIP rule sends the ticket to the member-service team.
    """
    now = timezone.now()
    data = _validate(
        now=now,
        kind=kind,
        channel=channel,
        message=message,
        contact_name=contact_name,
        phone=phone,
        email=email,
        member_no=member_no,
        purchase_ref=purchase_ref,
        photos=photos,
        contacted_at=contacted_at,
        first_response_at=first_response_at,
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
            choice = priority.choose_priority(
                PriorityRule.objects.filter(is_active=True), standing=priority.standing_of(member), kind=kind
            )
            team = Team.objects.filter(serves_vip=True).select_related("calendar").first() if choice.vip else None
            contacted = data["contacted_at"]
            ticket = Ticket.objects.create(
                **_deadline_fields(kind=kind, channel=channel, priority=choice.priority, start=contacted, team=team),
                created_at=now,
                contacted_at=contacted,
                first_response_at=data["first_response_at"],
                priority=choice.priority,
                priority_reason=choice.reason,
                team=team,
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
            if ticket.first_response_at is not None:
                _record_answer_on_contact(ticket, actor=actor)
            written = _store_files(ticket, data["photos"])
            if member and kind == Ticket.Kind.COMPLAINT:
                member_services.add_service_record(
                    member=member,
                    kind=ServiceRecord.Kind.COMPLAINT,
                    summary=Truncator(data["message"]).chars(200),
                    summary_code=Summary.FEEDBACK,
                    summary_params={"no": ticket_no},
                    details=data["message"],
                    store=store,
                    actor=actor,
                )
    except BaseException:
        _delete_files(written)
        raise
    return ticket
