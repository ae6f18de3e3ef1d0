"""Refunds: reverse a purchase's points (proportionally) and its spend; may lower the tier.

Two ways: by amount (a sum of money, no goods back — the manager's path) or by lines (goods
returned at the counter: (purchase item, quantity) pairs). A return by lines gives back, of each
unit, the share of what the customer paid for it as they paid it: the money share as money (the
line's part of the money paid after the order's discounts) and the points share as points (a
`spend_return` credit, with the expiry dates the points had when spent, latest first). Both are
cumulative and rounded down, so returning everything gives back exactly the money and the points
paid. The points earned are reversed as for any refund.

Stored value: of the money a refund gives back (by lines or by amount), the share the stored value
paid of the purchase goes back to the balance (`stored_value.refund_to_balance`, principal and bonus
in the payment's own proportion), cumulatively — share_of(paid from stored value, refunded so far /
total), rounded down, all of it once the purchase is refunded in full — so returns never give back
more than the balance paid; the rest is money back. Returned quantities are kept per line
(`PurchaseItem.returned_quantity`) and never exceed what was bought.

Policy for points already spent: the reversal is taken from the purchase's own lot first, then
from the member's other lots (oldest first); whatever is still missing was spent, and becomes a
negative balance — a debt that the member's next earnings repay before they form new lots. Only
this path may take a balance below 0; redemptions and manual deductions refuse instead.
Points of the purchase that already expired are not reversed (they are gone already).
"""

from __future__ import annotations

import datetime
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from members import services as member_services
from members.models import Purchase, PurchaseItem
from rewards import lock_objects, rules, selectors
from rewards.errors import AlreadyRefunded, IdempotencyConflict, RefundExceedsPurchase
from rewards.models import (
    LedgerEntry,
    PointsAccount,
    PointsLot,
    PurchasePosting,
    PurchaseRefund,
    Tier,
    TierHistory,
    TierPolicy,
)
from rewards.services import ledger, stored_value
from rewards.services import tiers as tier_rules

MONEY = Decimal("0.01")


@dataclass(frozen=True)
class RefundResult:
    refund: PurchaseRefund
    points_reversed: int
    points_balance: int
    tier: Tier | None  # None for a walk-in sale
    created: bool
    points_returned: int = 0  # points that paid for the goods returned, given back
    amount: Decimal = Decimal("0.00")  # money and stored value given back
    stored_value_returned: Decimal = Decimal("0.00")  # of `amount`, back to the stored-value balance

    @property
    def money_back(self) -> Decimal:
        return self.amount - self.stored_value_returned


def _result(refund: PurchaseRefund, *, created: bool) -> RefundResult:
    return RefundResult(
        refund=refund,
        points_reversed=refund.points_reversed,
        points_balance=refund.points_balance,
        tier=refund.tier,
        created=created,
        points_returned=refund.points_returned,
        amount=refund.amount,
        stored_value_returned=refund.stored_value_returned,
    )


@dataclass(frozen=True)
class ReturnLine:
    item: PurchaseItem
    quantity: int


@dataclass(frozen=True)
class ReturnQuote:
    """What returning these lines would give back (`quote_return`; nothing is written)."""

    purchase: Purchase
    lines: list[ReturnLine]
    money_back: Decimal  # the money share of the goods returned
    points_back: int  # the points share of the goods returned, given back as points
    points_reversed: int  # points the purchase earned, taken back
    points_balance: int  # the member's balance afterwards (0 for a walk-in)
    tier: Tier | None  # the member's tier now (None for a walk-in)
    tier_after: Tier | None  # … and after the return
    messages: list[str] = field(default_factory=list)
    stored_value_back: Decimal = Decimal("0.00")  # of `money_back`, returned to the stored-value balance


def _amount(value) -> Decimal:
    try:
        amount = Decimal(str(value)).quantize(MONEY)
    except (InvalidOperation, ValueError, TypeError):
        raise ValidationError({"amount": [_("“%(value)s” is not an amount.") % {"value": value}]}) from None
    if amount <= 0:
        raise ValidationError({"amount": [_("The refund amount must be above 0.")]})
    return amount


