"""Input and output shapes of the points API (docs/api.md "Purchases and points", "Tiers")."""

import decimal
import re
import threading
from decimal import Decimal

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.encoding import smart_str
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import ISO_8601, serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.settings import api_settings

from loyalty_crm import inputs
from loyalty_crm._sql import row_where
from loyalty_crm.api import fields as api_fields
from members.models import Member, PaymentMethod, SalesChannel, Store
from members.services import MAX_LINE_QUANTITY, MAX_PURCHASE_AMOUNT
from rewards import rules
from rewards.models import LedgerEntry, MembershipPlan, MembershipSubscription, Tier, TierHistory, TierPolicy
from rewards.services.checkout import TENDER_KINDS
from rewards.services.ledger import MAX_POINTS_PER_GRANT
from rewards.services.stored_value import MAX_STORED_VALUE_AMOUNT

DEFAULT_DISCOUNT = Decimal("0.00")  # ItemInputSerializer.discount's default


_ABSENT = object()


class _SlugLookupField(serializers.SlugRelatedField):
    """A slug lookup in plain SQL (`Model.objects.raw`): the same row and errors as
    SlugRelatedField, without building an ORM query on every posting.

    With `lookup` False (set on a serializer built once, `PurchaseInput`) the field checks the
    value's type only and gives the slug as a string; `missing(value)` then gives the error the
    lookup would have raised, for the caller that looked the row up its own way."""

    lookup = True

    def to_internal_value(self, data):
        if not isinstance(data, str | int) or isinstance(data, bool):
            self.fail("invalid")
        if not self.lookup:
            return str(data)
        rows = row_where(self.get_queryset().model, self.slug_field, str(data))
        if not rows:
            self.fail("does_not_exist", slug_name=self.slug_field, value=smart_str(data))
        return rows[0]

    def missing(self, value: str) -> serializers.ValidationError:
        try:
            self.fail("does_not_exist", slug_name=self.slug_field, value=smart_str(value))
        except serializers.ValidationError as exc:
            return exc


class MemberNoField(_SlugLookupField):
    default_error_messages = {
        "does_not_exist": _("No member has the number “{value}”."),
        "invalid": _("Enter a member number."),
    }

    def __init__(self, **kwargs):
        super().__init__(slug_field="member_no", queryset=Member.objects.all(), **kwargs)


class StoreCodeField(_SlugLookupField):
    default_error_messages = {"does_not_exist": _("No store has the code “{value}”.")}

    def __init__(self, **kwargs):
        super().__init__(slug_field="code", queryset=Store.objects.all(), **kwargs)


class ItemListSerializer(serializers.ListSerializer):
    """A basket's lines: together at most `MAX_PURCHASE_AMOUNT`, the posting service's own limit
    (checked here too for the quote and the points preview, which post nothing)."""

    def validate(self, attrs):
        subtotal = sum((item["unit_price"] * item["quantity"] for item in attrs), Decimal("0.00"))
        if subtotal > MAX_PURCHASE_AMOUNT:
            raise serializers.ValidationError(
                gettext("The lines add up to more than %(max)s.") % {"max": f"{MAX_PURCHASE_AMOUNT:,}"}
            )
        return attrs


class ItemInputSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    category = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_LINE_QUANTITY)
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, max_value=MAX_PURCHASE_AMOUNT)
    discount = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=0,
        max_value=MAX_PURCHASE_AMOUNT,
        required=False,
        default=DEFAULT_DISCOUNT,
    )

    class Meta:
        list_serializer_class = ItemListSerializer


@extend_schema_field({"type": "string", "enum": SalesChannel.values})
class SalesChannelField(serializers.ChoiceField):
    """Inline enum in the schema: `members` already has other choice sets named "channel"."""

    def __init__(self, **kwargs):
        super().__init__(choices=SalesChannel.choices, **kwargs)


class TenderListSerializer(serializers.ListSerializer):
    """Each kind at most once (docs/api.md "Tenders")."""

    def validate(self, attrs):
        kinds = [tender["kind"] for tender in attrs]
        for kind in kinds:
            if kinds.count(kind) > 1:
                raise serializers.ValidationError(gettext("The tender “%(kind)s” is given twice.") % {"kind": kind})
        return attrs


