"""A ticket's priority, and its team, follow its member's standing while the ticket is open.

The priority rules (`feedback.priority`) are applied when a ticket is created. When a member's tier
moves (`members.signals.tiers_changed`, sent by `rewards` after commit), `reprioritise_member_tickets`
applies them again to that member's open tickets (not resolved, not closed):
1. a ticket whose priority a person set (an "update" event changing the priority) keeps it: staff's
   judgement wins over the rules;
2. otherwise the ticket takes the rules' priority and reason for the member's standing now;
3. routing: when a VIP rule now matches and a member-service team is set (`Team.serves_vip`), a
   ticket waiting in the queue — no assignee, not in that team, its team not set by a person — moves
   to the member-service team, as a new ticket of that member would. A ticket someone is working
   (it has an assignee) stays with its agent and team; a team a person chose is kept; a downgrade
   moves no ticket out of the member-service team (the rules name no other team to move it to);
4. a new priority or team recomputes the service-level deadlines (`feedback.sla`, the ticket's
   target for its kind, channel and priority, under its team's business hours, counted from the
   customer's contact as at creation);
5. the history says why: one event for a new priority (`EventText.TIER_REPRIORITISED`: the old and
   new priority and the tier that caused it), one for a move (`EventText.TIER_ROUTED`: the old and
   new team and the tier).
Each ticket is changed under its row lock in its own transaction, re-read under the lock, so a
staff change, an assignment or a resolution that committed meanwhile is respected; running it twice
changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from feedback import priority
from feedback.event_texts import EventText
from feedback.models import PriorityRule, Team, Ticket, TicketEvent
from feedback.services.service_levels import _recompute_deadlines
from members.models import Member


def _set_by_staff(ticket_ids: list[int], field: str = "priority") -> set[int]:
    """The tickets among `ticket_ids` whose `field` (priority, team) a person changed (one query)."""
    events = TicketEvent.objects.filter(
        ticket_id__in=ticket_ids, kind=TicketEvent.Kind.UPDATE, body_code=EventText.FIELD_CHANGES
    ).values_list("ticket_id", "body_params")
    found = set()
    for ticket_id, params in events:
        changes = params.get("changes") if isinstance(params, dict) else None
        if isinstance(changes, list) and any(
            isinstance(change, dict) and change.get("field") == field for change in changes
        ):
            found.add(ticket_id)
    return found


def reprioritise_member_tickets(*, member_ids: Iterable[int], now=None) -> int:
    """Apply the priority rules again to the open tickets of these members, and route the queued
    ones to the member-service team when a VIP rule now matches (see the module docstring).
    Returns how many tickets changed."""
    member_ids = sorted(set(member_ids))
    if not member_ids:
        return 0
    open_tickets = list(
        Ticket.objects.not_done().filter(member_id__in=member_ids).order_by("pk").values_list("pk", "member_id")
    )
    if not open_tickets:
        return 0
    rules = list(PriorityRule.objects.filter(is_active=True))
    members = Member.objects.in_bulk({member_id for _pk, member_id in open_tickets})
    standings = {member_id: priority.standing_of(member) for member_id, member in members.items()}
    vip_team = Team.objects.filter(serves_vip=True).select_related("calendar").first()
    now = now or timezone.now()
    changed = 0
    for pk, member_id in open_tickets:
        if member_id not in standings:
            continue
        changed += _reprioritise(pk, rules=rules, standing=standings[member_id], vip_team=vip_team, now=now)
    return changed


def _routed_team(ticket: Ticket, *, choice: priority.PriorityChoice, vip_team: Team | None) -> Team | None:
    """The team the rules now send this queued ticket to, or None to leave it where it is."""
    if not choice.vip or vip_team is None or ticket.team_id == vip_team.pk:
        return None
    if ticket.assignee_id is not None:  # someone is working it: it stays with them
        return None
    if ticket.pk in _set_by_staff([ticket.pk], "team"):
        return None  # a person chose its team (or none): theirs to change
    return vip_team


@transaction.atomic
def _reprioritise(pk: int, *, rules: list, standing: priority.Standing, vip_team: Team | None, now) -> int:
    ticket = Ticket.objects.select_for_update().filter(pk=pk).first()
    if ticket is None or ticket.is_done:
        return 0
    choice = priority.choose_priority(rules, standing=standing, kind=ticket.kind)
    reprioritise = pk not in _set_by_staff([pk]) and (choice.priority, choice.reason) != (
        ticket.priority,
        ticket.priority_reason,
    )
    team = _routed_team(ticket, choice=choice, vip_team=vip_team)
    if not reprioritise and team is None:
        return 0
    before, before_team = ticket.priority, ticket.team
    fields = ["updated_at"]
    if reprioritise:
        ticket.priority = choice.priority
        ticket.priority_reason = choice.reason
        fields += ["priority", "priority_reason"]
    if team is not None:
        ticket.team = team
        fields.append("team")
    if ticket.priority != before or team is not None:  # the target, or the team's business hours
        fields += _recompute_deadlines(ticket, now=now)
    ticket.save(update_fields=fields)
    if reprioritise:
        TicketEvent.objects.create(
            ticket=ticket,
            kind=TicketEvent.Kind.UPDATE,
            body_code=EventText.TIER_REPRIORITISED,
            body_params={"old": before, "new": choice.priority, "tier": standing.tier_code, "rules": choice.reason},
            at=now,
        )
    if team is not None:
        TicketEvent.objects.create(
            ticket=ticket,
            kind=TicketEvent.Kind.UPDATE,
            body_code=EventText.TIER_ROUTED,
            body_params={
                "old": before_team.name if before_team else "",
                "new": team.name,
                "tier": standing.tier_code,
                "rules": choice.reason,
            },
            at=now,
        )
    return 1
