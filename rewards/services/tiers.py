"""What decides a member's tier, and the nightly re-evaluation of every member's tier.

The qualifying figure is what `TierPolicy` says: lifetime spend (the default), spend in a rolling
window of N months, or points earned (lifetime or in the window). Tier thresholds are compared with
it. Purchases upgrade at once (`rewards.services.ledger.retier`); refunds re-evaluate at once and may
lower the tier; the nightly task `reevaluate_tiers` catches everything that time changes:

- a member whose figure reaches a higher tier is upgraded ("Periodic re-evaluation", or
  "Rolling-window re-evaluation" when the basis is a window);
- a member whose figure falls below their tier's threshold is marked `below_since` (today) and keeps
  the tier for the grace period; if they are still below when it ends, they move down to the tier
  their figure reaches ("Grace period ended"); qualifying again (by a purchase or on a later night)
  clears the mark. With 0 days of grace the downgrade happens on the first night below.

The run is set-based: per batch of accounts (by id) one SQL statement computes every figure (the
account's own column, or one grouped aggregate over the batch's purchases or ledger rows) and the
tier it reaches, returning only the accounts that change. Those are locked the way every points
writer locks — their members, then the accounts, each in primary-key order (`rewards.lock_objects`)
— decided again now that they are locked (a posting that held one has committed), and changed with a
few UPDATEs (one per target tier) and one bulk INSERT of their history rows. Running it twice in a
day changes nothing the second time.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from loyalty_crm import local_cache
from members.models import Member, Purchase
from members.signals import send_after_commit, tiers_changed
from rewards import _sql, lock_objects, rules
from rewards.models import (
    TIER_POLICY_CACHE_KEY,
    TIER_POLICY_CACHE_SECONDS,
    LedgerEntry,
    PointsAccount,
    Tier,
    TierHistory,
    TierPolicy,
)

# Credits that give back points spent (a cancelled redemption, a points payment returned with the
# goods): earned once already, they are no "points earned" in a window (docs/rules/points.md), as
# they are not in lifetime earned (`ledger.NOT_EARNED_CREDITS`, the same two kinds).
GIVEN_BACK = (LedgerEntry.Kind.REDEMPTION_RETURN, LedgerEntry.Kind.SPEND_RETURN)


MONEY = Decimal("0.01")


@dataclass(frozen=True)
class Policy:
    """The tier policy's values (cached; `rewards.receivers` drops the cache when the row changes)."""

    basis: str = TierPolicy.Basis.LIFETIME_SPEND.value
    window_months: int = 12
    grace_days: int = 30
    downgrade: bool = True

    @property
    def uses_window(self) -> bool:
        return self.basis in TierPolicy.WINDOW_BASES

    @property
    def uses_points(self) -> bool:
        return self.basis in TierPolicy.POINTS_BASES

    def describe(self, figure: Decimal) -> str:
        return TierPolicy.describe_figure(self.basis, self.window_months, figure)


def tier_policy() -> Policy:
    """The active tier policy (the defaults without a row), read through the cache so a posting
    costs no extra query."""
    return local_cache.per_request(TIER_POLICY_CACHE_KEY, _shared_tier_policy)


def _shared_tier_policy() -> Policy:
    policy = cache.get(TIER_POLICY_CACHE_KEY)
    if policy is None:
        row = (
            TierPolicy.objects.filter(pk=TierPolicy.SINGLETON_ID)
            .values_list("basis", "window_months", "grace_days", "downgrade")
            .first()
        )
        policy = Policy(*row) if row else Policy()
        cache.set(TIER_POLICY_CACHE_KEY, policy, TIER_POLICY_CACHE_SECONDS)
    return policy


def window_start(today: datetime.date, months: int) -> datetime.datetime:
    """The first moment that counts in a window of `months` ending today: local midnight of the same
    date `months` months ago (a purchase of 10 June 2025 counts until 10 June 2026 in a 12-month
    window and no longer on 11 June)."""
    start = rules._add_months(today, -months)
    return timezone.make_aware(datetime.datetime.combine(start, datetime.time.min))