class TenderSerializer(serializers.Serializer):
    """A means of payment beside money and points: today only `stored_value`, the member's balance."""

    kind = serializers.ChoiceField(choices=[(kind, kind) for kind in TENDER_KINDS])
    amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0.00"), max_value=MAX_STORED_VALUE_AMOUNT
    )

    class Meta:
        list_serializer_class = TenderListSerializer


def tenders_field():
    return TenderSerializer(many=True, required=False, max_length=len(TENDER_KINDS) + 1)


class PurchaseInputSerializer(serializers.Serializer):
    # Absent or null: a walk-in sale (no member, no points).
    member = MemberNoField(required=False, allow_null=True, default=None)
    external_ref = serializers.CharField(max_length=64)
    ordered_at = api_fields.DateTimeField()
    store = StoreCodeField(required=False, allow_null=True)
    channel = SalesChannelField(required=False, default=SalesChannel.STORE)
    payment_method = serializers.ChoiceField(
        choices=PaymentMethod.choices, required=False, allow_blank=True, default=""
    )
    items = ItemInputSerializer(many=True, allow_empty=False)
    total = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, required=False, allow_null=True)
    # Priced at the till: the tier discount, this coupon and these points (docs/api.md).
    coupon_code = serializers.CharField(max_length=40, required=False, allow_blank=True, allow_null=True)
    points_to_use = serializers.IntegerField(min_value=0, max_value=MAX_POINTS_PER_GRANT, required=False, default=0)
    # Paid beside money and points, e.g. [{"kind": "stored_value", "amount": "120.00"}].
    tenders = tenders_field()


class PurchaseInput:
    """POST /purchases/'s body checked exactly as `PurchaseInputSerializer(data=…).is_valid()`
    checks it — the same fields, messages and error shape — with the fields built once per process
    (DRF deep-copies every declared field for each serializer instance: issue 20 measured it at
    0.7 ms a posting). The member and store come back as the numbers given, not looked up: the view
    looks them up with the retry check (`rewards.selectors.posting_lookup`, one query) and the stored
    stores; only a body with other errors looks them up here, so its 400 names them too, as before.
    The fields hold no state between calls (DRF's validation is a pure function of the data), so
    one instance serves every thread."""

    LOOKED_UP = ("member", "store")

    def __init__(self):
        self._serializer = None
        self._lock = threading.Lock()

    @property
    def serializer(self) -> PurchaseInputSerializer:
        if self._serializer is None:
            with self._lock:
                if self._serializer is None:
                    serializer = PurchaseInputSerializer()
                    for name in self.LOOKED_UP:
                        serializer.fields[name].lookup = False
                    self._serializer = serializer
        return self._serializer

    def validate(self, data) -> dict:
        """The validated values (`member`, `store`: the strings given, or None); raises DRF's
        ValidationError with the body `is_valid(raise_exception=True)` raises.

        A till's plain posting — a member, no pricing at the till, only the keys a batch item has —
        is read by the batch's reader of well-formed items (`PurchaseBatchItems`, the same fields)
        when it gives what this serializer gives (`_plain`); any other body by the serializer.
        tests/rewards/test_posting_input_fast_path.py compares the two on generated bodies."""
        serializer = self.serializer
        values = self._plain(data)
        if values is not None:
            return values
        try:
            return serializer.run_validation(data)
        except serializers.ValidationError as exc:
            detail = exc.detail
            if isinstance(detail, dict) and isinstance(data, dict):
                detail = self._with_lookups(serializer, data, detail)
            elif isinstance(detail, list) and len(detail) == 1 and getattr(detail[0], "code", None) == "null":
                # As Serializer.errors words a body that is JSON null.
                detail = {api_settings.NON_FIELD_ERRORS_KEY: [ErrorDetail("No data provided", code="null")]}
            raise serializers.ValidationError(detail) from None

    def _plain(self, data) -> dict | None:
        """`data` read by `BATCH_ITEMS`, or None when the serializer must read it. Where the two
        serializers differ — the member and store here are the numbers as given (no stripping, no
        length: the lookup answers), "" a null store, no store key when none is given — only the
        bodies on which they agree are read here."""
        if type(data) is not dict:
            return None
        member, store = data.get("member"), data.get("store", _ABSENT)
        if type(member) is not str or not member or member != member.strip():
            return None
        given_store = store is not _ABSENT and store is not None
        if given_store and (type(store) is not str or not store or store != store.strip()):
            return None
        values = BATCH_ITEMS.validate_plain(data)
        if values is None:
            return None
        if store is _ABSENT:
            del values["store"]
        values["points_to_use"] = 0
        return values

    def _with_lookups(self, serializer, data: dict, detail: dict) -> dict:
        """`detail` with the unknown member's and store's errors the lookups would have added, in
        the serializer's field order."""
        added = dict(detail)
        for name in self.LOOKED_UP:
            value = data.get(name)
            if name in added or value in (None, "") or not isinstance(value, str | int) or isinstance(value, bool):
                continue
            field = serializer.fields[name]
            if not row_where(field.get_queryset().model, field.slug_field, str(value)):
                added[name] = field.missing(str(value)).detail
        order = list(serializer.fields)
        return dict(sorted(added.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order)))

    def keys(self, data) -> tuple[str | None, str | None, str] | None:
        """(member number, store code, external reference) of a JSON body as `validate` gives them —
        None for a member or store absent, null or empty —, read without validating the body; None
        when one of them is not given plainly (a reference that is not a string of the allowed
        length, a member or store that is neither a string nor a number): `validate` then says
        what is wrong, or reads it."""
        if type(data) is not dict:
            return None
        ref = data.get("external_ref")
        if not isinstance(ref, str):
            return None
        ref = ref.strip()  # as the CharField trims it
        if not ref or len(ref) > self.serializer.fields["external_ref"].max_length:
            return None
        member, store = data.get("member"), data.get("store")
        for value in (member, store):
            if value is not None and (isinstance(value, bool) or not isinstance(value, str | int)):
                return None
        # As the related fields read them: "" is None, a number its digits.
        return (str(member) if member not in (None, "") else None, str(store) if store not in (None, "") else None, ref)

    def unknown(self, *, member: str | None, store: str | None) -> serializers.ValidationError:
        """The 400 of a body whose member (given, not found) and/or store (likewise) is unknown."""
        fields = self.serializer.fields
        errors = {}
        if member is not None:
            errors["member"] = fields["member"].missing(member).detail
        if store is not None:
            errors["store"] = fields["store"].missing(store).detail
        return serializers.ValidationError(errors)


