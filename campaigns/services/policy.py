"""The contact policy and opting out."""

from __future__ import annotations

import datetime
import logging
import zoneinfo
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from campaigns import lock_objects
from campaigns.channels import read_unsubscribe_token
from campaigns.models import ContactPolicy
from campaigns.selectors import consent_topic
from members.models import ConsentSource, Member
from members.services import set_consents

logger = logging.getLogger(__name__)

POLICY_FIELDS = (
    "quiet_hours_start", "quiet_hours_end", "timezone", "frequency_cap_messages", "frequency_cap_days",
    "email_rate", "sms_rate", "wechat_rate", "email_daily_budget", "sms_daily_budget", "wechat_daily_budget",
)  # fmt: skip


@transaction.atomic
def update_contact_policy(*, actor=None, **changes) -> ContactPolicy:
    """Change the contact policy; quiet hours are both set or both empty, numbers at least 1."""
    unknown = set(changes) - set(POLICY_FIELDS)
    if unknown:
        raise ValidationError({name: [_("This field cannot be changed.")] for name in sorted(unknown)})
    policy = lock_objects.contact_policy_for_update()
    for name, value in changes.items():
        setattr(policy, name, value)
    errors: dict[str, list[str]] = {}
    if (policy.quiet_hours_start is None) != (policy.quiet_hours_end is None):
        errors["quiet_hours"] = [_("Give both the start and the end of quiet hours, or neither.")]
    elif policy.quiet_hours_start is not None and policy.quiet_hours_start == policy.quiet_hours_end:
        errors["quiet_hours"] = [_("Quiet hours must start and end at different times.")]
    for name in ("frequency_cap_messages", "frequency_cap_days", "email_rate", "sms_rate", "wechat_rate"):
        if not isinstance(getattr(policy, name), int) or getattr(policy, name) < 1:
            errors[name] = [_("Must be at least 1.")]
    for name in ("email_daily_budget", "sms_daily_budget", "wechat_daily_budget"):
        if not isinstance(getattr(policy, name), int) or getattr(policy, name) < 0:
            errors[name] = [_("Must be 0 (no limit) or more.")]
    try:
        zoneinfo.ZoneInfo(policy.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        errors["timezone"] = [_("Unknown time zone “%(zone)s”.") % {"zone": policy.timezone}]
    if errors:
        raise ValidationError(errors)
    policy.save()
    logger.info("contact policy changed by %s: %s", getattr(actor, "pk", None), sorted(changes))
    return policy


@dataclass(frozen=True)
class Unsubscribed:
    member: Member
    channel: str
    changed: bool


def member_for_unsubscribe_token(token: str) -> tuple[Member, str] | None:
    read = read_unsubscribe_token(token)
    if read is None:
        return None
    member_no, channel = read
    member = Member.objects.filter(member_no=member_no).first()
    return (member, channel) if member else None


@transaction.atomic
def unsubscribe(*, token: str, at: datetime.datetime | None = None) -> Unsubscribed | None:
    """Withdraw the marketing consent a signed unsubscribe link names (None if the link is not
    valid). Recorded in the member's consent history (source "unsubscribe link") and honoured at
    once: every message not yet handed to a channel checks consent again."""
    found = member_for_unsubscribe_token(token)
    if found is None:
        return None
    member, channel = found
    events = set_consents(
        member=member, consents={consent_topic(channel): False}, source=ConsentSource.UNSUBSCRIBE, at=at
    )
    return Unsubscribed(member=member, channel=channel, changed=bool(events))
