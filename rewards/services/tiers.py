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

# ruff: noqa: S608 -- only table names from the models' _meta are interpolated; values are parameters.
from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from members.models import Purchase
from rewards import lock_objects, rules
from rewards.models import (
    TIER_POLICY_CACHE_KEY,
    TIER_POLICY_CACHE_SECONDS,
    LedgerEntry,
    PointsAccount,
    PurchasePosting,
    Tier,
    TierHistory,
    TierPolicy,
)

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
                .filter(Q(purchase__isnull=True, created_at__gte=start) | Q(purchase__ordered_at__gte=start))
                .order_by()
                .values_list("account_id")
                .annotate(s=Sum("points"))
            )
            figures.update((members[account_id], Decimal(total or 0)) for account_id, total in rows)
    return figures


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


@dataclass(frozen=True)
class _Row:
    account_id: int
    member_id: int
    tier_id: int
    below_since: datetime.date | None
    figure: Decimal
    target_id: int
    current_rank: int
    target_rank: int


UPGRADE, DOWNGRADE, START_GRACE, CLEAR_GRACE = "upgrade", "downgrade", "start_grace", "clear_grace"


def _tables() -> dict[str, str]:
    quote = connection.ops.quote_name
    return {
        "account": quote(PointsAccount._meta.db_table),
        "tier": quote(Tier._meta.db_table),
        "purchase": quote(Purchase._meta.db_table),
        "posting": quote(PurchasePosting._meta.db_table),
        "entry": quote(LedgerEntry._meta.db_table),
        "history": quote(TierHistory._meta.db_table),
    }


def _figure_sql(policy: Policy, t: dict[str, str]) -> str:
    """The figure of account `a` as an SQL expression: its own column for the lifetime bases; for the
    window bases a correlated sum that PostgreSQL answers per account from the indexes (the member's
    purchases by date, the posting by purchase; or the account's ledger rows) — cheaper than grouping
    the whole window's purchases once per batch."""
    if policy.basis == TierPolicy.Basis.LIFETIME_SPEND:
        return "a.lifetime_spend"
    if policy.basis == TierPolicy.Basis.LIFETIME_POINTS:
        return "a.lifetime_earned"
    if policy.basis == TierPolicy.Basis.WINDOW_SPEND:
        return (
            f"COALESCE((SELECT SUM(p.total - p.refunded_total) FROM {t['purchase']} p "
            f"WHERE p.member_id = a.member_id AND p.ordered_at >= %(start)s "
            f"AND EXISTS (SELECT 1 FROM {t['posting']} pp WHERE pp.purchase_id = p.id)), 0)"
        )
    return (
        f"COALESCE((SELECT SUM(e.points) FROM {t['entry']} e LEFT JOIN {t['purchase']} p ON p.id = e.purchase_id "
        f"WHERE e.account_id = a.id AND (e.points > 0 OR e.kind = %(reversal)s) "
        f"AND COALESCE(p.ordered_at, e.created_at) >= %(start)s), 0)"
    )


def _changing_rows(
    cursor, t, *, policy: Policy, today: datetime.date, lo: int, hi: int, entry: tuple[int, int], only=None
) -> list[_Row]:
    """The accounts of (lo, hi] (and among `only`, on PostgreSQL) whose tier or grace mark changes
    tonight, with their figure and the tier it reaches.

    The tier a figure reaches comes from a join with the tiers as bands [threshold, next threshold)
    (thresholds rise with rank, `Tier.clean`); both CTEs are MATERIALIZED so each figure is computed
    once per account.
    """
    postgres = connection.vendor == "postgresql"
    below = ""
    if policy.downgrade:
        below = "OR (target_rank < cur.rank AND (f.below_since IS NULL OR f.below_since <= %(cutoff)s))"
    among = " AND a.id = ANY(%(only)s)" if only is not None and postgres else ""
    target_rank = "COALESCE(b.rank, %(entry_rank)s)"
    cursor.execute(
        f"WITH bands AS MATERIALIZED (SELECT t.id, t.rank, t.threshold, "
        f"LEAD(t.threshold) OVER (ORDER BY t.threshold) AS upper FROM {t['tier']} t), "
        f"f AS MATERIALIZED (SELECT a.id, a.member_id, a.tier_id, a.below_since, "
        f"ROUND({_figure_sql(policy, t)}, 2) AS figure "
        f"FROM {t['account']} a WHERE a.id > %(lo)s AND a.id <= %(hi)s{among}) "
        f"SELECT f.id, f.member_id, f.tier_id, f.below_since, f.figure, COALESCE(b.id, %(entry)s), cur.rank, "
        f"{target_rank} AS target_rank "
        f"FROM f JOIN {t['tier']} cur ON cur.id = f.tier_id "
        f"LEFT JOIN bands b ON f.figure >= b.threshold AND (b.upper IS NULL OR f.figure < b.upper) "
        f"WHERE {target_rank} > cur.rank OR ({target_rank} >= cur.rank AND f.below_since IS NOT NULL) "
        f"{below.replace('target_rank', target_rank)} "
        f"ORDER BY f.id",
        {
            "lo": lo,
            "hi": hi,
            **({"only": sorted(only)} if among else {}),
            "start": connection.ops.adapt_datetimefield_value(window_start(today, policy.window_months)),
            "reversal": LedgerEntry.Kind.REFUND_REVERSAL.value,
            "entry": entry[0],
            "entry_rank": entry[1],
            "cutoff": connection.ops.adapt_datefield_value(today - datetime.timedelta(days=policy.grace_days)),
        },
    )
    rows = []
    for account_id, member_id, tier_id, below_since, value, target_id, current_rank, target_rank in cursor.fetchall():
        if isinstance(below_since, str):  # SQLite returns dates from raw SQL as text
            below_since = datetime.date.fromisoformat(below_since)
        rows.append(
            _Row(
                account_id=account_id,
                member_id=member_id,
                tier_id=tier_id,
                below_since=below_since,
                figure=Decimal(str(value or 0)).quantize(MONEY),
                target_id=target_id,
                current_rank=current_rank,
                target_rank=target_rank,
            )
        )
    return rows


