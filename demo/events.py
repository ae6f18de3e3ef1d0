"""The member events' demo: a past flower-arranging salon with its sign-ups and attendance (so
its results page has figures) and a workshop coming in a few days with sign-ups and a waitlist (so
the check-in page, /m/events/ and the API show something). Everything through
`campaigns.services.events`, at past moments for the past event (`demo.clock`). A second run adds
nothing (the events are found by title)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from campaigns.models import Automation, Event
from campaigns.services import automations, dispatch
from campaigns.services import events as event_services
from campaigns.services.campaigns import launch_campaign
from demo.campaigns import send_due
from demo.clock import at, day_at
from loyalty_crm.errors import DomainError
from members.models import Member

PAST_TITLE = "插花沙龙·秋日花束"
COMING_TITLE = "会员专属花艺工作坊：圣诞花环"


@dataclass
class EventCounts:
    events: int = 0
    invited: int = 0
    registrations: int = 0
    attended: int = 0


def seed_events(counts: EventCounts, *, members: list[Member], store, horizon: datetime.datetime, staff=None) -> None:
    reminder = Automation.objects.filter(kind=Automation.Kind.EVENT_REMINDER, enabled=False).first()
    if reminder is not None:  # the reminder the day before, switched on as a shop would
        automations.update_automation(automation=reminder, enabled=True, actor=staff)
    if Event.objects.filter(title__in=[PAST_TITLE, COMING_TITLE]).exists() or not members:
        return
    guests = [m for m in members if m.status == Member.Status.ACTIVE][:24]
    today = horizon.date()
    past_start = day_at(today - datetime.timedelta(days=21), 14)
    with at(day_at(past_start.date() - datetime.timedelta(days=12), 11)):
        past = event_services.create_event(
            title=PAST_TITLE, kind=Event.Kind.WORKSHOP, store=store, starts_at=past_start,
            ends_at=past_start + datetime.timedelta(hours=2), capacity=12,
            description="花艺师带您用当季花材做一束秋日花束，材料费已含。", actor=staff,
        )  # fmt: skip
        counts.events += 1
        # The invitation: a campaign to every member with each one's signed link, sent as any campaign.
        invitation = event_services.invite_segment(event=past, segment=None, actor=staff)
        launch_campaign(campaign=invitation, actor=staff)
        dispatch.start_campaign(campaign_id=invitation.pk)
        counts.invited += send_due()
    with at(past_start - datetime.timedelta(days=10)):
        for index, member in enumerate(guests[:12]):
            _sign_up(counts, past, member, f"demo-past-{index}")
    with at(past_start + datetime.timedelta(minutes=10)):
        for member in guests[:9]:
            if event_services.check_in(event=past, code=member.member_no, actor=staff).outcome == "checked_in":
                counts.attended += 1
    coming_start = day_at(today + datetime.timedelta(days=5), 15)
    coming = event_services.create_event(
        title=COMING_TITLE, kind=Event.Kind.WORKSHOP, store=store, starts_at=coming_start,
        ends_at=coming_start + datetime.timedelta(hours=2), capacity=8, points_cost=50,
        description="亲手制作一只圣诞花环带回家。每位会员限报一席，每席 50 积分。",
        cancellation_deadline=coming_start - datetime.timedelta(days=1), actor=staff,
    )  # fmt: skip
    counts.events += 1
    for index, member in enumerate(guests[12:24]):
        _sign_up(counts, coming, member, f"demo-coming-{index}")


def _sign_up(counts: EventCounts, event: Event, member: Member, key: str) -> None:
    try:
        event_services.register_member(event=event, member=member, idempotency_key=key)
    except DomainError:  # a member short of points for the seat simply does not come
        return
    counts.registrations += 1
