"""Nightly expiry: what is left of due lots becomes `expire` ledger rows, in set-based SQL batches.

A lot is due when it still holds points and its `expires_on` is before today (points expiring on
31 December are there all that day and gone on 1 January). Each batch is one transaction over a
range of due lot ids: it locks the affected accounts in primary-key order (the lock every writer
takes, so a concurrent spend either finished before — and its lots are re-read — or waits), then
in four statements writes one `expire` row per lot, lowers each account's balance by the sum of
its expired lots, and empties the lots. No Python loop over rows; a second run finds nothing.
"""

# ruff: noqa: S608 -- only table names from the models' _meta are interpolated; values are parameters.
from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from rewards.models import LedgerEntry, PointsAccount, PointsLot


@dataclass(frozen=True)
class ExpiryResult:
    """What a run expired: lots, points, accounts (counted once per batch they appear in), batches."""

    lots: int
    points: int
    accounts: int
    batches: int


def _tables() -> dict[str, str]:
    quote = connection.ops.quote_name
    return {
        "lot": quote(PointsLot._meta.db_table),
        "account": quote(PointsAccount._meta.db_table),
        "entry": quote(LedgerEntry._meta.db_table),
    }


# The lots of one batch: due, and in the id range (lo, hi].
DUE = "l.remaining > 0 AND l.expires_on < %(today)s AND l.id > %(lo)s AND l.id <= %(hi)s"


def _batch_upper_bound(cursor, t, *, today: datetime.date, after: int, size: int) -> int | None:
    """The highest id among the next `size` due lots after id `after` (None when none is left)."""
    cursor.execute(
        f"SELECT MAX(id) FROM (SELECT l.id FROM {t['lot']} l "
        f"WHERE l.remaining > 0 AND l.expires_on < %s AND l.id > %s ORDER BY l.id LIMIT %s) AS batch",
        [today, after, size],
    )
    return cursor.fetchone()[0]


def _expire_batch(cursor, t, *, today: datetime.date, lo: int, hi: int) -> tuple[int, int, int]:
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


def expire_due_lots(*, today: datetime.date | None = None, batch_size: int = 50_000) -> ExpiryResult:
    """Expire what is left of every lot due before `today` (default: the local date), in batches
    of `batch_size` lots, one transaction each. Safe to run again: expired lots hold nothing."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be 1 or more, not {batch_size}.")
    today = today or timezone.localdate()
    t = _tables()
    total_lots = total_points = total_accounts = batches = 0
    last = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            hi = _batch_upper_bound(cursor, t, today=today, after=last, size=batch_size)
            if hi is None:
                break
            lots, points, accounts = _expire_batch(cursor, t, today=today, lo=last, hi=hi)
        total_lots += lots
        total_points += points
        total_accounts += accounts
        batches += 1
        last = hi
    return ExpiryResult(lots=total_lots, points=total_points, accounts=total_accounts, batches=batches)