def _decide(rows: list[_Row], *, policy: Policy) -> list[tuple[_Row, str]]:
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


def _next_batch(cursor, t, *, after: int, size: int) -> tuple[int | None, int]:
    """(highest id, number) of the next `size` accounts after id `after`; (None, 0) when none is left."""
    cursor.execute(
        f"SELECT MAX(id), COUNT(*) FROM (SELECT a.id FROM {t['account']} a WHERE a.id > %s ORDER BY a.id LIMIT %s) "
        f"AS batch",
        [after, size],
    )
    hi, count = cursor.fetchone()
    return hi, count


def _count(result: ReevaluationResult, decided: list[tuple[_Row, str]], codes: dict[int, str]) -> None:
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


def id_lists(ids: list[int]) -> list[tuple[str, list]]:
    """`(condition, params)` pairs matching `id` to these ids: one `= ANY(array)` on PostgreSQL (a long
    IN list costs more to send and parse than to run), IN lists of at most 500 elsewhere (SQLite's
    variable limit)."""
    if connection.vendor == "postgresql":
        return [("= ANY(%s)", [list(ids)])]
    return [
        (f"IN ({', '.join(['%s'] * len(chunk))})", list(chunk))
        for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500))
    ]


def _apply(cursor, t, decided: list[tuple[_Row, str]], *, policy: Policy, today: datetime.date) -> None:
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
    changes = [("tier_id = %s, below_since = NULL", [target_id], ids) for target_id, ids in by_target.items()]
    if start_grace:
        changes.append(("below_since = %s", [connection.ops.adapt_datefield_value(today)], start_grace))
    if clear_grace:
        changes.append(("below_since = NULL", [], clear_grace))
    for assignment, values, ids in changes:
        for condition, params in id_lists(ids):
            cursor.execute(
                f"UPDATE {t['account']} SET {assignment}, updated_at = %s WHERE id {condition}",
                [*values, now, *params],
            )
    if not history:
        return
    columns = "member_id, from_tier_id, to_tier_id, reason, basis, window_months, figure, below_since, at"
    if connection.vendor == "postgresql":
        # One statement for the batch: the rows travel as arrays, one per column.
        cursor.execute(
            f"INSERT INTO {t['history']} ({columns}) SELECT * FROM unnest(%s::bigint[], %s::bigint[], "
            f"%s::bigint[], %s::varchar[], %s::varchar[], %s::smallint[], %s::numeric[], %s::date[], "
            f"%s::timestamptz[])",
            [list(column) for column in zip(*history, strict=True)],
        )
    else:
        cursor.executemany(
            f"INSERT INTO {t['history']} ({columns}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", history
        )


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
    t = _tables()
    last = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # The correlated sums look expensive to the planner, whose JIT compilation would then
                # cost more than the query itself.
                cursor.execute("SET LOCAL jit = off")
            hi, done = _next_batch(cursor, t, after=last, size=batch_size)
            if hi is None:
                break
            batch = {"policy": policy, "today": today, "lo": last, "hi": hi, "entry": entry}
            rows = _changing_rows(cursor, t, **batch)
            if rows and not dry_run:
                locked = lock_objects.members_and_accounts_for_reevaluation([row.account_id for row in rows])
                # Decided again under the locks: a posting that held one has committed by now.
                rows = [row for row in _changing_rows(cursor, t, **batch, only=locked) if row.account_id in locked]
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
    codes = dict(tiers)
    entry_id = tiers[0][0]
    t = _tables()
    last = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            hi, done = _next_batch(cursor, t, after=last, size=batch_size)
            if hi is None:
                break
            rows = _changing_rows(cursor, t, policy=policy, today=today, lo=last, hi=hi, entry_id=entry_id)
            if rows and not dry_run:
                ids = [row.account_id for row in rows]
                locked = lock_objects.members_and_accounts_for_reevaluation(ids)
                # Decided again under the locks: a posting that held one has committed by now.
                rows = [
                    row
                    for row in _changing_rows(cursor, t, policy=policy, today=today, lo=last, hi=hi, entry_id=entry_id)
                    if row.account_id in locked
                ]
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
