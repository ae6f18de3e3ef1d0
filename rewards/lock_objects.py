"""Every `select_for_update` of `rewards` in one place.

Lock order, always: the member row, then the purchase (refunds), then the points account, then
lots. Every writer takes the member lock first, so a member's postings, refunds and adjustments
run one after another and cannot deadlock each other.
"""

from __future__ import annotations

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
    """
    member_ids = PointsAccount.objects.filter(pk__in=account_ids).order_by().values_list("member_id", flat=True)
    list(Member.objects.select_for_update(no_key=True).filter(pk__in=member_ids).order_by("pk").values_list("pk"))
    return set(
        PointsAccount.objects.select_for_update().filter(pk__in=account_ids).order_by("pk").values_list("pk", flat=True)
    )
