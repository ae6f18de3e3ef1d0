"""The ledger's building blocks, used by every points-changing service under the account lock.

Not a public API: call `post_purchase`, `refund_purchase`, `adjust_points`. The caller holds the
member lock and the account lock (`rewards.lock_objects`) and saves the account at the end.
"""

from __future__ import annotations

import datetime

from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Member, Purchase
from rewards import lock_objects, rules
from rewards.errors import InsufficientPoints
from rewards.models import (
    EXPIRY_POLICY_CACHE_KEY,
    EXPIRY_POLICY_CACHE_SECONDS,
    ExpiryPolicy,
    LedgerEntry,
    PointsAccount,
    PointsLot,
    Tier,
    TierHistory,
)
from rewards.selectors import tier_levels


def real_actor(actor):
    """A user to record, or None for anonymous/system callers."""
    return actor if getattr(actor, "is_authenticated", False) else None


def lock_or_open_account(member: Member, tiers: list[Tier]) -> PointsAccount:
    """The member's account, locked; opened at the entry tier on first use.

    The caller already holds the member's row lock, so two openings of one account cannot race;
    `ignore_conflicts` keeps it safe even for a caller that does not.
    """
    account = lock_objects.account_for_update(member.pk)
    if account is None:
        PointsAccount.objects.bulk_create([PointsAccount(member=member, tier=tiers[0])], ignore_conflicts=True)
        account = lock_objects.account_for_update(member.pk)
    return account


def active_expiry_policy() -> tuple[str, int | None]:
    """(kind, months) of the active `ExpiryPolicy` (the default when no row is active).

    Read through the cache (shared when Redis is configured) so a posting costs no extra query;
    `ExpiryPolicy.save()`/`delete()` drop the cached value when their transaction commits, and it
    lives at most `EXPIRY_POLICY_CACHE_SECONDS` anyway.
    """
    policy = cache.get(EXPIRY_POLICY_CACHE_KEY)
    if policy is None:
        row = ExpiryPolicy.objects.filter(is_active=True).values_list("kind", "months").first()
        policy = tuple(row) if row else (ExpiryPolicy.Kind.YEAR_END_NEXT.value, None)
        cache.set(EXPIRY_POLICY_CACHE_KEY, policy, EXPIRY_POLICY_CACHE_SECONDS)
    return policy[0], policy[1]


def lot_expires_on(earned_on: datetime.date) -> datetime.date:
    """The expiry date the active policy gives points earned on `earned_on`."""
    kind, months = active_expiry_policy()
    return rules.expiry_date(earned_on, kind, months)


def save_account(account: PointsAccount) -> None:
    account.save(update_fields=["balance", "lifetime_earned", "lifetime_spend", "tier", "updated_at"])


def _new_entry(account: PointsAccount, *, kind: str, points: int, purchase, reason: str, actor) -> LedgerEntry:
    """An unsaved ledger row recording the account's balance as it is now."""
    return LedgerEntry(
        account=account,
        member_id=account.member_id,
        kind=kind,
        points=points,
        balance_after=account.balance,
        purchase=purchase,
        reason=reason[:200],
        actor=real_actor(actor),
    )


def _entry(account: PointsAccount, *, kind: str, points: int, purchase, reason: str, actor) -> LedgerEntry:
    entry = _new_entry(account, kind=kind, points=points, purchase=purchase, reason=reason, actor=actor)
    entry.save()
    return entry


