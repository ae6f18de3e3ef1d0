"""Shapes of the care-plan API (docs/api.md "Care plans")."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from loyalty_crm.api.fields import DateField, DateTimeField
from members.models import Category, Product, PurchaseItem
from rewards.api.serializers import MemberNoField
from rewards.models import CarePlan, CarePlanClaim, CarePlanSale


class CarePlanSerializer(serializers.ModelSerializer):
    """A plan: what it covers, the products (SKUs) and categories (codes) it may be sold with."""

    products = serializers.SlugRelatedField(slug_field="sku", queryset=Product.objects.all(), many=True, required=False)
    categories = serializers.SlugRelatedField(
        slug_field="code", queryset=Category.objects.all(), many=True, required=False
    )
    price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)

    class Meta:
        model = CarePlan
        fields = [
            "id",
            "code",
            "name",
            "coverage",
            "products",
            "categories",
            "price",
            "duration",
            "duration_unit",
            "claims_allowed",
            "requires_original_purchase",
            "sell_within_days",
            "is_active",
        ]
        read_only_fields = ["id"]
        validators = []  # the model's full_clean() runs in the service


class CarePlanRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class CarePlanSaleInputSerializer(serializers.Serializer):
    member = MemberNoField()
    plan = serializers.PrimaryKeyRelatedField(
        queryset=CarePlan.objects.all(), error_messages={"does_not_exist": _("No care plan has the id “{pk_value}”.")}
    )
    purchase_item = serializers.PrimaryKeyRelatedField(
        queryset=PurchaseItem.objects.all(),
        error_messages={"does_not_exist": _("No purchase line has the id “{pk_value}”.")},
    )
    idempotency_key = serializers.CharField(max_length=80)


class CarePlanSaleSerializer(serializers.ModelSerializer):
    """A plan sold: to whom, for which line, from when to when, and what is left."""

    member = serializers.CharField(source="member.member_no")
    plan = CarePlanRefSerializer()
    product = serializers.CharField(source="product.sku", allow_null=True, default=None)
    starts_on = DateField()
    ends_on = DateField()
    claims_left = serializers.IntegerField()
    created_at = DateTimeField()
    cancelled_at = DateTimeField(allow_null=True)

    class Meta:
        model = CarePlanSale
        fields = [
            "id",
            "member",
            "plan",
            "purchase_item",
            "product",
            "starts_on",
            "ends_on",
            "price_paid",
            "claims_allowed",
            "claims_used",
            "claims_left",
            "created_at",
            "status",
            "refunded_amount",
            "cancelled_at",
            "cancel_reason",
        ]


class CarePlanCancelInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class CarePlanClaimInputSerializer(serializers.Serializer):
    description = serializers.CharField(max_length=2000)
    idempotency_key = serializers.CharField(max_length=80)
    sku = serializers.SlugRelatedField(
        slug_field="sku",
        queryset=Product.objects.all(),
        required=False,
        help_text="Optional: the product brought in; refused with `product_not_covered` when it is not the plan's.",
    )


class CarePlanClaimSerializer(serializers.ModelSerializer):
    """A claim: its status (open, settled, rejected), the member's service record and any replacement."""

    created_at = DateTimeField()
    closed_at = DateTimeField(allow_null=True)

    class Meta:
        model = CarePlanClaim
        fields = [
            "id",
            "sale",
            "status",
            "description",
            "service_record",
            "replacement",
            "cost",
            "created_at",
            "closed_at",
        ]
