"""The verbs that change customer profiles. Admin, API, import commands and tasks all call these.

Rules enforced here:
- phone and email are normalised, encrypted, and hashed for lookup; a phone belongs to one member;
- every profile change is recorded in the member's history with who made it;
- consents change only through `set_consents`, which writes the consent history;
- purchases are recorded with their lines and totals here; points and tiers belong to `rewards`,
  which calls `record_purchase` inside its own transaction (see `members.signals` for the hook);
- erasure anonymises irreversibly and keeps purchase totals for reports.
"""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from loyalty_crm import bulk, crypto
from loyalty_crm.bulk import AnyOf
from loyalty_crm.errors import DomainError
from members import signals
from members.models import (
    Category,
    Consent,
    ConsentEvent,
    ConsentSource,
    ConsentTopic,
    ContactDetailView,
    Interaction,
    Member,
    Preference,
    Product,
    Purchase,
    PurchaseItem,
    ServiceRecord,
    Store,
    Tag,
)
from members.normalize import email_key, normalise_email, normalise_phone

REFERRAL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
ERASED_NAME = "Erased member"
MONEY = Decimal("0.01")
# The largest purchase (lines' subtotal) and line quantity accepted: far above any real basket, and
# low enough that the money columns (12 digits) and the points it earns (integers) always fit.
MAX_PURCHASE_AMOUNT = Decimal("9999999.99")
MAX_LINE_QUANTITY = 100_000
UNIT_PRICE_LABEL = gettext_lazy("unit price")
DISCOUNT_LABEL = gettext_lazy("discount")


class MemberErased(DomainError):
    code = "member_erased"


class DuplicatePurchase(DomainError):
    code = "duplicate_purchase"


# --- numbers -------------------------------------------------------------------------------


def _random_member_no() -> str:
    return "M" + str(secrets.randbelow(9 * 10**9) + 10**9)


def _random_referral_code() -> str:
    return "".join(secrets.choice(REFERRAL_ALPHABET) for _i in range(8))


def _fresh(count: int, make, field: str) -> list[str]:
    """`count` new values unique among themselves and in the table (one query per round)."""
    chosen: set[str] = set()
    while len(chosen) < count:
        candidates = {make() for _i in range(count - len(chosen))} - chosen
        taken = set(Member.objects.filter(**{f"{field}__in": candidates}).order_by().values_list(field, flat=True))
        chosen |= candidates - taken
    return list(chosen)


def new_member_numbers(count: int) -> list[tuple[str, str]]:
    """`count` pairs of (member_no, referral_code) not used by any member."""
    return list(
        zip(
            _fresh(count, _random_member_no, "member_no"),
            _fresh(count, _random_referral_code, "referral_code"),
            strict=True,
        )
    )


# --- contact data --------------------------------------------------------------------------


def apply_contact_data(
    member: Member,
    *,
    phone: str | object | None = ...,
    email: str | object | None = ...,
    birthday: datetime.date | object | None = ...,
) -> None:
    """Set phone, email and birthday (normalised) with their hashes; `...` leaves a field as is.

    Raises ValidationError keyed by field name.
    """
    errors: dict[str, list] = {}
    if phone is not ...:
        if phone:
            try:
                member.phone = normalise_phone(phone)
                member.phone_hash = crypto.lookup_hash(member.phone)
            except ValidationError as exc:
                errors["phone"] = exc.messages
        else:
            member.phone, member.phone_hash = None, ""
    if email is not ...:
        if email:
            try:
                member.email = normalise_email(email)
                member.email_hash = crypto.lookup_hash(email_key(member.email))
            except ValidationError:
                errors["email"] = [_("“%(value)s” is not a valid email address.") % {"value": email}]
        else:
            member.email, member.email_hash = None, ""
    if birthday is not ...:
        if birthday and not isinstance(birthday, datetime.date):
            errors["birthday"] = [_("Enter a valid date.")]
        elif birthday and birthday > timezone.localdate():
            errors["birthday"] = [_("The birthday cannot be in the future.")]
        else:
            member.birthday = birthday or None
            member.birth_month = birthday.month if birthday else None
            member.birth_day = birthday.day if birthday else None
    if errors:
        raise ValidationError(errors)


def _check_phone_free(member: Member) -> None:
    if not member.phone_hash:
        return
    clash = Member.objects.filter(phone_hash=member.phone_hash).exclude(pk=member.pk).first()
    if clash:
        raise ValidationError(
            {"phone": [_("Member %(member_no)s already has this phone number.") % {"member_no": clash.member_no}]}
        )


