"""Helpers for member-event tests: events through the service, members with points."""

from __future__ import annotations

import datetime
import itertools

from django.utils import timezone

from campaigns.services import events as event_services
from rewards.services.grants import grant_points
from tests.members import factories

_keys = itertools.count(1)


def event(*, capacity=10, starts_in=datetime.timedelta(days=3), hours=2, **fields):
    starts_at = timezone.now() + starts_in
    fields.setdefault("title", "春季插花沙龙")
    return event_services.create_event(
        starts_at=starts_at, ends_at=starts_at + datetime.timedelta(hours=hours), capacity=capacity, **fields
    )


def member(points: int = 0, sms_consent: bool = False, **kwargs):
    if sms_consent:
        kwargs["consents"] = {"marketing_sms": True}
    made = factories.member(**kwargs)
    if points:
        grant_points(member=made, points=points, reason="test points")
    return made


def key() -> str:
    return f"key-{next(_keys)}"


def sign_up(made_event, made_member, **kwargs):
    kwargs.setdefault("idempotency_key", key())
    return event_services.register_member(event=made_event, member=made_member, **kwargs)
