"""The checkout quote: what a basket costs after the tier discount, a coupon and points paid, and
the points it would earn. A quote reads only; nothing is written or reserved. Posting a till's
purchase (`rewards.services.purchases.post_purchase` with member pricing) calls the same function
under the member's lock, so the recorded purchase is priced exactly as quoted.

Order and rounding (docs/rules/catalogue.md, "Checkout quote"; docs/rules/points.md, "Paying with
points"):
1. subtotal = Σ quantity × unit price − line discount;
2. tier discount = subtotal × the tier's discount percent, rounded half up to the cent;
3. the coupon applies to what is left (subtotal − tier discount): its minimum spend is checked
   against that amount; a fixed amount is capped at it, a percentage is rounded half up to the cent;
4. total = subtotal − tier discount − coupon discount (never below 0);
5. points as payment (`rewards.rules.points_payment`): at most the balance, at most the settings'
   percent of the total (less the delivery line when points may not pay delivery), in whole
   steps of the rate, none below the minimum per use; amount due = total − their value;
6. points to earn = the earning preview on the amount due only: points never earn points;
7. tier after = the tier the member's qualifying figure reaches with this purchase (never lower).
A walk-in (no member) gets no tier discount, no coupon, no points and earns nothing.
Free delivery comes from the tier (Diamond), a paid membership plan in force with free delivery, or
a valid free-delivery coupon.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext as _

from members.models import Member
from members.services import PurchaseLine
from rewards import rules
from rewards.models import PointsAccount, Tier, TierPolicy
from rewards.selectors import active_membership, entry_tier, points_payment_settings, tier_levels, tiers
from rewards.services import coupons as coupon_services
from rewards.services import tiers as tier_rules
from rewards.services.earning import preview_points

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
WALK_IN = "walk_in"  # the coupon check's reason for a customer who is not a member


@dataclass(frozen=True)
class Quote:
    subtotal: Decimal
    tier: Tier | None  # None for a walk-in
    tier_discount: Decimal
    coupon_discount: Decimal
    total: Decimal  # after the discounts, before points
    points_to_earn: int  # on amount_due only
    free_delivery: bool
    coupon: coupon_services.CouponCheck | None
    points_balance: int = 0
    points_max: int = 0
    points_used: int = 0
    points_value: Decimal = ZERO
    amount_due: Decimal = ZERO  # total − points_value: the money to pay
    points_message: str = ""
    tier_after: Tier | None = None


def _points_to_earn(*, member: Member, items: list[PurchaseLine], paid: Decimal) -> int:
    """The one place the quote asks the earning rules: the member's tier and paid plan count, as
    at the till (the store channel, now), on the money paid."""
    return preview_points(items=items, total=paid, member=member).points


def _plan_gives_free_delivery(member: Member) -> bool:
    subscription = active_membership(member)
    return bool(subscription and subscription.plan.free_delivery)


def tier_discount(*, subtotal: Decimal, percent: Decimal) -> Decimal:
    return (subtotal * Decimal(percent) / 100).quantize(CENT, rounding=ROUND_HALF_UP)


def subtotal_of(items: list[PurchaseLine]) -> Decimal:
    subtotal = sum(
        (Decimal(str(item.unit_price)) * item.quantity - Decimal(str(item.discount or 0)) for item in items), ZERO
    ).quantize(CENT, rounding=ROUND_HALF_UP)
    return max(subtotal, ZERO)


def walk_in_coupon_check() -> coupon_services.CouponCheck:
    return coupon_services.CouponCheck(
        valid=False,
        discount=ZERO,
        reason=WALK_IN,
        detail=_("A walk-in customer cannot use a coupon: coupons belong to members."),
    )


def points_message(short_by: str, *, payment: rules.PointsPayment, config, balance: int = 0) -> str:
    """Why fewer points than asked were used, in the staff's language ("" when all were used)."""
    if not short_by:
        return ""
    if short_by == rules.POINTS_WALK_IN:
        return _("A walk-in customer has no points to pay with.")
    if short_by == rules.POINTS_OFF:
        return _("Paying with points is switched off.")
    if short_by == rules.POINTS_BELOW_MINIMUM:
        return _("At least %(min)d points must be used at once.") % {"min": config.min_points}
    if short_by == rules.POINTS_BALANCE:
        return _("The member has only %(balance)d points.") % {"balance": balance}
    if short_by == rules.POINTS_CAP:
        return _("Points may pay at most %(percent)d%% of this order: %(max)d points.") % {
            "percent": config.max_percent,
            "max": payment.points_max,
        }
    return _("Points are used in steps of %(step)d: %(used)d are used.") % {
        "step": rules.points_step(config.points_per_yuan),
        "used": payment.points_used,
    }


