"""The rewards app's SQL, in one place (docs/contributing.md, "Raw SQL").

Each statement here is justified by a benchmark in benchmarks/: the nightly tier re-evaluation
(bench_tiers.py: one set-based query per batch of accounts, written back in a few statements),
and the reads that run on every posting (bench_posting.py: the tiers, the paid membership in
force, the posting of a retried request), where building an ORM query cost more than running it.
Names come from the models; values are always parameters.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import connection

from loyalty_crm.bulk import select_columns
from members.models import Purchase
from rewards.models import (
    LedgerEntry,
    MembershipPlan,
    MembershipSubscription,
    PointsAccount,
    PurchasePosting,
    Tier,
    TierHistory,
    TierPolicy,
)

if TYPE_CHECKING:
    from rewards.services.tiers import Policy

MONEY = Decimal("0.01")

# --- the nightly tier re-evaluation (rewards.services.tiers.reevaluate_tiers) -----------------


@dataclass(frozen=True)
class ReevaluationRow:
    account_id: int
    member_id: int
    tier_id: int
    below_since: datetime.date | None
    figure: Decimal
    target_id: int
    current_rank: int
    target_rank: int


def tier_tables() -> dict[str, str]:
    quote = connection.ops.quote_name
    return {
        "account": quote(PointsAccount._meta.db_table),
        "tier": quote(Tier._meta.db_table),
        "purchase": quote(Purchase._meta.db_table),
        "posting": quote(PurchasePosting._meta.db_table),
        "entry": quote(LedgerEntry._meta.db_table),
        "history": quote(TierHistory._meta.db_table),
    }


def figure_sql(policy: Policy, t: dict[str, str]) -> str:
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
        f"WHERE e.account_id = a.id AND (e.points > 0 OR e.kind = %(reversal)s) AND e.kind <> %(spend_return)s "
        f"AND COALESCE(p.ordered_at, e.created_at) >= %(start)s), 0)"
    )


def changing_rows(
    cursor,
    t,
    *,
    policy: Policy,
    start: datetime.datetime,
    today: datetime.date,
    lo: int,
    hi: int,
    entry: tuple[int, int],
    only=None,
) -> list[ReevaluationRow]:
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
        f"ROUND({figure_sql(policy, t)}, 2) AS figure "
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
            "start": connection.ops.adapt_datetimefield_value(start),
            "reversal": LedgerEntry.Kind.REFUND_REVERSAL.value,
            "spend_return": LedgerEntry.Kind.SPEND_RETURN.value,
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
            ReevaluationRow(
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


def next_batch(cursor, t, *, after: int, size: int) -> tuple[int | None, int]:
    """(highest id, number) of the next `size` accounts after id `after`; (None, 0) when none is left."""
    cursor.execute(
        f"SELECT MAX(id), COUNT(*) FROM (SELECT a.id FROM {t['account']} a WHERE a.id > %s ORDER BY a.id LIMIT %s) "
        f"AS batch",
        [after, size],
    )
    hi, count = cursor.fetchone()
    return hi, count


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


def jit_off(cursor) -> None:
    """For this transaction: the correlated sums look expensive to PostgreSQL's planner, whose JIT
    compilation would then cost more than the query itself."""
    if connection.vendor == "postgresql":
        cursor.execute("SET LOCAL jit = off")


def write_reevaluation(
    cursor,
    t: dict[str, str],
    *,
    by_target: dict[int, list[int]],
    start_grace: list[int],
    clear_grace: list[int],
    today: datetime.date,
    now,
    history: list[tuple],
) -> None:
    """Write one batch's decisions: an UPDATE per target tier and per grace change, and the history
    rows in one statement on PostgreSQL (an executemany elsewhere)."""
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


# --- reads on every posting ----------------------------------------------------------------


def all_tiers() -> list[Tier]:
    """Every tier, lowest rank first: the same rows the ORM would give, without building the query
    each time (read on every posting)."""
    table = connection.ops.quote_name(Tier._meta.db_table)
    return list(Tier.objects.raw(f"SELECT {select_columns(Tier)} FROM {table} ORDER BY rank, id"))


def active_membership(member_id: int, day: datetime.date):
    """Plain SQL (it runs for every posting when a plan adds points): the subscription and its
    plan, as `select_related("plan")` would load them."""
    quote = connection.ops.quote_name
    subscription_table = quote(MembershipSubscription._meta.db_table)
    rows = list(
        MembershipSubscription.objects.raw(
            f"SELECT {select_columns(MembershipSubscription)} FROM {subscription_table} "
            "WHERE member_id = %s AND status = %s "
            "AND starts_on <= %s AND ends_on >= %s ORDER BY starts_on, id LIMIT 1",
            [member_id, MembershipSubscription.Status.ACTIVE.value, *[connection.ops.adapt_datefield_value(day)] * 2],
        )
    )
    if not rows:
        return None
    subscription = rows[0]
    plan_table = quote(MembershipPlan._meta.db_table)
    plan_sql = f"SELECT {select_columns(MembershipPlan)} FROM {plan_table} WHERE id = %s"
    subscription.plan = next(iter(MembershipPlan.objects.raw(plan_sql, [subscription.plan_id])))
    return subscription