def _check_external_id_free(member: Member) -> None:
    if not member.external_id:
        return
    clash = Member.objects.filter(external_id=member.external_id).exclude(pk=member.pk).first()
    if clash:
        raise ValidationError(
            {"external_id": [_("Member %(member_no)s already has this external ID.") % {"member_no": clash.member_no}]}
        )


def resolve_referrer(referral_code: str | None) -> Member | None:
    if not referral_code:
        return None
    referrer = Member.objects.not_erased().filter(referral_code=referral_code.strip().upper()).first()
    if referrer is None:
        raise ValidationError(
            {"referral_code": [_("No member has the referral code “%(code)s”.") % {"code": referral_code}]}
        )
    return referrer


# --- members -------------------------------------------------------------------------------


@transaction.atomic
def create_member(
    *,
    name: str,
    phone: str | None = None,
    email: str | None = None,
    birthday: datetime.date | None = None,
    gender: str = Member.Gender.UNKNOWN,
    home_store: Store | None = None,
    external_id: str | None = None,
    consents: Mapping[str, bool] | None = None,
    referral_code: str | None = None,
    source_channel: str = Member.SourceChannel.STORE,
    registered_at: datetime.datetime | None = None,
    notes: str = "",
    tags: Iterable[str] = (),
    actor=None,
    consent_source: str = ConsentSource.ADMIN,
) -> Member:
    """Register a customer. A phone or an email is required; the phone must be free."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": [_("Enter the member's name.")]})
    if not phone and not email:
        raise ValidationError({"phone": [_("Enter a phone number or an email address.")]})
    member_no, code = new_member_numbers(1)[0]
    member = Member(
        member_no=member_no,
        referral_code=code,
        name=name,
        gender=gender or Member.Gender.UNKNOWN,
        home_store=home_store,
        external_id=(external_id or "").strip() or None,
        referred_by=resolve_referrer(referral_code),
        source_channel=source_channel,
        registered_at=registered_at or timezone.now(),
        notes=notes or "",
    )
    apply_contact_data(member, phone=phone, email=email, birthday=birthday)
    _check_phone_free(member)
    _check_external_id_free(member)
    member._history_user = actor
    member.full_clean(exclude=["phone", "email", "birthday", "tags"], validate_unique=False)
    try:
        with transaction.atomic():
            member.save()
    except IntegrityError as exc:  # a concurrent registration took the phone or external id
        # It has committed by now (the insert waited for it): name the member as the checks do.
        _check_phone_free(member)
        _check_external_id_free(member)
        raise ValidationError({"phone": [_("This phone number or external ID is already registered.")]}) from exc
    if tags:
        set_tags(member=member, names=tags)
    if consents:
        set_consents(member=member, consents=consents, actor=actor, source=consent_source)
    signals.send_after_commit(signals.member_registered, sender=Member, member=member, actor=actor)
    return member


UPDATABLE_FIELDS = {"name", "gender", "home_store", "status", "notes", "external_id", "source_channel"}


@transaction.atomic
def update_member(
    *,
    member: Member,
    actor=None,
    consents: Mapping[str, bool] | None = None,
    consent_source: str = ConsentSource.ADMIN,
    tags: Iterable[str] | None = None,
    **changes,
) -> Member:
    """Change a profile; only the given fields change. Erased profiles cannot change."""
    member = Member.objects.select_for_update().get(pk=member.pk)
    if member.is_erased:
        raise MemberErased(
            _("Member %(member_no)s has been erased and cannot be changed.") % {"member_no": member.member_no}
        )
    unknown = set(changes) - UPDATABLE_FIELDS - {"phone", "email", "birthday"}
    if unknown:
        raise ValidationError({field: [_("This field cannot be changed.")] for field in sorted(unknown)})
    if changes.get("status") == Member.Status.ERASED:
        raise ValidationError({"status": [_("Use the erase action to erase a member.")]})
    if "name" in changes and not (changes["name"] or "").strip():
        raise ValidationError({"name": [_("Enter the member's name.")]})
    for field in UPDATABLE_FIELDS & set(changes):
        value = changes[field]
        if field == "external_id":
            value = (value or "").strip() or None
        setattr(member, field, value)
    apply_contact_data(
        member,
        phone=changes.get("phone", ...),
        email=changes.get("email", ...),
        birthday=changes.get("birthday", ...),
    )
    if not member.phone and not member.email:
        raise ValidationError({"phone": [_("Enter a phone number or an email address.")]})
    _check_phone_free(member)
    _check_external_id_free(member)
    member.full_clean(exclude=["phone", "email", "birthday", "tags"], validate_unique=False)
    member._history_user = actor
    member.save()
    if tags is not None:
        set_tags(member=member, names=tags)
    if consents:
        set_consents(member=member, consents=consents, actor=actor, source=consent_source)
    return member


def set_tags(*, member: Member, names: Iterable[str]) -> None:
    wanted = sorted({name.strip() for name in names if name and name.strip()})
    existing = {tag.name: tag for tag in Tag.objects.filter(name__in=wanted)}
    missing = [Tag(name=name) for name in wanted if name not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {tag.name: tag for tag in Tag.objects.filter(name__in=wanted)}
    member.tags.set(existing.values())


# --- consent -------------------------------------------------------------------------------


@transaction.atomic
def set_consents(
    *,
    member: Member,
    consents: Mapping[str, bool],
    actor=None,
    source: str = ConsentSource.ADMIN,
    at: datetime.datetime | None = None,
) -> list[ConsentEvent]:
    """Grant or withdraw consents; each real change is recorded in the consent history at once."""
    topics = set(ConsentTopic.values)
    unknown = set(consents) - topics
    if unknown:
        raise ValidationError({"consents": [_("Unknown consent “%(topic)s”.") % {"topic": t} for t in sorted(unknown)]})
    return set_members_consents(changes={member.pk: consents}, actor=actor, source=source, at=at)


def set_members_consents(
    *,
    changes: Mapping[int, Mapping[str, bool]],
    actor=None,
    source: str = ConsentSource.ADMIN,
    at: datetime.datetime | None = None,
) -> list[ConsentEvent]:
    """The bulk form of `set_consents` (the import's), by member id: the same rule — only real
    changes are written, each with its event — in a fixed number of queries for any number of
    members. The consent rows are locked in primary-key order; topics must be known (the caller
    validated them)."""
    at = at or timezone.now()
    changes = {member_id: wanted for member_id, wanted in changes.items() if wanted}
    if not changes:
        return []
    current = {
        (consent.member_id, consent.topic): consent
        for consent in Consent.objects.select_for_update().filter(member_id__in=list(changes)).order_by("pk")
    }
    created, granted_ids, withdrawn_ids, events = [], [], [], []
    for member_id, wanted in changes.items():
        for topic, granted in sorted(wanted.items()):
            granted = bool(granted)
            consent = current.get((member_id, topic))
            if consent is not None and consent.granted == granted:
                continue
            if consent is None:
                created.append(Consent(member_id=member_id, topic=topic, granted=granted, updated_at=at))
            else:
                (granted_ids if granted else withdrawn_ids).append(consent.pk)
            events.append(
                ConsentEvent(member_id=member_id, topic=topic, granted=granted, at=at, actor=actor, source=source)
            )
    if created:
        Consent.objects.bulk_create(created)
    if granted_ids:
        Consent.objects.filter(pk__in=granted_ids).update(granted=True, updated_at=at)
    if withdrawn_ids:
        Consent.objects.filter(pk__in=withdrawn_ids).update(granted=False, updated_at=at)
    ConsentEvent.objects.bulk_create(events)
    return events


def consent_state(member: Member) -> dict[str, bool]:
    """Every consent topic of the member (absent means not granted)."""
    granted = dict(member.consents.values_list("topic", "granted"))
    return {topic: granted.get(topic, False) for topic in ConsentTopic.values}


# --- purchases -----------------------------------------------------------------------------


def _refuse_erased(member: Member) -> None:
    """Raise MemberErased when the member is erased in the database, not just in this instance.

    The status is read under the row lock `erase_member` takes, so neither a stale instance nor
    an erasure running at the same time lets a record in after the erasure. FOR NO KEY UPDATE (on
    PostgreSQL): it still queues behind an erasure or another posting, but not behind rows being
    inserted that merely reference the member (their foreign-key check takes FOR KEY SHARE).
    """
    # Plain SQL: this runs for every posting, and the ORM's query building cost more than the query.
    lock = " FOR NO KEY UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT status FROM {connection.ops.quote_name(Member._meta.db_table)} WHERE id = %s{lock}",  # noqa: S608
            [member.pk],
        )
        row = cursor.fetchone()
    status = row[0] if row else None
    if status == Member.Status.ERASED:
        raise MemberErased(_("Member %(member_no)s has been erased.") % {"member_no": member.member_no})


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

    member: Member
    external_ref: str
    ordered_at: datetime.datetime
    items: list[PurchaseLine]
    store: Store | None = None
    channel: str = "store"
    payment_method: str = ""
    total: Decimal | None = None


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
    purchase = purchase_type(
        member=draft.member,
        external_ref=external_ref,
        store=draft.store,
        channel=draft.channel or "store",
        payment_method=draft.payment_method or "",
        ordered_at=draft.ordered_at,
        subtotal=subtotal,
        discount_total=subtotal - paid,
        total=paid,
    )
    purchase.lines = lines
    return purchase


def _products_and_categories(drafts: list[PurchaseDraft]):
    """The drafts' products by SKU and their known categories by label (nothing is written)."""
    skus = {item.sku for draft in drafts for item in draft.items}
    products = {p.sku: p for p in Product.objects.select_related("category").filter(sku__in=skus)}
    categories = resolve_categories((item.category for draft in drafts for item in draft.items), create=False)
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
    member: Member,
    external_ref: str,
    ordered_at: datetime.datetime,
    items: list[PurchaseLine],
    store: Store | None = None,
    channel: str = "store",
    payment_method: str = "",
    total: Decimal | None = None,
    actor=None,
) -> Purchase:
    """Write a purchase and its lines. `total` is what the customer actually paid.

    Without `total`, it is the sum of the lines less their discounts; with it, it may not exceed
    the lines' subtotal (the difference is an order discount). Points are not computed here.
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
    )
    refused: Exception | None = None
    with transaction.atomic(savepoint=False):
        try:  # checks only: nothing is written before the purchase is known to be valid
            _refuse_erased(member)
            products, categories = _products_and_categories([draft])
            purchase = _build_purchase(draft, products=products, categories=categories)
        except (ValidationError, MemberErased) as exc:
            refused = exc
        else:
            # ON CONFLICT DO NOTHING: a taken external reference costs no savepoint (two
            # round trips fewer per posting) and leaves the transaction usable.
            if not bulk.insert_unless_taken(purchase):
                refused = _duplicate(purchase.external_ref)
            else:
                _create_new_categories([purchase])
                for line in purchase.lines:
                    line.purchase = purchase
                PurchaseItem.objects.bulk_create(purchase.lines)
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
)


@transaction.atomic
def record_purchases(*, drafts: list[PurchaseDraft], actor=None) -> list[Purchase]:
    """`record_purchase` for many purchases at once, with the same checks: bulk inserts, a fixed
    number of queries per call. All or nothing; returns the saved purchases in the drafts' order,
    each with its saved lines as `purchase.lines`.

    Locks the members' rows in primary-key order (the lock `record_purchase` takes) and refuses
    erased members; raises DuplicatePurchase when a reference is taken or used twice here, and
    ValidationError for a bad purchase. Sends `signals.purchases_recorded` once, for them all.
    The lines are RecordedLine rows (the PurchaseItem values, no model instances), written with
    one bulk insert.
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
    for start in range(0, len(refs), 10_000):
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
                )
            )
        lines += purchase.lines
    for line, pk in zip(lines, bulk.insert_rows(PurchaseItem, _LINE_FIELDS, rows), strict=True):
        line.pk = pk
    if signals.purchases_recorded.has_listeners(Purchase):
        signals.purchases_recorded.send(sender=Purchase, purchases=purchases, actor=actor)
    return purchases


