"""What each role's home page shows on the first morning of the demo (loyalty_crm.home), through the
owning apps' services (one member in forty is born on the demo's first day: demo.members):
anniversaries this week at the clerk's store, a workshop
there today, open tickets assigned to the support login, this month's satisfaction answers, and the
birthday greeting switched on for marketing."""

from __future__ import annotations

import datetime
import random
from urllib.parse import urlsplit

from django.urls import resolve
from django.utils import timezone

from campaigns.models import Automation
from campaigns.services import automations as automation_services
from campaigns.services import events as event_services
from demo.clock import at
from feedback import services as feedback_services
from feedback import surveys
from feedback.models import SurveyResponse, Ticket
from members import services as member_services
from members.models import ImportantDate, Member


def seed_workspace(*, members: list[Member], store, rng: random.Random, horizon, support, marketing) -> None:
    """Run after the rest of the demo (the queue and the automations exist)."""
    today = timezone.localdate(horizon)
    store_pk = getattr(store, "pk", None)
    locals_ = [m for m in members if m.home_store_id == store_pk and m.status == Member.Status.ACTIVE]
    kinds = ((2, ImportantDate.Kind.ANNIVERSARY), (5, ImportantDate.Kind.PARTNER_BIRTHDAY))
    for member, (ahead, kind) in zip(locals_[:2], kinds, strict=False):
        day = today + datetime.timedelta(days=ahead)
        if not ImportantDate.objects.filter(member=member, month=day.month, day=day.day).exists():
            member_services.add_important_date(member=member, kind=kind, month=day.month, day=day.day, consent=True)
    if store is not None:
        starts = max(horizon + datetime.timedelta(hours=15), timezone.now() + datetime.timedelta(hours=1))
        if timezone.localdate(starts) == today:
            event_services.create_event(
                title="周末花艺小课堂", store=store, starts_at=starts, ends_at=starts + datetime.timedelta(hours=2),
                capacity=12, actor=marketing,
            )  # fmt: skip
    if support is not None:
        open_today = Ticket.objects.not_done().unassigned().filter(created_at__gte=horizon - datetime.timedelta(days=2))
        feedback_services.assign_tickets(tickets=list(open_today.order_by("pk")[:4]), actor=support, assignee=support)
    for member in rng.sample(members, min(4, len(members))):
        with at(max(horizon, timezone.now() - datetime.timedelta(minutes=30))):
            link = surveys.nps_survey_link(member=member, channel="sms")
            surveys.record_survey_response(
                token=resolve(urlsplit(link).path).kwargs["token"], kind=SurveyResponse.Kind.NPS,
                score=rng.choice([7, 8, 9, 10, 10]),
            )  # fmt: skip
    resolved = Ticket.objects.filter(
        status=Ticket.Status.RESOLVED, resolved_at__gte=horizon - datetime.timedelta(days=2)
    )
    for ticket in resolved.exclude(survey_responses__isnull=False).order_by("pk")[:2]:
        with at(max(horizon, timezone.now() - datetime.timedelta(minutes=20))):
            surveys.record_survey_response(
                token=resolve(urlsplit(surveys.csat_survey_link(ticket)).path).kwargs["token"],
                kind=SurveyResponse.Kind.CSAT, score=rng.choice([4, 5]),
            )  # fmt: skip
    birthday = Automation.objects.filter(kind=Automation.Kind.BIRTHDAY, enabled=False).first()
    if birthday is not None:
        automation_services.update_automation(automation=birthday, enabled=True, days_before=3, actor=marketing)
