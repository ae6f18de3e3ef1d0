"""Every `select_for_update` of `rewards` in one place.

Lock order, always: the member row, then the purchase (refunds) or the redemption (cancellation),
then the points account, then the reward (stock), then coupons, then lots. Every writer takes the
member lock first, so a member's postings, refunds, adjustments and redemptions run one after
another and cannot deadlock each other; a reward row is shared by many members, so it is taken
after the member's own rows and held only to the end of one member's transaction.
"""

from __future__ import annotations

from members.models import Member, Purchase
from rewards.models import Coupon, PointsAccount, PointsLot, Redemption, Reward


def member_for_update(member_id: int) -> Member:
    return Member.objects.select_for_update().get(pk=member_id)


def purchase_for_update(purchase_id: int) -> Purchase:
    return Purchase.objects.select_for_update().get(pk=purchase_id)


def redemption_for_update(redemption_id: int) -> Redemption:
    return Redemption.objects.select_for_update(of=("self",)).select_related("reward").get(pk=redemption_id)


def account_for_update(member_id: int) -> PointsAccount | None:
    return PointsAccount.objects.select_for_update().select_related("tier").filter(member_id=member_id).first()


def open_lots_for_update(account_id: int):
    """The account's lots with points left, oldest expiry first (FIFO), in a stable order."""
    return (
        PointsLot.objects.select_for_update()
        .filter(account_id=account_id, remaining__gt=0)
        .order_by("expires_on", "id")
    )


def reward_for_update(reward_id: int) -> Reward:
    return Reward.objects.select_for_update().get(pk=reward_id)


def coupons_for_update(*, redemption_id: int):
    """A redemption's coupons, in primary-key order."""
    return Coupon.objects.select_for_update().filter(redemption_id=redemption_id).order_by("pk")


def coupon_for_update(code: str) -> Coupon | None:
    return Coupon.objects.select_for_update(of=("self",)).select_related("member").filter(code=code).first()
