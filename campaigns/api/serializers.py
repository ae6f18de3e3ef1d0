"""Shapes of the campaigns API (docs/api.md "Segments, campaigns and contact policy")."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from campaigns import recurrence
from campaigns.models import (
    Campaign,
    CampaignChannel,
    CampaignOffer,
    Classification,
    MessageTemplate,
    Segment,
    SkipReason,
)
from campaigns.segments import CHANNELS, validate_rules
from campaigns.selectors import CampaignResults
from campaigns.services import recurring
from campaigns.services.campaigns import SCHEDULE_PARTS
from feedback.models import Survey
from loyalty_crm.api import fields as api_fields
from rewards.models import CouponTemplate
from rewards.services.ledger import MAX_POINTS_PER_GRANT

HOUR_MINUTE_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


@extend_schema_field(
    {
        "type": "string",
        "pattern": HOUR_MINUTE_PATTERN,
        "example": "21:00",
        "description": "A local time of day as HH:MM, 24-hour clock (no seconds, no offset).",
    }
)
class HourMinuteField(serializers.TimeField):
    """A time of day written "21:00", in and out. Declared as a pattern-constrained string: OpenAPI's
    `format: time` means RFC 3339's full-time ("21:00:00+08:00"), which this is not."""

    def __init__(self, **kwargs):
        kwargs.setdefault("input_formats", ["%H:%M"])
        super().__init__(format="%H:%M", **kwargs)


class ChannelField(serializers.ChoiceField):
    """A campaign's channel: email, sms, wechat, or best (each member's best channel)."""

    def __init__(self, **kwargs):
        super().__init__(choices=CampaignChannel.choices, **kwargs)


class OfferInputSerializer(serializers.Serializer):
    """A campaign's offer: `{"kind": "coupon", "coupon_template": <id>}` or `{"kind": "points",
    "points": N}`; saved through `campaigns.services.offers.set_offer` (its checks: active template, points > 0)."""

    kind = serializers.ChoiceField(choices=CampaignOffer.Kind.choices)
    coupon_template = serializers.PrimaryKeyRelatedField(
        queryset=CouponTemplate.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        help_text=_("The coupon template's id (GET /api/v1/coupon-templates/); for kind “coupon”."),
        error_messages={"does_not_exist": _("No coupon template has the id “{pk_value}”.")},
    )
    points = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        max_value=MAX_POINTS_PER_GRANT,
        help_text=_("Bonus points per recipient; for kind “points”."),
    )

    def validate(self, attrs):
        kind, template, points = attrs["kind"], attrs.get("coupon_template"), attrs.get("points")
        if template is not None and points is not None:
            raise serializers.ValidationError({"points": [_("Give either a coupon template or points, not both.")]})
        if kind == CampaignOffer.Kind.COUPON and points is not None:
            raise serializers.ValidationError({"points": [_("A coupon offer takes no points.")]})
        if kind == CampaignOffer.Kind.POINTS and template is not None:
            raise serializers.ValidationError({"coupon_template": [_("A points offer takes no coupon template.")]})
        return attrs


class OfferSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=CampaignOffer.Kind.choices)
    coupon_template = serializers.IntegerField(source="coupon_template_id", allow_null=True)
    coupon_name = serializers.CharField(source="coupon_template.name", read_only=True, allow_null=True, default=None)
    points = serializers.IntegerField()


