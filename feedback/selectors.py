"""Questions about the support queue for the home page: tickets by SLA state, and one user's open
tickets. "Breached" and "about to breach" are `feedback.sla`'s one definition (through
`TicketQuerySet.breached` / `about_to_breach`)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count, F

from feedback import sla
from feedback.models import Ticket

MY_TICKETS_LIMIT = 8


@dataclass(frozen=True)
class QueueCounts:
    """Open tickets (not resolved or closed) by SLA state; on time = neither breached nor about to."""

    open: int
    breached: int
    about_to_breach: int

    @property
    def on_time(self) -> int:
        return self.open - self.breached - self.about_to_breach


def queue_counts(now: datetime.datetime) -> QueueCounts:
    """The open tickets counted by SLA state at `now` (one query)."""
    figures = Ticket.objects.not_done().aggregate(
        open=Count("id"),
        breached=Count("id", filter=sla.breached_q(now)),
        about=Count("id", filter=sla.about_to_breach_q(now)),
    )
    return QueueCounts(open=figures["open"], breached=figures["breached"], about_to_breach=figures["about"])


def my_open_tickets(user, *, limit: int = MY_TICKETS_LIMIT) -> tuple[int, list[Ticket]]:
    """How many open tickets are assigned to `user`, and the `limit` due soonest (those without a
    target last) with their member. Two queries."""
    mine = Ticket.objects.assigned_to(user).not_done()
    tickets = list(
        mine.with_queue_due()
        .select_related("member")
        .order_by(F("queue_due").asc(nulls_last=True), "created_at", "pk")[:limit]
    )
    return mine.count(), tickets
