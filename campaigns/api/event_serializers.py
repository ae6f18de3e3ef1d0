"""Input and output shapes of the member events API (docs/rules/events.md "API")."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from campaigns.models import Classification, Event, EventRegistration, Segment
from loyalty_crm.api import fields as api_fields
from rewards.api.serializers import MemberNoField, StoreCodeField
from rewards.models import Tier


class AudienceSerializer(serializers.Serializer):
    """Who may come: a member matching any part; everyone when absent or empty."""

    tiers = serializers.SlugRelatedField(
        slug_field="code", queryset=Tier.objects.all(), many=True, required=False, help_text=_("Tier codes.")
    )
    classifications = serializers.ListField(
        child=serializers.ChoiceField(choices=Classification.choices), required=False, max_length=10
    )
    segment = serializers.PrimaryKeyRelatedField(queryset=Segment.objects.all(), required=False, allow_null=True)
    plan_holders = serializers.BooleanField(required=False, default=False)


class EventInputSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=150)
    kind = serializers.ChoiceField(choices=Event.Kind.choices)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")
    starts_at = api_fields.DateTimeField()
    ends_at = api_fields.DateTimeField()
    capacity = serializers.IntegerField(min_value=1, max_value=100_000)
    store = StoreCodeField(required=False, allow_null=True, default=None)
    address = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, required=False, default=0)
    points_cost = serializers.IntegerField(min_value=0, max_value=10_000_000, required=False, default=0)
    signup_opens_at = api_fields.DateTimeField(required=False, allow_null=True, default=None)
    signup_closes_at = api_fields.DateTimeField(required=False, allow_null=True, default=None)
    cancellation_deadline = api_fields.DateTimeField(required=False, allow_null=True, default=None)
    audience = AudienceSerializer(required=False, allow_null=True, default=None)

    def service_values(self) -> dict:
        values = dict(self.validated_data)
        audience = values.pop("audience", None) or {}
        values["tiers"] = list(audience.get("tiers") or [])
        values["audience_classifications"] = list(audience.get("classifications") or [])
        values["audience_segment"] = audience.get("segment")
        values["audience_plan_holders"] = bool(audience.get("plan_holders"))
        return values


class EventSerializer(serializers.ModelSerializer):
    store = serializers.SlugRelatedField(slug_field="code", read_only=True)
    starts_at = api_fields.DateTimeField(read_only=True)
    ends_at = api_fields.DateTimeField(read_only=True)
    signup_opens_at = api_fields.DateTimeField(read_only=True)
    signup_closes_at = api_fields.DateTimeField(read_only=True)
    cancellation_deadline = api_fields.DateTimeField(read_only=True)
    audience = serializers.SerializerMethodField()
    confirmed = serializers.IntegerField(read_only=True)
    waitlisted = serializers.IntegerField(read_only=True)
    attended = serializers.IntegerField(read_only=True)
    seats_left = serializers.SerializerMethodField()

    class Meta:
        model = Event
        fields = [
            "id", "title", "kind", "status", "description", "store", "address", "starts_at", "ends_at", "capacity",
            "price", "points_cost", "signup_opens_at", "signup_closes_at", "cancellation_deadline", "audience",
            "confirmed", "waitlisted", "attended", "seats_left",
        ]  # fmt: skip

    def get_seats_left(self, event) -> int:
        return max(event.capacity - event.confirmed, 0)

    def get_audience(self, event) -> dict:
        return {
            "tiers": [tier.code for tier in event.audience_tiers.all()],
            "classifications": list(event.audience_classifications or []),
            "segment": event.audience_segment_id,
            "plan_holders": event.audience_plan_holders,
        }


class RegistrationInputSerializer(serializers.Serializer):
    member = MemberNoField()
    idempotency_key = serializers.CharField(max_length=64)


class RegistrationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    event = serializers.IntegerField(source="event_id")
    member = serializers.CharField(source="member.member_no")
    status = serializers.ChoiceField(choices=EventRegistration.Status.choices)
    position = serializers.IntegerField(allow_null=True, required=False, help_text=_("Place on the waitlist."))
    points_spent = serializers.IntegerField()
    attended_at = api_fields.DateTimeField(allow_null=True)


class CancelResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=EventRegistration.Status.choices)
    points_returned = serializers.IntegerField()
    promoted = serializers.ListField(child=serializers.CharField(), help_text=_("Member numbers given a seat."))


class MeEventSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="event.id")
    title = serializers.CharField(source="event.title")
    kind = serializers.CharField(source="event.kind")
    starts_at = api_fields.DateTimeField(source="event.starts_at")
    ends_at = api_fields.DateTimeField(source="event.ends_at")
    place = serializers.CharField()
    seats_left = serializers.IntegerField()
    points_cost = serializers.IntegerField(source="event.points_cost")
    price = serializers.DecimalField(source="event.price", max_digits=12, decimal_places=2)
    open = serializers.BooleanField(help_text=_("Sign-up is open now."))
    registration = serializers.IntegerField(allow_null=True)


class MeRegistrationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    event = serializers.IntegerField(source="event_id")
    title = serializers.CharField(source="event.title")
    starts_at = api_fields.DateTimeField(source="event.starts_at")
    status = serializers.ChoiceField(choices=EventRegistration.Status.choices)
    position = serializers.IntegerField(allow_null=True)
    attended = serializers.SerializerMethodField()

    def get_attended(self, registration) -> bool:
        return registration.attended_at is not None


class MeEventsSerializer(serializers.Serializer):
    events = MeEventSerializer(many=True)
    registrations = MeRegistrationSerializer(many=True)


class MeSignUpSerializer(serializers.Serializer):
    idempotency_key = serializers.CharField(max_length=48)
