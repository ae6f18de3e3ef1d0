"""The ledger's building blocks, used by every points-changing service under the account lock.

Not a public API: call `post_purchase`, `refund_purchase`, `adjust_points`. The caller holds the
member lock and the account lock (`rewards.lock_objects`) and saves the account at the end.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty_crm import local_cache
from members.models import Member, Purchase
from rewards import _sql, lock_objects, rules
from rewards.errors import InsufficientPoints
from rewards.ledger_reasons import Reason
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
from rewards.services import tiers as tier_rules

# The most points one manual grant may move (an adjustment, a campaign's bonus per recipient): far
# above any real one, and low enough that balances and running totals stay within the database's
# integers.
MAX_POINTS_PER_GRANT = 10_000_000


# Credits that give back points spent before (a cancelled redemption, returned goods paid with
# points): earned once already, so not in lifetime earned (`rewards.services.integrity` agrees).
NOT_EARNED_CREDITS = frozenset({LedgerEntry.Kind.REDEMPTION_RETURN, LedgerEntry.Kind.SPEND_RETURN})


def real_actor(actor):
    """A user to record, or None for anonymous/system callers."""
    return actor if getattr(actor, "is_authenticated", False) else None


def lock_or_open_account(member: Member, tiers: list[Tier]) -> PointsAccount:
    """The member's account, locked; opened at the entry tier on first use.

    The caller already holds the member's row lock, so two openings of one account cannot race;
    `ignore_conflicts` keeps it safe even for a caller that does not.
    """
    account = lock_objects.account_row_for_update(member.pk)
    if account is None:
        PointsAccount.objects.bulk_create([PointsAccount(member=member, tier=tiers[0])], ignore_conflicts=True)
        account = lock_objects.account_row_for_update(member.pk)
    tier = next((t for t in tiers if t.pk == account.tier_id), None)
    account.tier = tier if tier is not None else Tier.objects.get(pk=account.tier_id)
    return account


def active_expiry_policy() -> tuple[str, int | None]:
    """(kind, months) of the active `ExpiryPolicy` (the default when no row is active).

    Read through the cache (shared when Redis is configured) so a posting costs no extra query;
    saving or deleting a policy drops the cached value (`rewards.receivers`), and it
    lives at most `EXPIRY_POLICY_CACHE_SECONDS` anyway.
    """
    policy = local_cache.per_request(EXPIRY_POLICY_CACHE_KEY, _shared_expiry_policy)
    return policy[0], policy[1]


def _shared_expiry_policy() -> tuple:
    policy = cache.get(EXPIRY_POLICY_CACHE_KEY)
    if policy is None:
        row = ExpiryPolicy.objects.filter(is_active=True).values_list("kind", "months").first()
        policy = tuple(row) if row else (ExpiryPolicy.Kind.YEAR_END_NEXT.value, None)
        cache.set(EXPIRY_POLICY_CACHE_KEY, policy, EXPIRY_POLICY_CACHE_SECONDS)
    return policy


def lot_expires_on(earned_on: datetime.date) -> datetime.date:
    """The expiry date the active policy gives points earned on `earned_on`."""
    kind, months = active_expiry_policy()
    return rules.expiry_date(earned_on, kind, months)


def save_account(account: PointsAccount) -> None:
    account.save(update_fields=["balance", "lifetime_earned", "lifetime_spend", "tier", "below_since", "updated_at"])


def _new_entry(
    account: PointsAccount, *, kind: str, points: int, purchase, reason_code: Reason, reason_params, reason: str, actor
) -> LedgerEntry:
    """An unsaved ledger row recording the account's balance as it is now."""
    return LedgerEntry(
        account=account,
        member_id=account.member_id,
        kind=kind,
        points=points,
        balance_after=account.balance,
        purchase=purchase,
        reason_code=reason_code,
        reason_params=reason_params or {},
        reason=reason[:200],
        actor=real_actor(actor),
    )


