"""Nightly expiry: what is left of due lots becomes `expire` ledger rows, in set-based SQL batches.

A lot is due when it still holds points and its `expires_on` is before today (points expiring on
31 December are there all that day and gone on 1 January). Each batch is one transaction over a
range of due lot ids: it locks the affected accounts in primary-key order (the lock every writer
takes, so a concurrent spend either finished before — and its lots are re-read — or waits), then
in four statements (rewards/_sql.py) writes one `expire` row per lot, lowers each account's balance by the sum of
its expired lots, and empties the lots. No Python loop over rows; a second run finds nothing.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from rewards import _sql


@dataclass(frozen=True)
class ExpiryResult:
    """What a run expired: lots, points, accounts (counted once per batch they appear in), batches."""

    lots: int
    points: int
    accounts: int
    batches: int


def expire_due_lots(*, today: datetime.date | None = None, batch_size: int = 50_000) -> ExpiryResult:
    """Expire what is left of every lot due before `today` (default: the local date), in batches
    of `batch_size` lots, one transaction each. Safe to run again: expired lots hold nothing."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be 1 or more, not {batch_size}.")
    today = today or timezone.localdate()
    t = _sql.expiry_tables()
    total_lots = total_points = total_accounts = batches = 0
    last = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            hi = _sql.expiry_batch_upper_bound(cursor, t, today=today, after=last, size=batch_size)
            if hi is None:
                break
            lots, points, accounts = _sql.expire_batch(cursor, t, today=today, lo=last, hi=hi)
        total_lots += lots
        total_points += points
        total_accounts += accounts
        batches += 1
        last = hi
    return ExpiryResult(lots=total_lots, points=total_points, accounts=total_accounts, batches=batches)