class RecurrenceSerializer(serializers.Serializer):
    """A recurring campaign's schedule, in local time (Asia/Shanghai); see `campaigns.recurrence`."""

    frequency = serializers.ChoiceField(choices=[(f, f) for f in recurrence.FREQUENCIES])
    time = HourMinuteField(help_text=_("Time of day, e.g. 10:00."))
    weekday = serializers.IntegerField(
        min_value=1, max_value=7, required=False, allow_null=True, default=None,
        help_text=_("Weekly only: 1 = Monday … 7 = Sunday."),
    )  # fmt: skip
    day = serializers.IntegerField(
        min_value=1, max_value=28, required=False, allow_null=True, default=None,
        help_text=_("Monthly only: day of the month, 1 to 28."),
    )  # fmt: skip
    until = api_fields.DateField(
        required=False, allow_null=True, default=None, help_text=_("Optional: the last day a run may happen.")
    )

    def validate(self, attrs):
        errors = recurrence.check_schedule(
            frequency=attrs["frequency"], time=attrs["time"], weekday=attrs.get("weekday"), day=attrs.get("day"),
            until=attrs.get("until"),
        )  # fmt: skip
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class CampaignInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=150)
    channel = ChannelField()
    subject = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    body = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text=_("Required unless an SMS or WeChat campaign sends a message template."),
    )
    message_template = serializers.PrimaryKeyRelatedField(
        queryset=MessageTemplate.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        help_text=_("SMS and WeChat: the approved message template's id (GET /api/v1/message-templates/)."),
        error_messages={"does_not_exist": _("No message template has the id “{pk_value}”.")},
    )
    segment = serializers.PrimaryKeyRelatedField(
        queryset=Segment.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        error_messages={"does_not_exist": _("No segment has the id “{pk_value}”.")},
    )
    survey = serializers.PrimaryKeyRelatedField(
        queryset=Survey.objects.filter(is_active=True),
        required=False,
        allow_null=True,
        default=None,
        help_text=_("The survey {{ survey_link }} opens (GET /api/v1/surveys/): one single-use link per member."),
        error_messages={"does_not_exist": _("No active survey has the id “{pk_value}”.")},
    )
    start_at = api_fields.DateTimeField(required=False, allow_null=True, default=None)
    end_at = api_fields.DateTimeField(required=False, allow_null=True, default=None)
    control_group_pct = serializers.IntegerField(min_value=0, max_value=90, required=False, default=0)
    language = serializers.ChoiceField(choices=Campaign._meta.get_field("language").choices, required=False,
                                       default="zh-hans")  # fmt: skip
    offer = OfferInputSerializer(
        required=False,
        allow_null=True,
        default=None,
        help_text=_("Optional: a coupon or bonus points for each member the message is actually sent to."),
    )
    recurrence = RecurrenceSerializer(
        required=False,
        allow_null=True,
        default=None,
        help_text=_("Optional: send again every day, week or month (absent or null: once)."),
    )

    def validate(self, attrs):
        schedule, start_at = attrs.get("recurrence"), attrs.get("start_at")
        if schedule:
            if attrs.get("end_at"):
                raise serializers.ValidationError(
                    {"end_at": [_("A recurring campaign ends with “until” in its recurrence; leave end_at empty.")]}
                )
            if schedule.get("until") and start_at and schedule["until"] < recurrence.local_date(start_at):
                raise serializers.ValidationError(
                    {"recurrence": {"until": [_("“Repeat until” must not be before the start.")]}}
                )
        return attrs

    def service_values(self) -> dict:
        """The validated body as `create_campaign` keyword arguments."""
        values = dict(self.validated_data)
        schedule = values.pop("recurrence", None)
        if schedule:
            values.update({field: schedule.get(part) for part, field in SCHEDULE_PARTS.items()})
        return values


class CampaignCreatedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    warnings = serializers.ListField(child=serializers.CharField(), help_text=_("Template fields that render empty."))


class SkippedSerializer(serializers.Serializer):
    no_consent = serializers.IntegerField()
    opted_out = serializers.IntegerField()
    frequency_cap = serializers.IntegerField()
    quiet_hours = serializers.IntegerField()
    control_group = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    nothing_to_remind = serializers.IntegerField(
        help_text="A reminder whose figure was 0 when it was due (no points expiring, no bonus lapsing, no care "
        "plan ending any more)."
    )


