"""Refunds: reverse a purchase's points (proportionally) and its spend; may lower the tier.

Policy for points already spent: the reversal is taken from the purchase's own lot first, then
from the member's other lots (oldest first); whatever is still missing was spent, and becomes a
negative balance — a debt that the member's next earnings repay before they form new lots. Only
this path may take a balance below 0; redemptions and manual deductions refuse instead.
Points of the purchase that already expired are not reversed (they are gone already).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from members import services as member_services
from members.models import Purchase
from rewards import lock_objects, rules, selectors
from rewards.errors import AlreadyRefunded, IdempotencyConflict, RefundExceedsPurchase
from rewards.models import LedgerEntry, PointsLot, PurchasePosting, PurchaseRefund, Tier, TierHistory
from rewards.services import ledger

MONEY = Decimal("0.01")


@dataclass(frozen=True)
class RefundResult:
    refund: PurchaseRefund
    points_reversed: int
    points_balance: int
    tier: Tier
    created: bool


def _result(refund: PurchaseRefund, *, created: bool) -> RefundResult:
    return RefundResult(
        refund=refund,
        points_reversed=refund.points_reversed,
        points_balance=refund.points_balance,
        tier=refund.tier,
        created=created,
    )


def _amount(value) -> Decimal:
    try:
        amount = Decimal(str(value)).quantize(MONEY)
    except (InvalidOperation, ValueError, TypeError):
        raise ValidationError({"amount": [_("“%(value)s” is not an amount.") % {"value": value}]}) from None
    if amount <= 0:
        raise ValidationError({"amount": [_("The refund amount must be above 0.")]})
    return amount


@transaction.atomic
def refund_purchase(
    *, purchase: Purchase, external_ref: str, amount: Decimal | None = None, actor=None
) -> RefundResult:
    """Refund all (no `amount`) or part of a purchase, once per `external_ref`.

    Reverses floor(earned × refunded so far / total) points cumulatively, so the refunds of a
    purchase never reverse more than it earned and a full refund reverses exactly that. The
    cumulative refunded amount never exceeds the purchase total: an amount above what is left
    (checked under the purchase's row lock, so concurrent refunds see each other) raises
    RefundExceedsPurchase; nothing left at all, with no amount, AlreadyRefunded.
    """
    external_ref = (external_ref or "").strip()
    if not external_ref:
        raise ValidationError({"external_ref": [_("Enter the refund's external reference.")]})
    requested = None if amount is None else _amount(amount)
    lock_objects.member_for_update(purchase.member_id)
    existing = PurchaseRefund.objects.select_related("tier").filter(external_ref=external_ref).first()
    if existing is not None:
        if existing.purchase_id != purchase.pk or (requested is not None and requested != existing.amount):
            raise IdempotencyConflict(
                _("The refund reference “%(ref)s” was already used for a different refund.") % {"ref": external_ref}
            )
        return _result(existing, created=False)
    purchase = lock_objects.purchase_for_update(purchase.pk)
    left = purchase.total - purchase.refunded_total
    if requested is None:
        if left <= 0:
            raise AlreadyRefunded(_("Purchase %(ref)s is already refunded in full.") % {"ref": purchase.external_ref})
        requested = left
    elif requested > left:
        raise RefundExceedsPurchase(
            _("Only %(left)s of purchase %(ref)s is left to refund.") % {"left": left, "ref": purchase.external_ref}
        )
    # Recorded first, so the tier below counts the purchase net of this refund (window bases read it).
    member_services.record_refund(purchase=purchase, amount=requested)
    tiers = selectors.tiers()
    member = purchase.member
    account = ledger.lock_or_open_account(member, tiers)
    posting = PurchasePosting.objects.select_for_update().filter(purchase=purchase).first()
    reversed_points = 0
    if posting is not None:
        lot = PointsLot.objects.filter(entry__purchase=purchase, entry__kind=LedgerEntry.Kind.EARN).first()
        target = rules.cumulative_reversal(
            earned=posting.points_earned, total=purchase.total, refunded_total=purchase.refunded_total + requested
        )
        reversible = max(0, posting.points_earned - (lot.expired if lot else 0) - posting.points_reversed)
        reversed_points = min(max(0, target - posting.points_reversed), reversible)
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
                reason_params={"ref": external_ref, "purchase": purchase.external_ref},
                actor=actor,
            )
            account.lifetime_earned -= reversed_points
            posting.points_reversed += reversed_points
            posting.save(update_fields=["points_reversed"])
        ledger.retier(account, tiers=tiers, reason=TierHistory.Reason.REFUND, purchase=purchase)
        ledger.save_account(account)
    try:
        with transaction.atomic():
            refund = PurchaseRefund.objects.create(
                purchase=purchase,
                external_ref=external_ref,
                amount=requested,
                points_reversed=reversed_points,
                points_balance=account.balance,
                tier=account.tier,
                actor=ledger.real_actor(actor),
            )
    except IntegrityError:  # the same reference, used at this moment for another member's purchase
        raise IdempotencyConflict(
            _("The refund reference “%(ref)s” was already used for a different refund.") % {"ref": external_ref}
        ) from None
    return _result(refund, created=True)
