"""Questions that read points and tiers; no writes."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Exists, F, IntegerField, Min, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from loyalty_crm.bulk import select_columns
from members.models import Member
from rewards import rules
from rewards.models import (
    Coupon,
    EarnRule,
    LedgerEntry,
    MembershipPlan,
    MembershipSubscription,
    PointsAccount,
    PointsLot,
    Redemption,
    Tier,
    TierHistory,
    TierPolicy,
)


def members_in_tiers(queryset: QuerySet[Member], tier_codes: list[str]) -> QuerySet[Member]:
    """Members whose current tier is one of `tier_codes` (a member without a points account is in
    the entry tier), by EXISTS subqueries: never a join that could repeat a member."""
    codes = list(tier_codes)
    in_tier = Exists(PointsAccount.objects.filter(member_id=OuterRef("pk"), tier__code__in=codes))
    no_account = ~Exists(PointsAccount.objects.filter(member_id=OuterRef("pk")))
    entry_chosen = Exists(entry_tiers().filter(code__in=codes))
    return queryset.filter(in_tier | (no_account & entry_chosen))


def tiers() -> list[Tier]:
    """Every tier, lowest rank first. Plain SQL (read on every posting): the same rows the ORM
    would give, without building the query each time."""
    table = connection.ops.quote_name(Tier._meta.db_table)
    return list(Tier.objects.raw(f"SELECT {select_columns(Tier)} FROM {table} ORDER BY rank, id"))  # noqa: S608


def entry_tiers() -> QuerySet[Tier]:
    """The entry tier (the one no tier ranks below; a member without an account is in it), as a
    queryset that also serves as a subquery. The one definition of "the entry tier"."""
    return Tier.objects.exclude(Exists(Tier.objects.filter(rank__lt=OuterRef("rank"))))


def entry_tier() -> Tier:
    return entry_tiers().first()


def tier_levels(all_tiers: list[Tier]) -> list[rules.TierLevel]:
    return [rules.TierLevel(id=t.pk, code=t.code, rank=t.rank, threshold=t.threshold) for t in all_tiers]


def active_earn_rules() -> list[rules.Rule]:
    return [
        rules.Rule(
            id=r.pk,
            name=r.name,
            kind=r.kind,
            rate=r.rate,
            product_id=r.product_id,
            category_id=r.category_id,
            tier_id=r.tier_id,
        )
        for r in EarnRule.objects.filter(is_active=True).order_by("id")
    ]


@dataclass(frozen=True)
class ExpiringPoints:
    points: int
    expires_on: object


@dataclass(frozen=True)
class PointsSummary:
    balance: int
    lifetime_earned: int
    lifetime_spend: Decimal
    tier: Tier
    expiring: list[ExpiringPoints]


def points_summary(member: Member, *, expiring_dates: int = 3) -> PointsSummary:
    """Balance, lifetime figures, tier and the next points to expire (per date, soonest first)."""
    account = PointsAccount.objects.select_related("tier").filter(member=member).first()
    if account is None:
        return PointsSummary(0, 0, Decimal("0.00"), entry_tier(), [])
    due = (
        PointsLot.objects.filter(account=account, remaining__gt=0, expires_on__gte=timezone.localdate())
        .values("expires_on")
        .annotate(points=Sum("remaining"))
        .order_by("expires_on")[:expiring_dates]
    )
    return PointsSummary(
        balance=account.balance,
        lifetime_earned=account.lifetime_earned,
        lifetime_spend=account.lifetime_spend,
        tier=account.tier,
        expiring=[ExpiringPoints(points=row["points"], expires_on=row["expires_on"]) for row in due],
    )


def ledger_for(member: Member) -> QuerySet[LedgerEntry]:
    """The member's ledger rows, newest first."""
    return LedgerEntry.objects.filter(member=member).select_related("purchase", "actor").order_by("-id")


def ledger_sum(member: Member) -> int:
    return LedgerEntry.objects.filter(member=member).aggregate(total=Sum("points"))["total"] or 0


def _day(at) -> datetime.date:
    if at is None:
        return timezone.localdate()
    if isinstance(at, datetime.datetime):
        return timezone.localdate(at)
    return at


def active_membership(member: Member, at: datetime.date | datetime.datetime | None = None):
    """The paid membership in force for the member on that day (today by default), or None.

    Active (not cancelled or expired) and `starts_on <= day <= ends_on`; a renewal bought ahead
    starts only after the current one ends, so at most one is in force."""
    day = _day(at)
    return _active_membership_sql(member.pk, day)


