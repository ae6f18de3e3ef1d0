"""Recording purchases with their lines and totals (points and tiers belong to `rewards`)."""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from loyalty_crm import bulk
from loyalty_crm.bulk import AnyOf
from members import _sql, signals
from members.models import (
    Category,
    Member,
    Product,
    Purchase,
    PurchaseItem,
    Store,
)
from members.services._common import (
    DISCOUNT_LABEL,
    MAX_LINE_QUANTITY,
    MAX_PURCHASE_AMOUNT,
    MONEY,
    UNIT_PRICE_LABEL,
    DuplicatePurchase,
    MemberErased,
    refuse_erased,
)

# --- purchases -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PurchaseLine:
    sku: str
    quantity: int
    unit_price: Decimal
    name: str = ""
    category: str = ""
    discount: Decimal = Decimal("0.00")


def _money(value, field: str) -> Decimal:
    try:
        amount = Decimal(str(value)).quantize(MONEY)
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError({field: [_("“%(value)s” is not an amount.") % {"value": value}]}) from None
    if amount < 0:
        raise ValidationError({field: [_("The amount cannot be negative.")]})
    return amount


def _line_money(value, line: int, label: str) -> Decimal:
    try:
        return _money(value, "items")
    except ValidationError:
        raise ValidationError(
            {
                "items": [
                    _("Line %(line)d: the %(field)s “%(value)s” is not an amount of 0 or more.")
                    % {"line": line, "field": label, "value": value}
                ]
            }
        ) from None


def resolve_categories(labels: Iterable[str], *, create: bool = True) -> dict[str, Category | None]:
    """Categories by code or name (the code wins), in one query; a label never seen before
    gets a new category (left out of the answer when `create` is False). An empty label maps
    to None."""
    labels = {(label or "").strip() for label in labels}
    found: dict[str, Category | None] = {"": None} if "" in labels else {}
    labels.discard("")
    if not labels:
        return found
    by_code, by_name = {}, {}
    for category in Category.objects.filter(
        Q(code__in={label.lower() for label in labels}) | Q(name__in=labels)
    ).order_by("code"):
        by_code[category.code] = category
        by_name.setdefault(category.name, category)
    for label in sorted(labels):
        category = by_code.get(label.lower()) or by_name.get(label)
        if category is None:
            if not create:
                continue
            code = slugify(label, allow_unicode=False) or f"cat-{secrets.token_hex(4)}"
            category, _created = Category.objects.get_or_create(code=code[:50], defaults={"name": label[:100]})
            by_code[category.code] = category
        found[label] = category
    return found


@dataclass(frozen=True)
class PurchaseDraft:
    """One purchase to record with `record_purchases` (the arguments of `record_purchase`)."""

    member: Member | None  # None: a walk-in sale (`record_purchase` only)
    external_ref: str
    ordered_at: datetime.datetime
    items: list[PurchaseLine]
    store: Store | None = None
    channel: str = "store"
    payment_method: str = ""
    total: Decimal | None = None
    points_value: Decimal = Decimal("0.00")


class RecordedLine:
    """A purchase line recorded in bulk by `record_purchases`: the values of its PurchaseItem row
    (and its `pk` once written), without the cost of a model instance per line. It holds its
    purchase's id, not the purchase (which holds its lines): no reference cycle per purchase."""

    __slots__ = (
        "category",
        "discount",
        "line_total",
        "name",
        "new_category_label",
        "pk",
        "product",
        "purchase_id",
        "quantity",
        "sku",
        "unit_price",
    )

    def __init__(self, *, product, sku, name, category, quantity, unit_price, discount, line_total):
        self.pk = self.purchase_id = None
        self.product, self.sku, self.name, self.category = product, sku, name, category
        self.quantity, self.unit_price, self.discount, self.line_total = quantity, unit_price, discount, line_total
        self.new_category_label = ""

    @property
    def product_id(self) -> int | None:
        return self.product.pk if self.product is not None else None

    @property
    def category_id(self) -> int | None:
        return self.category.pk if self.category is not None else None


