"""Customer feedback becomes a ticket: every input checked, photos re-encoded, files written last.

Photos are checked and re-encoded in memory first (`feedback.images`); files are written only
after every input has passed, and deleted again if the ticket cannot be saved. (Called inside a
caller's transaction that rolls back later, the files would stay behind without a row: callers
here — views, API, admin — call it outside any transaction.)
"""

from __future__ import annotations

import secrets

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from feedback.images import clean_photos
from feedback.models import Attachment, Ticket, TicketEvent, new_ticket_no
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
            now = timezone.now()
            ticket = Ticket.objects.create(
                **_deadline_fields(kind=kind, channel=channel, priority=Ticket.Priority.NORMAL, start=now),
                created_at=now,
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