def _active_membership_sql(member_id: int, day: datetime.date):
    """Plain SQL (it runs for every posting when a plan adds points): the subscription and its
    plan, as `select_related("plan")` would load them."""
    quote = connection.ops.quote_name
    subscription_table = quote(MembershipSubscription._meta.db_table)
    rows = list(
        MembershipSubscription.objects.raw(
            f"SELECT {select_columns(MembershipSubscription)} FROM {subscription_table} "  # noqa: S608
            "WHERE member_id = %s AND status = %s "
            "AND starts_on <= %s AND ends_on >= %s ORDER BY starts_on, id LIMIT 1",
            [member_id, MembershipSubscription.Status.ACTIVE.value, *[connection.ops.adapt_datefield_value(day)] * 2],
        )
    )
    if not rows:
        return None
    subscription = rows[0]
    plan_table = quote(MembershipPlan._meta.db_table)
    plan_sql = f"SELECT {select_columns(MembershipPlan)} FROM {plan_table} WHERE id = %s"  # noqa: S608
    subscription.plan = next(iter(MembershipPlan.objects.raw(plan_sql, [subscription.plan_id])))
    return subscription


def memberships_of(member: Member) -> QuerySet[MembershipSubscription]:
    """The member's paid memberships, latest first."""
    return (
        MembershipSubscription.objects.filter(member=member)
        .select_related("member", "plan", "sold_by")
        .order_by("-starts_on", "-id")
    )


def free_delivery_for(member: Member, at: datetime.date | datetime.datetime | None = None) -> bool:
    """Free delivery from the member's tier (e.g. Diamond) or from a paid plan in force that day."""
    tier_free = PointsAccount.objects.filter(member=member).values_list("tier__free_delivery", flat=True).first()
    if tier_free is None:
        entry = entry_tier()
        tier_free = bool(entry and entry.free_delivery)
    if tier_free:
        return True
    subscription = active_membership(member, at)
    return bool(subscription and subscription.plan.free_delivery)


# --- catalogue, redemptions, coupons -------------------------------------------------------


def member_tier(member: Member) -> Tier:
    account = PointsAccount.objects.select_related("tier").filter(member=member).first()
    return account.tier if account else entry_tier()


def has_member_only_plan(member: Member, now) -> bool:
    subscription = active_membership(member, now)
    return bool(subscription and subscription.plan.member_only_rewards)


def rewards_available_to(queryset, member: Member, *, now=None):
    """Rewards `member` could redeem now (points aside): active, within their dates, in stock,
    open to the member's tier, and under the per-member limit."""
    now = now or timezone.now()
    tier = member_tier(member)
    had = (
        Redemption.objects.filter(member=member, reward=OuterRef("pk"), status=Redemption.Status.COMPLETED)
        .order_by()
        .values("reward")
        .annotate(n=Sum("quantity"))
        .values("n")
    )
    return (
        queryset.filter(is_active=True)
        .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=now))
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
        .filter(Q(stock__isnull=True) | Q(stock__gt=0))
        .filter(Q(min_tier__isnull=True) | Q(min_tier__rank__lte=tier.rank))
        .filter(Q(plan_members_only=False) | Q(plan_members_only=has_member_only_plan(member, now)))
        .annotate(redeemed_units=Coalesce(Subquery(had, output_field=IntegerField()), 0))
        .filter(Q(per_member_limit__isnull=True) | Q(per_member_limit__gt=F("redeemed_units")))
    )


def redemptions() -> QuerySet[Redemption]:
    coupons = Coupon.objects.select_related("template", "member").order_by("pk")
    return Redemption.objects.select_related("member", "reward", "actor", "cancelled_by").prefetch_related(
        Prefetch("coupons", queryset=coupons)
    )


@dataclass(frozen=True)
class MemberCoupon:
    coupon: Coupon
    state: str  # "valid", "not_yet_valid", "used", "expired" or "void"


MEMBER_COUPONS_SHOWN = 50


def member_coupons(member: Member, *, now=None) -> list[MemberCoupon]:
    """The member's coupons, newest first (at most MEMBER_COUPONS_SHOWN), each with its state now:
    valid, not yet valid, used, expired or void. One query."""
    now = now or timezone.now()
    shown = []
    for coupon in Coupon.objects.filter(member=member).select_related("template")[:MEMBER_COUPONS_SHOWN]:
        if coupon.status == Coupon.Status.REDEEMED:
            state = "used"
        elif coupon.status == Coupon.Status.VOID:
            state = "void"
        elif coupon.expires_at and coupon.expires_at <= now:
            state = "expired"
        elif coupon.starts_at and coupon.starts_at > now:
            state = "not_yet_valid"
        else:
            state = "valid"
        shown.append(MemberCoupon(coupon=coupon, state=state))
    return shown


@dataclass(frozen=True)
class NextTier:
    tier: Tier
    missing: Decimal  # how much of the qualifying figure is still missing


