"""The rewards app's SQL, in one place (docs/contributing.md, "Raw SQL").

Each statement here is justified by a benchmark in benchmarks/: the nightly tier re-evaluation
(bench_tiers.py: one set-based query per batch of accounts, written back in a few statements),
and the reads that run on every posting (bench_posting.py: the tiers, the paid membership in
force, the posting of a retried request), where building an ORM query cost more than running it.
Names come from the models; values are always parameters.
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.utils import timezone

from loyalty_crm.bulk import convert_row, insert_preparers, select_columns
from members.models import Purchase
from rewards.models import (
    LedgerEntry,
    MembershipPlan,
    MembershipSubscription,
    PointsAccount,
    PointsLot,
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
        f"WHERE e.account_id = a.id AND (e.points > 0 OR e.kind = %(reversal)s) "
        f"AND e.kind NOT IN (%(spend_return)s, %(redemption_return)s) "
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
            "redemption_return": LedgerEntry.Kind.REDEMPTION_RETURN.value,
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


def posting_id_for_ref(external_ref: str) -> int | None:
    """The id of the posting of the purchase with this external reference (None: not posted).
    A new purchase (the common case) costs this one small query."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT pp.id FROM {quote(PurchasePosting._meta.db_table)} pp "
            f"JOIN {quote(Purchase._meta.db_table)} p ON p.id = pp.purchase_id WHERE p.external_ref = %s",
            [external_ref],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def purchase_ids_for_refs(refs: list[str]) -> list[int]:
    """The ids of the purchases recorded under these references (`post_purchases_batch`'s first
    look-up, usually none). One probe of the unique index per reference, whatever the table's
    size: as `external_ref = ANY(…)` the planner takes 500 references for a seq scan of the
    purchases up to a few hundred thousand rows (8 ms against 0.7 ms at 84,000, profile_batch.py)."""
    purchase = connection.ops.quote_name(Purchase._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT p.id FROM unnest(%s::varchar[]) AS r(ref) "
            # OFFSET 0 keeps the subquery apart, so it is an index probe per reference.
            f"CROSS JOIN LATERAL (SELECT id FROM {purchase} WHERE external_ref = r.ref OFFSET 0) AS p",
            [refs],
        )
        return [row[0] for row in cursor.fetchall()]


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


# --- the nightly expiry (rewards.services.expiry.expire_due_lots) ---------------------------


def expiry_tables() -> dict[str, str]:
    quote = connection.ops.quote_name
    return {
        "lot": quote(PointsLot._meta.db_table),
        "account": quote(PointsAccount._meta.db_table),
        "entry": quote(LedgerEntry._meta.db_table),
    }


# The lots of one expiry batch: due, and in the id range (lo, hi].
DUE = "l.remaining > 0 AND l.expires_on < %(today)s AND l.id > %(lo)s AND l.id <= %(hi)s"


def expiry_batch_upper_bound(cursor, t, *, today: datetime.date, after: int, size: int) -> int | None:
    """The highest id among the next `size` due lots after id `after` (None when none is left)."""
    cursor.execute(
        f"SELECT MAX(id) FROM (SELECT l.id FROM {t['lot']} l "
        f"WHERE l.remaining > 0 AND l.expires_on < %s AND l.id > %s ORDER BY l.id LIMIT %s) AS batch",
        [today, after, size],
    )
    return cursor.fetchone()[0]


