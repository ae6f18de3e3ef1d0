"""Shapes of the catalogue, redemption, coupon and checkout API (docs/api.md "Tiers, rewards, coupons, checkout")."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from rewards.api.serializers import ItemInputSerializer, MemberNoField, TierRefSerializer, tenders_field
from rewards.models import Coupon, CouponTemplate, Redemption, Reward, Tier
from rewards.services import catalogue as catalogue_services
from rewards.services.ledger import MAX_POINTS_PER_GRANT


class TierCodeField(serializers.SlugRelatedField):
    default_error_messages = {"does_not_exist": _("No tier has the code “{value}”.")}

    def __init__(self, **kwargs):
        super().__init__(slug_field="code", queryset=Tier.objects.all(), **kwargs)


class RewardSerializer(serializers.ModelSerializer):
    """A catalogue entry. Writes go through `rewards.services.catalogue` (the view calls it)."""

    min_tier = TierCodeField(required=False, allow_null=True)
    coupon_template = serializers.PrimaryKeyRelatedField(
        queryset=CouponTemplate.objects.all(), required=False, allow_null=True
    )
    points_cost = serializers.IntegerField(min_value=1)
    stock = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    is_active = serializers.BooleanField(required=False, default=True)

    class Meta:
        model = Reward
        fields = ["id", *catalogue_services.EDITABLE]  # what the service lets a manager change
        read_only_fields = ["id"]
        validators = []  # the model's clean() runs in the service


class CouponSerializer(serializers.ModelSerializer):
    template = serializers.CharField(source="template.name")
    member = serializers.CharField(source="member.member_no")

    class Meta:
        model = Coupon
        fields = [
            "code",
            "kind",
            "value",
            "min_spend",
            "status",
            "template",
            "member",
            "source",
            "issued_at",
            "starts_at",
            "expires_at",
            "redeemed_at",
            "redeemed_ref",
        ]


class RedemptionInputSerializer(serializers.Serializer):
    member = MemberNoField()
    reward = serializers.PrimaryKeyRelatedField(
        queryset=Reward.objects.select_related("min_tier", "coupon_template"),
        error_messages={"does_not_exist": _("No reward has the id “{pk_value}”.")},
    )
    quantity = serializers.IntegerField(min_value=1, max_value=100, required=False, default=1)
    idempotency_key = serializers.CharField(max_length=64)


class RedemptionSerializer(serializers.ModelSerializer):
    """A redemption as stored (list and detail; also the answer to `POST /redemptions/`)."""

    member = serializers.CharField(source="member.member_no")
    reward = serializers.IntegerField(source="reward_id")
    reward_name = serializers.CharField(source="reward.name")
    coupon = serializers.SerializerMethodField()
    coupons = CouponSerializer(many=True)

    class Meta:
        model = Redemption
        fields = [
            "id",
            "member",
            "reward",
            "reward_name",
            "quantity",
            "points_spent",
            "points_balance",
            "status",
            "coupon",
            "coupons",
            "created_at",
            "cancelled_at",
            "points_returned",
        ]

    @extend_schema_field(CouponSerializer(allow_null=True))
    def get_coupon(self, redemption) -> dict | None:
        coupons = list(redemption.coupons.all())
        return CouponSerializer(coupons[0]).data if coupons else None


class RedemptionCreatedSerializer(RedemptionSerializer):
    """`POST /redemptions/`: `points_balance` is the balance right after this redemption."""

    # The coupons of a fresh redemption come from the result, not a prefetch.
    def to_representation(self, result):
        data = super().to_representation(result.redemption)
        data["coupons"] = CouponSerializer(result.coupons, many=True).data
        data["coupon"] = data["coupons"][0] if result.coupons else None
        return data


class CancelInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class CancelOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="redemption.pk")
    status = serializers.CharField(source="redemption.status")
    points_returned = serializers.IntegerField()
    points_balance = serializers.IntegerField()


class CouponValidateInputSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=40)
    member = MemberNoField()
    order_total = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)


class CouponValidateOutputSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    discount = serializers.DecimalField(max_digits=12, decimal_places=2)
    reason = serializers.CharField(
        help_text="'' when valid; else unknown, not_yours, used, void, expired, not_yet_valid, below_min_spend"
    )
    detail = serializers.CharField()
    free_delivery = serializers.BooleanField()


class CouponRedeemInputSerializer(serializers.Serializer):
    member = MemberNoField()
    external_ref = serializers.CharField(max_length=64)
    order_total = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=0,
        required=False,
        allow_null=True,
        help_text="When given, the coupon's minimum spend is checked against it.",
    )


class CouponIssueInputSerializer(serializers.Serializer):
    template = serializers.PrimaryKeyRelatedField(
        queryset=CouponTemplate.objects.all(),
        error_messages={"does_not_exist": _("No coupon template has the id “{pk_value}”.")},
    )
    member = MemberNoField()


class CouponTemplateSerializer(serializers.ModelSerializer):
    class Meta:
        model = CouponTemplate
        fields = [
            "id",
            "name",
            "kind",
            "value",
            "min_spend",
            "valid_days",
            "valid_from",
            "valid_until",
            "per_member_limit",
            "is_active",
        ]


class QuoteInputSerializer(serializers.Serializer):
    # Null: a walk-in customer (no tier discount, coupon or points).
    member = MemberNoField(allow_null=True)
    items = ItemInputSerializer(many=True, allow_empty=False)
    coupon_code = serializers.CharField(max_length=40, required=False, allow_blank=True, allow_null=True)
    points_to_use = serializers.IntegerField(min_value=0, max_value=MAX_POINTS_PER_GRANT, required=False, default=0)
    # Given (even empty): the quote reads and shows the member's stored-value balance.
    tenders = tenders_field()


class QuoteCouponSerializer(serializers.Serializer):
    code = serializers.CharField()
    valid = serializers.BooleanField()
    reason = serializers.CharField()
    detail = serializers.CharField()


class QuoteOutputSerializer(serializers.Serializer):
    subtotal = serializers.DecimalField(max_digits=12, decimal_places=2)
    tier = TierRefSerializer(allow_null=True)
    tier_discount = serializers.DecimalField(max_digits=12, decimal_places=2)
    coupon_discount = serializers.DecimalField(max_digits=12, decimal_places=2)
    total = serializers.DecimalField(max_digits=12, decimal_places=2)
    points_to_earn = serializers.IntegerField()
    free_delivery = serializers.BooleanField()
    coupon = QuoteCouponSerializer(allow_null=True)
    points_balance = serializers.IntegerField()
    points_max = serializers.IntegerField()
    points_used = serializers.IntegerField()
    points_value = serializers.DecimalField(max_digits=12, decimal_places=2)
    amount_due = serializers.DecimalField(max_digits=12, decimal_places=2)
    points_message = serializers.CharField(allow_blank=True)
    tier_after = TierRefSerializer(allow_null=True)
    stored_value_balance = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        allow_null=True,
        help_text=_("Principal and bonus before this purchase; null unless `tenders` was given."),
    )
    stored_value_used = serializers.DecimalField(max_digits=12, decimal_places=2)
    stored_value_principal = serializers.DecimalField(max_digits=12, decimal_places=2)
    stored_value_bonus = serializers.DecimalField(max_digits=12, decimal_places=2)
    stored_value_message = serializers.CharField(allow_blank=True)