MAX_BATCH_PURCHASES = 500
BATCH_PRICED_FIELDS = ("coupon_code", "points_to_use", "tenders")


class PurchaseBatchItemSerializer(serializers.Serializer):
    """One purchase of POST /purchases/batch/: a member's purchase as POST /purchases/ takes it,
    without the till's pricing (a coupon, points or stored value need the live balance: post those
    one at a time). The member and store are plain values here, looked up for the whole batch in one
    query each."""

    member = serializers.CharField(max_length=16)
    external_ref = serializers.CharField(max_length=64)
    ordered_at = api_fields.DateTimeField()
    store = serializers.CharField(max_length=32, required=False, allow_null=True, allow_blank=True, default=None)
    channel = SalesChannelField(required=False, default=SalesChannel.STORE)
    payment_method = serializers.ChoiceField(
        choices=PaymentMethod.choices, required=False, allow_blank=True, default=""
    )
    items = ItemInputSerializer(many=True, allow_empty=False)
    total = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, required=False, allow_null=True)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            priced = [name for name in BATCH_PRICED_FIELDS if data.get(name)]
            if priced:
                message = gettext("A batch does not price at the till; post this purchase alone to /api/v1/purchases/.")
                raise serializers.ValidationError({name: [message] for name in priced})
        return super().to_internal_value(data)


