"""Care plans: selling a plan for a purchase line, and claims under it (docs/rules/care-plans.md).

Selling (`sell_care_plan`) is idempotent on its key: the same member, plan and line again answer
the first sale; anything else with that key is an IdempotencyConflict. The plan must be on sale,
the line the member's, its product one the plan may be sold with (listed, or in a listed category
or below), the sale no later than the plan's number of days after the purchase, and the line not
carrying the plan already (a cancelled sale of it does not count: the plan may be sold again).
Cover runs from the day of the sale for the plan's duration. The price is what the plan costs when
sold; the money is taken by the till (or the shop), not here.

A claim (`claim_care_plan`) is checked under the sold plan's row lock, after the member's: within
the plan's dates, claims left, the right product, and — for plans that need it — the original
purchase line not returned. Two claims at once queue on that lock, so they can never use more
claims than the plan allows. The claim opens the member's service record of kind "care-plan
claim" (`members.services.add_service_record`); settling it (`settle_care_plan_claim`) may give a
replacement — a zero-priced purchase line posted like any sale, or a coupon of the plan's
template — whose catalogue value is the claim's cost, and closes the record as done; rejecting it
(`reject_care_plan_claim`) cancels the record and gives the claim back to the plan.

Cancelling (`cancel_care_plan_sale`, managers) is allowed before any claim under the plan (a claim
rejected since is given back, so it does not count): the plan's price is recorded as refunded and
the plan covers nothing more (claims on it are refused, `care_plan_cancelled`); after a claim it is
refused (`care_plan_claimed`). The money goes back through the till or the shop, as it was taken.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from members import services as member_services
from members.models import Member, Product, PurchaseItem, ServiceRecord, Store
from members.services import MemberErased, PurchaseLine
from rewards import lock_objects, rules, selectors_care_plans
from rewards.errors import (
    AlreadyCovered,
    CarePlanCancelled,
    CarePlanClaimed,
    CarePlanNotOnSale,
    ClaimNotOpen,
    IdempotencyConflict,
    NoClaimsLeft,
    PlanExpired,
    PlanNotStarted,
    ProductNotCovered,
    PurchaseRequired,
    ReplacementUnavailable,
    SaleWindowClosed,
)
from rewards.models import CarePlan, CarePlanClaim, CarePlanSale, Coupon, CouponKind
from rewards.services.ledger import real_actor

KEY_MAX = 80
ZERO = Decimal("0.00")


def _key(value: str, field: str = "idempotency_key") -> str:
    key = (value or "").strip()
    if not key:
        raise ValidationError({field: [_("Enter an idempotency key.")]})
    if len(key) > KEY_MAX:
        raise ValidationError({field: [_("The key is longer than %(max)d characters.") % {"max": KEY_MAX}]})
    return key


def _line_returned(item: PurchaseItem) -> bool:
    """The covered line was brought back, or its whole purchase refunded."""
    purchase = item.purchase
    fully_refunded = purchase.total > 0 and purchase.refunded_total >= purchase.total
    return item.returned_quantity >= item.quantity or fully_refunded


def _day(value: datetime.date) -> str:
    return date_format(value, "DATE_FORMAT")


@dataclass(frozen=True)
class CarePlanSaleResult:
    sale: CarePlanSale
    created: bool  # False when this answers a retry with the same key


@transaction.atomic
def sell_care_plan(
    *,
    member: Member,
    plan: CarePlan,
    purchase_item: PurchaseItem,
    idempotency_key: str,
    actor=None,
    today: datetime.date | None = None,
) -> CarePlanSaleResult:
    """Sell `plan` to `member` for one of their purchase lines (at the till with the line, or later
    within the plan's `sell_within_days`). Idempotent on `idempotency_key`."""
    key = _key(idempotency_key)
    member = lock_objects.member_for_update(member.pk)
    existing = CarePlanSale.objects.filter(idempotency_key=key).first()
    if existing is not None:
        if (existing.member_id, existing.plan_id, existing.purchase_item_id) != (
            member.pk,
            plan.pk,
            purchase_item.pk,
        ):
            raise IdempotencyConflict(_("The key “%(key)s” was already used for another sale.") % {"key": key})
        return CarePlanSaleResult(sale=existing, created=False)
    if member.is_erased:
        raise MemberErased(_("Member %(member_no)s has been erased.") % {"member_no": member.member_no})
    plan = CarePlan.objects.prefetch_related("products", "categories").get(pk=plan.pk)
    if not plan.is_active:
        raise CarePlanNotOnSale(_("The care plan “%(plan)s” is not on sale.") % {"plan": plan.name})
    item = PurchaseItem.objects.select_related("purchase", "product").get(pk=purchase_item.pk)
    if item.purchase.member_id != member.pk:
        raise ValidationError(
            {
                "purchase_item": [
                    _("This purchase line is not member %(member_no)s's.") % {"member_no": member.member_no}
                ]
            }
        )
    category_id = item.category_id or (item.product.category_id if item.product else None)
    parents = selectors_care_plans.category_parents()
    if not selectors_care_plans.plan_covers(plan, product_id=item.product_id, category_id=category_id, parents=parents):
        raise ProductNotCovered(
            _("The care plan “%(plan)s” does not cover “%(product)s”.")
            % {"plan": plan.name, "product": item.name or item.sku}
        )
    if _line_returned(item):
        raise PurchaseRequired(_("The purchase line “%(product)s” was returned.") % {"product": item.name or item.sku})
    today = today or timezone.localdate()
    bought_on = timezone.localdate(item.purchase.ordered_at)
    last_day = bought_on + datetime.timedelta(days=plan.sell_within_days)
    if today > last_day:
        raise SaleWindowClosed(
            _("The care plan “%(plan)s” could be sold until %(day)s (%(days)d days after the purchase).")
            % {"plan": plan.name, "day": _day(last_day), "days": plan.sell_within_days}
        )
    if CarePlanSale.objects.filter(plan=plan, purchase_item=item, status=CarePlanSale.Status.ACTIVE).exists():
        raise AlreadyCovered(
            _("The purchase line “%(product)s” already has the care plan “%(plan)s”.")
            % {"product": item.name or item.sku, "plan": plan.name}
        )
    sale = CarePlanSale.objects.create(
        plan=plan,
        member=member,
        purchase_item=item,
        product=item.product,
        starts_on=today,
        ends_on=rules.care_plan_ends_on(today, plan.duration, plan.duration_unit),
        price_paid=plan.price,
        claims_allowed=plan.claims_allowed,
        idempotency_key=key,
        sold_by=real_actor(actor),
    )
    return CarePlanSaleResult(sale=sale, created=True)


@dataclass(frozen=True)
class TillCarePlan:
    """A plan chosen at the till for the basket's line number `line` (0-based)."""

    line: int
    plan: CarePlan


@transaction.atomic
def sell_care_plans_for_purchase(
    *, purchase, chosen: list[TillCarePlan], key_prefix: str, actor=None
) -> list[CarePlanSale]:
    """The till's confirm: sell each chosen plan for its line of the purchase just posted, in the
    same transaction (keys `<key_prefix>-CARE-<line>-<plan>`, so a retry sells nothing twice)."""
    if not chosen:
        return []
    if purchase.member_id is None:
        raise ValidationError(_("Care plans are sold to members only: choose a member."))
    items = list(purchase.items.order_by("pk"))
    sales = []
    for choice in chosen:
        if not 0 <= choice.line < len(items):
            raise ValidationError(_("The care plan's line is not in the basket."))
        result = sell_care_plan(
            member=purchase.member,
            plan=choice.plan,
            purchase_item=items[choice.line],
            idempotency_key=f"{key_prefix}-CARE-{choice.line}-{choice.plan.pk}",
            actor=actor,
        )
        sales.append(result.sale)
    return sales


@dataclass(frozen=True)
class CarePlanCancelResult:
    sale: CarePlanSale
    cancelled: bool  # False when the plan was already cancelled (a retry): nothing changed


@transaction.atomic
def cancel_care_plan_sale(*, sale: CarePlanSale, reason: str, actor=None) -> CarePlanCancelResult:
    """Cancel a sold plan and record its price as refunded, under the plan's row lock (after the
    member's, as claims take them), so a claim and a cancellation at once cannot both pass.
    Refused (CarePlanClaimed) once a claim that was not rejected exists; a reason is required.
    Idempotent: a plan already cancelled answers as it is (`cancelled` False)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Give the reason for cancelling.")]})
    if len(reason) > 500:
        raise ValidationError({"reason": [_("The reason is longer than %(max)d characters.") % {"max": 500}]})
    member_id = CarePlanSale.objects.filter(pk=sale.pk).values_list("member_id", flat=True).get()
    lock_objects.member_for_update(member_id)
    sale = lock_objects.care_plan_sale_for_update(sale.pk)
    if sale.is_cancelled:
        return CarePlanCancelResult(sale=sale, cancelled=False)
    if sale.claims_used > 0:
        raise CarePlanClaimed(
            _("The care plan “%(plan)s” has a claim, so it can no longer be cancelled and refunded.")
            % {"plan": sale.plan.name}
        )
    sale.status = CarePlanSale.Status.CANCELLED
    sale.refunded_amount = sale.price_paid
    sale.cancelled_at = timezone.now()
    sale.cancelled_by = real_actor(actor)
    sale.cancel_reason = reason
    sale.save(update_fields=["status", "refunded_amount", "cancelled_at", "cancelled_by", "cancel_reason"])
    return CarePlanCancelResult(sale=sale, cancelled=True)


@dataclass(frozen=True)
class CarePlanClaimResult:
    claim: CarePlanClaim
    created: bool


@transaction.atomic
def claim_care_plan(
    *,
    sale: CarePlanSale,
    description: str,
    idempotency_key: str,
    product: Product | None = None,
    store: Store | None = None,
    actor=None,
    today: datetime.date | None = None,
) -> CarePlanClaimResult:
    """Open a claim under a sold plan, refused with a reason unless it is within the plan's dates
    (PlanNotStarted, PlanExpired), has claims left (NoClaimsLeft), is for the covered product
    (ProductNotCovered, when `product` is given) and, for plans that need it, the original
    purchase line was not returned (PurchaseRequired). Idempotent on `idempotency_key`."""
    key = _key(idempotency_key)
    description = (description or "").strip()
    if not description:
        raise ValidationError({"description": [_("Describe what happened.")]})
    lock_objects.member_for_update(sale.member_id)
    sale = lock_objects.care_plan_sale_for_update(sale.pk)
    existing = CarePlanClaim.objects.filter(idempotency_key=key).first()
    if existing is not None:
        if existing.sale_id != sale.pk or existing.description != description:
            raise IdempotencyConflict(_("The key “%(key)s” was already used for another claim.") % {"key": key})
        return CarePlanClaimResult(claim=existing, created=False)
    plan = sale.plan
    if sale.is_cancelled:
        raise CarePlanCancelled(
            _("The care plan “%(plan)s” was cancelled and refunded: it covers nothing more.") % {"plan": plan.name}
        )
    today = today or timezone.localdate()
    if today < sale.starts_on:
        raise PlanNotStarted(
            _("The care plan “%(plan)s” covers from %(day)s.") % {"plan": plan.name, "day": _day(sale.starts_on)}
        )
    if today > sale.ends_on:
        raise PlanExpired(
            _("The care plan “%(plan)s” ended on %(day)s: claims were accepted until then.")
            % {"plan": plan.name, "day": _day(sale.ends_on)}
        )
    if sale.claims_used >= sale.claims_allowed:
        raise NoClaimsLeft(
            _("The care plan “%(plan)s” allows %(count)d claim(s), and all have been used.")
            % {"plan": plan.name, "count": sale.claims_allowed}
        )
    if product is not None and product.pk != sale.product_id:
        raise ProductNotCovered(
            _("The care plan “%(plan)s” covers another product, not “%(product)s”.")
            % {"plan": plan.name, "product": product.name}
        )
    item = PurchaseItem.objects.select_related("purchase").get(pk=sale.purchase_item_id)
    if plan.requires_original_purchase and _line_returned(item):
        raise PurchaseRequired(
            _("Claims under “%(plan)s” need the original purchase, and “%(product)s” was returned.")
            % {"plan": plan.name, "product": item.name or item.sku}
        )
    record = member_services.add_care_plan_claim_record(
        member=sale.member,
        plan_name=plan.name,
        description=description,
        store=store,
        actor=actor,
    )
    claim = CarePlanClaim.objects.create(
        sale=sale,
        service_record=record,
        description=description,
        idempotency_key=key,
        claimed_by=real_actor(actor),
    )
    sale.claims_used += 1  # under the sale's row lock
    sale.save(update_fields=["claims_used"])
    return CarePlanClaimResult(claim=claim, created=True)


def _open_claim(claim: CarePlanClaim) -> tuple[CarePlanSale, CarePlanClaim]:
    sale = CarePlanSale.objects.only("member_id").get(pk=claim.sale_id)
    lock_objects.member_for_update(sale.member_id)
    sale = lock_objects.care_plan_sale_for_update(sale.pk)
    claim = lock_objects.care_plan_claim_for_update(claim.pk)
    if claim.status != CarePlanClaim.Status.OPEN:
        raise ClaimNotOpen(_("This claim is already %(status)s.") % {"status": claim.get_status_display()})
    return sale, claim


@transaction.atomic
def start_care_plan_claim(*, claim: CarePlanClaim, actor=None) -> CarePlanClaim:
    """Mark an open claim's service record "in progress" (someone is working on it)."""
    _sale, claim = _open_claim(claim)
    member_services.update_service_record(
        record=claim.service_record, status=ServiceRecord.Status.IN_PROGRESS, actor=actor
    )
    return claim


@transaction.atomic
def settle_care_plan_claim(
    *, claim: CarePlanClaim, replacement: str, store: Store | None = None, note: str = "", actor=None
) -> CarePlanClaim:
    """Settle an open claim: give the replacement (`product`: the covered product again on a
    zero-priced purchase line; `coupon`: a coupon of the plan's template; `none`), record its
    catalogue value as the claim's cost, and close the service record as done."""
    from rewards.services import coupons as coupon_services
    from rewards.services.purchases import post_purchase

    sale, claim = _open_claim(claim)
    plan = sale.plan
    now = timezone.now()
    cost = ZERO
    if replacement == CarePlanClaim.Replacement.PRODUCT:
        product = sale.product
        if product is None:
            raise ReplacementUnavailable(_("The covered line has no catalogue product to replace."))
        posting = post_purchase(
            member=sale.member,
            external_ref=f"CARE-CLAIM-{claim.pk}",
            ordered_at=now,
            items=[PurchaseLine(sku=product.sku, name=product.name, quantity=1, unit_price=ZERO)],
            store=store,
            channel="store",
            actor=actor,
        )
        claim.replacement_purchase = posting.purchase
        cost = product.unit_price
    elif replacement == CarePlanClaim.Replacement.COUPON:
        if plan.replacement_coupon_id is None:
            raise ReplacementUnavailable(
                _("The care plan “%(plan)s” has no replacement coupon set.") % {"plan": plan.name}
            )
        coupon = coupon_services.issue_coupon(
            template=plan.replacement_coupon,
            member=sale.member,
            source=Coupon.Source.CARE_PLAN,
            actor=actor,
            reason=_("Care plan claim"),
        )
        claim.replacement_coupon = coupon
        cost = coupon.value if coupon.kind == CouponKind.AMOUNT else ZERO
    elif replacement != CarePlanClaim.Replacement.NONE:
        raise ValidationError({"replacement": [_("Choose a replacement: none, product or coupon.")]})
    claim.replacement = replacement
    claim.cost = cost
    claim.status = CarePlanClaim.Status.SETTLED
    claim.closed_at = now
    claim.save(
        update_fields=["replacement", "replacement_purchase", "replacement_coupon", "cost", "status", "closed_at"]
    )
    changes = {"status": ServiceRecord.Status.DONE}
    if note.strip():
        changes["details"] = f"{claim.service_record.details}\n{note.strip()}".strip()
    member_services.update_service_record(record=claim.service_record, actor=actor, **changes)
    return claim


@transaction.atomic
def reject_care_plan_claim(*, claim: CarePlanClaim, reason: str, actor=None) -> CarePlanClaim:
    """Reject an open claim (e.g. the damage is not covered): the service record is cancelled with
    the reason, and the claim is given back to the plan."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Say why the claim is rejected.")]})
    sale, claim = _open_claim(claim)
    claim.status = CarePlanClaim.Status.REJECTED
    claim.closed_at = timezone.now()
    claim.save(update_fields=["status", "closed_at"])
    sale.claims_used -= 1  # under the sale's row lock
    sale.save(update_fields=["claims_used"])
    member_services.update_service_record(
        record=claim.service_record,
        status=ServiceRecord.Status.CANCELLED,
        details=f"{claim.service_record.details}\n{reason}".strip(),
        actor=actor,
    )
    return claim


# --- the plans themselves ---

PLAN_FIELDS = {
    "code",
    "name",
    "coverage",
    "price",
    "duration",
    "duration_unit",
    "claims_allowed",
    "requires_original_purchase",
    "sell_within_days",
    "replacement_coupon",
    "is_active",
}


@transaction.atomic
def create_care_plan(*, products=(), categories=(), actor=None, **fields) -> CarePlan:
    """A new plan (managers), checked by the model's own validation; it may be sold with the
    `products` and `categories` given (at least one of them)."""
    unknown = set(fields) - PLAN_FIELDS
    if unknown:
        raise ValidationError({field: [_("This field cannot be set.")] for field in sorted(unknown)})
    if not products and not categories:
        raise ValidationError({"products": [_("Give the products or categories the plan may be sold with.")]})
    plan = CarePlan(**fields)
    plan.full_clean()
    plan.save()
    plan.products.set(products)
    plan.categories.set(categories)
    return plan
