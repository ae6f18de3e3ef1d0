"""The demo's feedback slice: a year of tickets worked to their SLA with satisfaction (CSAT)
answers, recommendation (NPS) answers, today's queue in every state and SLA colour, and the
managers' service KPI targets.

Tickets are submitted, opened, answered, resolved and closed through `feedback.services`, and
surveys answered through `feedback.surveys`, at past moments (`demo.clock`). Today's queue is
placed relative to the real clock (a ticket about to breach has to be due soon after the seed
runs), so it is the one part of the demo that is not before the start of the current day.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlsplit

from django.urls import resolve
from django.utils import timezone

from demo.clock import at, days_before
from demo.configured import configured
from demo.data import document
from feedback import services, surveys
from feedback.models import KpiTarget, SurveyResponse, Ticket
from members.models import Member

S = Ticket.Status


@dataclass
class FeedbackCounts:
    tickets: int = 0
    csat_answers: int = 0
    nps_answers: int = 0
    kpi_targets: int = 0


def _submit(rng: random.Random, member: Member, *, kind: str | None = None, channel: str = "web") -> Ticket:
    messages = document("feedback")["messages"]
    kind = kind or rng.choice(list(messages))
    return services.submit_feedback(
        kind=kind,
        message=rng.choice(messages[kind]),
        contact_name=member.name,
        phone=member.phone[3:],  # as a customer types it
        store=member.home_store,
        channel=channel,
        language="zh-hans",
    )


def _reply(ticket: Ticket, body: str, support) -> None:
    """A reply sent at the demo clock's moment. The seed runs in one transaction, so the send the
    reply leaves for after commit would run at the end, at today's time: it is sent now instead
    (by SMS through the configured provider — the development log provider in a demo), and the
    after-commit send then finds it done."""
    event = services.reply(ticket=ticket, body=body, actor=support)
    services.deliver_reply(delivery_id=event.delivery.pk)


def seed_history(
    counts: FeedbackCounts, *, members: list[Member], rng: random.Random, horizon: datetime.datetime, support
) -> None:
    """Tickets of the past eleven months, worked to the end: most answered in time, some late
    (flagged as breached when they were), resolved, most closed, many with a CSAT answer."""
    data = document("feedback")
    if not members:
        return
    count = max(12, min(data["history_tickets"], len(members) // 20))
    opened = sorted(days_before(horizon, rng, 330, 2) for _i in range(count))
    for index, start in enumerate(opened):
        member = rng.choice(members)
        with at(start):
            ticket = _submit(rng, member)
        with at(start + datetime.timedelta(minutes=rng.randint(5, 40))):
            ticket = services.change_status(ticket=ticket, to=S.OPEN, actor=support)
        late = index % 7 == 3  # one in seven answered after its first-response target
        if late and ticket.first_response_due:
            with at(ticket.first_response_due + datetime.timedelta(minutes=20)):
                services.flag_sla_breaches()
            answered = ticket.first_response_due + datetime.timedelta(minutes=rng.randint(30, 120))
        else:
            answered = start + datetime.timedelta(minutes=rng.randint(45, 150))
        with at(answered):
            _reply(ticket, rng.choice(data["replies"]), support)
        resolved = answered + datetime.timedelta(hours=rng.randint(1, 30))
        with at(resolved):
            ticket = services.change_status(ticket=ticket, to=S.RESOLVED, actor=support)
        if rng.random() < data["csat_share"]:
            with at(resolved + datetime.timedelta(hours=rng.randint(1, 20))):
                surveys.record_survey_response(
                    token=surveys.csat_token(ticket),
                    kind=SurveyResponse.Kind.CSAT,
                    score=rng.choices([5, 4, 3, 2, 1], weights=[50, 28, 12, 6, 4])[0],
                    comment=rng.choice(data["comments"]),
                )
            counts.csat_answers += 1
        if rng.random() < 0.8:
            with at(resolved + datetime.timedelta(days=3)):
                services.change_status(ticket=ticket, to=S.CLOSED, actor=support)
        counts.tickets += 1


def seed_queue(counts: FeedbackCounts, *, members: list[Member], rng: random.Random, support) -> None:
    """Today's queue, relative to now: in every state, on time, about to breach and breached."""
    if not members:
        return
    now = timezone.now()
    hours = datetime.timedelta(hours=1)
    # (age, status to reach, answered after): web tickets have 4 h to a first answer, 1 h of warning.
    queue = [
        (datetime.timedelta(minutes=20), S.NEW, None),  # new, on time
        (3 * hours + datetime.timedelta(minutes=20), S.NEW, None),  # about to breach
        (3 * hours + datetime.timedelta(minutes=35), S.OPEN, None),  # opened, about to breach
        (6 * hours, S.OPEN, None),  # breached: no first answer
        (30 * hours, S.NEW, None),  # breached long ago
        (5 * hours, S.OPEN, 1 * hours),  # answered in time, being worked
        (26 * hours, S.WAITING, 2 * hours),  # waiting on the customer
        (50 * hours, S.WAITING, 3 * hours),  # waiting, resolution overdue
        (20 * hours, S.RESOLVED, 1 * hours),  # resolved today
    ]
    for age, status, answered_after in queue:
        start = now - age
        with at(start):
            ticket = _submit(rng, rng.choice(members))
        if status != S.NEW:
            with at(start + datetime.timedelta(minutes=10)):
                ticket = services.change_status(ticket=ticket, to=S.OPEN, actor=support)
        if answered_after is not None:
            with at(start + answered_after):
                _reply(ticket, rng.choice(document("feedback")["replies"]), support)
        if status in (S.WAITING, S.RESOLVED):
            with at(start + answered_after + datetime.timedelta(minutes=5)):
                services.change_status(ticket=ticket, to=status, actor=support)
        counts.tickets += 1
    services.flag_sla_breaches(now=now)