class PurchaseBatchItems:
    """Each item of POST /purchases/batch/ checked exactly as `PurchaseBatchItemSerializer().
    run_validation(item)` checks it — the same values, and for any item it does not accept the
    serializer's own errors, since such an item goes to the serializer.

    DRF's per-field machinery cost about a third of the endpoint's CPU (issue 20: 0.2 ms of a
    0.5 ms purchase), so a well-formed item — only the serializer's keys, each value of the plain
    type the till sends (strings of ASCII or storable text within their lengths, whole numbers
    in range, money as `123.45` strings or whole numbers, a known channel and payment method, at
    most `MAX_PURCHASE_AMOUNT` of lines) — is read here in plain Python; anything else, valid or
    not, is left to the serializer, so an unusual item is never read differently, only slower.
    The time is read by the serializer's own field. One instance serves every thread (the
    serializer holds no state between calls, as `PurchaseInput` relies on)."""

    KEYS = frozenset(("member", "external_ref", "ordered_at", "store", "channel", "payment_method", "items", "total"))
    LINE_KEYS = frozenset(("sku", "name", "category", "quantity", "unit_price", "discount"))
    MONEY = re.compile(r"[0-9]{1,10}(?:\.[0-9]{1,2})?")  # what DecimalField(12, 2) keeps as it is
    CENT = Decimal("0.01")

    def __init__(self):
        self._serializer = None
        self._lock = threading.Lock()

    @property
    def serializer(self) -> PurchaseBatchItemSerializer:
        if self._serializer is None:
            with self._lock:
                if self._serializer is None:
                    serializer = PurchaseBatchItemSerializer()
                    serializer.fields  # noqa: B018 — built here, under the lock
                    self._serializer = serializer
        return self._serializer

    def validate(self, item, zone=None) -> dict:
        """The item's validated values; raises what the serializer raises. `zone`: the current time
        zone, when the caller reads many items."""
        serializer = self.serializer
        values = self._fast(item, serializer.fields, zone or timezone.get_current_timezone())
        if values is None:
            return serializer.run_validation(item)
        return values

    def validate_plain(self, item) -> dict | None:
        """The values of a well-formed item, or None: the serializer's to decide (POST /purchases/'s
        plain postings, `PurchaseInput._plain`)."""
        return self._fast(item, self.serializer.fields, timezone.get_current_timezone())

    @staticmethod
    def _text(value, max_length: int, *, blank: bool = False):
        """CharField(max_length) of a string: stripped; None when the field might say otherwise."""
        if type(value) is not str:
            return None
        value = value.strip()
        if not value:
            return "" if blank else None
        if len(value) > max_length or "\x00" in value:
            return None
        if not value.isascii():
            try:
                value.encode("utf-8")  # a lone surrogate: the field's own message
            except UnicodeEncodeError:
                return None
        return value

    def _money(self, value, maximum: Decimal | None):
        """DecimalField(12, 2, min_value=0, max_value=maximum); None when the field might say otherwise."""
        if type(value) is str:
            if not self.MONEY.fullmatch(value):
                return None
        elif type(value) is not int or not 0 <= value < 10**10:
            return None
        amount = Decimal(value).quantize(self.CENT)
        if maximum is not None and amount > maximum:
            return None
        return amount

    @staticmethod
    def _time(value: str, field, zone):
        """`api_fields.DateTimeField` of an ISO 8601 time with its offset (what tills send): parsed
        once, checked by `inputs.datetime_problem`, in the current time zone as DRF gives it; None
        for anything else (a naive time, another format, a refused one: the field decides)."""
        formats = getattr(field, "input_formats", api_settings.DATETIME_INPUT_FORMATS)
        if len(formats) != 1 or formats[0].lower() != ISO_8601 or hasattr(field, "timezone") or not settings.USE_TZ:
            return None
        try:
            parsed = parse_datetime(value)
        except (ValueError, TypeError):
            return None
        if parsed is None or not timezone.is_aware(parsed) or inputs.datetime_problem(parsed, zone):
            return None
        try:
            return parsed.astimezone(zone)
        except OverflowError:
            return None

    def _fast(self, item, fields, zone) -> dict | None:
        if type(item) is not dict or not self.KEYS.issuperset(item):
            return None
        text, money = self._text, self._money
        member = text(item.get("member"), 16)
        external_ref = text(item.get("external_ref"), 64)
        ordered_at = item.get("ordered_at")
        lines = item.get("items")
        if member is None or external_ref is None or type(ordered_at) is not str or type(lines) is not list:
            return None
        if not lines:
            return None
        ordered_at = self._time(ordered_at, fields["ordered_at"], zone)
        if ordered_at is None:
            return None
        store = item.get("store")
        if store is not None:
            store = text(store, 32, blank=True)
            if store is None:
                return None
        channel = item.get("channel", None)
        if channel is None:
            if "channel" in item:
                return None
            channel = fields["channel"].get_default()
        elif type(channel) is not str or channel not in fields["channel"].choice_strings_to_values:
            return None
        else:
            channel = fields["channel"].choice_strings_to_values[channel]
        payment_method = item.get("payment_method", "")
        if type(payment_method) is not str:
            return None
        if payment_method:
            payment_method = fields["payment_method"].choice_strings_to_values.get(payment_method)
            if payment_method is None:
                return None
        items = []
        subtotal = Decimal("0.00")
        for line in lines:
            if type(line) is not dict or not self.LINE_KEYS.issuperset(line):
                return None
            sku = text(line.get("sku"), 64)
            name = text(line.get("name", ""), 200, blank=True)
            category = text(line.get("category", ""), 100, blank=True)
            quantity = line.get("quantity")
            unit_price = money(line.get("unit_price"), MAX_PURCHASE_AMOUNT)
            discount = line.get("discount")
            discount = (
                DEFAULT_DISCOUNT
                if discount is None and "discount" not in line
                else money(discount, MAX_PURCHASE_AMOUNT)
            )
            if (
                sku is None
                or name is None
                or category is None
                or type(quantity) is not int
                or not 1 <= quantity <= MAX_LINE_QUANTITY
                or unit_price is None
                or discount is None
            ):
                return None
            subtotal += unit_price * quantity
            items.append(
                {
                    "sku": sku,
                    "name": name,
                    "category": category,
                    "quantity": quantity,
                    "unit_price": unit_price,
                    "discount": discount,
                }
            )
        if subtotal > MAX_PURCHASE_AMOUNT:
            return None
        values = {
            "member": member,
            "external_ref": external_ref,
            "ordered_at": ordered_at,
            "store": store,
            "channel": channel,
            "payment_method": payment_method,
            "items": items,
        }
        if "total" in item:
            total = item["total"]
            if total is not None:
                total = money(total, None)
                if total is None:
                    return None
            values["total"] = total
        return values


