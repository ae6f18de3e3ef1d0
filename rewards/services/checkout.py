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
6. stored value as a tender (`tenders=[Tender("stored_value", amount)]`): at most the balance
   (principal + bonus) and at most what is left to pay after points; amount due = the rest, to pay
   in money. It is split between principal and bonus as the payment will be
   (`stored_value.split_payment`, the one function);
7. points to earn = the earning preview on the money paid: the amount due plus the principal share
   of the stored value, never the points' value nor the bonus share (the shop's own money) unless
   the managed setting says so (`earning.earning_base`, the one rule the posting uses too);
8. tier after = the tier the member's qualifying figure reaches with this purchase (never lower).
A walk-in (no member) gets no tier discount, no coupon, no points and earns nothing.
Free delivery comes from the tier (Diamond), a paid membership plan in force with free delivery, or
a valid free-delivery coupon.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from members.models import Member
from members.services import PurchaseLine
from rewards import rules
from rewards.models import PointsAccount, StoredValueAccount, Tier, TierPolicy
from rewards.selectors import active_membership, entry_tier, points_payment_settings, tier_levels, tiers
from rewards.services import coupons as coupon_services
from rewards.services import tiers as tier_rules
from rewards.services.earning import earning_base, preview_points
from rewards.services.stored_value import MAX_STORED_VALUE_AMOUNT, split_payment

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
WALK_IN = "walk_in"  # the coupon check's reason for a customer who is not a member
STORED_VALUE = "stored_value"  # the one tender besides money and points
TENDER_KINDS = (STORED_VALUE,)


@dataclass(frozen=True)
class Tender:
    """A means of payment other than money and points: `kind` (only "stored_value") and `amount`."""

    kind: str
    amount: Decimal


def tender_error(message: str) -> ValidationError:
    return ValidationError({"tenders": [message]})


def stored_value_asked(tenders) -> Decimal:
    """The stored value a list of tenders asks to pay (0.00 when none). Each tender is a `Tender` or
    a mapping with `kind` and `amount`. Raises ValidationError (field `tenders`) naming the problem:
    an unknown kind, a kind given twice, an amount that is not money in whole cents, negative or
    above the stored-value limit."""
    asked = ZERO
    seen: set[str] = set()
    for tender in tenders or []:
        if isinstance(tender, Tender):
            kind, amount = tender.kind, tender.amount
        elif isinstance(tender, dict):
            kind, amount = tender.get("kind"), tender.get("amount")
        else:
            raise tender_error(_("Each tender is a kind and an amount."))
        if kind not in TENDER_KINDS:
            raise tender_error(_("Unknown tender “%(kind)s”: the tender may be “stored_value”.") % {"kind": kind})
        if kind in seen:
            raise tender_error(_("The tender “%(kind)s” is given twice.") % {"kind": kind})
        seen.add(kind)
        try:
            value = Decimal(str(amount))
        except (ArithmeticError, ValueError, TypeError):
            value = None
        if value is None or not value.is_finite() or value != value.quantize(CENT):
            raise tender_error(_("A tender's amount is money in yuan with at most two decimal places."))
        if value < 0:
            raise tender_error(_("A tender's amount cannot be negative."))
        if value > MAX_STORED_VALUE_AMOUNT:
            raise tender_error(
                _("At most ¥%(max)s may be paid from stored value at a time.") % {"max": f"{MAX_STORED_VALUE_AMOUNT:,}"}
            )
        asked = value.quantize(CENT)
    return asked


@dataclass(frozen=True)
class StoredValueUse:
    """Stored value applied to a quote: how much, its principal and bonus shares."""

    used: Decimal = ZERO
    principal: Decimal = ZERO
    bonus: Decimal = ZERO


