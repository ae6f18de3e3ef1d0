from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from loyalty_crm.api import fields as api_fields
from members import classification_hook as member_classification
from members import loyalty, masking
from members.models import (
    Category,
    ConsentTopic,
    Interaction,
    Member,
    Preference,
    Product,
    Purchase,
    PurchaseItem,
    ServiceRecord,
    Store,
)


class ConsentsField(serializers.DictField):
    """`{"marketing_email": true, "marketing_sms": false, ...}`; unknown keys are refused."""

    child = serializers.BooleanField()

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        unknown = sorted(set(value) - set(ConsentTopic.values))
        if unknown:
            raise serializers.ValidationError(
                _("Unknown consent: %(topics)s. Known: %(known)s.")
                % {"topics": ", ".join(unknown), "known": ", ".join(ConsentTopic.values)}
            )
        return value


class TierSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class RFMSerializer(serializers.Serializer):
    recency = serializers.IntegerField(help_text="Quintile score 1–5; 5 = bought most recently.")
    frequency = serializers.IntegerField(help_text="Quintile score 1–5 of purchases in the window.")
    monetary = serializers.IntegerField(help_text="Quintile score 1–5 of spend in the window.")
    score = serializers.IntegerField(help_text="recency + frequency + monetary (3–15).")
    recency_days = serializers.IntegerField(help_text="Days from the last purchase to the classification date.")
    purchases_12m = serializers.IntegerField(help_text="Purchases in the classification window.")
    spend_12m = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text="Spend in the window, net of refunds."
    )


class MemberInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    phone = serializers.CharField(max_length=32)
    email = serializers.EmailField(required=False, allow_blank=True, allow_null=True)
    birthday = api_fields.DateField(required=False, allow_null=True)
    gender = serializers.ChoiceField(choices=Member.Gender.choices, required=False)
    store = serializers.SlugRelatedField(
        slug_field="code", queryset=Store.objects.all(), required=False, allow_null=True, source="home_store"
    )
    external_id = serializers.CharField(max_length=64, required=False, allow_blank=True, allow_null=True)
    consents = ConsentsField(required=False)
    referral_code = serializers.CharField(max_length=12, required=False, allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False)
    notes = serializers.CharField(required=False, allow_blank=True)
    source_channel = serializers.ChoiceField(choices=Member.SourceChannel.choices, required=False)


class MemberLookupSerializer(serializers.Serializer):
    phone = serializers.CharField(
        max_length=32, help_text="The phone number in any format (13800138000, +86 138-0013-8000)."
    )


class MemberUpdateSerializer(MemberInputSerializer):
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True, allow_null=True)
    name = serializers.CharField(max_length=100, required=False)
    status = serializers.ChoiceField(
        choices=[
            (Member.Status.ACTIVE, Member.Status.ACTIVE.label),
            (Member.Status.FROZEN, Member.Status.FROZEN.label),
        ],
        required=False,
    )
    referral_code = None


