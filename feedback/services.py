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
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from feedback import sla
from feedback.images import clean_photos
from feedback.models import Attachment, SlaTarget, Team, Ticket, TicketEvent, new_ticket_no
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


# --- service levels ---------------------------------------------------------------------------

DEADLINE_FIELDS = ["first_response_due", "first_response_warn_at", "resolution_due", "resolution_warn_at"]


def _deadline_fields(*, kind: str, channel: str, priority: str, start) -> dict:
    target = sla.choose_target(SlaTarget.objects.all(), kind=kind, channel=channel, priority=priority)
    found = sla.deadlines(target, start=start)
    return {field: getattr(found, field) for field in DEADLINE_FIELDS}


def _recompute_deadlines(ticket: Ticket, *, now) -> list[str]:
    """Deadlines from the ticket's creation under the target that now applies. A breach flag whose
    target moved into the future is cleared, so a later miss is flagged (and notified) again."""
    for field, value in _deadline_fields(
        kind=ticket.kind, channel=ticket.channel, priority=ticket.priority, start=ticket.created_at
    ).items():
        setattr(ticket, field, value)
    if ticket.first_response_breached_at and (ticket.first_response_due is None or ticket.first_response_due > now):
        ticket.first_response_breached_at = None
    if ticket.resolution_breached_at and (ticket.resolution_due is None or ticket.resolution_due > now):
        ticket.resolution_breached_at = None
    return [*DEADLINE_FIELDS, "first_response_breached_at", "resolution_breached_at"]


# --- workflow ---------------------------------------------------------------------------------


def _locked(ticket: Ticket) -> Ticket:
    return Ticket.objects.select_for_update().get(pk=ticket.pk)


def _sync(target: Ticket, source: Ticket) -> None:
    for field in (
        "status", "kind", "priority", "assignee_id", "team_id", "first_response_at", "resolved_at", "updated_at",
        *DEADLINE_FIELDS, "first_response_breached_at", "resolution_breached_at",
    ):  # fmt: skip
        setattr(target, field, getattr(source, field))


def _check_transition(*, current: str, to: str) -> None:
    if to not in TRANSITIONS.get(current, set()):
        raise InvalidTransition(
            _("A ticket that is “%(from)s” cannot become “%(to)s”.")
            % {"from": Ticket.Status(current).label, "to": _label(to)}
        )


def _apply_status(locked: Ticket, *, to: str, actor, note: str) -> None:
    """Write a transition `_check_transition` allowed, with its history event."""
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
    if to == S.RESOLVED and locked.email:
        from feedback import surveys

        ticket_id = locked.pk
        transaction.on_commit(lambda: surveys.send_csat_survey(ticket_id=ticket_id))


@transaction.atomic
def change_status(*, ticket: Ticket, to: str, actor, note: str = "") -> Ticket:
    """Move a ticket along the workflow (new → open ⇄ waiting → resolved → closed; reopen from
    resolved or closed). Anything else raises `InvalidTransition`. Resolving stamps
    `resolved_at`; reopening clears it."""
    locked = _locked(ticket)
    _check_transition(current=locked.status, to=to)
    _apply_status(locked, to=to, actor=actor, note=note)
    _sync(ticket, locked)
    return locked


def _label(status: str) -> str:
    try:
        return str(Ticket.Status(status).label)
    except ValueError:
        return str(status)


def _record_note(locked: Ticket, *, body: str, actor) -> TicketEvent:
    locked.save(update_fields=["updated_at"])
    return TicketEvent.objects.create(ticket=locked, kind=TicketEvent.Kind.INTERNAL_NOTE, body=body, actor=_user(actor))


@transaction.atomic
def add_note(*, ticket: Ticket, body: str, actor) -> TicketEvent:
    """An internal note: staff only, never sent to the customer."""
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": [_("Write the note first.")]})
    return _record_note(_locked(ticket), body=body, actor=actor)


def _record_reply(locked: Ticket, *, body: str, actor) -> TicketEvent:
    now = timezone.now()
    if locked.first_response_at is None:
        locked.first_response_at = now
    locked.save(update_fields=["first_response_at", "updated_at"])
    return TicketEvent.objects.create(ticket=locked, kind=TicketEvent.Kind.REPLY, body=body, actor=_user(actor), at=now)


def _email_reply(locked: Ticket, *, body: str) -> None:
    """Email a recorded reply (when the ticket has an address). Raises `ReplyNotSent` on any
    failure, so the caller's transaction rolls the reply back."""
    if not locked.email:
        return
    with translation.override(locked.language or translation.get_language()):
        subject = _("Re: your feedback %(no)s") % {"no": locked.ticket_no}
        text = body + "\n\n-- \n" + _("Your ticket number: %(no)s") % {"no": locked.ticket_no}
    try:
        EmailMessage(subject=subject, body=text, to=[locked.email]).send()
    except Exception as error:  # SMTP and connection errors of any backend
        log.warning("Reply to ticket %s not sent: %s", locked.ticket_no, error)
        raise ReplyNotSent(_("The reply could not be emailed; it was not recorded. Try again later.")) from error


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
    event = _record_reply(locked, body=body, actor=actor)
    _email_reply(locked, body=body)
    _sync(ticket, locked)
    return event


