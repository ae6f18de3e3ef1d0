"""Reads of care plans: which plans a product may carry, a member's plans, the report, and the
plans ending soon (the expiry reminder). Each runs a fixed number of queries."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from members.models import Category, Member, Product
from rewards import rules
from rewards.models import CarePlan, CarePlanClaim, CarePlanSale

ZERO = Decimal("0.00")


def category_parents() -> dict[int, int | None]:
    """Every category's parent (one query; a shop has tens or hundreds of categories)."""
    return dict(Category.objects.values_list("pk", "parent_id"))


def active_plans() -> list[CarePlan]:
    """The plans on sale with their products and categories (three queries)."""
    return list(
        CarePlan.objects.filter(is_active=True).prefetch_related("products", "categories").order_by("name", "pk")
    )


def plan_covers(
    plan: CarePlan, *, product_id: int | None, category_id: int | None, parents: dict[int, int | None]
) -> bool:
    """Whether the plan may be sold with this product (listed, or in a listed category or below).
    `plan` comes with its products and categories prefetched."""
    if product_id is not None and any(product.pk == product_id for product in plan.products.all()):
        return True
    covered = {category.pk for category in plan.categories.all()}
    return rules.category_covered(category_id, covered, parents)


def offers_for_products(products: list[Product]) -> dict[int, list[CarePlan]]:
    """The plans on sale each product may carry, keyed by product id (four queries, whatever the
    number of products or plans)."""
    if not products:
        return {}
    plans = active_plans()
    if not plans:
        return {product.pk: [] for product in products}
    parents = category_parents()
    return {
        product.pk: [
            plan
            for plan in plans
            if plan_covers(plan, product_id=product.pk, category_id=product.category_id, parents=parents)
        ]
        for product in products
    }


@dataclass(frozen=True)
class MemberCarePlan:
    sale: CarePlanSale
    active: bool
    claims_left: int
    days_left: int


def member_care_plans(member: Member, *, today: datetime.date | None = None) -> list[MemberCarePlan]:
    """The member's care plans, running ones first (each with what is left and until when); one
    query."""
    today = today or timezone.localdate()
    sales = (
        CarePlanSale.objects.filter(member=member)
        .select_related("plan", "purchase_item", "purchase_item__purchase", "product")
        .order_by("-ends_on", "-pk")
    )
    rows = []
    for sale in sales:
        active = not sale.is_cancelled and sale.starts_on <= today <= sale.ends_on
        rows.append(
            MemberCarePlan(
                sale=sale,
                active=active,
                claims_left=sale.claims_left if active else 0,
                days_left=(sale.ends_on - today).days + 1 if active else 0,
            )
        )
    rows.sort(key=lambda row: not row.active)
    return rows


def sales_of_purchase(purchase) -> list[CarePlanSale]:
    """The care plans sold with a purchase's lines (the receipt); one query."""
    return list(
        CarePlanSale.objects.filter(purchase_item__purchase=purchase)
        .select_related("plan", "product", "purchase_item")
        .order_by("purchase_item_id", "pk")
    )


@dataclass(frozen=True)
class CarePlanReportRow:
    plan: CarePlan
    sold: int
    revenue: Decimal
    claims: int
    sales_claimed: int
    settled: int
    rejected: int
    cost: Decimal

    @property
    def claim_rate(self) -> Decimal | None:
        """Share of plans sold with at least one claim that was not rejected, in percent."""
        if not self.sold:
            return None
        return (Decimal(self.sales_claimed) * 100 / self.sold).quantize(Decimal("0.1"))

    @property
    def cost_per_plan(self) -> Decimal | None:
        return (self.cost / self.sold).quantize(Decimal("0.01")) if self.sold else None

    @property
    def margin(self) -> Decimal:
        return self.revenue - self.cost


def care_plan_report(*, sold_from: datetime.date | None = None, sold_to: datetime.date | None = None):
    """Per plan: plans sold, revenue (less what cancelled plans refunded), claims (settled,
    rejected), the claim rate (plans sold with a claim that was not rejected) and the cost of
    replacements; for plans sold in the dates given. Two queries, whatever the number of plans or
    sales."""
    sales = Q()
    if sold_from:
        sales &= Q(sales__starts_on__gte=sold_from)
    if sold_to:
        sales &= Q(sales__starts_on__lte=sold_to)
    plans = list(
        CarePlan.objects.order_by("name", "pk").annotate(
            sold=Count("sales", filter=sales, distinct=True),
            revenue=Coalesce(Sum(F("sales__price_paid") - F("sales__refunded_amount"), filter=sales), ZERO),
        )
    )
    claim_filter = Q()
    if sold_from:
        claim_filter &= Q(sale__starts_on__gte=sold_from)
    if sold_to:
        claim_filter &= Q(sale__starts_on__lte=sold_to)
    not_rejected = ~Q(status=CarePlanClaim.Status.REJECTED)
    claims = {
        row["sale__plan"]: row
        for row in CarePlanClaim.objects.filter(claim_filter)
        .values("sale__plan")
        .order_by("sale__plan")
        .annotate(
            claims=Count("pk"),
            sales_claimed=Count("sale", filter=not_rejected, distinct=True),
            settled=Count("pk", filter=Q(status=CarePlanClaim.Status.SETTLED)),
            rejected=Count("pk", filter=Q(status=CarePlanClaim.Status.REJECTED)),
            cost=Coalesce(Sum("cost"), ZERO),
        )
    }
    rows = []
    for plan in plans:
        # `revenue` sums over the join with the sales only (no claims joined), so it is not multiplied.
        claimed = claims.get(plan.pk, {})
        rows.append(
            CarePlanReportRow(
                plan=plan,
                sold=plan.sold,
                revenue=plan.revenue,
                claims=claimed.get("claims", 0),
                sales_claimed=claimed.get("sales_claimed", 0),
                settled=claimed.get("settled", 0),
                rejected=claimed.get("rejected", 0),
                cost=claimed.get("cost", ZERO),
            )
        )
    return rows


# --- the expiry reminder (campaigns' automation reads these) ---


def care_plan_end_dates(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    """The days from `first` to `last` on which some care plan with claims left (not cancelled) ends."""
    return list(
        CarePlanSale.objects.filter(
            ends_on__gte=first,
            ends_on__lte=last,
            claims_used__lt=F("claims_allowed"),
            status=CarePlanSale.Status.ACTIVE,
        )
        .order_by("ends_on")
        .values_list("ends_on", flat=True)
        .distinct()
    )


def members_with_care_plans_ending(day: datetime.date) -> QuerySet[Member]:
    """Members holding a care plan with claims left that ends on `day`."""
    ending = CarePlanSale.objects.filter(
        ends_on=day, claims_used__lt=F("claims_allowed"), status=CarePlanSale.Status.ACTIVE
    )
    return Member.objects.not_erased().filter(pk__in=ending.values("member_id"))


def care_plans_ending(member: Member, day: datetime.date) -> list[CarePlanSale]:
    """The member's plans with claims left that end on `day` (for the reminder's text)."""
    return list(
        CarePlanSale.objects.filter(
            member=member, ends_on=day, claims_used__lt=F("claims_allowed"), status=CarePlanSale.Status.ACTIVE
        )
        .select_related("plan")
        .order_by("pk")
    )
