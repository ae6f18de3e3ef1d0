"""Questions that read points and tiers; no writes."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db.models import Exists, F, IntegerField, Min, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty_crm import local_cache
from members.models import Member
from rewards import _sql, rules
from rewards.models import (
    POINTS_PAYMENT_CACHE_KEY,
    POINTS_PAYMENT_CACHE_SECONDS,
    TIERS_CACHE_KEY,
    TIERS_CACHE_SECONDS,
    Coupon,
    EarnRule,
    LedgerEntry,
    MembershipSubscription,
    PointsAccount,
    PointsLot,
    PointsPaymentSettings,
    PurchasePosting,
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
    """Every tier, lowest rank first, through the cache (read on every posting; saving or deleting
    a tier drops it, `rewards.receivers`). Plain SQL on a miss: the same rows the ORM would give.
    Held in each process as well (`loyalty_crm.local_cache`: no Redis read of its own on a posting),
    reloaded by every process after a tier is saved or deleted."""
    return list(local_cache.get(TIERS_LOCAL_CACHE, _shared_tiers))


TIERS_LOCAL_CACHE = "tiers"  # held in each process too (loyalty_crm.local_cache), forgotten with the shared key


def _shared_tiers() -> list[Tier]:
    found = cache.get(TIERS_CACHE_KEY)
    if found is None:
        found = _sql.all_tiers()
        cache.set(TIERS_CACHE_KEY, found, TIERS_CACHE_SECONDS)
    return found


@dataclass(frozen=True)
class PostingLookup:
    member: Member | None  # None: no member has the number (or none was given)
    posting: PurchasePosting | None  # the posting of the reference, its purchase loaded; None: not posted


def posting_lookup(*, member_no: str | None, external_ref: str) -> PostingLookup:
    """The member of a POST /purchases/ body and the posting already made under its reference, in
    one query (`_sql.member_and_posting`): before any transaction, so a retry is answered from it
    (`services.answer_retry`) and a new posting needs no other lookup of either."""
    member, posting = _sql.member_and_posting(member_no, (external_ref or "").strip())
    return PostingLookup(member=member, posting=posting)


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
    return _sql.active_membership(member.pk, day)


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
class MemberPartnerOffer:
    partner: str
    offer: str
    code: str  # the coupon or the partner's code the member got
    issued_at: datetime.datetime
    purchase_ref: str


def member_partner_offers(member: Member, *, limit: int = MEMBER_COUPONS_SHOWN) -> list[MemberPartnerOffer]:
    """The partner offers the member's purchases got (newest first), for the member's page. One
    query; `campaigns` writes these rows, read here by name (rewards never imports campaigns)."""
    from django.apps import apps

    issue_model = apps.get_model("campaigns", "PartnerOfferIssue")
    issues = (
        issue_model.objects.filter(member=member)
        .select_related("offer__partner", "coupon", "partner_code", "purchase")
        .order_by("-created_at", "-pk")[:limit]
    )
    return [
        MemberPartnerOffer(
            partner=issue.offer.partner.name,
            offer=issue.offer.name,
            code=issue.coupon.code
            if issue.coupon is not None
            else (issue.partner_code.code if issue.partner_code else ""),
            issued_at=issue.created_at,
            purchase_ref=issue.purchase.external_ref,
        )
        for issue in issues
    ]


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


@dataclass(frozen=True)
class PointsPaymentConfig:
    """The paying-with-points settings (a plain value: cached, and safe to share between threads)."""

    points_per_yuan: int = 100
    max_percent: int = 50
    min_points: int = 100
    covers_delivery: bool = False
    delivery_sku: str = "DELIVERY"

    @property
    def terms(self) -> rules.PointsPaymentTerms:
        return rules.PointsPaymentTerms(
            points_per_yuan=self.points_per_yuan, max_percent=self.max_percent, min_points=self.min_points
        )


def points_payment_settings() -> PointsPaymentConfig:
    """Paying with points as configured (the defaults without a row), through the cache like the
    other rewards settings: saving the row drops it (`rewards.receivers`), and it lives at most
    POINTS_PAYMENT_CACHE_SECONDS anyway."""
    config = cache.get(POINTS_PAYMENT_CACHE_KEY)
    if config is None:
        row = (
            PointsPaymentSettings.objects.filter(pk=PointsPaymentSettings.SINGLETON_PK)
            .values_list("points_per_yuan", "max_percent", "min_points", "covers_delivery", "delivery_sku")
            .first()
        )
        config = PointsPaymentConfig(*row) if row else PointsPaymentConfig()
        cache.set(POINTS_PAYMENT_CACHE_KEY, config, POINTS_PAYMENT_CACHE_SECONDS)
    return config


# --- the till's receipt ----------------------------------------------------------------------


@dataclass(frozen=True)
class ReceiptLine:
    item_id: int
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    discount: Decimal
    line_total: Decimal
    returned_quantity: int


class PartnerOfferLine(tuple):
    """(partner name, offer text) of a partner offer a purchase got."""

    __slots__ = ()

    def __new__(cls, partner: str, text: str):
        return super().__new__(cls, (partner, text))

    @property
    def partner(self) -> str:
        return self[0]

    @property
    def text(self) -> str:
        return self[1]


@dataclass(frozen=True)
class Receipt:
    purchase: object  # members.Purchase
    lines: list[ReceiptLine]
    subtotal: Decimal
    tier_discount: Decimal
    coupon_discount: Decimal
    coupon_code: str
    points_used: int
    points_value: Decimal
    amount_paid: Decimal  # the money paid
    refunded_total: Decimal
    points_earned: int
    points_balance: int  # after this purchase
    tier: Tier | None  # after this purchase; None for a walk-in
    tier_changed: bool
    tier_name_before: str
    expiring_points: ExpiringPoints | None  # the member's soonest points to expire, now
    partner_offers: list[PartnerOfferLine]
    referral_reward: str | None
    join_url: str | None  # a walk-in's link to join and have this purchase credited
    stored_value_paid: Decimal = Decimal("0.00")  # of `amount_paid`, paid from the stored value
    stored_value_balance: Decimal = Decimal("0.00")  # the member's stored value just after
    stored_value_returned: Decimal = Decimal("0.00")  # given back to the stored value by returns

    @property
    def money_paid(self) -> Decimal:
        """What was paid in money (cash, card…): the amount paid less the stored value."""
        return self.amount_paid - self.stored_value_paid

    @property
    def is_walk_in(self) -> bool:
        return self.purchase.member_id is None

    @property
    def other_discounts(self) -> Decimal:
        """Line and order discounts other than the tier's and the coupon's."""
        return self.purchase.discount_total - self.tier_discount - self.coupon_discount


def receipt_for(purchase) -> Receipt:
    """Everything a purchase's receipt shows, in a fixed number of queries (at most six: the
    purchase with its posting, its lines, the soonest expiring points, the partner offers, the
    referral reward; a walk-in skips the member's ones)."""
    from members.models import Purchase, PurchaseItem
    from rewards.services.walkin import join_url

    purchase = Purchase.objects.select_related(
        "member", "store", "posting", "posting__tier", "posting__tier_before", "posting__coupon"
    ).get(pk=purchase.pk)
    posting = getattr(purchase, "posting", None)
    lines = [
        ReceiptLine(
            item_id=item.pk,
            sku=item.sku,
            name=item.name,
            quantity=item.quantity,
            unit_price=item.unit_price,
            discount=item.discount,
            line_total=item.line_total,
            returned_quantity=item.returned_quantity,
        )
        for item in PurchaseItem.objects.filter(purchase=purchase).order_by("pk")
    ]
    expiring = None
    offers: list[PartnerOfferLine] = []
    referral = None
    if purchase.member_id is not None:
        soonest = (
            PointsLot.objects.filter(
                account__member_id=purchase.member_id, remaining__gt=0, expires_on__gte=timezone.localdate()
            )
            .values("expires_on")
            .annotate(points=Sum("remaining"))
            .order_by("expires_on")
            .first()
        )
        if soonest:
            expiring = ExpiringPoints(points=soonest["points"], expires_on=soonest["expires_on"])
        offers, referral = _campaign_rewards_of(purchase)
    tier_before = posting.tier_before if posting else None
    tier = posting.tier if posting else None
    return Receipt(
        purchase=purchase,
        lines=lines,
        subtotal=purchase.subtotal,
        tier_discount=posting.tier_discount if posting else Decimal("0.00"),
        coupon_discount=posting.coupon_discount if posting else Decimal("0.00"),
        coupon_code=posting.coupon.code if posting and posting.coupon else "",
        points_used=posting.points_used if posting else 0,
        points_value=purchase.points_value,
        amount_paid=purchase.total,
        refunded_total=purchase.refunded_total,
        points_earned=posting.points_earned if posting else 0,
        points_balance=posting.points_balance if posting else 0,
        tier=tier,
        tier_changed=bool(posting and posting.tier_changed),
        tier_name_before=tier_before.display_name if tier_before else "",
        expiring_points=expiring,
        partner_offers=offers,
        referral_reward=referral,
        stored_value_paid=posting.stored_value_paid if posting else Decimal("0.00"),
        stored_value_balance=posting.stored_value_balance if posting else Decimal("0.00"),
        stored_value_returned=posting.stored_value_returned if posting else Decimal("0.00"),
        join_url=join_url(purchase) if purchase.member_id is None else None,
    )


