"""Every row lock of `campaigns` in one place.

Lock order: members (by primary key, as every writer of `rewards` locks them first), the
campaign, then outbox rows (by primary key), then the per-member contact lock. A member event is
locked before anything else its services touch (then `rewards` locks the member and account to take
or give back a seat's points); nothing locks a member before an event.

Only services call these (inside their transaction); a lock writes nothing, so this module is the
one place outside `campaigns/services/` allowed `select_for_update` (tests/test_layering.py).
"""

from __future__ import annotations

from django.db import connection

from campaigns.models import Campaign, ContactPolicy, Event, OutboxMessage
from members.models import Member


def members_for_update(member_ids: list[int]) -> list[Member]:
    """Lock the members' rows in primary-key order (every writer of `rewards` locks the member first)."""
    return list(Member.objects.select_for_update().filter(pk__in=sorted(set(member_ids))).order_by("pk"))


def campaign_for_update(campaign_id: int) -> Campaign:
    return Campaign.objects.select_for_update(of=("self",)).select_related("segment").get(pk=campaign_id)


def outbox_message_for_update(message_id: int) -> OutboxMessage | None:
    return (
        OutboxMessage.objects.select_for_update(of=("self",))
        .select_related("campaign__message_template", "member")
        .filter(pk=message_id)
        .first()
    )


def claimable_outbox_ids(queryset, limit: int) -> list[int]:
    """Lock up to `limit` rows of `queryset`, skipping rows another worker holds locked."""
    return list(
        queryset.select_for_update(skip_locked=True, of=("self",)).order_by("id").values_list("id", flat=True)[:limit]
    )


def contact_policy_for_update() -> ContactPolicy:
    ContactPolicy.load()  # the row exists (made again with the defaults if it was deleted)
    return ContactPolicy.objects.select_for_update().get(pk=1)


def lock_member_contact(member_id: int) -> None:
    """Serialise the frequency-cap check of one member across workers until the transaction ends.

    A PostgreSQL advisory lock keyed by the member id (no row of `members` is locked or written);
    SQLite runs one writer at a time anyway.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [7316, member_id % 2_147_483_647])


def event_for_update(event_id: int) -> Event:
    """The event's row: every change of its registrations (sign-up, waitlist, cancellation,
    promotion, check-in) holds it, so seats are counted and given out one writer at a time."""
    return Event.objects.select_for_update(of=("self",)).select_related("store").get(pk=event_id)