UPDATABLE = {"priority", "assignee", "kind", "team"}


def _apply_updates(locked: Ticket, *, actor, changes: dict) -> None:
    """Write the changed fields of `UPDATABLE` and one UPDATE event naming them (none if nothing
    changed). A new kind or priority recomputes the service-level deadlines."""
    before = (locked.kind, locked.priority)
    described = []
    if "kind" in changes and changes["kind"] != locked.kind:
        if changes["kind"] not in Ticket.Kind.values:
            raise ValidationError({"kind": [_("“%(value)s” is not a kind of feedback.") % {"value": changes["kind"]}]})
        described.append(
            _("kind: %(old)s → %(new)s") % {"old": locked.get_kind_display(), "new": Ticket.Kind(changes["kind"]).label}
        )
        locked.kind = changes["kind"]
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
    if "team" in changes and changes["team"] != locked.team:
        new_team = changes["team"]
        if new_team is not None and not isinstance(new_team, Team):
            raise ValidationError({"team": [_("Choose a team.")]})
        described.append(
            _("team: %(old)s → %(new)s")
            % {"old": locked.team.name if locked.team else "—", "new": new_team.name if new_team else "—"}
        )
        locked.team = new_team
    if described:
        fields = ["kind", "priority", "assignee", "team", "updated_at"]
        if (locked.kind, locked.priority) != before:
            fields += _recompute_deadlines(locked, now=timezone.now())
        locked.save(update_fields=fields)
        TicketEvent.objects.create(
            ticket=locked, kind=TicketEvent.Kind.UPDATE, body="; ".join(described), actor=_user(actor)
        )


@transaction.atomic
def update_ticket(*, ticket: Ticket, actor, **changes) -> Ticket:
    """Change kind, priority, assignee and/or team (status goes through `change_status`), recorded
    in the history. A new kind or priority recomputes the service-level deadlines."""
    unknown = set(changes) - UPDATABLE
    if unknown:
        raise ValidationError({field: [_("This field cannot be changed here.")] for field in sorted(unknown)})
    locked = _locked(ticket)
    _apply_updates(locked, actor=actor, changes=changes)
    _sync(ticket, locked)
    return locked