def _campaign_rewards_of(purchase) -> tuple[list[PartnerOfferLine], str | None]:
    """The partner offers this purchase got and the referral reward it triggered (campaigns'
    rows, read here for the receipt only; `campaigns` writes them after the posting commits)."""
    from django.apps import apps

    issue_model = apps.get_model("campaigns", "PartnerOfferIssue")
    reward_model = apps.get_model("campaigns", "ReferralReward")
    offers = [
        PartnerOfferLine(
            issue.offer.partner.name,
            f"{issue.offer.name}: {_issued_code(issue)}",
        )
        for issue in issue_model.objects.filter(purchase=purchase)
        .select_related("offer__partner", "coupon", "partner_code")
        .order_by("pk")
    ]
    reward = (
        reward_model.objects.filter(purchase=purchase, referred_id=purchase.member_id, status="rewarded")
        .select_related("referred_coupon")
        .first()
    )
    text = None
    if reward is not None and reward.referred_coupon is not None:
        text = _("Welcome reward for joining through a friend: %(points)d points and the coupon %(code)s") % {
            "points": reward.referred_points,
            "code": reward.referred_coupon.code,
        }
    elif reward is not None:
        text = _("Welcome reward for joining through a friend: %(points)d points") % {"points": reward.referred_points}
    return offers, text


def _issued_code(issue) -> str:
    if issue.coupon is not None:
        return issue.coupon.code
    return issue.partner_code.code if issue.partner_code is not None else ""
