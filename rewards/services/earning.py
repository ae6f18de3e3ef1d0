"""How many points one purchase earns: the ONE computation behind posting, preview and imports.

`points_for_purchase()` gathers what the pure arithmetic (`rewards.rules.preview_points`) needs —
the rules, promotions and limits (`earning_config()`, cached), the member's tier and paid plan,
what the member's purchases already earned that day — and returns the points with the rules that
applied. `post_purchase` calls it under the member's lock; `preview_points` calls it without
writing; a batched importer can load `earning_config()` once and pass `tier_id`, `plan` and
`earned_today` itself to save the per-purchase queries.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.core.cache import cache
from django.db.models import F, Sum
from django.utils import timezone

from loyalty_crm import local_cache
from members.models import Category, Member, Product, Store
from members.services import PurchaseLine
from rewards import rules, selectors
from rewards.models import (
    EARNING_CONFIG_CACHE_KEY,
    EARNING_CONFIG_CACHE_SECONDS,
    EarningSettings,
    MembershipPlan,
    PointsAccount,
    Promotion,
    PurchasePosting,
)

UNSET = object()


@dataclass(frozen=True)
class EarningConfig:
    """Everything rule-like a purchase's points depend on, read together and cached."""

    rules: tuple[rules.Rule, ...]
    promotions: tuple[rules.Promotion, ...]
    limits: rules.Limits
    plans_add_points: bool  # False: no plan has a multiplier above 1, so no need to look one up
    # The managed setting `EarningSettings.earn_on_stored_value_bonus` (off: the bonus never earns).
    bonus_share_earns: bool = False


def _load_config() -> EarningConfig:
    promotions = tuple(
        rules.Promotion(
            id=promo.pk,
            name=promo.name,
            starts_at=promo.starts_at,
            ends_at=promo.ends_at,
            multiplier=promo.multiplier if promo.kind == Promotion.Kind.MULTIPLIER else None,
            bonus_points=(promo.bonus_points or 0) if promo.kind == Promotion.Kind.BONUS else 0,
            store_ids=frozenset(store.pk for store in promo.stores.all()),
            channels=frozenset(promo.channels or ()),
        )
        for promo in Promotion.objects.filter(is_active=True).prefetch_related("stores").order_by("starts_at", "id")
    )
    row = EarningSettings.objects.filter(pk=EarningSettings.SINGLETON_PK).first()
    limits = (
        rules.Limits(
            min_spend=row.min_spend,
            max_points_per_purchase=row.max_points_per_purchase,
            max_points_per_day=row.max_points_per_day,
        )
        if row
        else rules.NO_LIMITS
    )
    return EarningConfig(
        rules=tuple(selectors.active_earn_rules()),
        promotions=promotions,
        limits=limits,
        plans_add_points=MembershipPlan.objects.filter(points_multiplier__gt=1).exists(),
        bonus_share_earns=bool(row and row.earn_on_stored_value_bonus),
    )


def earning_config() -> EarningConfig:
    """The earning rules, promotions and limits, through the cache (shared when Redis is set).

    Saving or deleting a rule, promotion, the limits or a plan drops the cached value (now and at
    commit); it lives at most EARNING_CONFIG_CACHE_SECONDS anyway. Promotions are kept whatever
    their dates: a backfilled purchase earns what was running when it was made. Read once per
    request (`local_cache.per_request`): a posting asks for it several times.
    """
    return local_cache.per_request(EARNING_CONFIG_CACHE_KEY, _shared_config)


def _shared_config() -> EarningConfig:
    config = cache.get(EARNING_CONFIG_CACHE_KEY)
    if config is None:
        config = _load_config()
        cache.set(EARNING_CONFIG_CACHE_KEY, config, EARNING_CONFIG_CACHE_SECONDS)
    return config


def earning_base(*, paid: Decimal, stored_value_bonus: Decimal, config: EarningConfig | None = None) -> Decimal:
    """What a purchase earns on: `paid` (money plus stored value, never the points' value) less the
    stored value's bonus share — the shop's own money, points on it would be points on a discount —
    unless managers switched `EarningSettings.earn_on_stored_value_bonus` on. The ONE rule behind
    the quote's `points_to_earn` and the posting's points."""
    config = config or earning_config()
    if config.bonus_share_earns:
        return paid
    return paid - stored_value_bonus