_PURCHASE_DEFAULTS = {field.attname: field.get_default() for field in Purchase._meta.concrete_fields}


def _new_purchase(*, member: Member, store: Store | None, **values) -> Purchase:
    """`Purchase(member=…, store=…, **values)` for bulk recording: the same unsaved instance
    (member and store cached on it), built from positional values in a third of the time."""
    fields = {**_PURCHASE_DEFAULTS, **values, "member_id": member.pk, "store_id": store.pk if store else None}
    purchase = Purchase(*fields.values())
    Purchase.member.field.set_cached_value(purchase, member)
    if store is not None:
        Purchase.store.field.set_cached_value(purchase, store)
    return purchase


def _build_purchase(
    draft: PurchaseDraft,
    *,
    products: dict[str, Product],
    categories: dict[str, Category | None],
    line_type: type = PurchaseItem,
    purchase_type: Callable[..., Purchase] = Purchase,
) -> Purchase:
    """The unsaved purchase and its lines (`purchase.lines`, of `line_type`: PurchaseItem, or
    RecordedLine in bulk), checked; raises ValidationError. `purchase_type` builds the Purchase
    (`_new_purchase` in bulk)."""
    external_ref = (draft.external_ref or "").strip()
    if not external_ref:
        raise ValidationError({"external_ref": [_("Enter the order's external reference.")]})
    items = draft.items
    if not items:
        raise ValidationError({"items": [_("A purchase needs at least one line.")]})
    if draft.ordered_at > timezone.now() + datetime.timedelta(minutes=10):
        raise ValidationError({"ordered_at": [_("The order time is in the future.")]})
    lines = []
    subtotal = line_discounts = Decimal("0.00")
    for index, item in enumerate(items, start=1):
        if not item.sku:
            raise ValidationError({"items": [_("Line %(line)d has no SKU.") % {"line": index}]})
        if not isinstance(item.quantity, int) or item.quantity <= 0:
            raise ValidationError(
                {"items": [_("Line %(line)d: the quantity must be a whole number above 0.") % {"line": index}]}
            )
        if item.quantity > MAX_LINE_QUANTITY:
            raise ValidationError(
                {
                    "items": [
                        _("Line %(line)d: the quantity cannot exceed %(max)s.")
                        % {"line": index, "max": f"{MAX_LINE_QUANTITY:,}"}
                    ]
                }
            )
        # Lazy labels: translated only for an error message (gettext per line costs in bulk jobs).
        unit_price = _line_money(item.unit_price, index, UNIT_PRICE_LABEL)
        discount = _line_money(item.discount, index, DISCOUNT_LABEL)
        gross = (unit_price * item.quantity).quantize(MONEY)
        if discount > gross:
            raise ValidationError(
                {"items": [_("Line %(line)d: the discount exceeds the line amount.") % {"line": index}]}
            )
        product = products.get(item.sku)
        label = (item.category or "").strip()
        category = categories.get(label) or (product.category if product else None)
        line = line_type(
            product=product,
            sku=item.sku,
            name=item.name or (product.name if product else ""),
            category=category,
            quantity=item.quantity,
            unit_price=unit_price,
            discount=discount,
            line_total=gross - discount,
        )
        line.new_category_label = label if label not in categories else ""
        lines.append(line)
        subtotal += gross
        line_discounts += discount
    if subtotal > MAX_PURCHASE_AMOUNT:
        raise ValidationError(
            {"items": [_("The lines add up to more than %(max)s.") % {"max": f"{MAX_PURCHASE_AMOUNT:,}"}]}
        )
    paid = subtotal - line_discounts
    if draft.total is not None:
        total = _money(draft.total, "total")
        if total > subtotal:
            raise ValidationError(
                {
                    "total": [
                        _("The total paid (%(total)s) exceeds the lines' subtotal (%(subtotal)s).")
                        % {"total": total, "subtotal": subtotal}
                    ]
                }
            )
        paid = total
    points_value = _money(draft.points_value or 0, "points_value")
    if paid + points_value > subtotal:
        raise ValidationError(
            {
                "points_value": [
                    _("The total paid (%(total)s) and the points (%(points)s) exceed the lines' subtotal.")
                    % {"total": paid, "points": points_value}
                ]
            }
        )
    purchase = purchase_type(
        member=draft.member,
        external_ref=external_ref,
        store=draft.store,
        channel=draft.channel or "store",
        payment_method=draft.payment_method or "",
        ordered_at=draft.ordered_at,
        subtotal=subtotal,
        discount_total=subtotal - paid - points_value,
        total=paid,
        points_value=points_value,
    )
    purchase.lines = lines
    return purchase


