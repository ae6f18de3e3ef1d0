"""Working a ticket: its status workflow, replies, internal notes, field changes, assignment.

Every change locks the ticket row and writes a `TicketEvent` in the same transaction, so the
history is complete. `work_ticket` is the one update the admin's change form and the API's
PATCH both make.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from feedback import event_texts
from feedback.event_texts import EventText
from feedback.models import Team, Ticket, TicketEvent
from feedback.services import replies
from feedback.services._common import _user
from feedback.services.errors import InvalidTransition
from feedback.services.service_levels import DEADLINE_FIELDS, _recompute_deadlines

S = Ticket.Status
TRANSITIONS: dict[str, set[str]] = {
    S.NEW: {S.OPEN},
    S.OPEN: {S.WAITING, S.RESOLVED},
    S.WAITING: {S.OPEN, S.RESOLVED},
    S.RESOLVED: {S.CLOSED, S.OPEN},
    S.CLOSED: {S.OPEN},
}


def allowed_transitions(status: str) -> list[str]:
    """The statuses a ticket in `status` may move to, in workflow order."""
    targets = TRANSITIONS.get(status, set())
    return [value for value in Ticket.Status.values if value in targets]


def _locked(ticket: Ticket) -> Ticket:
    return Ticket.objects.select_for_update().get(pk=ticket.pk)


def _sync(target: Ticket, source: Ticket) -> None:
    for field in (
        "status", "kind", "priority", "priority_reason", "assignee_id", "team_id", "first_response_at",
        "resolved_at", "updated_at",
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


@transaction.atomic
def reply(*, ticket: Ticket, body: str, actor, record_only: bool = False) -> TicketEvent:
    """Answer the customer: recorded, then sent after commit on the one channel
    `feedback.delivery.reply_channel` chooses (email, WeChat, SMS), its delivery recorded
    (`ReplyDelivery`: sent, failed, in doubt or not sendable).

    The reply is always recorded, even when sending then fails (staff's words are not lost);
    `first_response_at` is stamped only when it was really sent (`services.replies`). When no
    channel can deliver it, `NoChannel` refuses it unless `record_only` (recorded as not sendable).
    """
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": [_("Write the reply first.")]})
    locked = _locked(ticket)
    channel = replies.check_reply_channel(locked, record_only=record_only)
    event = replies.record_reply(locked, body=body, actor=actor, channel=channel)
    _sync(ticket, locked)
    return event


UPDATABLE = {"priority", "assignee", "kind", "team"}


def _apply_updates(locked: Ticket, *, actor, changes: dict) -> None:
    """Write the changed fields of `UPDATABLE` and one UPDATE event naming them (none if nothing
    changed). A new kind or priority recomputes the service-level deadlines."""
    before = (locked.kind, locked.priority, locked.team_id)
    described = []  # one `event_texts.field_change` per changed field, raw values
    if "kind" in changes and changes["kind"] != locked.kind:
        if changes["kind"] not in Ticket.Kind.values:
            raise ValidationError({"kind": [_("“%(value)s” is not a kind of feedback.") % {"value": changes["kind"]}]})
        described.append(event_texts.field_change("kind", locked.kind, changes["kind"]))
        locked.kind = changes["kind"]
    if "priority" in changes and changes["priority"] != locked.priority:
        if changes["priority"] not in Ticket.Priority.values:
            raise ValidationError({"priority": [_("“%(value)s” is not a priority.") % {"value": changes["priority"]}]})
        described.append(event_texts.field_change("priority", locked.priority, changes["priority"]))
        locked.priority = changes["priority"]
        locked.priority_reason = ""  # set by staff, no longer the rules' reason
    if "assignee" in changes and changes["assignee"] != locked.assignee:
        new = changes["assignee"]
        if new is not None and not (new.is_active and new.is_staff):
            raise ValidationError({"assignee": [_("Tickets can only be assigned to active staff.")]})
        described.append(
            event_texts.field_change(
                "assignee",
                locked.assignee.get_username() if locked.assignee else None,
                new.get_username() if new else None,
            )
        )
        locked.assignee = new
    if "team" in changes and changes["team"] != locked.team:
        new_team = changes["team"]
        if new_team is not None and not isinstance(new_team, Team):
            raise ValidationError({"team": [_("Choose a team.")]})
        described.append(
            event_texts.field_change(
                "team", locked.team.name if locked.team else None, new_team.name if new_team else None
            )
        )
        locked.team = new_team
    if described:
        fields = ["kind", "priority", "priority_reason", "assignee", "team", "updated_at"]
        if (locked.kind, locked.priority, locked.team_id) != before:  # the team's business hours count
            fields += _recompute_deadlines(locked, now=timezone.now())
        locked.save(update_fields=fields)
        TicketEvent.objects.create(
            ticket=locked,
            kind=TicketEvent.Kind.UPDATE,
            body_code=EventText.FIELD_CHANGES,
            body_params={"changes": described},
            actor=_user(actor),
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
    record_only: bool = False,
    topics: list | _Unset = UNSET,
) -> Ticket:
    """One update of a ticket by support staff — the admin's change form and the API's PATCH both
    call this: the fields (kind, priority, assignee, team), a reply to the customer, an internal
    note, a status change (`note` is recorded with it) and the topics (`set_ticket_topics`: exactly
    these), all or nothing.

    The rule: one transaction with the ticket row locked; each change is audited as the single
    services audit it (one UPDATE event naming the changed fields, a REPLY, an INTERNAL_NOTE, a
    STATUS_CHANGE), in that order. A field left `UNSET` or given its current value, a blank reply
    or note, and a `status` equal to the current one change nothing and write no event (a `note`
    without a status change is not recorded). The transition is checked before anything is
    written: a refused one raises `InvalidTransition` (API 409 `invalid_transition`, a message
    next to "new status" in the admin) and leaves every field as it was; so does a reply no
    channel can deliver (`NoChannel`, unless `record_only`). The reply is sent only after the
    whole update commits (`reply`), so no customer hears of an update that was not saved, and a
    failed send leaves the update and the reply recorded, the delivery marked failed.
    """
    reply_body = (reply or "").strip()
    note_body = (internal_note or "").strip()
    locked = _locked(ticket)
    to = None if status is UNSET or status == locked.status else status
    if to is not None:
        _check_transition(current=locked.status, to=to)
    channel = replies.check_reply_channel(locked, record_only=record_only) if reply_body else None
    changes = {
        field: value
        for field, value in (("kind", kind), ("priority", priority), ("assignee", assignee), ("team", team))
        if value is not UNSET
    }
    if changes:
        _apply_updates(locked, actor=actor, changes=changes)
    if topics is not UNSET:
        from feedback.services.topics import set_ticket_topics

        set_ticket_topics(ticket=locked, topics=list(topics), actor=actor)
    if reply_body:
        replies.record_reply(locked, body=reply_body, actor=actor, channel=channel)
    if note_body:
        _record_note(locked, body=note_body, actor=actor)
    if to is not None:
        _apply_status(locked, to=to, actor=actor, note=note)
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