class CampaignSerializer(serializers.ModelSerializer):
    """A campaign with its outbox counts (context "results": {campaign id: CampaignResults})."""

    channel = ChannelField()
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    audience = serializers.SerializerMethodField()
    pending = serializers.SerializerMethodField()
    sent = serializers.SerializerMethodField(help_text=_("Accepted by the provider (delivered or not since)."))
    delivered = serializers.SerializerMethodField(help_text=_("Reported delivered by the provider's receipt."))
    undelivered = serializers.SerializerMethodField(help_text=_("Reported not delivered by the provider's receipt."))
    failed = serializers.SerializerMethodField()
    in_doubt = serializers.SerializerMethodField()
    skipped = serializers.SerializerMethodField()
    offer = serializers.SerializerMethodField()
    recurrence = serializers.SerializerMethodField()
    next_run_at = serializers.SerializerMethodField(
        help_text=_("A launched recurring campaign's next run; null otherwise.")
    )

    class Meta:
        model = Campaign
        fields = [
            "id", "name", "status", "channel", "message_template", "language", "subject", "body", "segment",
            "survey", "start_at", "end_at", "control_group_pct", "created_by", "created_at", "launched_at",
            "started_at", "completed_at", "cancelled_at", "audience", "pending", "sent", "delivered", "undelivered",
            "failed", "in_doubt", "skipped", "offer", "recurrence", "next_run_at",
        ]  # fmt: skip
        read_only_fields = fields

    def _results(self, campaign) -> CampaignResults:
        return self.context["results"].get(campaign.pk) or CampaignResults()

    def get_audience(self, campaign) -> int:
        return self._results(campaign).audience

    def get_pending(self, campaign) -> int:
        return self._results(campaign).pending

    def get_sent(self, campaign) -> int:
        return self._results(campaign).accepted

    def get_delivered(self, campaign) -> int:
        return self._results(campaign).delivered

    def get_undelivered(self, campaign) -> int:
        return self._results(campaign).undelivered

    def get_failed(self, campaign) -> int:
        return self._results(campaign).failed

    def get_in_doubt(self, campaign) -> int:
        return self._results(campaign).in_doubt

    @extend_schema_field(SkippedSerializer)
    def get_skipped(self, campaign) -> dict:
        skipped = self._results(campaign).skipped
        return {reason: skipped.get(reason, 0) for reason in SkipReason.values}

    @extend_schema_field(OfferSerializer(allow_null=True))
    def get_offer(self, campaign) -> dict | None:
        try:
            offer = campaign.offer  # select_related by selectors.campaign_list
        except CampaignOffer.DoesNotExist:
            return None
        return OfferSerializer(offer).data

    @extend_schema_field(RecurrenceSerializer(allow_null=True))
    def get_recurrence(self, campaign) -> dict | None:
        schedule = recurring.schedule_of(campaign)
        if schedule is None:
            return None
        return RecurrenceSerializer(
            {"frequency": schedule.frequency, "time": schedule.time, "weekday": schedule.weekday,
             "day": schedule.day, "until": schedule.until}
        ).data  # fmt: skip

    @extend_schema_field(api_fields.DateTimeField(allow_null=True))
    def get_next_run_at(self, campaign) -> str | None:
        at = recurring.next_run_at(campaign, now=self.context.get("now"))
        return api_fields.DateTimeField().to_representation(at) if at else None


class CampaignStatusSerializer(serializers.Serializer):
    status = serializers.CharField()


class QuietHoursSerializer(serializers.Serializer):
    # "21:00:00" is still read, as before; the answer is always "21:00".
    start = HourMinuteField(input_formats=["%H:%M", "%H:%M:%S"])
    end = HourMinuteField(input_formats=["%H:%M", "%H:%M:%S"])


class FrequencyCapSerializer(serializers.Serializer):
    messages = serializers.IntegerField(min_value=1, max_value=1000)
    days = serializers.IntegerField(min_value=1, max_value=366)


class SendRateSerializer(serializers.Serializer):
    email = serializers.IntegerField(min_value=1, max_value=10_000, help_text=_("Emails per second."))
    sms = serializers.IntegerField(min_value=1, max_value=10_000, help_text=_("Text messages per second."))
    wechat = serializers.IntegerField(
        min_value=1, max_value=10_000, required=False, help_text=_("WeChat messages per second.")
    )


