"""Questions that read points and tiers; no writes."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet, Sum
from django.utils import timezone

from members.models import Member
from rewards import rules
from rewards.models import EarnRule, LedgerEntry, PointsAccount, PointsLot, Tier, TierHistory, TierPolicy


def tiers() -> list[Tier]:
    return list(Tier.objects.order_by("rank"))


def entry_tier() -> Tier:
    return Tier.objects.order_by("rank").first()


def tier_levels(all_tiers: list[Tier]) -> list[rules.TierLevel]:
    return [rules.TierLevel(id=t.pk, code=t.code, rank=t.rank, threshold=t.threshold) for t in all_tiers]


def active_earn_rules() -> list[rules.Rule]:
    return [
        rules.Rule(id=r.pk, name=r.name, kind=r.kind, rate=r.rate, product_id=r.product_id, category_id=r.category_id)
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