def _normalised_lines(lines) -> list[list[int]]:
    """[[item id, quantity], …] summed per item and sorted: the form stored and compared for a
    retry. Raises ValidationError for a malformed pair."""
    if not lines:
        raise ValidationError({"lines": [_("Choose at least one line to return.")]})
    wanted: Counter = Counter()
    for pair in lines:
        try:
            item_id, quantity = pair
        except (TypeError, ValueError):
            raise ValidationError({"lines": [_("Each line to return is a purchase line and a quantity.")]}) from None
        if isinstance(item_id, bool) or not isinstance(item_id, int) or isinstance(quantity, bool):
            raise ValidationError({"lines": [_("Each line to return is a purchase line and a quantity.")]})
        if not isinstance(quantity, int) or quantity <= 0:
            raise ValidationError({"lines": [_("The quantity to return must be a whole number above 0.")]})
        wanted[item_id] += quantity
    return [[item_id, quantity] for item_id, quantity in sorted(wanted.items())]


def _return_lines(purchase: Purchase, wanted: list[list[int]]) -> tuple[list[ReturnLine], list[PurchaseItem]]:
    """The lines to return checked against the purchase's lines as they are now (one query):
    each must be a line of this purchase, and no more than its quantity not yet returned."""
    items = list(PurchaseItem.objects.filter(purchase=purchase).order_by("pk"))
    by_id = {item.pk: item for item in items}
    returning = []
    for item_id, quantity in wanted:
        item = by_id.get(item_id)
        if item is None:
            raise ValidationError(
                {
                    "lines": [
                        _("Line %(id)s is not a line of purchase %(ref)s.")
                        % {"id": item_id, "ref": purchase.external_ref}
                    ]
                }
            )
        left = item.quantity - item.returned_quantity
        if quantity > left:
            raise ValidationError(
                {
                    "lines": [
                        _("Only %(left)d of %(sku)s are left to return.") % {"left": left, "sku": item.sku},
                    ]
                }
            )
        returning.append(ReturnLine(item=item, quantity=quantity))
    return returning, items


def _shares_back(
    purchase: Purchase, items: list[PurchaseItem], returning: list[ReturnLine], posting: PurchasePosting | None
) -> tuple[Decimal, int]:
    """(money, points) the goods returned give back: the difference between the cumulative shares
    after and before this return (so returning everything, in any steps, gives back exactly what
    was paid), within what is left of each."""
    adding = {line.item.pk: line.quantity for line in returning}
    before = rules.returned_weight([(i.line_total, i.quantity, i.returned_quantity) for i in items])
    after = rules.returned_weight(
        [(i.line_total, i.quantity, i.returned_quantity + adding.get(i.pk, 0)) for i in items]
    )
    money = rules.share_of(purchase.total, returned=after[0], whole=after[1]) - rules.share_of(
        purchase.total, returned=before[0], whole=before[1]
    )
    money = min(max(money, Decimal("0.00")), purchase.total - purchase.refunded_total)
    used = posting.points_used if posting is not None else 0
    points = rules.points_share_of(used, returned=after[0], whole=after[1]) - rules.points_share_of(
        used, returned=before[0], whole=before[1]
    )
    points = min(max(points, 0), used - (posting.points_returned if posting is not None else 0))
    return money, points


def _stored_value_back(purchase: Purchase, posting: PurchasePosting | None, amount: Decimal) -> Decimal:
    """The part of a refund of `amount` that returns to the stored-value balance: the cumulative
    share of what the balance paid once `refunded_total + amount` of the total is refunded, less
    what returns already gave back (never more than the balance paid)."""
    paid = posting.stored_value_paid if posting is not None else Decimal("0.00")
    if paid <= 0 or amount <= 0:
        return Decimal("0.00")
    target = rules.share_of(paid, returned=purchase.refunded_total + amount, whole=purchase.total)
    return min(
        max(target - posting.stored_value_returned, Decimal("0.00")), paid - posting.stored_value_returned, amount
    )


def _points_to_reverse(
    purchase: Purchase, posting: PurchasePosting | None, lot: PointsLot | None, amount: Decimal
) -> int:
    """The earned points a refund of `amount` takes back: floor(earned × refunded so far / total),
    cumulatively, never points of the purchase that already expired."""
    if posting is None:
        return 0
    target = rules.cumulative_reversal(
        earned=posting.points_earned, total=purchase.total, refunded_total=purchase.refunded_total + amount
    )
    reversible = max(0, posting.points_earned - (lot.expired if lot else 0) - posting.points_reversed)
    return min(max(0, target - posting.points_reversed), reversible)


def _earned_lot(purchase: Purchase) -> PointsLot | None:
    return PointsLot.objects.filter(entry__purchase=purchase, entry__kind=LedgerEntry.Kind.EARN).first()