class MemberSerializer(serializers.ModelSerializer):
    """A profile as integrators see it. `points_balance` and `tier` come from `rewards`.

    Phone, email and birthday are masked (`members.masking`) unless the view put
    `contact_clear=True` in the context: only one member's detail does, for users who may see
    contact details, after recording the view (`members.services.reveal_contact_details`).
    """

    phone = serializers.SerializerMethodField(
        help_text="E.164 (`+8613800138000`) in clear on one member's detail for users with "
        "`members.view_contact_details`; masked elsewhere (`138****8000`)."
    )
    email = serializers.SerializerMethodField(
        help_text="In clear on one member's detail for users with `members.view_contact_details`; "
        "masked elsewhere (`z***@example.com`)."
    )
    birthday = serializers.SerializerMethodField(
        help_text="`YYYY-MM-DD` in clear on one member's detail for users with "
        "`members.view_contact_details`; month and day only (`MM-DD`) elsewhere."
    )
    contact_masked = serializers.SerializerMethodField(
        help_text="True when phone, email and birthday above are masked."
    )
    store = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True, source="home_store")
    tier = serializers.SerializerMethodField()
    points_balance = serializers.SerializerMethodField()
    consents = serializers.SerializerMethodField()
    tags = serializers.SerializerMethodField()
    referred_by = serializers.SlugRelatedField(slug_field="member_no", read_only=True, allow_null=True)
    classification = serializers.SerializerMethodField(
        help_text="high_value, potential, ordinary, lapsed or no_purchases, from the last nightly "
        "classification; null before the member is first classified."
    )
    rfm = serializers.SerializerMethodField(help_text="RFM scores; null for a member who never bought.")

    class Meta:
        model = Member
        fields = [
            "member_no",
            "external_id",
            "name",
            "gender",
            "birthday",
            "phone",
            "email",
            "contact_masked",
            "store",
            "status",
            "tags",
            "referral_code",
            "referred_by",
            "registered_at",
            "source_channel",
            "notes",
            "points_balance",
            "tier",
            "consents",
            "classification",
            "rfm",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def _contact(self, member) -> masking.ContactValues:
        return masking.contact_values(member, clear=bool(self.context.get("contact_clear")))

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_phone(self, member) -> str | None:
        return self._contact(member).phone

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_email(self, member) -> str | None:
        return self._contact(member).email

    @extend_schema_field({"type": "string", "nullable": True, "pattern": r"^(\d{4}-)?\d{2}-\d{2}$"})
    def get_birthday(self, member) -> str | None:
        return self._contact(member).birthday

    def get_contact_masked(self, member) -> bool:
        return self._contact(member).masked

    def _snapshot(self, member):
        snapshots = self.context.get("loyalty_snapshots")
        if snapshots is not None and member.pk in snapshots:
            return snapshots[member.pk]
        return loyalty.snapshot(member)

    @extend_schema_field(TierSerializer)
    def get_tier(self, member) -> dict:
        tier = self._snapshot(member).tier
        return {"code": tier.code, "name": tier.name}

    def get_points_balance(self, member) -> int:
        return self._snapshot(member).points_balance

    def _classification(self, member) -> member_classification.ClassificationSnapshot:
        snapshots = self.context.get("classification_snapshots")
        if snapshots is not None and member.pk in snapshots:
            return snapshots[member.pk]
        return member_classification.snapshot(member)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_classification(self, member) -> str | None:
        return self._classification(member).classification

    @extend_schema_field(RFMSerializer(allow_null=True))
    def get_rfm(self, member) -> dict | None:
        rfm = self._classification(member).rfm
        return RFMSerializer(rfm).data if rfm is not None else None

    @extend_schema_field(serializers.DictField(child=serializers.BooleanField()))
    def get_consents(self, member) -> dict:
        granted = {c.topic: c.granted for c in member.consents.all()}
        return {topic: granted.get(topic, False) for topic in ConsentTopic.values}

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_tags(self, member) -> list:
        return sorted(tag.name for tag in member.tags.all())


class StoreRefField(serializers.SlugRelatedField):
    def __init__(self, **kwargs):
        kwargs.setdefault("slug_field", "code")
        kwargs.setdefault("queryset", Store.objects.all())
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)


class ServiceRecordSerializer(serializers.ModelSerializer):
    store = StoreRefField()
    staff = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = ServiceRecord
        fields = [
            "id",
            "kind",
            "status",
            "store",
            "staff",
            "summary",
            "details",
            "opened_at",
            "closed_at",
            "created_at",
        ]
        read_only_fields = ["id", "staff", "created_at"]


class PreferenceSerializer(serializers.ModelSerializer):
    category = serializers.SlugRelatedField(
        slug_field="code", queryset=Category.objects.all(), required=False, allow_null=True
    )
    product = serializers.SlugRelatedField(
        slug_field="sku", queryset=Product.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = Preference
        fields = ["id", "kind", "key", "value", "category", "product", "created_at"]
        read_only_fields = ["id", "created_at"]


class InteractionSerializer(serializers.ModelSerializer):
    store = StoreRefField()
    staff = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Interaction
        fields = ["id", "kind", "channel", "direction", "summary", "occurred_at", "store", "staff", "created_at"]
        read_only_fields = ["id", "staff", "created_at"]


class PurchaseItemSerializer(serializers.ModelSerializer):
    category = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)

    class Meta:
        model = PurchaseItem
        fields = ["sku", "name", "category", "quantity", "unit_price", "discount", "line_total"]


class PurchaseSerializer(serializers.ModelSerializer):
    member = serializers.SlugRelatedField(slug_field="member_no", read_only=True, allow_null=True)
    store = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    items = PurchaseItemSerializer(many=True, read_only=True)

    class Meta:
        model = Purchase
        fields = [
            "id",
            "member",
            "external_ref",
            "store",
            "channel",
            "payment_method",
            "ordered_at",
            "subtotal",
            "discount_total",
            "total",
            "refunded_total",
            "items",
            "created_at",
        ]
