"""Serializers of the member-scoped API's card, points, coupons, rewards and wallet
(`loyalty_crm.centre.api_pages`): the dataclasses of `loyalty_crm.centre.selectors_pages`, as JSON."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from loyalty_crm.api import fields as api_fields
from loyalty_crm.centre import selectors_pages as data
from rewards.models import Reward


class MeTierSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField(source="display_name")
    discount_percent = serializers.DecimalField(max_digits=5, decimal_places=2)
    free_delivery = serializers.BooleanField()


class MeNextTierSerializer(serializers.Serializer):
    code = serializers.CharField(source="tier.code")
    name = serializers.CharField(source="tier.display_name")
    missing = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text="Spend (or points, when `counts_points`) still missing."
    )
    counts_points = serializers.BooleanField()
    text = serializers.CharField(help_text="The member's sentence, e.g. “再消费 ¥447.80 升级金卡”.")


class MeStoredValueSerializer(serializers.Serializer):
    principal = serializers.DecimalField(max_digits=12, decimal_places=2)
    bonus = serializers.DecimalField(max_digits=12, decimal_places=2)
    total = serializers.DecimalField(source="stored_value", max_digits=12, decimal_places=2)


class MeExpiringSerializer(serializers.Serializer):
    points = serializers.IntegerField()
    expires_on = api_fields.DateField()


class MeYearEndSerializer(serializers.Serializer):
    points = serializers.IntegerField()
    on = api_fields.DateField()


class MeSerializer(serializers.Serializer):
    """`GET /api/v1/me/`."""

    member_no = serializers.CharField(source="member.member_no")
    name = serializers.CharField(source="member.name")
    tier = MeTierSerializer()
    benefits = serializers.ListField(child=serializers.CharField())
    points_balance = serializers.IntegerField()
    stored_value = MeStoredValueSerializer(source="*")
    next_tier = MeNextTierSerializer(allow_null=True)


class MeHistoryRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    at = api_fields.DateTimeField()
    points = serializers.IntegerField()
    balance_after = serializers.IntegerField()
    code = serializers.CharField(help_text="The row's reason code (`purchase`, `redemption`, `expiry`, …).")
    text = serializers.CharField(help_text="What happened, in the member's words and language.")


class MeHistoryPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = MeHistoryRowSerializer(many=True)


class MePointsSerializer(serializers.Serializer):
    """`GET /api/v1/me/points/`."""

    balance = serializers.IntegerField(source="points_balance")
    lifetime_earned = serializers.IntegerField()
    expiring = MeExpiringSerializer(many=True)
    year_end_clearing = MeYearEndSerializer(source="year_end", allow_null=True)
    next_tier = MeNextTierSerializer(allow_null=True)
    history = MeHistoryPageSerializer()


class MemberCouponSerializer(serializers.Serializer):
    code = serializers.CharField(source="coupon.code")
    name = serializers.CharField()
    description = serializers.CharField(source="coupon.describe")
    kind = serializers.CharField(source="coupon.kind")
    value = serializers.DecimalField(source="coupon.value", max_digits=12, decimal_places=2)
    min_spend = serializers.DecimalField(source="coupon.min_spend", max_digits=12, decimal_places=2)
    status = serializers.ChoiceField(source="group", choices=data.COUPON_STATES)
    state = serializers.CharField(help_text="valid, not_yet_valid, used, expired or void")
    issued_at = api_fields.DateTimeField(source="coupon.issued_at")
    starts_at = api_fields.DateTimeField(source="coupon.starts_at", allow_null=True)
    expires_at = api_fields.DateTimeField(source="coupon.expires_at", allow_null=True)
    redeemed_at = api_fields.DateTimeField(source="coupon.redeemed_at", allow_null=True)


class MeCouponFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=data.COUPON_STATES,
        required=False,
        error_messages={"invalid_choice": _("“{input}” is not a coupon status; use valid, used or expired.")},
    )


class MeRewardOfferSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="reward.pk")
    name = serializers.CharField(source="reward.name")
    description = serializers.CharField(source="reward.description")
    kind = serializers.CharField(source="reward.kind")
    points_cost = serializers.IntegerField(source="reward.points_cost")
    stock = serializers.IntegerField(source="reward.stock", allow_null=True)
    available = serializers.BooleanField()
    reason_code = serializers.CharField(
        help_text='Why not now ("" when available): not_yet_available, tier_too_low, paid_members_only, '
        "out_of_stock, limit_reached, insufficient_points."
    )
    reason = serializers.CharField(help_text="The same in the member's words (“还差 320 积分”).")
    points_missing = serializers.IntegerField()


class MeRewardsSerializer(serializers.Serializer):
    points_balance = serializers.IntegerField()
    results = MeRewardOfferSerializer(many=True, source="offers")


class MeRedeemInputSerializer(serializers.Serializer):
    reward = serializers.PrimaryKeyRelatedField(
        queryset=Reward.objects.all(),
        error_messages={"does_not_exist": _("No reward has the id “{pk_value}”.")},
    )
    quantity = serializers.IntegerField(min_value=1, max_value=100, required=False, default=1)
    idempotency_key = serializers.CharField(max_length=64)


class MeRedeemedCouponSerializer(serializers.Serializer):
    code = serializers.CharField()
    description = serializers.CharField(source="describe")
    kind = serializers.CharField()
    value = serializers.DecimalField(max_digits=12, decimal_places=2)
    min_spend = serializers.DecimalField(max_digits=12, decimal_places=2)
    expires_at = api_fields.DateTimeField(allow_null=True)


class MeRedemptionSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    reward = serializers.IntegerField(source="reward_id")
    reward_name = serializers.CharField(source="reward.name")
    quantity = serializers.IntegerField()
    status = serializers.CharField()
    points_spent = serializers.IntegerField()
    points_balance = serializers.IntegerField()
    created_at = api_fields.DateTimeField()
    coupons = MeRedeemedCouponSerializer(many=True, source="coupons.all")


class MeWalletRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    at = api_fields.DateTimeField()
    kind = serializers.CharField()
    text = serializers.CharField(help_text="What happened, in the member's words and language.")
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    principal_delta = serializers.DecimalField(max_digits=12, decimal_places=2)
    bonus_delta = serializers.DecimalField(max_digits=12, decimal_places=2)


class MeExpiringBonusSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    expires_on = api_fields.DateField()


class MeWalletSerializer(serializers.Serializer):
    principal = serializers.DecimalField(max_digits=12, decimal_places=2)
    bonus = serializers.DecimalField(max_digits=12, decimal_places=2)
    total = serializers.DecimalField(max_digits=12, decimal_places=2)
    expiring_bonus = MeExpiringBonusSerializer(many=True)
    entries = MeWalletRowSerializer(many=True, help_text="The newest 50 rows, newest first.")


class MeWalletPageSerializer(serializers.Serializer):
    """`GET /api/v1/me/wallet/entries/`: the whole history, 20 rows a page, newest first."""

    count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = MeWalletRowSerializer(many=True)


class MeGiftClaimInputSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64)


class MeGiftClaimSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    principal = serializers.DecimalField(max_digits=12, decimal_places=2)
    bonus = serializers.DecimalField(max_digits=12, decimal_places=2)
    total = serializers.DecimalField(max_digits=12, decimal_places=2)
    already_claimed = serializers.BooleanField(help_text="True when this answers a retry: nothing was added now.")