class DailyBudgetSerializer(serializers.Serializer):
    email = serializers.IntegerField(min_value=0, max_value=100_000_000, required=False)
    sms = serializers.IntegerField(min_value=0, max_value=100_000_000, required=False)
    wechat = serializers.IntegerField(min_value=0, max_value=100_000_000, required=False)


class ContactPolicySerializer(serializers.Serializer):
    quiet_hours = QuietHoursSerializer(allow_null=True, required=False)
    timezone = serializers.CharField(max_length=50, required=False)
    frequency_cap = FrequencyCapSerializer(required=False)
    send_rate = SendRateSerializer(required=False)
    daily_budget = DailyBudgetSerializer(
        required=False, help_text=_("Messages per day and channel (Asia/Shanghai days); 0: no limit.")
    )

    def to_representation(self, policy):
        quiet = None
        if policy.quiet_hours_start is not None:
            quiet = {
                "start": policy.quiet_hours_start.strftime("%H:%M"),
                "end": policy.quiet_hours_end.strftime("%H:%M"),
            }
        return {
            "quiet_hours": quiet,
            "timezone": policy.timezone,
            "frequency_cap": {"messages": policy.frequency_cap_messages, "days": policy.frequency_cap_days},
            "send_rate": {"email": policy.email_rate, "sms": policy.sms_rate, "wechat": policy.wechat_rate},
            "daily_budget": {
                "email": policy.email_daily_budget,
                "sms": policy.sms_daily_budget,
                "wechat": policy.wechat_daily_budget,
            },
        }

    def service_changes(self) -> dict:
        """The validated body as `update_contact_policy` keyword arguments."""
        data = self.validated_data
        changes = {}
        if "quiet_hours" in data:
            quiet = data["quiet_hours"]
            changes["quiet_hours_start"] = quiet["start"] if quiet else None
            changes["quiet_hours_end"] = quiet["end"] if quiet else None
        if "timezone" in data:
            changes["timezone"] = data["timezone"]
        if "frequency_cap" in data:
            changes["frequency_cap_messages"] = data["frequency_cap"]["messages"]
            changes["frequency_cap_days"] = data["frequency_cap"]["days"]
        if "send_rate" in data:
            changes["email_rate"] = data["send_rate"]["email"]
            changes["sms_rate"] = data["send_rate"]["sms"]
            if "wechat" in data["send_rate"]:
                changes["wechat_rate"] = data["send_rate"]["wechat"]
        for channel, budget in data.get("daily_budget", {}).items():
            changes[f"{channel}_daily_budget"] = budget
        return changes


class BoughtProductRule(serializers.Serializer):
    product = serializers.CharField(help_text="Product SKU.")
    within_days = serializers.IntegerField(min_value=1, max_value=3650, required=False, help_text="Absent: ever.")


class BoughtCategoryRule(serializers.Serializer):
    category = serializers.CharField(help_text="Category code; the categories under it count too.")
    within_days = serializers.IntegerField(min_value=1, max_value=3650, required=False, help_text="Absent: ever.")


class NotBoughtCategoryRule(serializers.Serializer):
    category = serializers.CharField(help_text="Category code; bought in it before, nothing from it for `days`.")
    days = serializers.IntegerField(min_value=1, max_value=3650)


class EventAttendedRule(serializers.Serializer):
    event = serializers.IntegerField(min_value=1, required=False, help_text="An event's id; absent: any event.")
    within_days = serializers.IntegerField(min_value=1, max_value=3650, required=False, help_text="Absent: ever.")


class PointsExpiringRule(serializers.Serializer):
    days = serializers.IntegerField(min_value=0, max_value=366)
    min_points = serializers.IntegerField(min_value=1, required=False, help_text="1 when absent.")