@transaction.atomic
def record_refund(*, purchase: Purchase, amount: Decimal) -> Purchase:
    """Add a refund to the purchase's `refunded_total`; refunds never exceed what was paid.

    The sum is computed in decimals under the row lock: SQLite would add `F() + amount` in
    floating point.
    """
    purchase = Purchase.objects.select_for_update().get(pk=purchase.pk)
    amount = _money(amount, "amount")
    if amount <= 0 or purchase.refunded_total + amount > purchase.total:
        raise ValidationError({"amount": [_("The refund exceeds what is left of the purchase.")]})
    purchase.refunded_total += amount
    Purchase.objects.filter(pk=purchase.pk).update(refunded_total=purchase.refunded_total)
    return purchase


# --- service records, preferences, interactions -------------------------------------------


def _create_record(model, *, member: Member, **fields):
    _refuse_erased(member)
    record = model(member=member, **fields)
    record.full_clean()
    record.save()
    return record


@transaction.atomic
def add_service_record(*, member: Member, kind: str, summary: str, actor=None, **fields) -> ServiceRecord:
    fields.setdefault("staff", actor if getattr(actor, "is_authenticated", False) else None)
    return _create_record(ServiceRecord, member=member, kind=kind, summary=summary, **fields)


SERVICE_RECORD_FIELDS = {"kind", "status", "store", "staff", "summary", "details", "opened_at", "closed_at"}