def _entry(
    account: PointsAccount, *, kind: str, points: int, purchase, reason_code: Reason, reason_params, reason: str, actor
) -> LedgerEntry:
    entry = _new_entry(
        account,
        kind=kind,
        points=points,
        purchase=purchase,
        reason_code=reason_code,
        reason_params=reason_params,
        reason=reason,
        actor=actor,
    )
    entry.save()
    return entry


@dataclass(frozen=True, slots=True)
class CreditMove:
    """What a credit did to the account (see `move_credit`)."""

    balance_after: int  # the balance the credit row records
    remaining: int  # the new lot's points left (0 when they repaid a debt or expired at once)
    expired: int  # points of the new lot expired at once (a lot dated before today), else 0
    expires_on: datetime.date
    balance_after_expiry: int  # the balance the expire row records (when `expired`)


def move_credit(
    account: PointsAccount, *, kind: str, points: int, expires_on: datetime.date, today: datetime.date | None = None
) -> CreditMove:
    """THE arithmetic of a credit, in memory: a debt (negative balance) is repaid first; a lot whose
    expiry date has already passed expires at once. `plan_credit` (and so `credit`) and the batch
    service build their rows from it."""
    assert points > 0
    debt = max(0, -account.balance)
    account.balance += points
    if kind not in NOT_EARNED_CREDITS:
        account.lifetime_earned += points
    balance_after = account.balance
    remaining, expired = max(0, points - debt), 0
    if remaining and expires_on < (today or timezone.localdate()):
        expired, remaining = remaining, 0
        account.balance -= expired
    return CreditMove(balance_after, remaining, expired, expires_on, account.balance)


def expired_at_once_params(expires_on: datetime.date) -> dict:
    """The reason parameters of the expire row of a lot dated before it was recorded
    (`Reason.EXPIRED_AT_ONCE`)."""
    return {"date": expires_on.isoformat()}


def plan_credit(
    account: PointsAccount,
    *,
    kind: str,
    points: int,
    earned_on: datetime.date,
    purchase: Purchase | None = None,
    reason_code: Reason = Reason.NOTE,
    reason_params: dict | None = None,
    reason: str = "",
    actor=None,
    expires_on: datetime.date | None = None,
) -> tuple[list[LedgerEntry], PointsLot]:
    """`credit` without the writes: changes the account in memory (`move_credit`) and returns the
    unsaved ledger rows (the credit, and its expire row when the lot is already past its date) and
    the unsaved lot, for the caller to insert in that order."""
    move = move_credit(account, kind=kind, points=points, expires_on=expires_on or lot_expires_on(earned_on))
    actor = real_actor(actor)
    entries = [
        LedgerEntry(
            account=account,
            member_id=account.member_id,
            kind=kind,
            points=points,
            balance_after=move.balance_after,
            purchase=purchase,
            reason_code=reason_code,
            reason_params=reason_params or {},
            reason=reason[:200],
            actor=actor,
        )
    ]
    if move.expired:
        entries.append(
            LedgerEntry(
                account=account,
                member_id=account.member_id,
                kind=LedgerEntry.Kind.EXPIRE,
                points=-move.expired,
                balance_after=move.balance_after_expiry,
                purchase=purchase,
                reason_code=Reason.EXPIRED_AT_ONCE,
                reason_params=expired_at_once_params(move.expires_on),
                actor=actor,
            )
        )
    lot = PointsLot(
        entry=entries[0],
        account=account,
        points=points,
        remaining=move.remaining,
        expired=move.expired,
        expires_on=move.expires_on,
    )
    return entries, lot