def _tier_after(account, *, purchase: Purchase, money: Decimal, points: int, all_tiers: list[Tier]) -> Tier:
    """The tier a refund leaves the member in (a refund moves the tier both ways at once): the
    qualifying figure less the money refunded (spend bases) or the points reversed (points bases)."""
    policy = tier_rules.tier_policy()
    figure = tier_rules.qualifying_figure(account, policy=policy)
    counts = not policy.uses_window or purchase.ordered_at >= tier_rules.window_start(
        timezone.localdate(), policy.window_months
    )
    if counts:
        spend_basis = policy.basis in (TierPolicy.Basis.LIFETIME_SPEND, TierPolicy.Basis.WINDOW_SPEND)
        figure -= money if spend_basis else points
    level = rules.tier_for_spend(selectors.tier_levels(all_tiers), max(figure, Decimal("0")))
    return next(t for t in all_tiers if t.pk == level.id)


def quote_return(*, purchase: Purchase, lines: list[tuple[int, int]]) -> ReturnQuote:
    """What returning `lines` ((purchase item id, quantity) pairs) of `purchase` would give back:
    money as paid, points used as points, the earned points reversed and the tier afterwards. The
    same arithmetic `refund_purchase` runs under its locks; nothing is written."""
    purchase = Purchase.objects.get(pk=purchase.pk)
    returning, items = _return_lines(purchase, _normalised_lines(lines))
    posting = PurchasePosting.objects.filter(purchase=purchase).first()
    money, points_back = _shares_back(purchase, items, returning, posting)
    reversed_points = _points_to_reverse(purchase, posting, _earned_lot(purchase) if posting else None, money)
    sv_back = _stored_value_back(purchase, posting, money)
    if purchase.member_id is None:
        return ReturnQuote(purchase, returning, money, 0, 0, 0, None, None)
    account = PointsAccount.objects.select_related("tier").filter(member_id=purchase.member_id).first()
    if account is None:
        tier = selectors.entry_tier()
        return ReturnQuote(
            purchase, returning, money, points_back, reversed_points, 0, tier, tier, stored_value_back=sv_back
        )
    after = _tier_after(account, purchase=purchase, money=money, points=reversed_points, all_tiers=selectors.tiers())
    return ReturnQuote(
        purchase=purchase,
        lines=returning,
        money_back=money,
        points_back=points_back,
        points_reversed=reversed_points,
        points_balance=account.balance + points_back - reversed_points,
        tier=account.tier,
        tier_after=after,
        stored_value_back=sv_back,
    )


def _give_back_points(
    account, *, posting: PurchasePosting, points: int, purchase: Purchase, reason_params: dict, actor
):
    """Credit `points` of those that paid for the purchase, as `spend_return` rows keeping the
    expiry dates they had when spent: the latest dates first (the earlier returns took the latest
    ones before); a date already past expires at once. Dates unknown: today's policy date."""
    parts = [(datetime.date.fromisoformat(day), taken) for day, taken in posting.lots_taken]
    if sum(taken for _day, taken in parts) != posting.points_used:
        parts = [(None, posting.points_used)]
    skip, left = posting.points_returned, points
    today = timezone.localdate()
    for expires_on, taken in reversed(parts):
        available = taken - min(skip, taken)
        skip -= taken - available
        give = min(available, left)
        if give:
            ledger.credit(
                account,
                kind=LedgerEntry.Kind.SPEND_RETURN,
                points=give,
                earned_on=today,
                expires_on=expires_on,
                purchase=purchase,
                reason_code=LedgerEntry.Reason.REFUND,
                reason_params=reason_params,
                actor=actor,
            )
            left -= give
        if not left:
            break


