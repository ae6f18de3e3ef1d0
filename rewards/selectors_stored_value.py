"""The questions that read stored value (储值卡): a member's wallet, the top-up rules on offer, the
liability the shop carries. Writes live in `rewards.services.stored_value`."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Exists, F, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from members.models import Member
from rewards.models import StoredValueAccount, StoredValueBonusLot, StoredValueEntry, StoredValueGift, TopUp, TopUpRule

ZERO = Decimal("0.00")
Kind = StoredValueEntry.Kind


@dataclass(frozen=True)
class Wallet:
    member: Member
    account_id: int | None
    principal: Decimal
    bonus: Decimal
    entries: list[StoredValueEntry]
    # (amount, end date) of the bonus lots that lapse, soonest first
    expiring_bonus: list[tuple[Decimal, datetime.date]] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return self.principal + self.bonus


def entries_of(member: Member) -> QuerySet[StoredValueEntry]:
    """The member's stored-value ledger, newest first, with what each row refers to."""
    return (
        StoredValueEntry.objects.filter(member=member)
        .select_related("store", "purchase", "top_up", "top_up__rule")
        .order_by("-id")
    )


def wallet(member: Member, *, last: int = 50) -> Wallet:
    """Balances, the newest `last` ledger rows and the bonus that will lapse (three queries)."""
    account = StoredValueAccount.objects.filter(member=member).only("pk", "principal", "bonus").first()
    if account is None:
        return Wallet(member=member, account_id=None, principal=ZERO, bonus=ZERO, entries=[])
    expiring = list(
        StoredValueBonusLot.objects.filter(account=account, remaining__gt=0, expires_on__isnull=False)
        .values("expires_on")
        .annotate(amount=Sum("remaining"))
        .order_by("expires_on")
        .values_list("amount", "expires_on")
    )
    return Wallet(
        member=member,
        account_id=account.pk,
        principal=account.principal,
        bonus=account.bonus,
        entries=list(entries_of(member)[:last]),
        expiring_bonus=expiring,
    )


def rules_on_offer(today: datetime.date | None = None) -> QuerySet[TopUpRule]:
    """Active top-up rules within their dates today, smallest top-up first."""
    today = today or timezone.localdate()
    return (
        TopUpRule.objects.filter(is_active=True)
        .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=today))
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=today))
        .order_by("pay_amount", "id")
    )


def applicable_rules(member: Member, amount: Decimal, *, today: datetime.date | None = None) -> list[TopUpRule]:
    """The rules a top-up of `amount` by `member` may use today (on offer, `pay_amount` reached, not
    a once-per-member rule the member already used), the largest bonus first: what the till and
    the admin offer. `top_up` applies only the rule it is given (`check_rule` is the same test)."""
    used = TopUp.objects.filter(member=member, rule=OuterRef("pk"))
    return list(
        rules_on_offer(today)
        .filter(pay_amount__lte=amount)
        .exclude(Q(once_per_member=True) & Exists(used))
        .order_by("-bonus_amount", "-pay_amount", "id")
    )


def members_with_bonus_lapsing(first: datetime.date, last: datetime.date) -> QuerySet[Member]:
    """Members holding stored-value bonus whose lot lapses after a day from `first` to `last` (the
    bonus is usable through its `expires_on`): who to tell before it lapses (the campaigns
    automation "Stored-value bonus lapse reminder")."""
    lapsing = StoredValueBonusLot.objects.filter(
        account__member=OuterRef("pk"), remaining__gt=0, expires_on__gte=first, expires_on__lte=last
    )
    return Member.objects.filter(Exists(lapsing))


