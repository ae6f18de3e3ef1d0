"""Manual adjustments of points (managers only, enforced by the API and admin permissions)."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Member
from members.services import MemberErased
from rewards import lock_objects, selectors
from rewards.models import LedgerEntry
from rewards.services import ledger


@dataclass(frozen=True)
class AdjustmentResult:
    entry: LedgerEntry
    points_balance: int


@transaction.atomic
def adjust_points(*, member: Member, points: int, reason: str, actor) -> AdjustmentResult:
    """Add (a new lot, expiring like earned points) or remove points (oldest lots first).

    A reason is required and recorded with the actor on the ledger row; at most
    MAX_POINTS_PER_GRANT points either way. Removing more than the balance raises InsufficientPoints: only refunds may
    make a balance negative.
    """
    reason = (reason or "").strip()
    errors = {}
    if not reason:
        errors["reason"] = [_("Give the reason for the adjustment.")]
    if not isinstance(points, int) or isinstance(points, bool) or points == 0:
        errors["points"] = [_("Enter a whole number of points other than 0.")]
    elif abs(points) > ledger.MAX_POINTS_PER_GRANT:
        errors["points"] = [_("At most %(max)s points at a time.") % {"max": f"{ledger.MAX_POINTS_PER_GRANT:,}"}]
    if errors:
        raise ValidationError(errors)
    member = lock_objects.member_for_update(member.pk)
    if member.is_erased:
        raise MemberErased(_("Member %(member_no)s has been erased.") % {"member_no": member.member_no})
    account = ledger.lock_or_open_account(member, selectors.tiers())
    if points > 0:
        entry = ledger.credit(
            account,
            kind=LedgerEntry.Kind.ADJUSTMENT,
            points=points,
            earned_on=timezone.localdate(),
            reason=reason,
            actor=actor,
        )
    else:
        entry = ledger.debit(account, kind=LedgerEntry.Kind.ADJUSTMENT, points=-points, reason=reason, actor=actor)
    ledger.save_account(account)
    return AdjustmentResult(entry=entry, points_balance=account.balance)