def expire_batch(cursor, t, *, today: datetime.date, lo: int, hi: int) -> tuple[int, int, int]:
    """Expire the due lots with lo < id <= hi. Returns (lots, points, accounts)."""
    postgres = connection.vendor == "postgresql"
    params = {"today": today, "lo": lo, "hi": hi}
    accounts_due = f"SELECT l.account_id FROM {t['lot']} l WHERE {DUE}"
    # 1. Lock the affected accounts, in primary-key order (a no-op on SQLite, which locks the file).
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    cursor.execute(
        f"SELECT COUNT(*) FROM (SELECT a.id FROM {t['account']} a WHERE a.id IN ({accounts_due}) "
        f"ORDER BY a.id{lock}) AS locked",
        params,
    )
    accounts = cursor.fetchone()[0]
    if not accounts:
        return 0, 0, 0
    # 2. One expire row per lot, re-reading the lots now that their accounts are locked. Within an
    #    account, balance_after runs down lot by lot (oldest expiry first) to the final balance.
    #    The reason is `Reason.EXPIRY` with the lot's expiry date, built in SQL (rendered when read).
    params_sql = (
        "jsonb_build_object('date', CAST(l.expires_on AS TEXT))"
        if postgres
        else "json_object('date', CAST(l.expires_on AS TEXT))"
    )
    cursor.execute(
        f"INSERT INTO {t['entry']} "
        f"(account_id, member_id, kind, points, balance_after, purchase_id, reason_code, reason_params, reason, "
        f"actor_id, created_at) "
        f"SELECT l.account_id, a.member_id, %(kind)s, -l.remaining, "
        f"a.balance - SUM(l.remaining) OVER (PARTITION BY l.account_id ORDER BY l.expires_on, l.id "
        f"ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), "
        f"e.purchase_id, %(reason_code)s, {params_sql}, '', NULL, %(now)s "
        f"FROM {t['lot']} l JOIN {t['account']} a ON a.id = l.account_id JOIN {t['entry']} e ON e.id = l.entry_id "
        f"WHERE {DUE} ORDER BY l.account_id, l.expires_on, l.id",
        {
            **params,
            "kind": LedgerEntry.Kind.EXPIRE,
            "reason_code": LedgerEntry.Reason.EXPIRY.value,
            "now": timezone.now(),
        },
    )
    cursor.execute(f"SELECT COUNT(*), COALESCE(SUM(l.remaining), 0) FROM {t['lot']} l WHERE {DUE}", params)
    lots, points = cursor.fetchone()
    # 3. Each account's balance goes down by the sum of its expired lots.
    if postgres:
        cursor.execute(
            f"UPDATE {t['account']} a SET balance = a.balance - s.points, updated_at = %(now)s "
            f"FROM (SELECT l.account_id, SUM(l.remaining) AS points FROM {t['lot']} l WHERE {DUE} "
            f"GROUP BY l.account_id) s WHERE a.id = s.account_id",
            {**params, "now": timezone.now()},
        )
    else:
        cursor.execute(
            f"UPDATE {t['account']} SET updated_at = %(now)s, balance = balance - ("
            f"SELECT SUM(l.remaining) FROM {t['lot']} l WHERE l.account_id = {t['account']}.id AND {DUE}) "
            f"WHERE id IN ({accounts_due})",
            {**params, "now": timezone.now()},
        )
    # 4. The lots keep what expired and hold nothing more.
    cursor.execute(
        f"UPDATE {t['lot']} SET expired = expired + remaining, remaining = 0 "
        f"WHERE remaining > 0 AND expires_on < %(today)s AND id > %(lo)s AND id <= %(hi)s",
        params,
    )
    return lots, points, accounts


# --- bulk posting (rewards.services.batch.post_purchases_batch) ----------------------------


