"""Input and output shapes of the stored-value API (docs/api.md "Stored value")."""

from decimal import Decimal

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from loyalty_crm.api import fields as api_fields
from members.masking import mask_phone
from members.models import Purchase
from rewards.api.serializers import StoreCodeField
from rewards.models import StoredValueEntry, TopUpRule
from rewards.services.stored_value import MAX_STORED_VALUE_AMOUNT, TOP_UP_PAYMENT_CHOICES


def _amount(**kwargs):
    return serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=MAX_STORED_VALUE_AMOUNT,
        **kwargs,
    )


def _delta(**kwargs):
    return serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=-MAX_STORED_VALUE_AMOUNT,
        max_value=MAX_STORED_VALUE_AMOUNT,
        required=False,
        default=Decimal("0.00"),
        **kwargs,
    )


def _money(**kwargs):
    return serializers.DecimalField(max_digits=12, decimal_places=2, **kwargs)


class BalanceSerializer(serializers.Serializer):
    principal = _money(help_text=_("Money the customer paid in; never expires."))
    bonus = _money(help_text=_("Money the shop gave with top-ups."))
    total = _money()


class StoredValueEntrySerializer(serializers.ModelSerializer):
    store = serializers.CharField(source="store.code", default=None, allow_null=True)
    purchase = serializers.CharField(source="purchase.external_ref", default=None, allow_null=True)
    top_up = serializers.CharField(source="top_up.external_ref", default=None, allow_null=True)
    by = serializers.CharField(source="actor_username")
    created_at = api_fields.DateTimeField()

    class Meta:
        model = StoredValueEntry
        fields = [
            "id", "kind", "principal_delta", "bonus_delta", "principal_after", "bonus_after", "store",
            "purchase", "top_up", "external_ref", "reason", "by", "created_at",
        ]  # fmt: skip


class ExpiringBonusSerializer(serializers.Serializer):
    amount = _money()
    expires_on = api_fields.DateField()


class WalletSerializer(serializers.Serializer):
    member = serializers.CharField(source="member.member_no")
    principal = _money()
    bonus = _money()
    total = _money()
    expiring_bonus = serializers.SerializerMethodField()
    entries = StoredValueEntrySerializer(many=True, help_text=_("The newest 50 rows, newest first."))

    def get_expiring_bonus(self, wallet) -> list[dict]:
        return ExpiringBonusSerializer(
            [{"amount": amount, "expires_on": day} for amount, day in wallet.expiring_bonus], many=True
        ).data


class TopUpRuleSerializer(serializers.ModelSerializer):
    class Meta:
        model = TopUpRule
        fields = [
            "id", "name", "pay_amount", "bonus_amount", "points", "valid_from", "valid_until", "once_per_member",
            "bonus_expires_after_days",
        ]  # fmt: skip


class RuleQuerySerializer(serializers.Serializer):
    amount = _amount(required=False, help_text=_("Only the rules a top-up of this amount reaches."))
    member = serializers.CharField(
        required=False, max_length=32, help_text=_("With amount: leave out once-per-member rules the member used.")
    )


class TopUpPaymentMethodField(serializers.ChoiceField):
    """How the customer paid for a top-up: any payment method but the stored value itself (named
    `TopUpPaymentMethodEnum` in the schema, settings.SPECTACULAR_SETTINGS)."""

    def __init__(self, **kwargs):
        super().__init__(choices=TOP_UP_PAYMENT_CHOICES, **kwargs)


class TopUpInputSerializer(serializers.Serializer):
    amount = _amount()
    rule = serializers.PrimaryKeyRelatedField(
        queryset=TopUpRule.objects.all(), required=False, allow_null=True, help_text=_("A top-up rule's id.")
    )
    external_ref = serializers.CharField(max_length=64)
    payment_method = TopUpPaymentMethodField()
    store = StoreCodeField(required=False, allow_null=True)


class TopUpOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="top_up.pk")
    member = serializers.CharField(source="top_up.member.member_no")
    external_ref = serializers.CharField(source="top_up.external_ref")
    amount = _money(source="top_up.amount")
    rule = serializers.IntegerField(source="top_up.rule_id", allow_null=True)
    bonus = _money(source="top_up.bonus", help_text=_("The bonus this top-up gave."))
    bonus_expires_on = api_fields.DateField(source="top_up.bonus_expires_on", allow_null=True)
    points = serializers.IntegerField(source="top_up.points")
    payment_method = serializers.CharField(source="top_up.payment_method")
    balance = BalanceSerializer(source="*", help_text=_("The balances just after this top-up."))


class WalletPaymentInputSerializer(serializers.Serializer):
    amount = _amount()
    external_ref = serializers.CharField(max_length=64)
    purchase = serializers.PrimaryKeyRelatedField(
        queryset=Purchase.objects.all(), required=False, allow_null=True, help_text=_("The purchase's id.")
    )
    store = StoreCodeField(required=False, allow_null=True)


class WalletRefundInputSerializer(serializers.Serializer):
    payment = serializers.PrimaryKeyRelatedField(
        queryset=StoredValueEntry.objects.filter(kind=StoredValueEntry.Kind.PAYMENT),
        help_text=_("The id of the payment row (its `id` in the payment's answer or the wallet)."),
    )
    amount = _amount(required=False, allow_null=True, help_text=_("Absent: all that is left to refund."))
    external_ref = serializers.CharField(max_length=64)
    store = StoreCodeField(required=False, allow_null=True)


class CashOutInputSerializer(serializers.Serializer):
    external_ref = serializers.CharField(max_length=64)
    store = StoreCodeField(required=False, allow_null=True)


class WalletAdjustInputSerializer(serializers.Serializer):
    principal_delta = _delta()
    bonus_delta = _delta()
    reason = serializers.CharField(max_length=200)
    external_ref = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")


class WalletChangeSerializer(serializers.Serializer):
    """One ledger row a change wrote, and the balances just after it."""

    entry = StoredValueEntrySerializer()
    balance = BalanceSerializer(source="*")


class GiftInputSerializer(serializers.Serializer):
    recipient_phone = serializers.CharField(max_length=32)
    amount = _amount()
    external_ref = serializers.CharField(max_length=64)
    store = StoreCodeField(required=False, allow_null=True)


class GiftOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="gift.pk")
    code = serializers.CharField(help_text=_("For the buyer to pass on; the recipient claims with it, once."))
    amount = _money(source="gift.amount")
    recipient_phone = serializers.SerializerMethodField(help_text=_("Masked."))
    external_ref = serializers.CharField(source="gift.external_ref")
    balance = BalanceSerializer(source="*", help_text=_("The buyer's balances just after buying it."))

    def get_recipient_phone(self, result) -> str:
        return mask_phone(result.gift.recipient_phone)


class GiftClaimInputSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=32)
    store = StoreCodeField(required=False, allow_null=True)