class RulesSchema(serializers.Serializer):
    """What `rules` holds (documentation for the schema; `validate_rules` checks it)."""

    classification = serializers.ListField(
        child=serializers.ChoiceField(choices=Classification.choices), required=False
    )
    tiers = serializers.ListField(child=serializers.CharField(), required=False, help_text="Tier codes.")
    stores = serializers.ListField(child=serializers.CharField(), required=False, help_text="Home store codes.")
    tags = serializers.ListField(child=serializers.CharField(), required=False, help_text="Tag names (any of them).")
    min_spend_12m = serializers.DecimalField(max_digits=14, decimal_places=2, required=False)
    last_purchase_after = api_fields.DateField(required=False, help_text="Last purchase on or after this day.")
    last_purchase_before = api_fields.DateField(required=False, help_text="Last purchase on or before this day.")
    birthday_month = serializers.IntegerField(
        min_value=1, max_value=12, required=False, help_text="1–12 (a list of months is accepted too)."
    )
    consented_channel = serializers.ChoiceField(choices=[(c, c) for c in CHANNELS], required=False)
    # Issue 18 (docs/rules/segments.md, "Segment rule keys").
    bought_product = BoughtProductRule(required=False)
    bought_category = BoughtCategoryRule(required=False)
    not_bought_category_days = NotBoughtCategoryRule(required=False)
    favourite_category = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Category codes (a category under one counts)."
    )
    colour = serializers.ListField(child=serializers.CharField(), required=False, help_text="Any of these colours.")
    style = serializers.ListField(child=serializers.CharField(), required=False, help_text="Any of these styles.")
    preferred_channel = serializers.ListField(child=serializers.CharField(), required=False)
    churn_risk_min = serializers.FloatField(
        min_value=0, max_value=1, required=False, help_text="A fraction: 0.6 = 60%."
    )
    churn_risk_max = serializers.FloatField(min_value=0, max_value=1, required=False, help_text="A fraction.")
    clv_min = serializers.DecimalField(max_digits=14, decimal_places=2, required=False)
    clv_max = serializers.DecimalField(max_digits=14, decimal_places=2, required=False)
    predicted_purchases_min = serializers.FloatField(min_value=0, required=False)
    important_date_within_days = serializers.IntegerField(min_value=0, max_value=366, required=False)
    has_valid_coupon = serializers.BooleanField(required=False)
    points_balance_min = serializers.IntegerField(min_value=0, required=False)
    points_balance_max = serializers.IntegerField(min_value=0, required=False)
    points_expiring_within_days = PointsExpiringRule(
        required=False, help_text="A number of days is accepted too (min_points 1)."
    )
    paid_plan = serializers.BooleanField(required=False)
    stored_value_balance_min = serializers.DecimalField(max_digits=14, decimal_places=2, required=False)
    event_attended = EventAttendedRule(required=False, help_text="Checked in at a member event; `true` is any, ever.")


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
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

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


class ResultsQuerySerializer(serializers.Serializer):
    window_days = serializers.IntegerField(
        min_value=1, max_value=365, required=False, default=30, help_text=_("Days after the send a purchase counts.")
    )


class GroupOutcomeSerializer(serializers.Serializer):
    members = serializers.IntegerField()
    repurchasers = serializers.IntegerField(help_text=_("Members who bought within the window."))
    repurchase_rate = serializers.FloatField(allow_null=True)
    revenue = serializers.DecimalField(max_digits=16, decimal_places=2, help_text=_("Paid net of refunds."))


