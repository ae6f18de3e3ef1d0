"""Invariant 1 checked and repaired: each account's balance and lifetime earned equal its ledger.

Which side is the truth: the LEDGER. It is the append-only record of every change (who, when, why,
which purchase), the lots hang off its rows, and `PointsAccount` is documented as a cache of its
sums ("always equal to the ledger's sums", rewards.models.ledger). An account that disagrees was changed
outside the services (raw SQL, a restored backup, a bug), so the repair corrects the ACCOUNT to
the ledger and never touches a ledger row: writing an `adjustment` row instead would turn the
corruption into real points (and their lot) and hide where it came from.

So `repair_balances` writes no ledger row (a 0-point row is forbidden anyway, and the ledger
already says what the balance is). Each correction is recorded instead as a `BalanceCorrection`
row (the account's figures before and after, who ran it, when; append-only, read-only in the
admin for managers) in the same transaction, and logged to the `rewards.integrity` logger.

The sums, as the services keep them (rewards.services.ledger, refunds):
- balance = the sum of every row's points;
- lifetime earned = the sum of the positive rows (earn, bonus, positive adjustment — every
  credit, even one that expired at once) plus the refund reversals (which are negative); points
  given back by a cancelled redemption (`redemption_return`) or by returned goods paid with
  points (`spend_return`) were earned once already and do not count again.

Stored value is checked the same way (`find_stored_value_mismatches`: principal and bonus against
the sums of the account's `StoredValueEntry` rows, and the bonus against its lots), but never
repaired automatically: it is money the shop owes, so a mismatch is for a manager to investigate
(and correct with a reasoned adjustment once its cause is known).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from rewards import lock_objects
from rewards.models import BalanceCorrection, LedgerEntry, PointsAccount, StoredValueAccount, StoredValueBonusLot
from rewards.services.ledger import NOT_EARNED_CREDITS

logger = logging.getLogger("rewards.integrity")

_EARNED = (Q(entries__points__gt=0) & ~Q(entries__kind__in=NOT_EARNED_CREDITS)) | Q(
    entries__kind=LedgerEntry.Kind.REFUND_REVERSAL
)


@dataclass(frozen=True)
class Mismatch:
    account_id: int
    member_id: int
    member_no: str
    balance: int
    ledger_balance: int
    lifetime_earned: int
    ledger_lifetime_earned: int

    @property
    def balance_difference(self) -> int:
        """What the account has too much (+) or too little (-) against its ledger."""
        return self.balance - self.ledger_balance


def _with_ledger_sums(accounts: QuerySet[PointsAccount]) -> QuerySet[PointsAccount]:
    return accounts.annotate(
        ledger_balance=Coalesce(Sum("entries__points"), Value(0)),
        ledger_lifetime_earned=Coalesce(Sum("entries__points", filter=_EARNED), Value(0)),
    )


def find_balance_mismatches(*, accounts: QuerySet[PointsAccount] | None = None) -> list[Mismatch]:
    """Every account (of `accounts`, default all) whose balance or lifetime earned differs from
    its ledger, ordered by member. One query (a grouped join; the mismatches come from HAVING).

    Pass a slice of accounts (e.g. a primary key range) to check a large table in batches.
    """
    accounts = PointsAccount.objects.all() if accounts is None else accounts
    rows = (
        _with_ledger_sums(accounts.order_by())
        .filter(~Q(balance=F("ledger_balance")) | ~Q(lifetime_earned=F("ledger_lifetime_earned")))
        .order_by("member_id")
        .values_list(
            "pk", "member_id", "member__member_no", "balance", "ledger_balance", "lifetime_earned",
            "ledger_lifetime_earned",
        )
    )  # fmt: skip
    return [Mismatch(*row) for row in rows]


def repair_balances(*, actor=None, accounts: QuerySet[PointsAccount] | None = None) -> list[Mismatch]:
    """Correct every mismatched account to its ledger's sums; return what was corrected.

    Each account is fixed in its own transaction under the member and account locks (the
    services' lock order), re-checked under the lock, so a posting running at the same time is
    neither lost nor "repaired". Ledger rows and lots are never changed.
    """
    repaired = []
    for suspect in find_balance_mismatches(accounts=accounts):
        fixed = _repair_one(suspect.account_id, actor=actor)
        if fixed is not None:
            repaired.append(fixed)
    return repaired


@transaction.atomic
def _repair_one(account_id: int, *, actor) -> Mismatch | None:
    member_id = PointsAccount.objects.filter(pk=account_id).values_list("member_id", flat=True).first()
    if member_id is None:
        return None
    lock_objects.member_for_update(member_id)
    account = lock_objects.account_for_update(member_id)
    found = find_balance_mismatches(accounts=PointsAccount.objects.filter(pk=account.pk))
    if not found:
        return None
    mismatch = found[0]
    account.balance = mismatch.ledger_balance
    account.lifetime_earned = mismatch.ledger_lifetime_earned
    account.save(update_fields=["balance", "lifetime_earned", "updated_at"])
    BalanceCorrection.objects.create(
        account=account,
        member_id=member_id,
        balance_before=mismatch.balance,
        balance_after=mismatch.ledger_balance,
        lifetime_earned_before=mismatch.lifetime_earned,
        lifetime_earned_after=mismatch.ledger_lifetime_earned,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
    )
    logger.warning(
        "Points account of member %s corrected to its ledger: balance %d -> %d, lifetime earned %d -> %d (by %s)",
        mismatch.member_no,
        mismatch.balance,
        mismatch.ledger_balance,
        mismatch.lifetime_earned,
        mismatch.ledger_lifetime_earned,
        getattr(actor, "username", None) or "system",
    )
    return mismatch


@dataclass(frozen=True)
class StoredValueMismatch:
    account_id: int
    member_no: str
    principal: Decimal
    ledger_principal: Decimal
    bonus: Decimal
    ledger_bonus: Decimal
    lots_bonus: Decimal  # what the bonus lots hold


def find_stored_value_mismatches(*, accounts: QuerySet[StoredValueAccount] | None = None) -> list[StoredValueMismatch]:
    """Every stored-value account (of `accounts`, default all) whose principal or bonus differs from
    the sums of its ledger, or whose bonus differs from what its bonus lots hold; one query."""
    accounts = StoredValueAccount.objects.all() if accounts is None else accounts
    zero = Value(Decimal("0.00"))
    lots = (
        StoredValueBonusLot.objects.filter(account=OuterRef("pk"))
        .order_by()
        .values("account")
        .annotate(s=Sum("remaining"))
        .values("s")
    )
    rows = (
        accounts.order_by()
        .annotate(
            ledger_principal=Coalesce(Sum("entries__principal_delta"), zero),
            ledger_bonus=Coalesce(Sum("entries__bonus_delta"), zero),
            lots_bonus=Coalesce(Subquery(lots), zero),
        )
        .filter(~Q(principal=F("ledger_principal")) | ~Q(bonus=F("ledger_bonus")) | ~Q(bonus=F("lots_bonus")))
        .order_by("member_id")
        .values_list("pk", "member__member_no", "principal", "ledger_principal", "bonus", "ledger_bonus", "lots_bonus")
    )
    return [StoredValueMismatch(*row) for row in rows]
