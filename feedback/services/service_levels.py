"""Service levels of tickets: deadlines from the SLA targets, and flagging the missed ones.

The arithmetic is pure, in `feedback.sla`; this module loads the targets and writes the results.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from feedback import event_texts, sla
from feedback.event_texts import EventText
from feedback.models import SlaTarget, Team, Ticket, TicketEvent
from feedback.services._common import public_url

DEADLINE_FIELDS = ["first_response_due", "first_response_warn_at", "resolution_due", "resolution_warn_at"]


def business_hours(team: Team | None, *, start, target) -> sla.BusinessHours | None:
    """The team's working time for deadlines counted from `start` (its public days off loaded for
    the span the longest target can reach), or None: no team or no calendar, round the clock."""
    calendar = team.calendar if team is not None and team.calendar_id else None
    if calendar is None:
        return None
    hours = sla.BusinessHours(
        weekdays=frozenset(int(d) for d in calendar.weekdays),
        opens=calendar.opens_at,
        closes=calendar.closes_at,
        time_zone=calendar.time_zone,
    )
    if not calendar.observes_public_holidays or target is None:
        return hours
    from members.selectors import public_days_off

    first, last = hours.span_days(start, max(target.first_response, target.resolution))
    return dataclasses.replace(hours, days_off=frozenset(public_days_off(first, last)))


def _deadline_fields(*, kind: str, channel: str, priority: str, start, team: Team | None = None) -> dict:
    """Due and warning instants counted from `start` (the customer's contact), in the team's
    business hours when it has a calendar."""
    target = sla.choose_target(SlaTarget.objects.all(), kind=kind, channel=channel, priority=priority)
    found = sla.deadlines(target, start=start, hours=business_hours(team, start=start, target=target))
    return {field: getattr(found, field) for field in DEADLINE_FIELDS}


def _recompute_deadlines(ticket: Ticket, *, now) -> list[str]:
    """Deadlines from the customer's contact under the target (and the team's hours) that now
    apply. A breach flag whose target moved into the future is cleared, so a later miss is flagged
    (and notified) again."""
    for field, value in _deadline_fields(
        kind=ticket.kind,
        channel=ticket.channel,
        priority=ticket.priority,
        start=ticket.contacted_at or ticket.created_at,
        team=ticket.team,
    ).items():
        setattr(ticket, field, value)
    if ticket.first_response_breached_at and (ticket.first_response_due is None or ticket.first_response_due > now):
        ticket.first_response_breached_at = None
    if ticket.resolution_breached_at and (ticket.resolution_due is None or ticket.resolution_due > now):
        ticket.resolution_breached_at = None
    return [*DEADLINE_FIELDS, "first_response_breached_at", "resolution_breached_at"]


@dataclass
class BreachResult:
    first_response: int = 0
    resolution: int = 0
    notified: int = 0


def _breach_candidates(now):
    """Open tickets past a target (`sla.breached_q`, the one definition) not yet flagged for it."""
    return (
        Ticket.objects.not_done()
        .filter(
            (sla.first_response_overdue_q(now) & Q(first_response_breached_at__isnull=True))
            | (sla.resolution_overdue_q(now) & Q(resolution_breached_at__isnull=True))
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
            # Re-read under the lock with the same rule (a reply sent meanwhile answers the ticket).
            still = Ticket.objects.filter(pk=pk).filter(
                (sla.first_response_overdue_q(now) & Q(first_response_breached_at__isnull=True))
                | (sla.resolution_overdue_q(now) & Q(resolution_breached_at__isnull=True))
            )
            missed = []
            if still.filter(sla.first_response_overdue_q(now), first_response_breached_at__isnull=True).exists():
                locked.first_response_breached_at = now
                missed.append("first_response")
            if still.filter(sla.resolution_overdue_q(now), resolution_breached_at__isnull=True).exists():
                locked.resolution_breached_at = now
                missed.append("resolution")
            if not missed:
                continue
            locked.save(update_fields=["first_response_breached_at", "resolution_breached_at"])
            event = TicketEvent.objects.create(
                ticket=locked,
                kind=TicketEvent.Kind.SLA_BREACH,
                body_code=EventText.SLA_BREACH,
                body_params=event_texts.breach_params(
                    first_response_due=locked.first_response_due if "first_response" in missed else None,
                    resolution_due=locked.resolution_due if "resolution" in missed else None,
                ),
                at=now,
            )
            result.first_response += "first_response" in missed
            result.resolution += "resolution" in missed
            result.notified += _notify_breach(locked, event)
    return result


def _staff_language() -> str:
    return getattr(settings, "FEEDBACK_STAFF_LANGUAGE", "zh-hans")


def _notify_breach(ticket: Ticket, event: TicketEvent) -> int:
    """Email the assignee and the team lead (whoever has an address), in the staff's language
    (FEEDBACK_STAFF_LANGUAGE) whatever the language of the run; 1 if a message went out."""
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
                event.body_text,
                _("Kind: %(kind)s · priority: %(priority)s")
                % {"kind": ticket.get_kind_display(), "priority": ticket.get_priority_display()},
                _("Open the ticket: %(url)s") % {"url": public_url(f"/admin/feedback/ticket/{ticket.pk}/change/")},
            ]
        )
    # Raises on failure: the transaction rolls back and the next run tries again.
    EmailMessage(subject=subject, body=text, to=recipients).send()
    return 1