class CampaignResultsSerializer(serializers.Serializer):
    """`campaigns.results.Results`: see that module for the attribution rule and the formulas."""

    campaign = serializers.IntegerField(source="campaign_id")
    window_days = serializers.IntegerField()
    audience = serializers.IntegerField()
    sent = serializers.IntegerField(help_text=_("Handed to the channel (accepted + in doubt)."))
    accepted = serializers.IntegerField(help_text=_("Accepted by the provider."))
    delivered = serializers.IntegerField(help_text=_("Reported delivered by the provider's receipt (SMS, WeChat)."))
    undelivered = serializers.IntegerField(help_text=_("Reported not delivered by the provider's receipt."))
    delivery_rate = serializers.FloatField(
        allow_null=True, help_text=_("delivered / accepted; null until a receipt came.")
    )
    failed = serializers.IntegerField()
    in_doubt = serializers.IntegerField()
    pending = serializers.IntegerField()
    skipped = serializers.SerializerMethodField()
    opened = serializers.IntegerField(help_text=_("Email only: first opens (the pixel, or a click)."))
    clicked = serializers.IntegerField(help_text=_("Email only."))
    open_rate = serializers.FloatField(allow_null=True)
    click_rate = serializers.FloatField(allow_null=True)
    coupons_issued = serializers.IntegerField()
    coupons_redeemed = serializers.IntegerField()
    redemption_rate = serializers.FloatField(allow_null=True)
    points_given = serializers.IntegerField()
    points_cost = serializers.DecimalField(max_digits=16, decimal_places=2)
    coupon_cost = serializers.DecimalField(max_digits=16, decimal_places=2)
    cost = serializers.DecimalField(max_digits=16, decimal_places=2)
    recipients = GroupOutcomeSerializer()
    control = GroupOutcomeSerializer()
    lift = serializers.FloatField(
        allow_null=True, help_text=_("(recipients' repurchase rate − control's) / control's; null without a control.")
    )
    attributed_revenue = serializers.DecimalField(max_digits=16, decimal_places=2)
    roi = serializers.FloatField(allow_null=True, help_text=_("(attributed revenue − cost) / cost; null at no cost."))

    @extend_schema_field(SkippedSerializer)
    def get_skipped(self, results) -> dict:
        return {reason: results.skipped.get(reason, 0) for reason in SkipReason.values}


class PilotSerializer(serializers.Serializer):
    sample_pct = serializers.IntegerField(min_value=1, max_value=90, required=False, allow_null=True, default=None)
    classification = serializers.ChoiceField(choices=Classification.choices, required=False, default="")

    def validate(self, attrs):
        if bool(attrs.get("sample_pct")) == bool(attrs.get("classification")):
            raise serializers.ValidationError(_("Choose either a pilot share or a classification."))
        return attrs


class LaunchInputSerializer(serializers.Serializer):
    pilot = PilotSerializer(
        required=False,
        allow_null=True,
        default=None,
        help_text=_("Launch as a pilot on a random share of the audience or on one classification."),
    )


class ExpandedSerializer(serializers.Serializer):
    status = serializers.CharField()
    audience = serializers.IntegerField(help_text=_("Members added by the expansion."))
    control_group = serializers.IntegerField()


class MessageTemplateSerializer(serializers.ModelSerializer):
    """A provider-approved SMS or WeChat template (`campaigns.provider_templates` for the placeholder forms)."""

    variables = serializers.DictField(
        child=serializers.CharField(),
        required=False,
        help_text=_('Each placeholder of the text → a member field, e.g. {"name": "member.name"}.'),
    )

    class Meta:
        model = MessageTemplate
        fields = ["id", "name", "channel", "purpose", "provider_code", "sign_name", "text", "variables", "created_at"]
        read_only_fields = ["id", "created_at"]


class ChannelEstimateSerializer(serializers.Serializer):
    channel = serializers.CharField()
    recipients = serializers.IntegerField()
    segments = serializers.IntegerField(help_text=_("SMS per member (1 for WeChat and email)."))
    messages = serializers.IntegerField(help_text=_("Billed messages: recipients × segments."))
    cost = serializers.DecimalField(max_digits=16, decimal_places=2, help_text=_("CNY."))
    budget = serializers.IntegerField(help_text=_("The channel's daily budget; 0: no limit."))
    used_today = serializers.IntegerField()
    remaining_today = serializers.IntegerField(allow_null=True)
    over_budget = serializers.BooleanField()


class CostEstimateSerializer(serializers.Serializer):
    recipients = serializers.IntegerField()
    cost = serializers.DecimalField(max_digits=16, decimal_places=2, help_text=_("CNY."))
    price_per_segment = serializers.DecimalField(max_digits=8, decimal_places=4)
    over_budget = serializers.BooleanField()
    channels = ChannelEstimateSerializer(many=True)