@transaction.atomic
def update_service_record(*, record: ServiceRecord, actor=None, **changes) -> ServiceRecord:
    """Change a service record; closing it (done or cancelled) stamps `closed_at`, reopening clears it."""
    record = ServiceRecord.objects.select_for_update().get(pk=record.pk)
    _refuse_erased(record.member)
    unknown = set(changes) - SERVICE_RECORD_FIELDS
    if unknown:
        raise ValidationError({field: [_("This field cannot be changed.")] for field in sorted(unknown)})
    for field, value in changes.items():
        setattr(record, field, value)
    closed = {ServiceRecord.Status.DONE, ServiceRecord.Status.CANCELLED}
    if record.status in closed and record.closed_at is None:
        record.closed_at = timezone.now()
    elif record.status not in closed:
        record.closed_at = None
    record.full_clean()
    record.save()
    return record


@transaction.atomic
def add_preference(*, member: Member, kind: str, actor=None, **fields) -> Preference:
    if kind == Preference.Kind.CUSTOM and not fields.get("key"):
        raise ValidationError({"key": [_("A free-form preference needs a key.")]})
    if not any(fields.get(f) for f in ("value", "category", "product")):
        raise ValidationError({"value": [_("Give a value, a category or a product.")]})
    return _create_record(Preference, member=member, kind=kind, **fields)