def qualifying_figure(
    account: PointsAccount,
    *,
    policy: Policy,
    today: datetime.date | None = None,
    purchase: Purchase | None = None,
) -> Decimal:
    """The account's figure under `policy`. Lifetime bases read the account (no query); window bases
    sum the member's posted purchases (or earned points) of the window in one query. `purchase` is
    one being posted right now, counted although its posting row is written after the tier."""
    if policy.basis == TierPolicy.Basis.LIFETIME_SPEND:
        return account.lifetime_spend
    if policy.basis == TierPolicy.Basis.LIFETIME_POINTS:
        return Decimal(account.lifetime_earned)
    start = window_start(today or timezone.localdate(), policy.window_months)
    if policy.basis == TierPolicy.Basis.WINDOW_SPEND:
        posted = Q(posting__isnull=False)
        if purchase is not None:
            posted |= Q(pk=purchase.pk)
        total = (
            Purchase.objects.filter(posted, member_id=account.member_id, ordered_at__gte=start)
            .order_by()
            .aggregate(s=Sum(F("total") - F("refunded_total")))["s"]
        )
        return Decimal(str(total or 0)).quantize(MONEY)
    total = (
        LedgerEntry.objects.filter(Q(points__gt=0) | Q(kind=LedgerEntry.Kind.REFUND_REVERSAL), account_id=account.pk)
        .exclude(kind__in=GIVEN_BACK)  # points spent and given back were not earned
        .filter(Q(purchase__isnull=True, created_at__gte=start) | Q(purchase__ordered_at__gte=start))
        .order_by()
        .aggregate(s=Sum("points"))["s"]
    )
    return Decimal(total or 0)


def window_bases(
    accounts: list[PointsAccount], *, policy: Policy, today: datetime.date | None = None
) -> dict[int, Decimal]:
    """`qualifying_figure` of a window basis for many accounts at once, by member id, before the
    purchases being posted now (the batch adds those as it goes): one grouped query per 10,000
    accounts. Empty for a lifetime basis (the account holds the figure)."""
    if not policy.uses_window or not accounts:
        return {}
    start = window_start(today or timezone.localdate(), policy.window_months)
    figures: dict[int, Decimal] = {}
    for offset in range(0, len(accounts), 10_000):
        chunk = accounts[offset : offset + 10_000]
        if policy.basis == TierPolicy.Basis.WINDOW_SPEND:
            rows = (
                Purchase.objects.filter(
                    member_id__in=[a.member_id for a in chunk], posting__isnull=False, ordered_at__gte=start
                )
                .order_by()
                .values_list("member_id")
                .annotate(s=Sum(F("total") - F("refunded_total")))
            )
            figures.update((member_id, Decimal(str(total or 0)).quantize(MONEY)) for member_id, total in rows)
        else:
            members = {a.pk: a.member_id for a in chunk}
            rows = (
                LedgerEntry.objects.filter(
                    Q(points__gt=0) | Q(kind=LedgerEntry.Kind.REFUND_REVERSAL), account_id__in=list(members)
                )
                .exclude(kind__in=GIVEN_BACK)
                .filter(Q(purchase__isnull=True, created_at__gte=start) | Q(purchase__ordered_at__gte=start))
                .order_by()
                .values_list("account_id")
                .annotate(s=Sum("points"))
            )
            figures.update((members[account_id], Decimal(total or 0)) for account_id, total in rows)
    return figures


def announce_tier_changes(member_ids) -> None:
    """Tell other apps, once the transaction commits, that these members' tiers moved
    (`members.signals.tiers_changed`, documented there). No queries; nothing when no one moved."""
    ids = sorted(set(member_ids))
    if ids:
        send_after_commit(tiers_changed, sender=Member, member_ids=ids)


def history_row(
    account: PointsAccount,
    *,
    to_tier_id: int,
    reason: str,
    policy: Policy,
    figure: Decimal,
    purchase: Purchase | None = None,
    below_since: datetime.date | None = None,
) -> TierHistory:
    return TierHistory(
        member_id=account.member_id,
        from_tier_id=account.tier_id,
        to_tier_id=to_tier_id,
        reason=reason,
        purchase=purchase,
        basis=policy.basis,
        window_months=policy.window_months if policy.uses_window else None,
        figure=figure,
        below_since=below_since,
    )


# --- the nightly re-evaluation ------------------------------------------------------------------


@dataclass
class ReevaluationResult:
    """What a run did (or, with dry_run, would do)."""

    accounts: int = 0
    batches: int = 0
    upgrades: int = 0
    downgrades: int = 0
    grace_started: int = 0
    grace_cleared: int = 0
    dry_run: bool = False
    moves: dict[str, int] = field(default_factory=dict)  # "silver→gold": count

    @property
    def changed(self) -> int:
        return self.upgrades + self.downgrades + self.grace_started + self.grace_cleared


UPGRADE, DOWNGRADE, START_GRACE, CLEAR_GRACE = "upgrade", "downgrade", "start_grace", "clear_grace"


