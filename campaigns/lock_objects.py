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
from django.db.models import F

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


def outbox_messages_for_update(message_ids: list[int], *, member_defer: tuple[str, ...] = ()) -> list[OutboxMessage]:
    """Lock a block of outbox rows in primary-key order, with their member (its sealed fields in
    `member_defer` left unread: a block of SMS needs no email or birthday decrypted) and their
    campaign's current status as `campaign_status` (the campaign itself the caller has already)."""
    return list(
        OutboxMessage.objects.select_for_update(of=("self",))
        .select_related("member")
        .defer(*(f"member__{name}" for name in member_defer))
        .annotate(campaign_status=F("campaign__status"))
        .filter(pk__in=sorted(set(message_ids)))
        .order_by("pk")
    )


def claimable_outbox_ids(queryset, limit: int) -> list[int]:
    """Lock up to `limit` rows of `queryset`, skipping rows another worker holds locked."""
    return list(
        queryset.select_for_update(skip_locked=True, of=("self",)).order_by("id").values_list("id", flat=True)[:limit]
    )


def contact_policy_for_update() -> ContactPolicy:
    ContactPolicy.load()  # the row exists (made again with the defaults if it was deleted)
    return ContactPolicy.objects.select_for_update().get(pk=1)


CONTACT_LOCK_CLASS = 7316  # the first key of the per-member contact locks


def lock_member_contact(member_id: int) -> None:
    """Serialise the frequency-cap check of one member across workers until the transaction ends.

    A PostgreSQL advisory lock keyed by the member id (no row of `members` is locked or written);
    SQLite runs one writer at a time anyway.
    """
    lock_member_contacts([member_id])


def lock_member_contacts(member_ids) -> None:
    """The contact locks of several members (a dispatch block) in one statement, taken in
    ascending key order so that two workers locking overlapping sets never deadlock: one waits
    for the other's transaction to end. `OFFSET 0` keeps the ordered subquery from being flattened,
    so the locks are taken in that order."""
    keys = sorted({member_id % 2_147_483_647 for member_id in member_ids})
    if not keys or connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(pg_advisory_xact_lock(%s, k.key)) FROM "
            "(SELECT key FROM unnest(%s::integer[]) AS u(key) ORDER BY key OFFSET 0) AS k",
            [CONTACT_LOCK_CLASS, keys],
        )


def event_for_update(event_id: int) -> Event:
    """The event's row: every change of its registrations (sign-up, waitlist, cancellation,
    promotion, check-in) holds it, so seats are counted and given out one writer at a time."""
    return Event.objects.select_for_update(of=("self",)).select_related("store").get(pk=event_id)
