"""Points another app's programme takes and gives back (campaigns: a member event's seat paid with points).

A public service for `campaigns`, which never writes ledger rows itself (docs/design.md). Like
`grants`, it does not deduplicate: the caller makes each spend once-only with its own unique row
written in the same transaction (an event registration, unique per key), and keeps the ledger row
it got, so a give-back reverses exactly that row, once (`give_back_points` refuses a second).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from members.models import Member
from members.services import MemberErased
from rewards import lock_objects, selectors
from rewards.models import LedgerEntry
from rewards.services import ledger


@dataclass(frozen=True)
class SpendResult:
    entry: LedgerEntry
    points: int
    points_balance: int


@transaction.atomic
def spend_points(*, member: Member, points: int, reason_code: str, reason_params: dict, actor=None) -> SpendResult:
    """Take `points` (> 0) from an active member's balance, oldest lots first, as a `spend` row.

    Raises InsufficientPoints when the balance is short (nothing is taken), MemberErased for an
    erased or frozen member. The member's row lock and the account lock serialise it with every
    other change of the balance, so the balance never goes below 0."""
    if not isinstance(points, int) or isinstance(points, bool) or points <= 0:
        raise ValueError("points must be a positive whole number")
    member = lock_objects.member_for_update(member.pk)
    if member.status != Member.Status.ACTIVE:
        raise MemberErased(f"Member {member.member_no} is not active.")
    account = ledger.lock_or_open_account(member, selectors.tiers())
    entry = ledger.debit(
        account,
        kind=LedgerEntry.Kind.SPEND,
        points=points,
        reason_code=reason_code,
        reason_params=reason_params,
        actor=actor,
    )
    ledger.save_account(account)
    return SpendResult(entry=entry, points=points, points_balance=account.balance)


@transaction.atomic
def give_back_points(*, entry: LedgerEntry, reason_code: str, reason_params: dict, actor=None) -> SpendResult:
    """Reverse a `spend` row written by `spend_points` with a new `spend_return` row of the same
    points (a new lot; not counted as earned). The ledger is append-only: the spend row stays."""
    if entry.kind != LedgerEntry.Kind.SPEND or entry.points >= 0:
        raise ValueError("only a spend row can be given back")
    member = lock_objects.member_for_update(entry.member_id)
    account = ledger.lock_or_open_account(member, selectors.tiers())
    returned = ledger.credit(
        account,
        kind=LedgerEntry.Kind.SPEND_RETURN,
        points=-entry.points,
        earned_on=timezone.localdate(),
        reason_code=reason_code,
        reason_params=reason_params,
        actor=actor,
    )
    ledger.save_account(account)
    return SpendResult(entry=returned, points=-entry.points, points_balance=account.balance)
