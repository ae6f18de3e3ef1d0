"""The personal sign-up link of an event invitation (`{{ event_link }}`): signed, for one member.

The token names the event and the member (by member number) and is signed with Django's
`signing` under its own salt, so it proves who the member is without a sign-in; it expires after
LINK_MAX_AGE (and an event that has started takes no sign-up anyway). No database writes here.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from campaigns import personal_variables

SALT = "campaigns.event-link"
LINK_MAX_AGE = datetime.timedelta(days=60)


@dataclass(frozen=True)
class LinkData:
    event_id: int
    member_no: str


def make_token(*, event_id: int, member_no: str) -> str:
    return signing.dumps({"e": event_id, "m": member_no}, salt=SALT, compress=True)


def read_token(token: str) -> LinkData | None:
    """The event and member a token names; None when it is forged, altered or expired."""
    try:
        data = signing.loads(token, salt=SALT, max_age=LINK_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("e"), int) or not isinstance(data.get("m"), str):
        return None
    return LinkData(event_id=data["e"], member_no=data["m"])


def link_for(*, event_id: int, member_no: str) -> str:
    path = reverse("centre:event_link", args=[make_token(event_id=event_id, member_no=member_no)])
    return settings.SITE_URL.rstrip("/") + path


def resolve_event_link(campaign, member) -> str:
    """The `{{ event_link }}` of `member` in `campaign`: "" unless the campaign invites to an event."""
    from campaigns.models import EventInvitation

    event_id = EventInvitation.objects.filter(campaign_id=campaign.pk).values_list("event_id", flat=True).first()
    if event_id is None:
        return ""
    return link_for(event_id=event_id, member_no=member.member_no)


EVENT_LINK = personal_variables.PersonalVariable(
    name="event_link",
    label=_("Personal sign-up link to the event"),
    sample="https://crm.example.com/m/events/link/" + "x" * 60 + "/",
    resolve=resolve_event_link,
)