def _decide(rows: list[_sql.ReevaluationRow], *, policy: Policy) -> list[tuple[_sql.ReevaluationRow, str]]:
    """What tonight does to each row the query returned (it returns only rows that change)."""
    decided = []
    for row in rows:
        if row.target_rank > row.current_rank:
            action = UPGRADE
        elif row.target_rank == row.current_rank:
            action = CLEAR_GRACE
        elif row.below_since is None:
            action = DOWNGRADE if policy.grace_days == 0 else START_GRACE
        else:
            action = DOWNGRADE  # the query returns a marked row below only once its grace has ended
        decided.append((row, action))
    return decided


def _count(result: ReevaluationResult, decided: list[tuple[_sql.ReevaluationRow, str]], codes: dict[int, str]) -> None:
    for row, action in decided:
        if action == UPGRADE:
            result.upgrades += 1
        elif action == DOWNGRADE:
            result.downgrades += 1
        elif action == START_GRACE:
            result.grace_started += 1
        else:
            result.grace_cleared += 1
        if action in (UPGRADE, DOWNGRADE):
            move = f"{codes[row.tier_id]}→{codes[row.target_id]}"
            result.moves[move] = result.moves.get(move, 0) + 1


def _apply(cursor, t, decided: list[tuple[_sql.ReevaluationRow, str]], *, policy: Policy, today: datetime.date) -> None:
    """Write one batch's decisions: an UPDATE per target tier and per grace change, and the history
    rows in one executemany (pipelined by psycopg), in raw SQL: model instances for ten thousand rows
    cost more than the database's work."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    by_target: dict[int, list[int]] = {}
    start_grace: list[int] = []
    clear_grace: list[int] = []
    history: list[tuple] = []
    window = policy.window_months if policy.uses_window else None
    for row, action in decided:
        if action in (UPGRADE, DOWNGRADE):
            by_target.setdefault(row.target_id, []).append(row.account_id)
            grace_ended = action == DOWNGRADE and row.below_since is not None
            if grace_ended:
                reason = TierHistory.Reason.GRACE_ENDED
            else:
                reason = TierHistory.Reason.WINDOW if policy.uses_window else TierHistory.Reason.REEVALUATION
            below_since = connection.ops.adapt_datefield_value(row.below_since) if grace_ended else None
            history.append(
                (
                    row.member_id,
                    row.tier_id,
                    row.target_id,
                    reason.value,
                    policy.basis,
                    window,
                    connection.ops.adapt_decimalfield_value(row.figure, 14, 2),
                    below_since,
                    now,
                )
            )
        elif action == START_GRACE:
            start_grace.append(row.account_id)
        else:
            clear_grace.append(row.account_id)
    _sql.write_reevaluation(
        cursor,
        t,
        by_target=by_target,
        start_grace=start_grace,
        clear_grace=clear_grace,
        today=today,
        now=now,
        history=history,
    )
    announce_tier_changes(row.member_id for row, action in decided if action in (UPGRADE, DOWNGRADE))


def reevaluate_tiers(
    *,
    today: datetime.date | None = None,
    batch_size: int = 10_000,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ReevaluationResult:
    """Re-evaluate every account's tier under the tier policy (see the module docstring).

    Each batch of `batch_size` accounts is one transaction: it finds the accounts that change,
    locks them in primary-key order, decides again under the lock (a purchase that committed
    meanwhile counts) and writes. With `dry_run` nothing is locked or written; the result says
    what would change. `progress` is called after each batch with the accounts done in it.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be 1 or more, not {batch_size}.")
    today = today or timezone.localdate()
    policy = tier_policy()
    tiers = list(Tier.objects.order_by("rank").values_list("pk", "code", "rank"))
    result = ReevaluationResult(dry_run=dry_run)
    if not tiers:
        return result
    codes = {pk: code for pk, code, _rank in tiers}
    entry = (tiers[0][0], tiers[0][2])
    t = _sql.tier_tables()
    start = window_start(today, policy.window_months)
    last = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            _sql.jit_off(cursor)
            hi, done = _sql.next_batch(cursor, t, after=last, size=batch_size)
            if hi is None:
                break
            batch = {"policy": policy, "start": start, "today": today, "lo": last, "hi": hi, "entry": entry}
            rows = _sql.changing_rows(cursor, t, **batch)
            if rows and not dry_run:
                locked = lock_objects.members_and_accounts_for_reevaluation([row.account_id for row in rows])
                # Decided again under the locks: a posting that held one has committed by now.
                rows = [row for row in _sql.changing_rows(cursor, t, **batch, only=locked) if row.account_id in locked]
            decided = _decide(rows, policy=policy)
            if not dry_run:
                _apply(cursor, t, decided, policy=policy, today=today)
            _count(result, decided, codes)
        result.accounts += done
        result.batches += 1
        last = hi
        if progress is not None:
            progress(done)
    return result
