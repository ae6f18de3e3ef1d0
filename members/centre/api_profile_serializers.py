"""Serializers of the member's own profile API (`members.centre.api_profile`)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from loyalty_crm.api import fields as api_fields
from members.centre.profile_data import MARKETING_TOPICS
from members.models import AccountClosureRequest, Member, Purchase, PurchaseItem
from members.services.closure import MAX_REASON_LENGTH


class MeProfileSerializer(serializers.Serializer):
    member_no = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    phone = serializers.CharField(
        source="masked_phone", read_only=True, help_text=_("Masked; only staff change the phone number.")
    )
    email = serializers.CharField(read_only=True, allow_null=True)
    birthday = api_fields.DateField(read_only=True, allow_null=True)
    birthday_editable = serializers.SerializerMethodField(
        help_text=_("The member may set their birthday once; then only staff change it.")
    )
    gender = serializers.ChoiceField(choices=Member.Gender.choices, read_only=True)

    def get_birthday_editable(self, member) -> bool:
        return member.birthday is None


class MeProfileUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True, allow_null=True)
    birthday = api_fields.DateField(required=False)
    gender = serializers.ChoiceField(choices=Member.Gender.choices, required=False)

    def validate_birthday(self, value):
        member = self.context["member"]
        if member.birthday is not None and value != member.birthday:
            raise serializers.ValidationError(_("Your birthday is already set; only our staff can change it."))
        return value

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields)) if isinstance(self.initial_data, dict) else []
        if unknown:
            raise serializers.ValidationError({field: [_("This field cannot be changed here.")] for field in unknown})
        return attrs


class MeConsentsSerializer(serializers.Serializer):
    """`{marketing_sms: true, marketing_email: false, marketing_wechat: true}` (the members API's
    topic names); PATCH changes only the topics given."""

    marketing_sms = serializers.BooleanField(required=False)
    marketing_email = serializers.BooleanField(required=False)
    marketing_wechat = serializers.BooleanField(required=False)

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields)) if isinstance(self.initial_data, dict) else []
        if unknown:
            raise serializers.ValidationError(
                {
                    field: [_("Unknown consent; known: %(known)s.") % {"known": ", ".join(MARKETING_TOPICS)}]
                    for field in unknown
                }
            )
        if not attrs:
            raise serializers.ValidationError(_("Give at least one consent to change."))
        return attrs


class MeConsentSerializer(serializers.Serializer):
    topic = serializers.CharField()
    granted = serializers.BooleanField()
    since = api_fields.DateTimeField(allow_null=True)


class MeConsentEventSerializer(serializers.Serializer):
    topic = serializers.CharField()
    granted = serializers.BooleanField()
    at = api_fields.DateTimeField()
    source = serializers.CharField()


class MeConsentsOutputSerializer(serializers.Serializer):
    marketing_sms = serializers.BooleanField()
    marketing_email = serializers.BooleanField()
    marketing_wechat = serializers.BooleanField()
    channels = MeConsentSerializer(many=True)
    history = MeConsentEventSerializer(many=True)


class MePurchaseItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = PurchaseItem
        fields = ["sku", "name", "quantity", "unit_price", "line_total", "returned_quantity"]


class MePurchaseSerializer(serializers.ModelSerializer):
    store = serializers.SerializerMethodField()
    channel = serializers.CharField(read_only=True, help_text=_("store, online, wechat, phone or other"))
    points_earned = serializers.IntegerField(read_only=True)
    points_reversed = serializers.IntegerField(read_only=True)
    items = MePurchaseItemSerializer(many=True, read_only=True)

    class Meta:
        model = Purchase
        fields = [
            "id",
            "external_ref",
            "ordered_at",
            "store",
            "channel",
            "subtotal",
            "discount_total",
            "points_value",
            "total",
            "refunded_total",
            "points_earned",
            "points_reversed",
            "items",
        ]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_store(self, purchase) -> str | None:
        return purchase.store.name if purchase.store else None


class MeReplySerializer(serializers.Serializer):
    at = api_fields.DateTimeField()
    body = serializers.CharField(source="body_text")


class MeTicketSerializer(serializers.Serializer):
    ticket_no = serializers.CharField()
    kind = serializers.CharField()
    status = serializers.CharField()
    status_display = serializers.CharField(source="get_status_display")
    message = serializers.CharField()
    order_ref = serializers.CharField()
    created_at = api_fields.DateTimeField()
    replies = MeReplySerializer(many=True, source="public_replies")


class MeClosureRequestInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=MAX_REASON_LENGTH)


class MeClosureRequestSerializer(serializers.ModelSerializer):
    class Meta:
        model = AccountClosureRequest
        fields = ["id", "status", "requested_at", "reason", "handled_at", "note"]
