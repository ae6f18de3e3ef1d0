"""Points given by another app's programme (campaigns: referral rewards, campaign offers).

A public service for `campaigns`, which never writes ledger rows itself (docs/design.md). It credits a
`bonus` lot (expiring like earned points) under the member's row lock. It does not deduplicate:
the caller makes its grant once-only with its own unique row written in the same transaction
(e.g. campaigns' ReferralReward, unique per referred member).
"""

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
class GrantResult:
    entry: LedgerEntry
    points: int
    points_balance: int


@transaction.atomic
def grant_points(
    *,
    member: Member,
    points: int,
    reason: str = "",
    reason_code: str = LedgerEntry.Reason.NOTE,
    reason_params: dict | None = None,
    actor=None,
) -> GrantResult:
    """Credit `points` (> 0) to an active member as a bonus lot. The ledger row says why: a reason
    code and its parameters (a referral), or the `reason` a person typed (required then).

    Raises ValidationError for points ≤ 0 or a missing reason, MemberErased for an erased or
    frozen member (no points for a member who cannot use them).
    """
    reason = (reason or "").strip()
    if not isinstance(points, int) or isinstance(points, bool) or points <= 0:
        raise ValidationError({"points": [_("Enter a whole number of points above 0.")]})
    if not reason and reason_code == LedgerEntry.Reason.NOTE:
        raise ValidationError({"reason": [_("Give the reason for the points.")]})
    member = lock_objects.member_for_update(member.pk)
    if member.status != Member.Status.ACTIVE:
        raise MemberErased(_("Member %(member_no)s is not active.") % {"member_no": member.member_no})
    account = ledger.lock_or_open_account(member, selectors.tiers())
    entry = ledger.credit(
        account,
        kind=LedgerEntry.Kind.BONUS,
        points=points,
        earned_on=timezone.localdate(),
        reason_code=reason_code,
        reason_params=reason_params,
        reason=reason,
        actor=actor,
    )
    ledger.save_account(account)
    return GrantResult(entry=entry, points=points, points_balance=account.balance)