def bonus_lapse_dates(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    """The end dates, from `first` to `last`, of bonus lots with something left: one reminder per
    date (the lots a member holds that end on one day are told together)."""
    return list(
        StoredValueBonusLot.objects.filter(remaining__gt=0, expires_on__gte=first, expires_on__lte=last)
        .order_by("expires_on")
        .values_list("expires_on", flat=True)
        .distinct()
    )


def bonus_lapsing_on(member: Member, day: datetime.date) -> Decimal:
    """The member's stored-value bonus still left in the lots that end on `day` (0.00: none)."""
    return StoredValueBonusLot.objects.filter(account__member=member, expires_on=day).aggregate(
        amount=Coalesce(Sum("remaining"), ZERO)
    )["amount"]


# --- liability ---


@dataclass
class LiabilityRow:
    """One store's month: what came in and went out, and what the store's rows leave owed at the end."""

    month: datetime.date
    store: str
    topped_up: Decimal = ZERO
    bonus_given: Decimal = ZERO
    spent_principal: Decimal = ZERO
    spent_bonus: Decimal = ZERO
    refunded: Decimal = ZERO
    cashed_out: Decimal = ZERO
    bonus_lapsed: Decimal = ZERO
    other: Decimal = ZERO  # adjustments and gifts
    principal_change: Decimal = ZERO
    bonus_change: Decimal = ZERO
    principal_owed: Decimal = ZERO  # running total of the store's rows to the month's end
    bonus_owed: Decimal = ZERO


@dataclass(frozen=True)
class Liability:
    principal: Decimal  # owed now, over all accounts (the accounts' sums)
    bonus: Decimal
    unclaimed_gifts: Decimal  # bought and not yet claimed: owed too, on no account yet
    rows: list[LiabilityRow]  # by month then store, oldest first
    months: list[dict]  # per month over all stores: month, topped_up, spent, principal_owed, bonus_owed

    @property
    def total(self) -> Decimal:
        return self.principal + self.bonus + self.unclaimed_gifts


def _bucket(row: LiabilityRow, kind: str, principal: Decimal, bonus: Decimal) -> None:
    if kind == Kind.TOP_UP:
        row.topped_up += principal
    elif kind == Kind.BONUS:
        row.bonus_given += bonus
    elif kind == Kind.PAYMENT:
        row.spent_principal -= principal
        row.spent_bonus -= bonus
    elif kind == Kind.PAYMENT_REFUND:
        row.refunded += principal + bonus
    elif kind == Kind.CASH_OUT:
        row.cashed_out -= principal
        row.bonus_lapsed -= bonus
    elif kind == Kind.BONUS_EXPIRY:
        row.bonus_lapsed -= bonus
    else:
        row.other += principal + bonus


@dataclass(frozen=True)
class LiabilityTotals:
    principal: Decimal
    bonus: Decimal
    unclaimed_gifts: Decimal

    @property
    def total(self) -> Decimal:
        return self.principal + self.bonus + self.unclaimed_gifts


def liability_totals() -> LiabilityTotals:
    """What the shop owes on stored value now: the accounts' principal and bonus and the gifts
    bought and not yet claimed (two queries; `liability` adds the ledger by store and month)."""
    totals = StoredValueAccount.objects.aggregate(
        principal=Coalesce(Sum("principal"), ZERO), bonus=Coalesce(Sum("bonus"), ZERO)
    )
    gifts = StoredValueGift.objects.filter(claimed_by__isnull=True).aggregate(s=Coalesce(Sum("amount"), ZERO))["s"]
    return LiabilityTotals(principal=totals["principal"], bonus=totals["bonus"], unclaimed_gifts=gifts)


def liability() -> Liability:
    """What the shop owes on stored value: now (principal, bonus, unclaimed gifts), and by store and
    month from the ledger (one grouped query): each kind's sums and the running principal and bonus
    owed at each month's end. A store's figure is the money recorded at that store less what was
    spent there: stored value topped up at one shop and spent at another moves between their rows,
    and all stores together equal the accounts."""
    totals = liability_totals()
    grouped = (
        StoredValueEntry.objects.annotate(month=TruncMonth("created_at"))
        .values("month", "store__name", "kind")
        .annotate(principal=Sum("principal_delta"), bonus=Sum("bonus_delta"))
        .order_by("month", "store__name", "kind")
    )
    rows: dict[tuple, LiabilityRow] = {}
    for item in grouped:
        month = item["month"].date() if isinstance(item["month"], datetime.datetime) else item["month"]
        store = item["store__name"] or ""
        row = rows.setdefault((month, store), LiabilityRow(month=month, store=store))
        _bucket(row, item["kind"], item["principal"], item["bonus"])
        row.principal_change += item["principal"]
        row.bonus_change += item["bonus"]
    owed: dict[str, tuple[Decimal, Decimal]] = {}
    months: dict[datetime.date, dict] = {}
    for row in sorted(rows.values(), key=lambda r: (r.month, r.store)):
        principal, bonus = owed.get(row.store, (ZERO, ZERO))
        row.principal_owed, row.bonus_owed = principal + row.principal_change, bonus + row.bonus_change
        owed[row.store] = (row.principal_owed, row.bonus_owed)
        month = months.setdefault(row.month, {"month": row.month, "topped_up": ZERO, "spent": ZERO})
        month["topped_up"] += row.topped_up
        month["spent"] += row.spent_principal + row.spent_bonus
    running_principal = running_bonus = ZERO
    for month in months.values():
        changes = [r for r in rows.values() if r.month == month["month"]]
        running_principal += sum((r.principal_change for r in changes), ZERO)
        running_bonus += sum((r.bonus_change for r in changes), ZERO)
        month["principal_owed"], month["bonus_owed"] = running_principal, running_bonus
    return Liability(
        principal=totals.principal,
        bonus=totals.bonus,
        unclaimed_gifts=totals.unclaimed_gifts,
        rows=sorted(rows.values(), key=lambda r: (r.month, r.store)),
        months=list(months.values()),
    )


@dataclass(frozen=True)
class StoredValueMonth:
    """One calendar month of stored value over all stores, for the monthly review."""

    month: datetime.date
    topped_up: Decimal  # principal paid in by top-ups (not the bonus given with them)
    spent: Decimal  # taken from balances by payments, principal and bonus (refunds to the balance not netted)
    principal_owed: Decimal  # outstanding at the month's end
    bonus_owed: Decimal


def _month_after(day: datetime.date, months: int = 1) -> datetime.date:
    index = day.year * 12 + day.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


def stored_value_by_month(*, first: datetime.date, months: int) -> list[StoredValueMonth]:
    """`months` calendar months from the month of `first` (current time zone), oldest first: top-ups
    and spend in each month and the principal and bonus owed at its end, from the ledger (two
    queries: the sums before the range, then one grouped query over it). The month-end figures are
    the ledger's running sums, so the last full month's equal the accounts' at that time."""
    first = first.replace(day=1)
    start = timezone.make_aware(datetime.datetime.combine(first, datetime.time.min))
    end = timezone.make_aware(datetime.datetime.combine(_month_after(first, months), datetime.time.min))
    before = StoredValueEntry.objects.filter(created_at__lt=start).aggregate(
        principal=Coalesce(Sum("principal_delta"), ZERO), bonus=Coalesce(Sum("bonus_delta"), ZERO)
    )
    grouped = {
        (item["month"].date() if isinstance(item["month"], datetime.datetime) else item["month"]): item
        for item in StoredValueEntry.objects.filter(created_at__gte=start, created_at__lt=end)
        .annotate(month=TruncMonth("created_at"))
        .order_by()
        .values("month")
        .annotate(
            principal=Sum("principal_delta"),
            bonus=Sum("bonus_delta"),
            topped_up=Coalesce(Sum("principal_delta", filter=Q(kind=Kind.TOP_UP)), ZERO),
            paid=Coalesce(Sum(F("principal_delta") + F("bonus_delta"), filter=Q(kind=Kind.PAYMENT)), ZERO),
        )
    }
    principal, bonus = before["principal"], before["bonus"]
    result = []
    for index in range(months):
        month = _month_after(first, index)
        item = grouped.get(month)
        topped_up = spent = ZERO
        if item is not None:
            principal += item["principal"]
            bonus += item["bonus"]
            topped_up, spent = item["topped_up"], -item["paid"]
        result.append(
            StoredValueMonth(month=month, topped_up=topped_up, spent=spent, principal_owed=principal, bonus_owed=bonus)
        )
    return result
