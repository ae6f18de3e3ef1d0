"""Helpers for campaign tests: members with consents, campaigns through the services, and a run
of the dispatch loop in the test process."""

from __future__ import annotations

import datetime
import itertools

from django.utils import timezone

from campaigns import services
from campaigns.models import Campaign, ContactPolicy
from campaigns.services import dispatch
from tests.members import factories

_emails = itertools.count(1)


def member(*, email_consent=False, sms_consent=False, email: str | None = "auto", **kwargs):
    if email == "auto":
        email = f"customer{next(_emails)}@example.com"
    consents = {"marketing_email": email_consent, "marketing_sms": sms_consent}
    return factories.member(email=email, consents=consents, **kwargs)


def campaign(*, channel="sms", body="{{ member.name }}您好，您有{{ points_balance }}积分。", actor=None, **kwargs):
    kwargs.setdefault("name", "春季回馈")
    if channel == "email":
        kwargs.setdefault("subject", "{{ member.name }}，春天的花开了")
    return services.create_campaign(channel=channel, body=body, actor=actor, **kwargs).campaign


def no_quiet_hours(**changes) -> ContactPolicy:
    return services.update_contact_policy(quiet_hours_start=None, quiet_hours_end=None, **changes)


def launched(made: Campaign, *, now: datetime.datetime | None = None) -> Campaign:
    services.launch_campaign(campaign=made, now=now)
    dispatch.start_campaign(campaign_id=made.pk, now=now or timezone.now())
    made.refresh_from_db()
    return made


def drain(owner: str = "test-worker", batch_size: int = 50) -> None:
    """Run dispatch batches in this process until nothing is claimable."""
    while dispatch.dispatch_batch(owner=owner, batch_size=batch_size).claimed:
        pass