@transaction.atomic
def refund_purchase(
    *,
    purchase: Purchase,
    external_ref: str,
    amount: Decimal | None = None,
    lines: list[tuple[int, int]] | None = None,
    reason: str = "",
    actor=None,
) -> RefundResult:
    """Refund all (no `amount`, no `lines`), an amount, or the goods of `lines` ((purchase item
    id, quantity) pairs) of a purchase, once per `external_ref`.

    Reverses floor(earned × refunded so far / total) points cumulatively, so the refunds of a
    purchase never reverse more than it earned and a full refund reverses exactly that. The
    cumulative refunded amount never exceeds the purchase total: an amount above what is left
    (checked under the purchase's row lock, so concurrent refunds see each other) raises
    RefundExceedsPurchase; nothing left at all, with no amount, AlreadyRefunded. Lines: see the
    module's docstring (their money and points shares; more than is left of a line is a
    ValidationError).
    """
    external_ref = (external_ref or "").strip()
    if not external_ref:
        raise ValidationError({"external_ref": [_("Enter the refund's external reference.")]})
    if lines and amount is not None:
        raise ValidationError({"lines": [_("Give either the lines returned or an amount, not both.")]})
    wanted = _normalised_lines(lines) if lines is not None else None
    requested = None if amount is None else _amount(amount)
    reason = (reason or "").strip()[:200]
    if purchase.member_id is not None:
        lock_objects.member_for_update(purchase.member_id)
    existing = PurchaseRefund.objects.select_related("tier").filter(external_ref=external_ref).first()
    if existing is not None:
        if (
            existing.purchase_id != purchase.pk
            or (requested is not None and requested != existing.amount)
            or (wanted or []) != (existing.lines or [])
        ):
            raise IdempotencyConflict(
                _("The refund reference “%(ref)s” was already used for a different refund.") % {"ref": external_ref}
            )
        return _result(existing, created=False)
    purchase = lock_objects.purchase_for_update(purchase.pk)
    posting = PurchasePosting.objects.select_for_update().filter(purchase=purchase).first()
    points_back = 0
    returned: dict[int, int] = {}
    if wanted is not None:
        returning, items = _return_lines(purchase, wanted)
        requested, points_back = _shares_back(purchase, items, returning, posting)
        if requested <= 0 and points_back <= 0:
            raise ValidationError({"lines": [_("These lines were paid nothing: there is nothing to refund.")]})
        returned = {line.item.pk: line.quantity for line in returning}
    else:
        left = purchase.total - purchase.refunded_total
        if requested is None:
            if left <= 0:
                raise AlreadyRefunded(
                    _("Purchase %(ref)s is already refunded in full.") % {"ref": purchase.external_ref}
                )
            requested = left
        elif requested > left:
            raise RefundExceedsPurchase(
                _("Only %(left)s of purchase %(ref)s is left to refund.") % {"left": left, "ref": purchase.external_ref}
            )
    sv_back = _stored_value_back(purchase, posting, requested)  # before record_refund moves refunded_total
    # Recorded first, so the tier below counts the purchase net of this refund (window bases read it).
    member_services.record_refund(purchase=purchase, amount=requested, returned=returned)
    account = None
    reversed_points = 0
    if purchase.member_id is not None:
        tiers = selectors.tiers()
        account = ledger.lock_or_open_account(purchase.member, tiers)
        reason_params = {"ref": external_ref, "purchase": purchase.external_ref}
        if posting is not None:
            lot = _earned_lot(purchase)
            reversed_points = _points_to_reverse(purchase, posting, lot, requested)
            # Only spend that `rewards` counted comes off again (a purchase posted through it).
            account.lifetime_spend = max(Decimal("0.00"), account.lifetime_spend - requested)
            if reversed_points:
                ledger.debit(
                    account,
                    kind=LedgerEntry.Kind.REFUND_REVERSAL,
                    points=reversed_points,
                    allow_debt=True,
                    first_lot=lot,
                    purchase=purchase,
                    reason_code=LedgerEntry.Reason.REFUND,
                    reason_params=reason_params,
                    actor=actor,
                )
                account.lifetime_earned -= reversed_points
                posting.points_reversed += reversed_points
            if points_back:
                _give_back_points(
                    account,
                    posting=posting,
                    points=points_back,
                    purchase=purchase,
                    reason_params=reason_params,
                    actor=actor,
                )
                posting.points_returned += points_back
            if sv_back:
                posting.stored_value_returned += sv_back
            if reversed_points or points_back or sv_back:
                posting.save(update_fields=["points_reversed", "points_returned", "stored_value_returned"])
            ledger.retier(account, tiers=tiers, reason=TierHistory.Reason.REFUND, purchase=purchase)
            ledger.save_account(account)
    try:
        with transaction.atomic():
            refund = PurchaseRefund.objects.create(
                purchase=purchase,
                external_ref=external_ref,
                amount=requested,
                points_reversed=reversed_points,
                points_returned=points_back,
                lines=wanted or [],
                reason=reason,
                points_balance=account.balance if account is not None else 0,
                tier=account.tier if account is not None else None,
                actor=ledger.real_actor(actor),
                stored_value_returned=sv_back,
            )
    except IntegrityError:  # the same reference, used at this moment for another member's purchase
        raise IdempotencyConflict(
            _("The refund reference “%(ref)s” was already used for a different refund.") % {"ref": external_ref}
        ) from None
    if sv_back:
        # The member's row is locked above; the stored-value account is locked last, as in posting.
        stored_value.refund_to_balance(
            purchase=purchase,
            amount=sv_back,
            external_ref=f"refund-{refund.pk}:sv",
            store=purchase.store,
            actor=actor,
        )
    return _result(refund, created=True)
