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
    # `of=("self",)`: lock the account, not the tier row joined in (that would queue every posting
    # of a tier behind one another on PostgreSQL).
    return (
        PointsAccount.objects.select_for_update(of=("self",)).select_related("tier").filter(member_id=member_id).first()
    )


def open_lots_for_update(account_id: int):
    """The account's lots with points left, oldest expiry first (FIFO), in a stable order."""
    return (
        PointsLot.objects.select_for_update()
        .filter(account_id=account_id, remaining__gt=0)
        .order_by("expires_on", "id")
    )