def save_accounts(accounts: list[PointsAccount]) -> None:
    """`ledger.save_account` for many accounts: on PostgreSQL one UPDATE … FROM unnest(arrays),
    one array parameter per column; elsewhere one UPDATE … FROM (VALUES …) per chunk."""
    if not accounts:
        return
    now = timezone.now()
    quote = connection.ops.quote_name
    table = quote(PointsAccount._meta.db_table)
    if connection.vendor == "postgresql":
        columns = [
            [a.pk for a in accounts],
            [a.balance for a in accounts],
            [a.lifetime_earned for a in accounts],
            [a.lifetime_spend for a in accounts],
            [a.tier_id for a in accounts],
            [a.below_since for a in accounts],
        ]
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS a SET balance = v.balance, lifetime_earned = v.lifetime_earned, "
                f"lifetime_spend = v.lifetime_spend, tier_id = v.tier_id, below_since = v.below_since, "
                f"updated_at = %s "
                f"FROM unnest(%s::bigint[], %s::integer[], %s::integer[], %s::numeric[], %s::bigint[], %s::date[]) "
                f"AS v (id, balance, lifetime_earned, lifetime_spend, tier_id, below_since) WHERE a.id = v.id",
                [now, *columns],
            )
        return
    names = ["id", "balance", "lifetime_earned", "lifetime_spend", "tier_id", "below_since"]
    spend = PointsAccount._meta.get_field("lifetime_spend")
    below = PointsAccount._meta.get_field("below_since")
    rows = [
        [
            a.pk,
            a.balance,
            a.lifetime_earned,
            spend.get_db_prep_save(a.lifetime_spend, connection),
            a.tier_id,
            below.get_db_prep_save(a.below_since, connection),
        ]
        for a in accounts
    ]
    columns = ", ".join(names)
    marks = "(" + ", ".join(["%s"] * len(names)) + ")"
    size = max(1, ((connection.features.max_query_params or 30_000) - 1) // len(names))
    with connection.cursor() as cursor:
        for start in range(0, len(rows), size):
            chunk = rows[start : start + size]
            values = ", ".join([marks] * len(chunk))
            params = [value for row in chunk for value in row]
            sql = (
                f"WITH v ({columns}) AS (VALUES {values}) "
                f"UPDATE {table} SET balance = v.balance, lifetime_earned = v.lifetime_earned, "
                f"lifetime_spend = v.lifetime_spend, tier_id = v.tier_id, below_since = v.below_since, "
                f"updated_at = %s "
                f"FROM v WHERE {table}.id = v.id"
            )
            cursor.execute(sql, [*params, now])


# --- the posting's writes, two statements fewer (bench_posting.py, issue 20) ---------------------


@functools.cache
def _insert_shape(model, skip: tuple[str, ...] = ()) -> tuple[tuple, str, str]:
    """(the fields' value preparers, quoted column list, placeholders) of an INSERT of `model`'s
    concrete fields but its primary key and `skip`, built once per process."""
    fields = tuple(f for f in model._meta.concrete_fields if not f.primary_key and f.attname not in skip)
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    return insert_preparers(fields), ", ".join(quote(f.column) for f in fields), ", ".join(["%s"] * len(fields))


def _insert_values(obj, preparers) -> list:
    """A new instance's values, prepared as `save()` prepares them (auto_now fields set on the
    instance too): `loyalty_crm.bulk.insert_preparers`."""
    return [prepare(obj) for prepare in preparers]


def _saved(obj, pk: int, alias: str = DEFAULT_DB_ALIAS) -> None:
    obj.pk = pk
    obj._state.adding = False
    obj._state.db = alias


@functools.cache
def _entry_and_lot_sql(vendor: str) -> str:
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    _fields, entry_columns, entry_marks = _insert_shape(LedgerEntry)
    _fields, lot_columns, lot_marks = _insert_shape(PointsLot, ("entry_id",))
    entry_id = quote(PointsLot._meta.get_field("entry").column)
    return (
        f"WITH e AS (INSERT INTO {quote(LedgerEntry._meta.db_table)} ({entry_columns}) "
        f"VALUES ({entry_marks}) RETURNING id) "
        f"INSERT INTO {quote(PointsLot._meta.db_table)} ({entry_id}, {lot_columns}) "
        f"VALUES ((SELECT id FROM e), {lot_marks}) RETURNING {entry_id}, id"
    )


def insert_entry_and_lot(entry: LedgerEntry, lot: PointsLot) -> None:
    """A credit's ledger row and its lot in one statement on PostgreSQL (a data-modifying WITH):
    the same rows `entry.save(); lot.save()` write, one round trip and one plan fewer. No model
    signals are sent (nothing listens to these two). Elsewhere, the two saves. The statement's
    text is built once per process."""
    entry._prepare_related_fields_for_save(operation_name="insert_entry_and_lot")
    conn = connections[DEFAULT_DB_ALIAS]
    if conn.vendor != "postgresql":
        entry.save()
        lot.entry = entry
        lot.save()
        return
    entry_values = _insert_values(entry, _insert_shape(LedgerEntry)[0])
    lot_values = _insert_values(lot, _insert_shape(PointsLot, ("entry_id",))[0])
    with conn.cursor() as cursor:
        cursor.execute(_entry_and_lot_sql(conn.vendor), [*entry_values, *lot_values])
        new_entry_id, lot_id = cursor.fetchone()
    _saved(entry, new_entry_id, conn.alias)
    lot.entry = entry
    _saved(lot, lot_id, conn.alias)


ACCOUNT_FIELDS = ("balance", "lifetime_earned", "lifetime_spend", "tier", "below_since", "updated_at")


@functools.cache
def _account_and_posting_shape(vendor: str) -> tuple[tuple, str]:
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    meta = PointsAccount._meta
    fields = tuple(meta.get_field(name) for name in ACCOUNT_FIELDS)
    sets = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    _posting_fields, posting_columns, posting_marks = _insert_shape(PurchasePosting)
    sql = (
        f"WITH a AS (UPDATE {quote(meta.db_table)} SET {sets} WHERE {quote(meta.pk.column)} = %s) "
        f"INSERT INTO {quote(PurchasePosting._meta.db_table)} ({posting_columns}) "
        f"VALUES ({posting_marks}) RETURNING id"
    )
    return fields, sql


def save_account_and_insert_posting(account: PointsAccount, posting: PurchasePosting) -> None:
    """`account.save(update_fields=ACCOUNT_FIELDS)` and `posting.save()` in one statement on
    PostgreSQL (an UPDATE inside the INSERT's WITH); elsewhere, the two. The account is locked by
    the caller. No model signals are sent (nothing listens to these two). The statement's text is
    built once per process."""
    posting._prepare_related_fields_for_save(operation_name="save_account_and_insert_posting")
    conn = connections[DEFAULT_DB_ALIAS]
    if conn.vendor != "postgresql":
        account.save(update_fields=list(ACCOUNT_FIELDS))
        posting.save()
        return
    fields, sql = _account_and_posting_shape(conn.vendor)
    account_values = [f.get_db_prep_save(f.pre_save(account, False), conn) for f in fields]
    posting_values = _insert_values(posting, _insert_shape(PurchasePosting)[0])
    with conn.cursor() as cursor:
        cursor.execute(sql, [*account_values, account.pk, *posting_values])
        _saved(posting, cursor.fetchone()[0], conn.alias)


# --- the API's retry check, before any transaction (rewards.selectors.posting_lookup) -----------


def _plain_fields(model) -> list:
    """The concrete fields of `model` that load without work: the encrypted ones (decrypted on
    load) are left deferred — loaded on first use, should anything read them."""
    from loyalty_crm.fields import EncryptedTextField

    return [f for f in model._meta.concrete_fields if not isinstance(f, EncryptedTextField)]


@functools.cache
def _member_and_posting_shape(vendor: str):
    from members.models import Member

    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    member_fields = tuple(_plain_fields(Member))
    purchase_fields = tuple(Purchase._meta.concrete_fields)
    posting_fields = tuple(PurchasePosting._meta.concrete_fields)
    columns = ", ".join(
        [f"m.{quote(f.column)}" for f in member_fields]
        + [f"p.{quote(f.column)}" for f in purchase_fields]
        + [f"pp.{quote(f.column)}" for f in posting_fields]
    )
    sql = (
        f"SELECT {columns} FROM (SELECT 1) AS one "
        f"LEFT JOIN {quote(Member._meta.db_table)} m ON m.{quote('member_no')} = %s "
        f"LEFT JOIN ({quote(Purchase._meta.db_table)} p JOIN {quote(PurchasePosting._meta.db_table)} pp "
        f"ON pp.{quote('purchase_id')} = p.{quote('id')}) ON p.{quote('external_ref')} = %s"
    )
    names = tuple([f.attname for f in fields] for fields in (member_fields, purchase_fields, posting_fields))
    bounds = (len(member_fields), len(member_fields) + len(purchase_fields))
    return sql, (*member_fields, *purchase_fields, *posting_fields), names, bounds, Member


def member_and_posting(member_no: str | None, external_ref: str):
    """(the member with this number or None, the posting of the purchase with this external
    reference — its purchase loaded — or None), in one query: what POST /purchases/ needs to know
    before it posts, or to answer a retry from the stored first answer without any other query."""
    conn = connections[DEFAULT_DB_ALIAS]
    sql, fields, names, (a, b), member_model = _member_and_posting_shape(conn.vendor)
    with conn.cursor() as cursor:
        cursor.execute(sql, [member_no, external_ref])
        row = cursor.fetchone()
    converted = convert_row(row, fields)
    member = None
    if converted[0] is not None:
        member = member_model.from_db(conn.alias, names[0], converted[:a])
    posting = None
    if converted[b] is not None:
        purchase = Purchase.from_db(conn.alias, names[1], converted[a:b])
        posting = PurchasePosting.from_db(conn.alias, names[2], converted[b:])
        PurchasePosting.purchase.field.set_cached_value(posting, purchase)
    return member, posting


@functools.cache
def _account_and_plan_shape(vendor: str):
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    fields = tuple(PointsAccount._meta.concrete_fields)
    columns = ", ".join(f"a.{quote(f.column)}" for f in fields)
    sql = (
        f"SELECT {columns}, mp.id, mp.name, mp.code, mp.points_multiplier "
        f"FROM {quote(PointsAccount._meta.db_table)} a "
        f"LEFT JOIN LATERAL (SELECT s.plan_id FROM {quote(MembershipSubscription._meta.db_table)} s "
        f"WHERE s.member_id = a.member_id AND s.status = %s AND s.starts_on <= %s AND s.ends_on >= %s "
        f"ORDER BY s.starts_on, s.id LIMIT 1) s ON true "
        f"LEFT JOIN {quote(MembershipPlan._meta.db_table)} mp ON mp.id = s.plan_id "
        f"WHERE a.member_id = %s FOR UPDATE OF a"
    )
    return sql, fields, [f.attname for f in fields]


def account_and_plan_for_update(member_id: int, day: datetime.date) -> tuple[PointsAccount | None, tuple | None]:
    """PostgreSQL only: (the member's account row, locked FOR UPDATE — None when it has none yet —,
    (plan id, name, code, points multiplier) of the paid membership in force on `day` or None) in
    one statement: `lock_objects.account_row_for_update` and `active_membership` as one round trip
    on every posting. The subscription is the one `active_membership` picks (active, covering the
    day, earliest start first)."""
    conn = connections[DEFAULT_DB_ALIAS]
    sql, fields, names = _account_and_plan_shape(conn.vendor)
    with conn.cursor() as cursor:
        cursor.execute(sql, [MembershipSubscription.Status.ACTIVE.value, day, day, member_id])
        row = cursor.fetchone()
    if row is None:
        return None, None
    values = convert_row(row[: len(fields)], fields)
    account = PointsAccount.from_db(conn.alias, names, values)
    plan = tuple(row[len(fields) :]) if row[len(fields)] is not None else None
    return account, plan
