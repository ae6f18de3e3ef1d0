"""Every `select_for_update` of `rewards` in one place.

Lock order, always: the member row, then the purchase (refunds) or the redemption (cancellation),
then the points account, then the reward (stock), then coupons, then lots; stored value: the member
row, then the stored-value account, then a gift, then its payment rows and bonus lots; care plans:
the member row, then the sold plan, then its claim (a replacement's posting or coupon then takes
the account as usual). Every writer takes the member lock first, so a member's postings, refunds,
adjustments and redemptions run one after another and cannot deadlock each other; a reward row is
shared by many members, so it is taken after the member's own rows and held only to the end of one
member's transaction.
"""

from __future__ import annotations

from django.db import connection, models

from loyalty_crm.bulk import select_columns
from members.models import Member, Purchase
from rewards.models import (
    CarePlanClaim,
    CarePlanSale,
    Coupon,
    PointsAccount,
    PointsLot,
    Redemption,
    Reward,
    StoredValueAccount,
    StoredValueBonusLot,
    StoredValueEntry,
    StoredValueGift,
)


def member_for_update(member_id: int) -> Member:
    """The member row, FOR NO KEY UPDATE on PostgreSQL: postings, refunds, redemptions and
    adjustments of one member still queue behind each other, but a job holding that member's
    account while it inserts rows referencing the member (the nightly expiry's ledger rows take
    FOR KEY SHARE on the member for their foreign key) is not blocked — so posting (member, then
    account) and expiry (account, then the member's key) cannot deadlock."""
    return Member.objects.select_for_update(no_key=True).get(pk=member_id)


def purchase_for_update(purchase_id: int) -> Purchase:
    return Purchase.objects.select_for_update().get(pk=purchase_id)


def redemption_for_update(redemption_id: int) -> Redemption:
    return Redemption.objects.select_for_update(of=("self",)).select_related("reward").get(pk=redemption_id)


def account_for_update(member_id: int) -> PointsAccount | None:
    # `of=("self",)`: lock the account, not the tier row joined in (that would queue every posting
    # of a tier behind one another on PostgreSQL).
    return (
        PointsAccount.objects.select_for_update(of=("self",)).select_related("tier").filter(member_id=member_id).first()
    )


def account_row_for_update(member_id: int) -> PointsAccount | None:
    """The member's account row alone, locked (FOR UPDATE on PostgreSQL), in plain SQL: postings
    read it on every request, and they already hold the tiers to attach (`account.tier`)."""
    table = connection.ops.quote_name(PointsAccount._meta.db_table)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    sql = f"SELECT {select_columns(PointsAccount)} FROM {table} WHERE member_id = %s{lock}"
    rows = list(PointsAccount.objects.raw(sql, [member_id]))
    return rows[0] if rows else None


def open_lots_for_update(account_id: int):
    """The account's lots with points left, oldest expiry first (FIFO), in a stable order."""
    return (
        PointsLot.objects.select_for_update()
        .filter(account_id=account_id, remaining__gt=0)
        .order_by("expires_on", "id")
    )


def reward_for_update(reward_id: int) -> Reward:
    return Reward.objects.select_for_update().get(pk=reward_id)


def coupons_for_update(*, redemption_id: int):
    """A redemption's coupons, in primary-key order."""
    return Coupon.objects.select_for_update().filter(redemption_id=redemption_id).order_by("pk")


def coupon_for_update(code: str) -> Coupon | None:
    return Coupon.objects.select_for_update(of=("self",)).select_related("member").filter(code=code).first()


def members_and_accounts_for_reevaluation(account_ids: list[int]) -> set[int]:
    """Lock, in the usual order, the members of these accounts, then the accounts (each by primary
    key); returns the ids of the accounts locked.

    The member rows are locked FOR NO KEY UPDATE: that still queues behind (and holds off) the
    member lock of a posting, refund or adjustment, but lets the nightly expiry's inserts check
    their foreign key to the member (FOR KEY SHARE) while it holds an account this batch wants.
    Raw SQL with one array parameter on PostgreSQL: ten thousand ids in an IN list cost more to
    send and parse than the locking itself. SQLite locks the whole file instead.
    """
    if connection.vendor != "postgresql":
        return set(PointsAccount.objects.filter(pk__in=account_ids).values_list("pk", flat=True))
    quote = connection.ops.quote_name
    member, account = quote(Member._meta.db_table), quote(PointsAccount._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT m.id FROM {member} m WHERE m.id IN (SELECT a.member_id FROM {account} a WHERE a.id = ANY(%s)) "
            f"ORDER BY m.id FOR NO KEY UPDATE",
            [list(account_ids)],
        )
        cursor.fetchall()
        cursor.execute(
            f"SELECT a.id FROM {account} a WHERE a.id = ANY(%s) ORDER BY a.id FOR UPDATE",
            [list(account_ids)],
        )
        return {row[0] for row in cursor.fetchall()}


def stored_value_account_for_update(member_id: int) -> StoredValueAccount | None:
    """The member's stored-value account, locked (after the member row)."""
    return StoredValueAccount.objects.select_for_update().filter(member_id=member_id).first()


def stored_value_lots_for_update(account_id: int):
    """The account's bonus lots with money left, those that lapse first first (never-lapsing last)."""
    return (
        StoredValueBonusLot.objects.select_for_update()
        .filter(account_id=account_id, remaining__gt=0)
        .order_by(models.F("expires_on").asc(nulls_last=True), "id")
    )


def stored_value_due_lots_for_update(account_id: int, today):
    """The account's bonus lots past their date with money left, in primary-key order."""
    return (
        StoredValueBonusLot.objects.select_for_update()
        .filter(account_id=account_id, remaining__gt=0, expires_on__lt=today)
        .order_by("id")
    )


def stored_value_gift_for_update(code_hashes: list[str]) -> StoredValueGift | None:
    return StoredValueGift.objects.select_for_update().filter(code_hash__in=code_hashes).first()


def stored_value_payment_for_update(entry_id: int) -> StoredValueEntry | None:
    """A payment row, locked so two refunds of it queue (the row itself is never changed)."""
    return StoredValueEntry.objects.select_for_update().filter(pk=entry_id, kind=StoredValueEntry.Kind.PAYMENT).first()


def care_plan_sale_for_update(sale_id: int) -> CarePlanSale:
    """A sold care plan, locked (after the member row): its claims are counted under this lock."""
    return CarePlanSale.objects.select_for_update(of=("self",)).select_related("plan").get(pk=sale_id)


def care_plan_claim_for_update(claim_id: int) -> CarePlanClaim:
    """A care-plan claim, locked (after its sold plan)."""
    return CarePlanClaim.objects.select_for_update().get(pk=claim_id)