class _Unset:
    """Marks a field to leave as it is (distinct from None, which clears an assignee or a team)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET = _Unset()


@transaction.atomic
def work_ticket(
    *,
    ticket: Ticket,
    actor,
    kind: str | _Unset = UNSET,
    priority: str | _Unset = UNSET,
    assignee=UNSET,
    team: Team | _Unset | None = UNSET,
    status: str | _Unset = UNSET,
    note: str = "",
    reply: str = "",
    internal_note: str = "",
) -> Ticket:
    """One update of a ticket by support staff — the admin's change form and the API's PATCH both
    call this: the fields (kind, priority, assignee, team), a reply to the customer, an internal
    note and a status change (`note` is recorded with it), all or nothing.

    The rule: one transaction with the ticket row locked; each change is audited as the single
    services audit it (one UPDATE event naming the changed fields, a REPLY, an INTERNAL_NOTE, a
    STATUS_CHANGE), in that order. A field left `UNSET` or given its current value, a blank reply
    or note, and a `status` equal to the current one change nothing and write no event (a `note`
    without a status change is not recorded). The transition is checked before anything is
    written: a refused one raises `InvalidTransition` (API 409 `invalid_transition`, a message
    next to "new status" in the admin) and leaves every field as it was. The reply is emailed
    last, after every other write; if it cannot be sent, `ReplyNotSent` rolls the whole update
    back — so no customer is emailed about an update that was not saved.
    """
    reply_body = (reply or "").strip()
    note_body = (internal_note or "").strip()
    locked = _locked(ticket)
    to = None if status is UNSET or status == locked.status else status
    if to is not None:
        _check_transition(current=locked.status, to=to)
    changes = {
        field: value
        for field, value in (("kind", kind), ("priority", priority), ("assignee", assignee), ("team", team))
        if value is not UNSET
    }
    if changes:
        _apply_updates(locked, actor=actor, changes=changes)
    if reply_body:
        _record_reply(locked, body=reply_body, actor=actor)
    if note_body:
        _record_note(locked, body=note_body, actor=actor)
    if to is not None:
        _apply_status(locked, to=to, actor=actor, note=note)
    if reply_body:
        _email_reply(locked, body=reply_body)
    _sync(ticket, locked)
    return locked


_UNCHANGED = UNSET


@transaction.atomic
def assign_tickets(*, tickets: Iterable[Ticket], actor, assignee=_UNCHANGED, team=_UNCHANGED) -> int:
    """Assign several tickets to a user and/or a team (the admin's bulk actions), all or none;
    returns how many changed hands."""
    changes = {}
    if assignee is not _UNCHANGED:
        changes["assignee"] = assignee
    if team is not _UNCHANGED:
        changes["team"] = team
    if not changes:
        raise ValidationError(_("Choose a user or a team to assign the tickets to."))
    changed = 0
    for ticket in sorted(tickets, key=lambda t: t.pk):  # primary-key order: no lock-order deadlocks
        before = (ticket.assignee_id, ticket.team_id)
        update_ticket(ticket=ticket, actor=actor, **changes)
        changed += before != (ticket.assignee_id, ticket.team_id)
    return changed


# --- breaches ---------------------------------------------------------------------------------


@dataclass
class BreachResult:
    first_response: int = 0
    resolution: int = 0
    notified: int = 0


def _breach_candidates(now):
    return (
        Ticket.objects.not_done()
        .filter(
            Q(first_response_at__isnull=True, first_response_due__lt=now, first_response_breached_at__isnull=True)
            | Q(resolution_due__lt=now, resolution_breached_at__isnull=True)
        )
        .order_by("pk")
    )


def flag_sla_breaches(*, now=None, batch_size: int = 500) -> BreachResult:
    """Flag each newly missed target once: stamp `*_breached_at`, write a history event and email
    the assignee and the team lead — in one transaction per ticket, so a failed email leaves the
    ticket unflagged for the next run rather than flagged without notice.

    Safe to run concurrently: each ticket is locked with SKIP LOCKED (a ticket another worker is
    flagging is skipped) and its flags are re-read under the lock, so no breach is flagged or
    notified twice.
    """
    now = now or timezone.now()
    result = BreachResult()
    for pk in list(_breach_candidates(now).values_list("pk", flat=True)[:batch_size]):
        with transaction.atomic():
            locked = Ticket.objects.select_for_update(skip_locked=True).filter(pk=pk).first()
            if locked is None or locked.is_done:
                continue
            missed = []
            if (
                locked.first_response_at is None
                and locked.first_response_due is not None
                and locked.first_response_due < now
                and locked.first_response_breached_at is None
            ):
                locked.first_response_breached_at = now
                missed.append("first_response")
            if (
                locked.resolution_due is not None
                and locked.resolution_due < now
                and locked.resolution_breached_at is None
            ):
                locked.resolution_breached_at = now
                missed.append("resolution")
            if not missed:
                continue
            locked.save(update_fields=["first_response_breached_at", "resolution_breached_at"])
            with translation.override(_staff_language()):
                body = _breach_text(locked, missed)
            TicketEvent.objects.create(ticket=locked, kind=TicketEvent.Kind.SLA_BREACH, body=body, at=now)
            result.first_response += "first_response" in missed
            result.resolution += "resolution" in missed
            result.notified += _notify_breach(locked, body)
    return result


def _staff_language() -> str:
    return getattr(settings, "FEEDBACK_STAFF_LANGUAGE", "zh-hans")


def _breach_text(ticket: Ticket, missed: list[str]) -> str:
    lines = []
    if "first_response" in missed:
        lines.append(
            _("First-response target missed: due %(due)s, no reply yet.")
            % {"due": timezone.localtime(ticket.first_response_due).strftime("%Y-%m-%d %H:%M:%S")}
        )
    if "resolution" in missed:
        lines.append(
            _("Resolution target missed: due %(due)s.")
            % {"due": timezone.localtime(ticket.resolution_due).strftime("%Y-%m-%d %H:%M:%S")}
        )
    return " ".join(lines)


def _notify_breach(ticket: Ticket, body: str) -> int:
    """Email the assignee and the team lead (whoever has an address); 1 if a message went out."""
    recipients = []
    users = Ticket.objects.filter(pk=ticket.pk).values_list("assignee__email", "team__lead__email").first() or ()
    for address in users:
        if address and address not in recipients:
            recipients.append(address)
    if not recipients:
        return 0
    with translation.override(_staff_language()):
        subject = _("Service level missed: ticket %(no)s") % {"no": ticket.ticket_no}
        text = "\n\n".join(
            [
                body,
                _("Kind: %(kind)s · priority: %(priority)s")
                % {"kind": ticket.get_kind_display(), "priority": ticket.get_priority_display()},
                _("Open the ticket: %(url)s") % {"url": public_url(f"/admin/feedback/ticket/{ticket.pk}/change/")},
            ]
        )
    # Raises on failure: the transaction rolls back and the next run tries again.
    EmailMessage(subject=subject, body=text, to=recipients).send()
    return 1


def public_url(path: str) -> str:
    """An absolute address for links in emails (FEEDBACK_PUBLIC_URL, e.g. https://crm.example.com)."""
    base = getattr(settings, "FEEDBACK_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
    return base + path


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
