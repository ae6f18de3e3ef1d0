"""Every `select_for_update` of `rewards` in one place.

Lock order, always: the member row, then the purchase (refunds), then the points account, then
lots. Every writer takes the member lock first, so a member's postings, refunds and adjustments
run one after another and cannot deadlock each other.
"""

from __future__ import annotations

from django.db import connection

from members.models import Member, Purchase
from rewards.models import PointsAccount, PointsLot


def member_for_update(member_id: int) -> Member:
    return Member.objects.select_for_update().get(pk=member_id)


def purchase_for_update(purchase_id: int) -> Purchase:
    return Purchase.objects.select_for_update().get(pk=purchase_id)


def account_for_update(member_id: int) -> PointsAccount | None:
    return PointsAccount.objects.select_for_update().select_related("tier").filter(member_id=member_id).first()


def open_lots_for_update(account_id: int):
    """The account's lots with points left, oldest expiry first (FIFO), in a stable order."""
    return (
        PointsLot.objects.select_for_update()
        .filter(account_id=account_id, remaining__gt=0)
        .order_by("expires_on", "id")
    )


def members_and_accounts_for_reevaluation(account_ids: list[int]) -> set[int]:
    """Lock, in the usual order, the members of these accounts, then the accounts (each by primary
    key); returns the ids of the accounts locked.

    The member rows are locked FOR NO KEY UPDATE: that still queues behind (and holds off) the
    member lock of a posting, refund or adjustment, but lets the nightly expiry's inserts check
    their foreign key to the member (FOR KEY SHARE) while it holds an account this batch wants.
    Raw SQL with one array parameter on PostgreSQL: ten thousand ids in an IN list cost more to
    send and parse than the locking itself. SQLite locks the whole file instead.
    """
    if connection.vendor != "postgresql":
        return set(PointsAccount.objects.filter(pk__in=account_ids).values_list("pk", flat=True))
    quote = connection.ops.quote_name
    member, account = quote(Member._meta.db_table), quote(PointsAccount._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT m.id FROM {member} m WHERE m.id IN (SELECT a.member_id FROM {account} a WHERE a.id = ANY(%s)) "  # noqa: S608
            f"ORDER BY m.id FOR NO KEY UPDATE",
            [list(account_ids)],
        )
        cursor.fetchall()
        cursor.execute(
            f"SELECT a.id FROM {account} a WHERE a.id = ANY(%s) ORDER BY a.id FOR UPDATE",  # noqa: S608
            [list(account_ids)],
        )
        return {row[0] for row in cursor.fetchall()}