def seed_nps(counts: FeedbackCounts, *, members: list[Member], rng: random.Random, horizon) -> None:
    """Answers to the recommendation survey over the year (links as the survey automation sends them)."""
    data = document("feedback")
    for member in rng.sample(members, min(len(members), max(10, min(data["nps_answers"], len(members) // 10)))):
        with at(days_before(horizon, rng, 330, 1)):
            link = surveys.nps_survey_link(member=member, channel="sms")
            surveys.record_survey_response(
                token=resolve(urlsplit(link).path).kwargs["token"],
                kind=SurveyResponse.Kind.NPS,
                score=rng.choices(range(11), weights=[1, 1, 1, 2, 2, 4, 6, 10, 18, 22, 20])[0],
            )
        counts.nps_answers += 1


def ensure_kpi_targets(counts: FeedbackCounts, *, horizon: datetime.datetime, manager) -> None:
    today = horizon.date()
    for row in document("feedback")["kpi_targets"]:
        if KpiTarget.objects.filter(metric=row["metric"], store__isnull=True).exists():
            continue
        configured(
            KpiTarget(
                metric=row["metric"],
                baseline_month=_month(today, -row["baseline_months_ago"]) if "baseline_months_ago" in row else None,
                change_percent=Decimal(row["change_percent"]) if "change_percent" in row else None,
                target_value=Decimal(row["target_value"]) if "target_value" in row else None,
                due_month=_month(today, row.get("due_months_ahead", 6)),
                set_by=manager,
            )
        )
        counts.kpi_targets += 1


def _month(day: datetime.date, months: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


# --- Issue 19: business hours, priority and the customer's wait ------------------------------------


def seed_service_desk(counts: FeedbackCounts, *, members: list[Member], rng: random.Random, support) -> None:
    """Business hours for the two teams (the member-service team works every day 9:00–21:00, after
    sales Monday to Friday 9:00–18:00, both closed on public holidays), VIP tickets of the best
    members (the seeded priority rules raise them and route them to the member-service team), and
    calls and chats typed in after the fact with the time the customer was answered — measured,
    not alarmed: met within three rings or 30 s, late after a minute — beside one call nobody
    answered (a real breach, alerted)."""
    from feedback import sla
    from feedback.models import BusinessCalendar, Team
    from members import loyalty

    if not members:
        return
    weekdays, _new = BusinessCalendar.objects.get_or_create(
        name="工作日 9:00–18:00",
        defaults={"weekdays": "12345", "opens_at": datetime.time(9), "closes_at": datetime.time(18)},
    )
    every_day, _new = BusinessCalendar.objects.get_or_create(
        name="每天 9:00–21:00",
        defaults={"weekdays": "1234567", "opens_at": datetime.time(9), "closes_at": datetime.time(21)},
    )
    vip_team, _new = Team.objects.get_or_create(
        name="会员专属服务", defaults={"lead": support, "calendar": every_day, "serves_vip": True}
    )
    vip_team.members.add(support)
    Team.objects.get_or_create(name="售后服务", defaults={"lead": support, "calendar": weekdays})

    now = timezone.now()
    minutes = datetime.timedelta(minutes=1)
    tiers = loyalty.snapshots(members)
    best = [m for m in members if tiers[m.pk].tier.code in ("diamond", "gold")][:3]
    for index, member in enumerate(best):  # VIP tickets: high or urgent, with the reason shown
        with at(now - (25 + 40 * index) * minutes):
            _submit(rng, member, kind="complaint" if index % 2 == 0 else "question")
        counts.tickets += 1
    typed_after = [  # (channel, minutes since the contact, answered within, kind)
        ("phone", 12, sla.ANSWERED_WITHIN["three_rings"], "complaint"),
        ("wechat", 35, sla.ANSWERED_WITHIN["30s"], "question"),
        ("phone", 50, sla.ANSWERED_WITHIN["1min"], "service_request"),  # answered late: breached, measured
        ("phone", 8, None, "complaint"),  # a missed call: nobody answered — a real breach
    ]
    messages = document("feedback")["messages"]
    for channel, ago, within, kind in typed_after:
        member = rng.choice(members)
        contacted = now - ago * minutes
        services.submit_feedback(
            kind=kind,
            message=rng.choice(messages[kind]) if kind in messages else rng.choice(messages["complaint"]),
            contact_name=member.name,
            phone=member.phone[3:],
            store=member.home_store,
            channel=channel,
            language="zh-hans",
            contacted_at=contacted,
            first_response_at=contacted + within if within is not None else None,
            actor=support,
        )
        counts.tickets += 1
    services.flag_sla_breaches(now=now)