def _products_and_categories(drafts: list[PurchaseDraft], *, products: list[Product] | None = None):
    """The drafts' products by SKU and their known categories by label (nothing is written).
    `products`: the drafts' products already read, their categories loaded."""
    if products is None:
        skus = {item.sku for draft in drafts for item in draft.items}
        products = Product.objects.select_related("category").filter(sku__in=skus)
    products = {p.sku: p for p in products}
    # A label that is the code of a product's category is that category (codes are unique and
    # win over names in `resolve_categories`): no query for the common line "sku + its category".
    known = {p.category.code: p.category for p in products.values() if p.category is not None}
    labels = {(item.category or "").strip() for draft in drafts for item in draft.items}
    categories = {label: known[label.lower()] for label in labels if label and label.lower() in known}
    categories.update(resolve_categories(labels - set(categories), create=False))
    return products, categories


def _create_new_categories(purchases: list[Purchase]) -> None:
    """Create the categories named by labels never seen before, once the purchases are valid."""
    labels = {line.new_category_label for p in purchases for line in p.lines if line.new_category_label}
    if not labels:
        return
    created = resolve_categories(labels)
    for purchase in purchases:
        for line in purchase.lines:
            if line.new_category_label:
                line.category = created[line.new_category_label]


def _duplicate(external_ref: str) -> DuplicatePurchase:
    return DuplicatePurchase(
        _("A purchase with the external reference “%(ref)s” is already recorded.") % {"ref": external_ref}
    )


def record_purchase(
    *,
    member: Member | None,
    external_ref: str,
    ordered_at: datetime.datetime,
    items: list[PurchaseLine],
    store: Store | None = None,
    channel: str = "store",
    payment_method: str = "",
    total: Decimal | None = None,
    points_value: Decimal = Decimal("0.00"),
    actor=None,
) -> Purchase:
    """Write a purchase and its lines. `total` is what the customer actually paid in money.

    Without `total`, it is the sum of the lines less their discounts; with it, it may not exceed
    the lines' subtotal (the difference is an order discount). `points_value` is the part paid
    with loyalty points (a tender, not a discount): subtotal = discount + points_value + total.
    Points are not computed here. `member` None records a walk-in sale (a customer who is not a
    member): it counts in the sales figures and sends no `purchase_recorded` (referral rewards
    and partner offers are for members).
    Raises DuplicatePurchase when the external reference is taken. The returned purchase
    carries its saved lines as `purchase.lines`.

    All or nothing, in the caller's transaction when there is one, without a savepoint of its
    own (two queries fewer per posting): the refusals — ValidationError, MemberErased,
    DuplicatePurchase — are decided before anything is written (the duplicate by the insert's
    ON CONFLICT DO NOTHING) and raised outside the transaction block, so a caller may catch them and go
    on in the same transaction (rewards' idempotent posting does).
    """
    draft = PurchaseDraft(
        member=member,
        external_ref=external_ref,
        ordered_at=ordered_at,
        items=items,
        store=store,
        channel=channel,
        payment_method=payment_method,
        total=total,
        points_value=points_value,
    )
    refused: Exception | None = None
    postgres = connection.vendor == "postgresql"
    with transaction.atomic(savepoint=False):
        try:  # checks only: nothing is written before the purchase is known to be valid
            if postgres:  # the member's lock and the products in one statement
                skus = sorted({item.sku for item in items})
                status, found = _sql.member_status_and_products(member.pk if member is not None else None, skus)
                if member is not None:
                    refuse_erased(member, status=status)
                products, categories = _products_and_categories([draft], products=found)
            else:
                if member is not None:
                    refuse_erased(member)
                products, categories = _products_and_categories([draft])
            purchase = _build_purchase(draft, products=products, categories=categories)
        except (ValidationError, MemberErased) as exc:
            refused = exc
        else:
            # ON CONFLICT DO NOTHING: a taken external reference costs no savepoint (two
            # round trips fewer per posting) and leaves the transaction usable. With no new
            # category to create first, the lines go in the same statement on PostgreSQL.
            new_categories = any(line.new_category_label for line in purchase.lines)
            if postgres and not new_categories:
                inserted = _sql.insert_purchase_with_lines(purchase, purchase.lines)
            else:
                inserted = bulk.insert_unless_taken(purchase)
                if inserted:
                    _create_new_categories([purchase])
                    for line in purchase.lines:
                        line.purchase = purchase
                    PurchaseItem.objects.bulk_create(purchase.lines)
            if not inserted:
                refused = _duplicate(purchase.external_ref)
            elif member is not None:
                signals.purchase_recorded.send(sender=Purchase, purchase=purchase, actor=actor)
    if refused is not None:
        # Raised outside the block: the caller's transaction stays usable (nothing was written).
        raise refused
    return purchase