def _payable(items: list[PurchaseLine], *, total: Decimal, subtotal: Decimal, config) -> Decimal:
    """The part of `total` points may pay: all of it, or without the delivery line's share when
    points may not pay delivery (the line's share of the discounted total)."""
    if config.covers_delivery or not config.delivery_sku:
        return total
    delivery = sum(
        (
            Decimal(str(item.unit_price)) * item.quantity - Decimal(str(item.discount or 0))
            for item in items
            if item.sku == config.delivery_sku
        ),
        ZERO,
    )
    if delivery <= 0 or subtotal <= 0:
        return total
    return max(total - (total * delivery / subtotal).quantize(CENT, rounding=ROUND_HALF_UP), ZERO)


def tier_reached(
    account: PointsAccount | None, *, tier: Tier, spend: Decimal, points: int, all_tiers: list[Tier] | None = None
) -> Tier:
    """The tier the member holds after adding `spend` (money) and `points` (earned) to their
    qualifying figure under the tier policy; never below `tier` (a purchase only upgrades)."""
    all_tiers = all_tiers if all_tiers is not None else tiers()
    policy = tier_rules.tier_policy()
    figure = tier_rules.qualifying_figure(account, policy=policy) if account is not None else Decimal("0")
    if policy.basis in (TierPolicy.Basis.LIFETIME_SPEND, TierPolicy.Basis.WINDOW_SPEND):
        figure += spend
    else:
        figure += points
    level = rules.tier_for_spend(tier_levels(all_tiers), figure)
    reached = next((t for t in all_tiers if t.pk == level.id), tier)
    return reached if reached.rank > tier.rank else tier


def quote_checkout(
    *,
    member: Member | None,
    items: list[PurchaseLine],
    coupon_code: str | None = None,
    points_to_use: int = 0,
    account: PointsAccount | None = None,
    for_posting: bool = False,
) -> Quote:
    """Price a basket for `member`, or for a walk-in (`member` None) (see the module's docstring
    for the order and rounding).

    An unusable coupon does not fail the quote: it gives no discount and the quote's `coupon`
    says why (the same reasons as `validate_coupon`, and `walk_in`). Points asked beyond what is
    allowed are clamped, and `points_message` says why. `account`: the member's account already
    read (and locked) by the caller — posting passes it so the balance is the locked one.
    `for_posting`: only the prices (posting computes the earning, the tier and delivery itself,
    so `points_to_earn` is 0, `tier_after` None and `free_delivery` False: no queries for them).
    """
    subtotal = subtotal_of(items)
    config = points_payment_settings()
    asked = max(int(points_to_use or 0), 0)
    if member is None:
        check = walk_in_coupon_check() if coupon_code else None
        payment = rules.points_payment(total=subtotal, payable=subtotal, balance=0, asked=asked, terms=None)
        return Quote(
            subtotal=subtotal,
            tier=None,
            tier_discount=ZERO,
            coupon_discount=ZERO,
            total=subtotal,
            points_to_earn=0,
            free_delivery=False,
            coupon=check,
            amount_due=subtotal,
            points_message=points_message(payment.short_by, payment=payment, config=config),
        )
    if account is None:
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
    balance = account.balance if account else 0
    payment = rules.points_payment(
        total=total,
        payable=_payable(items, total=total, subtotal=subtotal, config=config),
        balance=balance,
        asked=asked,
        terms=config.terms,
    )
    if for_posting:
        return Quote(
            subtotal=subtotal,
            tier=tier,
            tier_discount=off_for_tier,
            coupon_discount=off_for_coupon,
            total=total,
            points_to_earn=0,
            free_delivery=False,
            coupon=check,
            points_balance=balance,
            points_max=payment.points_max,
            points_used=payment.points_used,
            points_value=payment.points_value,
            amount_due=payment.amount_due,
            points_message=points_message(payment.short_by, payment=payment, config=config, balance=balance),
        )
    points_to_earn = _points_to_earn(member=member, items=items, paid=payment.amount_due)
    return Quote(
        subtotal=subtotal,
        tier=tier,
        tier_discount=off_for_tier,
        coupon_discount=off_for_coupon,
        total=total,
        points_to_earn=points_to_earn,
        free_delivery=bool(
            tier.free_delivery or (check is not None and check.free_delivery) or _plan_gives_free_delivery(member)
        ),
        coupon=check,
        points_balance=balance,
        points_max=payment.points_max,
        points_used=payment.points_used,
        points_value=payment.points_value,
        amount_due=payment.amount_due,
        points_message=points_message(payment.short_by, payment=payment, config=config, balance=balance),
        tier_after=tier_reached(account, tier=tier, spend=payment.amount_due, points=points_to_earn),
    )
