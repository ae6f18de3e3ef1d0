"""The checkout quote: what a basket costs a member after the tier discount and a coupon, and the
points it would earn. A quote reads only; nothing is written or reserved.

Order and rounding (docs/rules/catalogue.md, "Checkout quote"):
1. subtotal = Σ quantity × unit price − line discount;
2. tier discount = subtotal × the tier's discount percent, rounded half up to the cent;
3. the coupon applies to what is left (subtotal − tier discount): its minimum spend is checked
   against that amount; a fixed amount is capped at it, a percentage is rounded half up to the cent;
4. total = subtotal − tier discount − coupon discount (never below 0);
5. points to earn = the earning preview on the total actually paid.
Free delivery comes from the tier (Diamond), a paid membership plan in force with free delivery, or
a valid free-delivery coupon.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from members.models import Member
from members.services import PurchaseLine
from rewards.models import PointsAccount, Tier
from rewards.selectors import active_membership, entry_tier
from rewards.services import coupons as coupon_services
from rewards.services.earning import preview_points

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Quote:
    subtotal: Decimal
    tier: Tier
    tier_discount: Decimal
    coupon_discount: Decimal
    total: Decimal
    points_to_earn: int
    free_delivery: bool
    coupon: coupon_services.CouponCheck | None


def _points_to_earn(*, member: Member, items: list[PurchaseLine], total: Decimal) -> int:
    """The one place the quote asks the earning rules: the member's tier and paid plan count, as
    at the till (the store channel, now)."""
    return preview_points(items=items, total=total, member=member).points


def _plan_gives_free_delivery(member: Member) -> bool:
    subscription = active_membership(member)
    return bool(subscription and subscription.plan.free_delivery)


def tier_discount(*, subtotal: Decimal, percent: Decimal) -> Decimal:
    return (subtotal * Decimal(percent) / 100).quantize(CENT, rounding=ROUND_HALF_UP)


def quote_checkout(*, member: Member, items: list[PurchaseLine], coupon_code: str | None = None) -> Quote:
    """Price a basket for `member` (see the module's docstring for the order and rounding).

    An unusable coupon does not fail the quote: it gives no discount and the quote's `coupon`
    says why (the same reasons as `validate_coupon`).
    """
    subtotal = sum(
        (Decimal(item.unit_price) * item.quantity - Decimal(item.discount or 0) for item in items), ZERO
    ).quantize(CENT, rounding=ROUND_HALF_UP)
    subtotal = max(subtotal, ZERO)
    account = PointsAccount.objects.select_related("tier").filter(member=member).first()
    tier = account.tier if account else entry_tier()
    off_for_tier = min(tier_discount(subtotal=subtotal, percent=tier.discount_percent), subtotal)
    after_tier = subtotal - off_for_tier
    check = None
    off_for_coupon = ZERO
    if coupon_code:
        check = coupon_services.validate_coupon(code=coupon_code, member=member, order_total=after_tier)
        if check.valid:
            off_for_coupon = check.discount
    total = max(after_tier - off_for_coupon, ZERO)
    return Quote(
        subtotal=subtotal,
        tier=tier,
        tier_discount=off_for_tier,
        coupon_discount=off_for_coupon,
        total=total,
        points_to_earn=_points_to_earn(member=member, items=items, total=total),
        free_delivery=bool(
            tier.free_delivery or (check is not None and check.free_delivery) or _plan_gives_free_delivery(member)
        ),
        coupon=check,
    )