def stored_value_use(*, asked: Decimal, due: Decimal, principal: Decimal, bonus: Decimal) -> StoredValueUse:
    """`asked` clamped to the balance and to `due` (what is left to pay), split between principal
    and bonus in proportion (`split_payment`: the same split the payment will record)."""
    used = min(asked, principal + bonus, due)
    if used <= 0:
        return StoredValueUse()
    principal_share, bonus_share = split_payment(used, principal, bonus)
    return StoredValueUse(used=used, principal=principal_share, bonus=bonus_share)


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
    # Read only when the caller passes `tenders` (the till and the API with a tender).
    stored_value_balance: Decimal | None = None  # principal + bonus before this purchase; None: not read
    stored_value_asked: Decimal = ZERO
    stored_value_used: Decimal = ZERO  # ≤ balance, ≤ total − points value
    stored_value_principal: Decimal = ZERO  # its shares, as the payment will split it
    stored_value_bonus: Decimal = ZERO
    stored_value_message: str = ""

    @property
    def money_total(self) -> Decimal:
        """What the purchase records as paid: money plus stored value (not the points' value)."""
        return self.amount_due + self.stored_value_used


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


def stored_value_message(asked: Decimal, *, used: Decimal, balance: Decimal) -> str:
    """Why less stored value than asked is used, in the staff's language ("" when all of it is)."""
    if not asked or used >= asked:
        return ""
    if asked > balance and used == balance:
        return _("The stored-value balance is only ¥%(balance)s.") % {"balance": balance}
    return _("Only ¥%(due)s is left to pay after points.") % {"due": used}


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
    tenders=None,
) -> Quote:
    """Price a basket for `member`, or for a walk-in (`member` None) (see the module's docstring
    for the order and rounding).

    An unusable coupon does not fail the quote: it gives no discount and the quote's `coupon`
    says why (the same reasons as `validate_coupon`, and `walk_in`). Points asked beyond what is
    allowed are clamped, and `points_message` says why. `account`: the member's account already
    read (and locked) by the caller — posting passes it so the balance is the locked one.
    `for_posting`: only the prices (posting computes the earning, the tier and delivery itself,
    so `points_to_earn` is 0, `tier_after` None and `free_delivery` False: no queries for them);
    the stored value asked is then clamped to what is left to pay only, not to the balance, which
    the payment checks under its own lock (`pay_from_balance`).
    `tenders`: the stored value to pay (see `stored_value_asked`); given (even empty), the quote
    reads the member's stored-value balance (one query) and shows it.
    """
    sv_asked = stored_value_asked(tenders)
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
            stored_value_asked=sv_asked,
            stored_value_message=_("A walk-in customer has no stored value to pay with.") if sv_asked else "",
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
    sv_balance = None
    if for_posting:
        sv = stored_value_use(asked=sv_asked, due=payment.amount_due, principal=sv_asked, bonus=ZERO)
    elif tenders is not None:
        principal, bonus = StoredValueAccount.objects.filter(member=member).values_list(
            "principal", "bonus"
        ).first() or (ZERO, ZERO)
        sv_balance = principal + bonus
        sv = stored_value_use(asked=sv_asked, due=payment.amount_due, principal=principal, bonus=bonus)
    else:
        sv = StoredValueUse()
    stored_value = {
        "stored_value_balance": sv_balance,
        "stored_value_asked": sv_asked,
        "stored_value_used": sv.used,
        "stored_value_principal": sv.principal,
        "stored_value_bonus": sv.bonus,
        "stored_value_message": ""
        if for_posting
        else stored_value_message(sv_asked, used=sv.used, balance=sv_balance or ZERO),
    }
    amount_due = payment.amount_due - sv.used
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
            amount_due=amount_due,
            points_message=points_message(payment.short_by, payment=payment, config=config, balance=balance),
            **stored_value,
        )
    points_to_earn = _points_to_earn(
        member=member, items=items, paid=earning_base(paid=amount_due + sv.used, stored_value_bonus=sv.bonus)
    )
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
        amount_due=amount_due,
        points_message=points_message(payment.short_by, payment=payment, config=config, balance=balance),
        tier_after=tier_reached(account, tier=tier, spend=amount_due + sv.used, points=points_to_earn),
        **stored_value,
    )