_PURCHASE_FIELDS = (
    "member_id",
    "external_ref",
    "store_id",
    "channel",
    "payment_method",
    "ordered_at",
    "subtotal",
    "discount_total",
    "total",
    "points_value",
    "refunded_total",
    "created_at",
)
_LINE_FIELDS = (
    "purchase_id",
    "product_id",
    "sku",
    "name",
    "category_id",
    "quantity",
    "unit_price",
    "discount",
    "line_total",
    "returned_quantity",
)


@transaction.atomic
def record_purchases(*, drafts: list[PurchaseDraft], actor=None, refs_checked: bool = False) -> list[Purchase]:
    """`record_purchase` for many purchases at once, with the same checks: bulk inserts, a fixed
    number of queries per call. All or nothing; returns the saved purchases in the drafts' order,
    each with its saved lines as `purchase.lines`.

    Locks the members' rows in primary-key order (the lock `record_purchase` takes) and refuses
    erased members; raises DuplicatePurchase when a reference is taken or used twice here, and
    ValidationError for a bad purchase. Sends `signals.purchases_recorded` once, for them all.
    The lines are RecordedLine rows (the PurchaseItem values, no model instances), written with
    one bulk insert.

    `refs_checked`: the caller has looked these references up in this transaction and found none
    recorded (`rewards.services.batch.post_purchases_each` does), so they are not looked up again
    (for 500 references a statement and, with a custom plan, a scan of the purchases); a reference
    a concurrent posting took since then fails the insert with the unique index's IntegrityError
    instead of DuplicatePurchase. References given twice here are refused either way.
    """
    if not drafts:
        return []
    member_ids = sorted({draft.member.pk for draft in drafts})
    statuses = {}
    for start in range(0, len(member_ids), 10_000):
        chunk = member_ids[start : start + 10_000]
        statuses.update(
            Member.objects.select_for_update(no_key=True)
            .filter(AnyOf(F("pk"), chunk))
            .order_by("pk")
            .values_list("pk", "status")
        )
    for draft in drafts:
        if statuses.get(draft.member.pk) in (None, Member.Status.ERASED):
            raise MemberErased(_("Member %(member_no)s has been erased.") % {"member_no": draft.member.member_no})
    products, categories = _products_and_categories(drafts)
    purchases = [
        _build_purchase(
            draft, products=products, categories=categories, line_type=RecordedLine, purchase_type=_new_purchase
        )
        for draft in drafts
    ]
    refs = [purchase.external_ref for purchase in purchases]
    seen: set[str] = set()
    for ref in refs:
        if ref in seen:
            raise _duplicate(ref)
        seen.add(ref)
    for start in range(0, 0 if refs_checked else len(refs), 10_000):
        taken = Purchase.objects.filter(AnyOf(F("external_ref"), refs[start : start + 10_000])).values_list(
            "external_ref", flat=True
        )[:1]
        for ref in taken:
            raise _duplicate(ref)
    now = timezone.now()
    for purchase in purchases:
        purchase.created_at = now
    purchase_rows = [
        (
            p.member_id,
            p.external_ref,
            p.store_id,
            p.channel,
            p.payment_method,
            p.ordered_at,
            p.subtotal,
            p.discount_total,
            p.total,
            p.points_value,
            p.refunded_total,
            now,
        )
        for p in purchases
    ]
    bulk.mark_inserted(purchases, bulk.insert_rows(Purchase, _PURCHASE_FIELDS, purchase_rows))
    _create_new_categories(purchases)
    lines = []
    rows = []
    for purchase in purchases:
        purchase_id = purchase.pk
        for line in purchase.lines:
            line.purchase_id = purchase_id
            rows.append(
                (
                    purchase_id,
                    line.product_id,
                    line.sku,
                    line.name,
                    line.category_id,
                    line.quantity,
                    line.unit_price,
                    line.discount,
                    line.line_total,
                    0,  # returned_quantity: nothing is returned yet
                )
            )
        lines += purchase.lines
    for line, pk in zip(lines, bulk.insert_rows(PurchaseItem, _LINE_FIELDS, rows), strict=True):
        line.pk = pk
    if signals.purchases_recorded.has_listeners(Purchase):
        signals.purchases_recorded.send(sender=Purchase, purchases=purchases, actor=actor)
    return purchases