@dataclass(frozen=True)
class PointsPanel:
    """What the member page's points panel shows (see `points_panel`)."""

    summary: PointsSummary
    account_id: int | None
    policy_text: str
    figure: Decimal
    figure_text: str
    counts_points: bool
    next_tier: NextTier | None
    below_since: object  # date or None
    downgrade_on: object  # date or None: when the grace period ends
    history: list[TierHistory]
    more_history: bool
    ledger_page: Page


PANEL_HISTORY_ROWS = 10


def points_panel(member: Member, *, page: object = 1, per_page: int = 20) -> PointsPanel:
    """Balance, lifetime figures, tier with the next one and what is missing, what expires next, the
    latest tier changes and one page of the ledger (newest first) — a fixed number of queries,
    whatever the ledger's size: the account, the tiers, expiring lots, tier history, and the
    ledger's count and page (plus one for the figure under a rolling-window policy)."""
    from rewards.services.tiers import qualifying_figure, tier_policy

    policy = tier_policy()
    account = PointsAccount.objects.select_related("tier").filter(member=member).first()
    all_tiers = tiers()
    empty_page = Paginator(LedgerEntry.objects.none(), per_page).get_page(1)
    if account is None:
        entry = all_tiers[0] if all_tiers else None
        summary = PointsSummary(0, 0, Decimal("0.00"), entry, [])
        figure = Decimal("0")
        history, more, ledger_page = [], False, empty_page
        current_rank = entry.rank if entry else 0
    else:
        due = (
            PointsLot.objects.filter(account=account, remaining__gt=0, expires_on__gte=timezone.localdate())
            .values("expires_on")
            .annotate(points=Sum("remaining"))
            .order_by("expires_on")[:3]
        )
        summary = PointsSummary(
            balance=account.balance,
            lifetime_earned=account.lifetime_earned,
            lifetime_spend=account.lifetime_spend,
            tier=account.tier,
            expiring=[ExpiringPoints(points=row["points"], expires_on=row["expires_on"]) for row in due],
        )
        figure = qualifying_figure(account, policy=policy)
        history = list(
            TierHistory.objects.filter(member=member)
            .select_related("from_tier", "to_tier", "purchase")
            .order_by("-id")[: PANEL_HISTORY_ROWS + 1]
        )
        more = len(history) > PANEL_HISTORY_ROWS
        history = history[:PANEL_HISTORY_ROWS]
        ledger_page = Paginator(ledger_for(member), per_page).get_page(page)
        current_rank = account.tier.rank
    higher = [tier for tier in all_tiers if tier.rank > current_rank]
    next_tier = None
    if higher:
        next_tier = NextTier(tier=higher[0], missing=max(Decimal("0"), higher[0].threshold - figure))
    below_since = account.below_since if account is not None else None
    downgrade_on = None
    if below_since is not None and policy.downgrade:
        downgrade_on = below_since + datetime.timedelta(days=policy.grace_days)
    return PointsPanel(
        summary=summary,
        account_id=account.pk if account is not None else None,
        policy_text=str(TierPolicy(basis=policy.basis, window_months=policy.window_months)),
        figure=figure,
        figure_text=policy.describe(figure),
        counts_points=policy.uses_points,
        next_tier=next_tier,
        below_since=below_since,
        downgrade_on=downgrade_on,
        history=history,
        more_history=more,
        ledger_page=ledger_page,
    )


def tier_history_for(member: Member) -> QuerySet[TierHistory]:
    """The member's tier changes, newest first."""
    return TierHistory.objects.filter(member=member).select_related("from_tier", "to_tier", "purchase").order_by("-id")


def expiring_lot_dates(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    """The dates from `first` to `last` (inclusive) on which some points lot with points left expires."""
    return list(
        PointsLot.objects.filter(remaining__gt=0, expires_on__gte=first, expires_on__lte=last)
        .order_by("expires_on")
        .values_list("expires_on", flat=True)
        .distinct()
    )


def members_with_points_expiring(first: datetime.date, last: datetime.date) -> QuerySet[Member]:
    """Members holding a lot with points left that expires from `first` to `last` (inclusive)."""
    lots = PointsLot.objects.filter(
        account__member=OuterRef("pk"), remaining__gt=0, expires_on__gte=first, expires_on__lte=last
    )
    return Member.objects.filter(Exists(lots))


def points_expiring_between(member: Member, first: datetime.date, last: datetime.date) -> ExpiringPoints:
    """The member's points left in lots expiring from `first` to `last`, and the first such date
    (None when nothing expires then)."""
    row = PointsLot.objects.filter(
        account__member=member, remaining__gt=0, expires_on__gte=first, expires_on__lte=last
    ).aggregate(points=Sum("remaining"), first=Min("expires_on"))
    return ExpiringPoints(points=row["points"] or 0, expires_on=row["first"])