BATCH_ITEMS = PurchaseBatchItems()  # one reader per process: also POST /purchases/'s plain bodies


class TierRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField(source="display_name")


class PostingOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="purchase.pk")
    member = serializers.CharField(source="purchase.member.member_no", allow_null=True, default=None)
    external_ref = serializers.CharField(source="purchase.external_ref")
    total = serializers.DecimalField(max_digits=12, decimal_places=2, source="purchase.total")
    points_earned = serializers.IntegerField()
    points_balance = serializers.IntegerField()
    tier = TierRefSerializer(allow_null=True)
    tier_changed = serializers.BooleanField()
    tier_discount = serializers.DecimalField(max_digits=12, decimal_places=2)
    coupon_discount = serializers.DecimalField(max_digits=12, decimal_places=2)
    points_used = serializers.IntegerField()
    points_value = serializers.DecimalField(max_digits=12, decimal_places=2)
    stored_value_used = serializers.DecimalField(max_digits=12, decimal_places=2)
    stored_value_principal = serializers.DecimalField(max_digits=12, decimal_places=2)
    stored_value_bonus = serializers.DecimalField(max_digits=12, decimal_places=2)
    stored_value_balance = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        allow_null=True,
        help_text=_("The member's stored value after this purchase; null when none was used."),
    )


def posting_bodies(results) -> list[dict]:
    """`PostingOutputSerializer(results, many=True).data`, built directly: the same keys in the
    same order and the same values (None stays None; decimals quantized to cents with 12 digits
    and written as `DecimalField.to_representation` writes them). DRF's field-by-field rendering
    cost about a sixth of the batch endpoint's CPU; tests/rewards/test_batch_fast_paths.py checks
    both give the same on generated results."""
    context = decimal.getcontext().copy()  # as DecimalField.quantize: the current context, 12 digits
    context.prec = 12
    cent = Decimal("0.01")

    def money(value):
        if value is None:
            return None
        if type(value) is not Decimal:
            value = Decimal(str(value).strip())
        return format(value.quantize(cent, context=context), "f")

    def integer(value):
        return None if value is None else int(value)

    def text(value):
        return None if value is None else str(value)

    def boolean(value):
        if value is None or type(value) is bool:
            return value
        return POSTING_BOOLEAN.to_representation(value)

    tier_names: dict[
        int, tuple
    ] = {}  # id(tier) → (tier, code, name), the tier kept so its id stays its own: a batch's results share a few tiers
    bodies = []
    for result in results:
        purchase = result.purchase
        member = purchase.member
        tier = result.tier
        if tier is not None:
            named = tier_names.get(id(tier))
            if named is None:
                named = tier_names[id(tier)] = (tier, text(tier.code), text(tier.display_name))
        bodies.append(
            {
                "id": integer(purchase.pk),
                "member": None if member is None else text(member.member_no),
                "external_ref": text(purchase.external_ref),
                "total": money(purchase.total),
                "points_earned": integer(result.points_earned),
                "points_balance": integer(result.points_balance),
                "tier": None if tier is None else {"code": named[1], "name": named[2]},
                "tier_changed": boolean(result.tier_changed),
                "tier_discount": money(result.tier_discount),
                "coupon_discount": money(result.coupon_discount),
                "points_used": integer(result.points_used),
                "points_value": money(result.points_value),
                "stored_value_used": money(result.stored_value_used),
                "stored_value_principal": money(result.stored_value_principal),
                "stored_value_bonus": money(result.stored_value_bonus),
                "stored_value_balance": money(result.stored_value_balance),
            }
        )
    return bodies