def plan_for_rules(member: Member, on: datetime.date) -> rules.Plan | None:
    subscription = selectors.active_membership(member, on)
    if subscription is None:
        return None
    plan = subscription.plan
    return rules.Plan(id=plan.pk, name=plan.display_name, multiplier=plan.points_multiplier)


def earned_on_day(member: Member, day: datetime.date) -> int:
    """Points the member's posted purchases made on that local day earned, net of refund reversals."""
    start = timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
    end = start + datetime.timedelta(days=1)
    total = PurchasePosting.objects.filter(
        purchase__member=member, purchase__ordered_at__gte=start, purchase__ordered_at__lt=end
    ).aggregate(net=Sum(F("points_earned") - F("points_reversed")))["net"]
    return max(int(total or 0), 0)


def points_for_purchase(
    *,
    lines: list[rules.Line],
    paid: Decimal | None,
    member: Member | None = None,
    store_id: int | None = None,
    channel: str | None = "store",
    at: datetime.datetime | None = None,
    tier_id: int | object | None = UNSET,
    plan: rules.Plan | object | None = UNSET,
    earned_today: int | None = None,
    config: EarningConfig | None = None,
) -> rules.PointsPreview:
    """The points one purchase earns and why (see `rewards.rules.preview_points` for the order).

    Without `member` no tier, plan or daily cap applies. With it, whatever the caller does not
    pass is looked up: the tier from the member's account, the plan in force on the purchase's
    day, and (only when a daily cap is set) what the member earned that day.
    """
    config = config or earning_config()
    at = at or timezone.now()
    if member is not None:
        if tier_id is UNSET:
            tier_id = PointsAccount.objects.filter(member=member).values_list("tier_id", flat=True).first()
        # The purchase's local day, only for what is looked up here (the batch gives it all).
        if plan is UNSET:
            plan = plan_for_rules(member, timezone.localdate(at)) if config.plans_add_points else None
        if earned_today is None and config.limits.max_points_per_day is not None:
            earned_today = earned_on_day(member, timezone.localdate(at))
    context = rules.PurchaseContext(
        tier_id=None if tier_id is UNSET else tier_id,
        plan=None if plan is UNSET else plan,
        store_id=store_id,
        channel=channel,
        at=at,
        earned_today=earned_today or 0,
    )
    return rules.preview_points(
        lines, config.rules, paid=paid, context=context, promotions=config.promotions, limits=config.limits
    )


def lines_for_items(items: list[PurchaseLine]) -> list[rules.Line]:
    """Basket lines as the rules see them. Products are matched by SKU; a line's category label
    (code or name) overrides the product's category."""
    products = {p.sku: p for p in Product.objects.filter(sku__in={i.sku for i in items})}
    labels = {(i.category or "").strip() for i in items} - {""}
    categories: dict[str, int] = {}
    if labels:
        for cat in Category.objects.filter(code__in={label.lower() for label in labels}) | Category.objects.filter(
            name__in=labels
        ):
            categories[cat.code] = cat.pk
            categories[cat.name] = cat.pk
    lines = []
    for item in items:
        product = products.get(item.sku)
        label = (item.category or "").strip()
        category_id = (categories.get(label.lower()) or categories.get(label)) if label else None
        if category_id is None and product is not None:
            category_id = product.category_id
        gross = Decimal(str(item.unit_price)) * item.quantity - Decimal(str(item.discount or 0))
        lines.append(
            rules.Line(
                sku=item.sku, line_total=gross, product_id=product.pk if product else None, category_id=category_id
            )
        )
    return lines


def preview_points(
    *,
    items: list[PurchaseLine],
    total: Decimal | None = None,
    member: Member | None = None,
    store: Store | None = None,
    channel: str | None = "store",
    ordered_at: datetime.datetime | None = None,
) -> rules.PointsPreview:
    """The points a basket would earn and the rules that apply (checkout quote, staff preview).
    No writes; the same computation `post_purchase` uses."""
    paid = Decimal(str(total)) if total is not None else None
    return points_for_purchase(
        lines=lines_for_items(items),
        paid=paid,
        member=member,
        store_id=store.pk if store else None,
        channel=channel,
        at=ordered_at,
    )
