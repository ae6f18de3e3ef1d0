"""Complaints by topic and month for the Service KPIs page, and the top rising topic.

A complaint counts in the month it was created (project time zone) under every topic staff set on
it. The rising topic compares the last two complete months: the topic whose complaints grew the
most in number (ties: the larger growth in percent, then the name); none when nothing grew.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count
from django.db.models.functions import TruncMonth
from django.utils import timezone

from feedback.kpis import _aware, months_between, next_month
from feedback.models import Ticket, TicketTopic, Topic


@dataclass(frozen=True)
class TopicRow:
    topic: Topic
    counts: list[int]  # one per month of the window
    total: int


@dataclass(frozen=True)
class Rising:
    topic: Topic
    before: int
    after: int
    month: datetime.date


@dataclass(frozen=True)
class TopicTable:
    months: list[datetime.date]
    rows: list[TopicRow]
    rising: Rising | None


def complaints_by_topic(*, first_month: datetime.date, last_month: datetime.date, store=None) -> TopicTable:
    months = months_between(first_month, last_month)
    tz = timezone.get_current_timezone()
    rows = TicketTopic.objects.filter(
        ticket__kind=Ticket.Kind.COMPLAINT,
        ticket__created_at__gte=_aware(months[0]),
        ticket__created_at__lt=_aware(next_month(months[-1])),
    )
    if store is not None:
        rows = rows.filter(ticket__store=store)
    counts: dict[int, dict[datetime.date, int]] = defaultdict(dict)
    for row in (
        rows.annotate(month=TruncMonth("ticket__created_at", tzinfo=tz))
        .values("topic_id", "month")
        .annotate(n=Count("ticket_id", distinct=True))
        .order_by()
    ):
        counts[row["topic_id"]][row["month"].date()] = row["n"]
    topics = [t for t in Topic.objects.order_by("name") if t.is_active or t.pk in counts]
    table = [
        TopicRow(topic=t, counts=[counts[t.pk].get(m, 0) for m in months], total=sum(counts[t.pk].values()))
        for t in topics
    ]
    table.sort(key=lambda r: (-r.total, r.topic.display_name))
    return TopicTable(months=months, rows=table, rising=rising_topic(table, months))


def rising_topic(rows: list[TopicRow], months: list[datetime.date]) -> Rising | None:
    """The topic that grew most from the second-last to the last complete month of the window."""
    today = timezone.localdate()
    complete = [i for i, m in enumerate(months) if next_month(m) <= today]
    if len(complete) < 2:
        return None
    before_i, after_i = complete[-2], complete[-1]
    best = None
    for row in rows:
        before, after = row.counts[before_i], row.counts[after_i]
        if after <= before:
            continue
        key = (after - before, (after - before) / before if before else float("inf"), row.topic.display_name)
        if best is None or key[:2] > best[0][:2] or (key[:2] == best[0][:2] and key[2] < best[0][2]):
            best = (key, Rising(topic=row.topic, before=before, after=after, month=months[after_i]))
    return best[1] if best else None