def credit(
    account: PointsAccount,
    *,
    kind: str,
    points: int,
    earned_on: datetime.date,
    purchase: Purchase | None = None,
    reason_code: Reason = Reason.NOTE,
    reason_params: dict | None = None,
    reason: str = "",
    actor=None,
    expires_on: datetime.date | None = None,
) -> LedgerEntry:
    """Add points as a new lot. A debt (negative balance) is repaid first; a lot whose expiry
    date has already passed (a backfilled purchase) expires at once with its own expire row.

    `expires_on` overrides the policy's date (points given back keep the date they had). A
    `redemption_return` or `spend_return` row gives back points already counted once, so it does
    not add to lifetime earned (`rewards.services.integrity` sums it the same way)."""
    entries, lot = plan_credit(
        account,
        kind=kind,
        points=points,
        earned_on=earned_on,
        purchase=purchase,
        reason_code=reason_code,
        reason_params=reason_params,
        reason=reason,
        actor=actor,
        expires_on=expires_on,
    )
    if len(entries) == 1:  # the common case: the row and its lot in one statement
        _sql.insert_entry_and_lot(entries[0], lot)
        return entries[0]
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
    reason_code: Reason = Reason.NOTE,
    reason_params: dict | None = None,
    reason: str = "",
    actor=None,
    taken: list | None = None,
) -> LedgerEntry:
    """Take points, oldest lots first (after `first_lot`, when given).

    Only `allow_debt` (a refund reversing points already spent) may take the balance below 0.
    When `taken` is a list, `(expires_on, points)` is appended for each lot drawn from.
    """
    assert points > 0
    if not allow_debt and account.balance < points:
        raise InsufficientPoints(
            _("The member has %(balance)d points; %(points)d are needed.")
            % {"balance": account.balance, "points": points}
        )
    account.balance -= points
    entry = _entry(
        account,
        kind=kind,
        points=-points,
        purchase=purchase,
        reason_code=reason_code,
        reason_params=reason_params,
        reason=reason,
        actor=actor,
    )
    left = points
    changed = []
    if first_lot is not None and first_lot.remaining:
        take = min(first_lot.remaining, left)
        first_lot.remaining -= take
        left -= take
        changed.append(first_lot)
        if taken is not None:
            taken.append((first_lot.expires_on, take))
    if left:
        lots = lock_objects.open_lots_for_update(account.pk)
        if first_lot is not None:
            lots = lots.exclude(pk=first_lot.pk)
        for lot in lots.iterator(chunk_size=100):
            take = min(lot.remaining, left)
            lot.remaining -= take
            left -= take
            changed.append(lot)
            if taken is not None:
                taken.append((lot.expires_on, take))
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
    policy: tier_rules.Policy | None = None,
    figure: Decimal | None = None,
) -> TierHistory | None:
    """`retier` without the write: moves the account in memory (tier, grace mark) and returns the
    unsaved history row (None when the tier stays), for the caller to insert (the batch service
    inserts many).

    The qualifying figure is the `TierPolicy`'s (`tiers.qualifying_figure`); a caller that keeps
    the figure itself (the batch, for a rolling window over purchases not yet written) passes
    `policy` and `figure`.
    """
    policy = policy or tier_rules.tier_policy()
    if figure is None:
        figure = tier_rules.qualifying_figure(account, policy=policy, purchase=purchase)
    level = rules.tier_for_spend(tier_levels(tiers), figure)
    new_tier = next(t for t in tiers if t.pk == level.id)
    if new_tier.rank >= account.tier.rank:
        account.below_since = None
    if level.id == account.tier_id:
        return None
    if upgrade_only and new_tier.rank < account.tier.rank:
        return None
    history = tier_rules.history_row(
        account, to_tier_id=new_tier.pk, reason=reason, policy=policy, figure=figure, purchase=purchase
    )
    account.tier = new_tier
    account.below_since = None
    return history


def retier(
    account: PointsAccount,
    *,
    tiers: list[Tier],
    reason: str,
    purchase: Purchase | None = None,
    upgrade_only: bool = False,
) -> bool:
    """Move the account to the tier its qualifying figure reaches (`TierPolicy`), with history.
    True if it moved.

    `upgrade_only` (a purchase): only a higher tier is taken at once; a member below their tier's
    threshold keeps it, and the nightly re-evaluation decides after the grace period. Otherwise (a
    refund) the tier follows the figure both ways at once. Reaching the tier's threshold again
    clears the grace mark (`below_since`).
    """
    history = plan_retier(account, tiers=tiers, reason=reason, purchase=purchase, upgrade_only=upgrade_only)
    if history is None:
        return False
    history.save()
    tier_rules.announce_tier_changes([account.member_id])
    return True