POSTING_BOOLEAN = serializers.BooleanField()


class ReturnLineSerializer(serializers.Serializer):
    item = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_LINE_QUANTITY)


class RefundInputSerializer(serializers.Serializer):
    external_ref = serializers.CharField(max_length=64)
    amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0.01"), required=False, allow_null=True
    )
    # Goods returned: (purchase line id, quantity) pairs; instead of `amount`.
    lines = ReturnLineSerializer(many=True, required=False, allow_empty=False, max_length=1000)
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        if attrs.get("lines") and attrs.get("amount") is not None:
            raise serializers.ValidationError(
                {"lines": [gettext("Give either the lines returned or an amount, not both.")]}
            )
        return attrs


class RefundOutputSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    points_reversed = serializers.IntegerField()
    points_returned = serializers.IntegerField()
    stored_value_returned = serializers.DecimalField(
        max_digits=12, decimal_places=2, help_text=_("Of the amount, what went back to the stored-value balance.")
    )
    points_balance = serializers.IntegerField()
    tier = TierRefSerializer(allow_null=True)


class ExpiringSerializer(serializers.Serializer):
    points = serializers.IntegerField()
    expires_on = api_fields.DateField()


class PointsSummarySerializer(serializers.Serializer):
    balance = serializers.IntegerField()
    lifetime_earned = serializers.IntegerField()
    lifetime_spend = serializers.DecimalField(max_digits=14, decimal_places=2)
    tier = TierRefSerializer()
    expiring = ExpiringSerializer(many=True)


class LedgerEntrySerializer(serializers.ModelSerializer):
    purchase = serializers.CharField(source="purchase.external_ref", default=None, allow_null=True)
    actor = serializers.CharField(source="actor.username", default=None, allow_null=True)
    reason = serializers.CharField(
        source="reason_text", help_text=_("Why the row exists, in the request's language (Accept-Language).")
    )
    reason_params = serializers.JSONField(help_text=_("The values the reason names (a reference, a reward, a date)."))
    note = serializers.CharField(source="reason", help_text=_("What a person typed, as they typed it."))

    class Meta:
        model = LedgerEntry
        fields = [
            "id",
            "kind",
            "points",
            "balance_after",
            "purchase",
            "reason",
            "reason_code",
            "reason_params",
            "note",
            "actor",
            "created_at",
        ]


class AdjustInputSerializer(serializers.Serializer):
    points = serializers.IntegerField(min_value=-MAX_POINTS_PER_GRANT, max_value=MAX_POINTS_PER_GRANT)
    reason = serializers.CharField(max_length=200)

    def validate_points(self, value):
        if value == 0:
            raise serializers.ValidationError(_("Enter a whole number of points other than 0."))
        return value


class AdjustOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="entry.pk")
    points = serializers.IntegerField(source="entry.points")
    reason = serializers.CharField(source="entry.reason_text")
    points_balance = serializers.IntegerField()


class TierDetailSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="display_name")
    benefits = serializers.SerializerMethodField()

    class Meta:
        model = Tier
        fields = ["code", "name", "rank", "threshold", "discount_percent", "free_delivery", "benefits"]

    def get_benefits(self, tier) -> str:
        return gettext(tier.benefits) if tier.benefits else ""


# --- points preview ---------------------------------------------------------------------------


class PreviewInputSerializer(serializers.Serializer):
    member = MemberNoField(required=False, allow_null=True, help_text=_("Adds the member's tier, plan and daily cap."))
    items = ItemInputSerializer(many=True, allow_empty=False)
    total = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=0,
        required=False,
        allow_null=True,
        help_text=_("What the customer pays; the lines' total when absent."),
    )
    store = StoreCodeField(required=False, allow_null=True)
    channel = SalesChannelField(required=False, default=SalesChannel.STORE)
    ordered_at = api_fields.DateTimeField(required=False, allow_null=True, help_text=_("Now when absent."))


class AppliedRuleSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True)
    name = serializers.CharField()
    kind = serializers.ChoiceField(
        choices=[
            rules.BASE,
            rules.PRODUCT,
            rules.CATEGORY,
            rules.TIER,
            rules.PLAN,
            rules.PROMOTION,
            rules.PROMOTION_BONUS,
        ]
    )
    rate = serializers.DecimalField(max_digits=6, decimal_places=2, help_text=_("Rate or multiplier."))
    skus = serializers.ListField(child=serializers.CharField(), help_text=_("The lines the rule applied to."))
    points = serializers.IntegerField(allow_null=True, help_text=_("Fixed bonus points (promotion bonuses)."))


class PreviewOutputSerializer(serializers.Serializer):
    points = serializers.IntegerField()
    paid = serializers.DecimalField(max_digits=12, decimal_places=2)
    uncapped_points = serializers.IntegerField(help_text=_("Before the per-purchase and daily caps."))
    capped_by = serializers.ChoiceField(
        choices=[rules.CAPPED_BY_MIN_SPEND, rules.CAPPED_BY_PURCHASE, rules.CAPPED_BY_DAY],
        allow_null=True,
        help_text=_("The limit that cut the points, if any."),
    )
    rules = AppliedRuleSerializer(many=True)


# --- paid membership ----------------------------------------------------------------------------


class MembershipPlanSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="display_name")

    class Meta:
        model = MembershipPlan
        fields = [
            "code",
            "name",
            "price",
            "duration_months",
            "free_delivery",
            "points_multiplier",
            "member_only_rewards",
            "priority_booking",
        ]


class PlanRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField(source="display_name")


class MembershipInputSerializer(serializers.Serializer):
    plan = serializers.SlugRelatedField(
        slug_field="code",
        queryset=MembershipPlan.objects.all(),
        error_messages={"does_not_exist": _("No membership plan has the code “{value}”.")},
    )
    external_ref = serializers.CharField(max_length=64)


class MembershipSerializer(serializers.ModelSerializer):
    member = serializers.CharField(source="member.member_no")
    plan = PlanRefSerializer()
    sold_by = serializers.CharField(source="sold_by.username", default=None, allow_null=True)

    class Meta:
        model = MembershipSubscription
        fields = [
            "id",
            "member",
            "plan",
            "starts_on",
            "ends_on",
            "price_paid",
            "status",
            "external_ref",
            "sold_by",
            "created_at",
        ]


class TierHistorySerializer(serializers.ModelSerializer):
    """One tier change: from/to (`from_tier` is null for the first one ever), why, and the figure."""

    from_tier = TierRefSerializer(allow_null=True)
    to_tier = TierRefSerializer()
    reason = serializers.ChoiceField(choices=TierHistory.Reason.choices)
    reason_label = serializers.CharField(source="get_reason_display", help_text=_("The reason, translated."))
    purchase = serializers.CharField(
        source="purchase.external_ref", default=None, allow_null=True, help_text=_("The purchase or refunded purchase.")
    )
    basis = serializers.ChoiceField(
        choices=TierPolicy.Basis.choices,
        allow_blank=True,
        help_text=_("What the tier policy compared with the thresholds (empty on older rows)."),
    )
    figure = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    note = serializers.CharField(help_text=_("The figure in words, translated."))

    class Meta:
        model = TierHistory
        fields = [
            "id",
            "from_tier",
            "to_tier",
            "reason",
            "reason_label",
            "purchase",
            "basis",
            "window_months",
            "figure",
            "below_since",
            "note",
            "at",
        ]


class BatchItemAnswerSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text=_("The purchase's place in the request's list, from 0."))
    external_ref = serializers.CharField(allow_null=True)
    status = serializers.IntegerField(
        help_text=_(
            "201 posted; 200 posted before with the same content (`purchase` is the first answer); "
            "400 invalid (`errors` names the fields); 409 refused by a business rule (`code`, `detail`)."
        )
    )
    purchase = PostingOutputSerializer(required=False)
    code = serializers.CharField(required=False)
    detail = serializers.CharField(required=False)
    errors = serializers.DictField(required=False)


class BatchOutputSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    replayed = serializers.IntegerField()
    refused = serializers.IntegerField()
    results = BatchItemAnswerSerializer(many=True)