@transaction.atomic
def add_interaction(*, member: Member, kind: str, channel: str, summary: str, actor=None, **fields) -> Interaction:
    fields.setdefault("staff", actor if getattr(actor, "is_authenticated", False) else None)
    interaction = _create_record(Interaction, member=member, kind=kind, channel=channel, summary=summary, **fields)
    signals.send_after_commit(signals.interaction_recorded, sender=Interaction, interaction=interaction, actor=actor)
    return interaction


# --- privacy -------------------------------------------------------------------------------


@transaction.atomic
def erase_member(*, member: Member, actor=None) -> Member:
    """Anonymise a member irreversibly (the right to be forgotten).

    Name, contact data, birthday, external id, notes, tags, preferences and the free text of
    service and interaction records are wiped, consents withdrawn, and the earlier versions in
    the change history deleted. Purchases (amounts, dates, stores) stay for reports, and other
    apps anonymise their own rows on `members.signals.member_erased`.
    """
    member = Member.objects.select_for_update().get(pk=member.pk)
    if member.is_erased:
        return member
    set_consents(
        member=member,
        consents=dict.fromkeys(ConsentTopic.values, False),
        actor=actor,
        source=ConsentSource.ERASURE,
    )
    member.preferences.all().delete()
    member.interactions.update(summary="")
    member.service_records.update(summary="—", details="")
    member.tags.clear()
    member.history.all().delete()
    member.name = ERASED_NAME
    apply_contact_data(member, phone=None, email=None, birthday=None)
    member.external_id = None
    member.notes = ""
    member.gender = Member.Gender.UNKNOWN
    member.referred_by = None
    member.status = Member.Status.ERASED
    member._history_user = actor
    member._change_reason = "erased"
    member.save()
    # The admin's action log labels objects by their __str__, which held the name.
    LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Member), object_id=str(member.pk)).update(
        object_repr=member.member_no
    )
    signals.member_erased.send(sender=Member, member=member)
    return member


# --- contact details in clear (PIPL 最小必要) ------------------------------------------------

CONTACT_DETAILS_PERMISSION = "members.view_contact_details"


def may_see_contact_details(user) -> bool:
    """Whether `user` may see one member's phone, email and birthday in clear (on its detail)."""
    return bool(user is not None and user.is_authenticated and user.has_perm(CONTACT_DETAILS_PERMISSION))


def reveal_contact_details(*, user, member: Member, channel: str, path: str = "", client_ip: str = "") -> bool:
    """Whether the detail page or answer may show `member`'s contact data in clear to `user`.

    The rule: lists always mask (`members.masking`); one member's detail shows the clear values
    only to holders of `members.view_contact_details`, and every such showing is recorded (who,
    whose, when, from where) before the answer leaves, so no clear view goes unrecorded. Returns
    False (show masked, record nothing) for everyone else.
    """
    if not may_see_contact_details(user):
        return False
    ContactDetailView.objects.create(
        member=member,
        user=user,
        username=user.get_username(),
        channel=channel,
        path=path[:300],
        client_ip=client_ip[:45],
    )
    return True
