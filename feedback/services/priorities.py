"""A ticket's priority follows its member's standing while the ticket is open.

The priority rules (`feedback.priority`) are applied when a ticket is created. When a member's tier
moves (`members.signals.tiers_changed`, sent by `rewards` after commit), `reprioritise_member_tickets`
applies them again to that member's open tickets (not resolved, not closed):
1. a ticket whose priority a person set (an "update" event changing the priority) keeps it: staff's
   judgement wins over the rules;
2. otherwise the ticket takes the rules' priority and reason for the member's standing now;
3. a new priority recomputes the service-level deadlines (`feedback.sla`, the ticket's target for
   its kind, channel and new priority, counted from the customer's contact as at creation);
4. each ticket that changes gets one history event (`EventText.TIER_REPRIORITISED`) saying the old
   and new priority and the tier that caused it.
Each ticket is changed under its row lock in its own transaction, re-read under the lock, so a
staff change or a resolution that committed meanwhile is respected; running it twice changes
nothing the second time.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from feedback import priority
from feedback.event_texts import EventText
from feedback.models import PriorityRule, Ticket, TicketEvent
from feedback.services.service_levels import _recompute_deadlines
from members.models import Member


def _set_by_staff(ticket_ids: list[int]) -> set[int]:
    """The tickets among `ticket_ids` whose priority a person changed (one query)."""
    events = TicketEvent.objects.filter(
        ticket_id__in=ticket_ids, kind=TicketEvent.Kind.UPDATE, body_code=EventText.FIELD_CHANGES
    ).values_list("ticket_id", "body_params")
    found = set()
    for ticket_id, params in events:
        changes = params.get("changes") if isinstance(params, dict) else None
        if isinstance(changes, list) and any(
            isinstance(change, dict) and change.get("field") == "priority" for change in changes
        ):
            found.add(ticket_id)
    return found


def reprioritise_member_tickets(*, member_ids: Iterable[int], now=None) -> int:
    """Apply the priority rules again to the open tickets of these members (see the module
    docstring). Returns how many tickets changed."""
    member_ids = sorted(set(member_ids))
    if not member_ids:
        return 0
    open_tickets = list(
        Ticket.objects.not_done().filter(member_id__in=member_ids).order_by("pk").values_list("pk", "member_id")
    )
    if not open_tickets:
        return 0
    kept = _set_by_staff([pk for pk, _member in open_tickets])
    rules = list(PriorityRule.objects.filter(is_active=True))
    members = Member.objects.in_bulk({member_id for _pk, member_id in open_tickets})
    standings = {member_id: priority.standing_of(member) for member_id, member in members.items()}
    now = now or timezone.now()
    changed = 0
    for pk, member_id in open_tickets:
        if pk in kept or member_id not in standings:
            continue
        changed += _reprioritise(pk, rules=rules, standing=standings[member_id], now=now)
    return changed


@transaction.atomic
def _reprioritise(pk: int, *, rules: list, standing: priority.Standing, now) -> int:
    ticket = Ticket.objects.select_for_update().filter(pk=pk).first()
    if ticket is None or ticket.is_done or pk in _set_by_staff([pk]):
        return 0
    choice = priority.choose_priority(rules, standing=standing, kind=ticket.kind)
    if (choice.priority, choice.reason) == (ticket.priority, ticket.priority_reason):
        return 0
    before = ticket.priority
    fields = ["priority", "priority_reason", "updated_at"]
    ticket.priority = choice.priority
    ticket.priority_reason = choice.reason
    if choice.priority != before:
        fields += _recompute_deadlines(ticket, now=now)
    ticket.save(update_fields=fields)
    TicketEvent.objects.create(
        ticket=ticket,
        kind=TicketEvent.Kind.UPDATE,
        body_code=EventText.TIER_REPRIORITISED,
        body_params={"old": before, "new": choice.priority, "tier": standing.tier_code, "rules": choice.reason},
        at=now,
    )
    return 1