@transaction.atomic
def record_refund(*, purchase: Purchase, amount: Decimal, returned: dict[int, int] | None = None) -> Purchase:
    """Add a refund to the purchase's `refunded_total`; refunds never exceed what was paid.
    `returned` ({purchase item id: quantity}) adds goods brought back to the lines' returned
    quantities, which never exceed the quantities bought; with goods, the amount may be 0 (goods
    paid wholly with points).

    The sum is computed in decimals under the row lock: SQLite would add `F() + amount` in
    floating point.
    """
    purchase = Purchase.objects.select_for_update().get(pk=purchase.pk)
    amount = _money(amount, "amount")
    if (amount <= 0 and not returned) or purchase.refunded_total + amount > purchase.total:
        raise ValidationError({"amount": [_("The refund exceeds what is left of the purchase.")]})
    for item_id, quantity in sorted((returned or {}).items()):
        updated = PurchaseItem.objects.filter(
            pk=item_id, purchase=purchase, returned_quantity__lte=F("quantity") - quantity
        ).update(returned_quantity=F("returned_quantity") + quantity)
        if quantity <= 0 or not updated:
            raise ValidationError({"lines": [_("More is returned than is left of a line of the purchase.")]})
    if amount:
        purchase.refunded_total += amount
        Purchase.objects.filter(pk=purchase.pk).update(refunded_total=purchase.refunded_total)
    return purchase


def claim_walk_in_purchase(*, purchase: Purchase, member: Member, actor=None) -> Purchase:
    """Give a walk-in purchase (no member) to `member`: a receipt's join link (issue 15), which
    `rewards.services.walkin.credit_walk_in_purchase` calls under its locks before earning the
    points. The caller holds the purchase's row lock; a purchase that has a member already is
    refused with ValidationError. Sends `purchase_recorded`, as recording a member's purchase does
    (referral rewards and partner offers follow)."""
    if purchase.member_id is not None:
        raise ValidationError(_("This purchase already belongs to a member."))
    refuse_erased(member)
    Purchase.objects.filter(pk=purchase.pk, member__isnull=True).update(member=member)
    purchase.member = member
    signals.purchase_recorded.send(sender=Purchase, purchase=purchase, actor=actor)
    return purchase