def plan_credit(
    account: PointsAccount,
    *,
    kind: str,
    points: int,
    earned_on: datetime.date,
    purchase: Purchase | None = None,
    reason: str = "",
    actor=None,
) -> tuple[list[LedgerEntry], PointsLot]:
    """`credit` without the writes: changes the account in memory and returns the unsaved
    ledger rows (the credit, and its expire row when the lot is already past its date) and the
    unsaved lot, for the caller to insert in that order (the batch service inserts many)."""
    assert points > 0
    debt = max(0, -account.balance)
    account.balance += points
    account.lifetime_earned += points
    entries = [_new_entry(account, kind=kind, points=points, purchase=purchase, reason=reason, actor=actor)]
    lot = PointsLot(
        entry=entries[0],
        account=account,
        points=points,
        remaining=max(0, points - debt),
        expires_on=lot_expires_on(earned_on),
    )
    if lot.remaining and lot.expires_on < timezone.localdate():
        lot.expired, lot.remaining = lot.remaining, 0
        account.balance -= lot.expired
        entries.append(
            _new_entry(
                account,
                kind=LedgerEntry.Kind.EXPIRE,
                points=-lot.expired,
                purchase=purchase,
                reason=_("Expired on %(date)s, before it was recorded") % {"date": lot.expires_on.isoformat()},
                actor=actor,
            )
        )
    return entries, lot


def credit(
    account: PointsAccount,
    *,
    kind: str,
    points: int,
    earned_on: datetime.date,
    purchase: Purchase | None = None,
    reason: str = "",
    actor=None,
) -> LedgerEntry:
    """Add points as a new lot. A debt (negative balance) is repaid first; a lot whose expiry
    date has already passed (a backfilled purchase) expires at once with its own expire row."""
    entries, lot = plan_credit(
        account, kind=kind, points=points, earned_on=earned_on, purchase=purchase, reason=reason, actor=actor
    )
    for entry in entries:
        entry.save()
    lot.entry = entries[0]
    lot.save()
    return entries[0]


def debit(
    account: PointsAccount,
    *,
    kind: str,
    points: int,
    allow_debt: bool = False,
    first_lot: PointsLot | None = None,
    purchase: Purchase | None = None,
    reason: str = "",
    actor=None,
) -> LedgerEntry:
    """Take points, oldest lots first (after `first_lot`, when given).

    Only `allow_debt` (a refund reversing points already spent) may take the balance below 0.
    """
    assert points > 0
    if not allow_debt and account.balance < points:
        raise InsufficientPoints(
            _("The member has %(balance)d points; %(points)d are needed.")
            % {"balance": account.balance, "points": points}
        )
    account.balance -= points
    entry = _entry(account, kind=kind, points=-points, purchase=purchase, reason=reason, actor=actor)
    left = points
    changed = []
    if first_lot is not None and first_lot.remaining:
        take = min(first_lot.remaining, left)
        first_lot.remaining -= take
        left -= take
        changed.append(first_lot)
    if left:
        lots = lock_objects.open_lots_for_update(account.pk)
        if first_lot is not None:
            lots = lots.exclude(pk=first_lot.pk)
        for lot in lots.iterator(chunk_size=100):
            take = min(lot.remaining, left)
            lot.remaining -= take
            left -= take
            changed.append(lot)
            if not left:
                break
    if changed:
        PointsLot.objects.bulk_update(changed, ["remaining"])
    return entry


def plan_retier(
    account: PointsAccount,
    *,
    tiers: list[Tier],
    reason: str,
    purchase: Purchase | None = None,
    upgrade_only: bool = False,
) -> TierHistory | None:
    """`retier` without the write: moves the account in memory and returns the unsaved history
    row (None when the tier stays), for the caller to insert (the batch service inserts many)."""
    level = rules.tier_for_spend(tier_levels(tiers), account.lifetime_spend)
    if level.id == account.tier_id:
        return None
    new_tier = next(t for t in tiers if t.pk == level.id)
    if upgrade_only and new_tier.rank < account.tier.rank:
        return None
    history = TierHistory(
        member_id=account.member_id, from_tier=account.tier, to_tier=new_tier, reason=reason, purchase=purchase
    )
    account.tier = new_tier
    return history


def retier(
    account: PointsAccount,
    *,
    tiers: list[Tier],
    reason: str,
    purchase: Purchase | None = None,
    upgrade_only: bool = False,
) -> bool:
    """Move the account to the tier its lifetime spend reaches, with history. True if it moved."""
    history = plan_retier(account, tiers=tiers, reason=reason, purchase=purchase, upgrade_only=upgrade_only)
    if history is None:
        return False
    history.save()
    return True
