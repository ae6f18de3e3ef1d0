"""Input and output shapes of the points API (docs/api.md "Purchases and points", "Tiers")."""

import threading
from decimal import Decimal

from django.utils.encoding import smart_str
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.settings import api_settings

from loyalty_crm._sql import row_where
from loyalty_crm.api import fields as api_fields
from members.models import Member, PaymentMethod, SalesChannel, Store
from members.services import MAX_LINE_QUANTITY, MAX_PURCHASE_AMOUNT
from rewards import rules
from rewards.models import LedgerEntry, MembershipPlan, MembershipSubscription, Tier, TierHistory, TierPolicy
from rewards.services.checkout import TENDER_KINDS
from rewards.services.ledger import MAX_POINTS_PER_GRANT
from rewards.services.stored_value import MAX_STORED_VALUE_AMOUNT


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
        default=Decimal("0.00"),
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
        ValidationError with the body `is_valid(raise_exception=True)` raises."""
        serializer = self.serializer
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

    def unknown(self, *, member: str | None, store: str | None) -> serializers.ValidationError:
        """The 400 of a body whose member (given, not found) and/or store (likewise) is unknown."""
        fields = self.serializer.fields
        errors = {}
        if member is not None:
            errors["member"] = fields["member"].missing(member).detail
        if store is not None:
            errors["store"] = fields["store"].missing(store).detail
        return serializers.ValidationError(errors)


class Once:
    """An output serializer built once per process (its fields likewise), rendering any number of
    objects: `Once(PostingOutputSerializer).render(result)` is `PostingOutputSerializer(result).data`."""

    def __init__(self, serializer_class):
        self._class = serializer_class
        self._serializer = None
        self._lock = threading.Lock()

    def render(self, instance) -> dict:
        if self._serializer is None:
            with self._lock:
                if self._serializer is None:
                    serializer = self._class()
                    serializer.fields  # noqa: B018 — built here, under the lock
                    self._serializer = serializer
        return self._serializer.to_representation(instance)


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
