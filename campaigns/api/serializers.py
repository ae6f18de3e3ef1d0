from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from campaigns.models import Classification, Segment
from campaigns.segments import CHANNELS, validate_rules


class RulesSchema(serializers.Serializer):
    """What `rules` holds (documentation for the schema; `validate_rules` checks it)."""

    classification = serializers.ListField(
        child=serializers.ChoiceField(choices=Classification.choices), required=False
    )
    tiers = serializers.ListField(child=serializers.CharField(), required=False, help_text="Tier codes.")
    stores = serializers.ListField(child=serializers.CharField(), required=False, help_text="Home store codes.")
    tags = serializers.ListField(child=serializers.CharField(), required=False, help_text="Tag names (any of them).")
    min_spend_12m = serializers.DecimalField(max_digits=14, decimal_places=2, required=False)
    last_purchase_after = serializers.DateField(required=False, help_text="Last purchase on or after this day.")
    last_purchase_before = serializers.DateField(required=False, help_text="Last purchase on or before this day.")
    birthday_month = serializers.IntegerField(
        min_value=1, max_value=12, required=False, help_text="1–12 (a list of months is accepted too)."
    )
    consented_channel = serializers.ChoiceField(choices=[(c, c) for c in CHANNELS], required=False)


@extend_schema_field(RulesSchema)
class RulesField(serializers.JSONField):
    """Rules validated by `campaigns.segments.validate_rules`; errors name the bad rule key."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        try:
            return validate_rules(value)
        except DjangoValidationError as error:
            raise serializers.ValidationError(
                error.message_dict if hasattr(error, "error_dict") else {"rules": error.messages}
            ) from error


class SegmentSerializer(serializers.ModelSerializer):
    rules = RulesSchema(read_only=True)
    size = serializers.SerializerMethodField(
        help_text="Members in the segment: counted now in the detail view; in the list, as last counted "
        "(on save and after the nightly classification, see size_computed_at)."
    )
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Segment
        fields = [
            "id",
            "name",
            "description",
            "rules",
            "size",
            "size_computed_at",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_size(self, segment) -> int | None:
        live = self.context.get("live_sizes", {})
        return live.get(segment.pk, segment.size)


class SegmentInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    rules = RulesField(required=False, default=dict)
