from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from feedback.images import MAX_PHOTOS
from feedback.models import ReplyDelivery, Ticket, TicketEvent, Topic
from feedback.services.replies import MAX_CALL_NOTE
from loyalty_crm.api import fields as api_fields
from members.masking import mask_email, mask_phone


class FeedbackInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Ticket.Kind.choices)
    message = serializers.CharField(max_length=2000, trim_whitespace=True)
    contact_name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    email = serializers.CharField(max_length=254, required=False, allow_blank=True, default="")
    member_no = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    purchase_ref = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    store = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Ticket._meta.get_field("store").related_model.objects.filter(is_active=True),
        required=False,
        allow_null=True,
        default=None,
    )

    # Schema components "TicketRequest"/"PatchedTicketRequest" beside "Ticket": drf-spectacular then
    # names the enums TicketKindEnum/TicketStatusEnum instead of colliding with members' "kind"/"status".
    class Meta:
        ref_name = "Ticket"

    photos = serializers.ListField(
        child=serializers.FileField(),
        required=False,
        default=list,
        max_length=None,
        help_text=f"Up to {MAX_PHOTOS} images (JPEG, PNG, WebP; 5 MB each), multipart only.",
    )


class FeedbackOutputSerializer(serializers.Serializer):
    ticket_no = serializers.CharField()


class ReplyDeliverySerializer(serializers.ModelSerializer):
    """How a reply went out: `channel` (email, sms, wechat; empty when nothing could deliver it) and
    `status` (pending, sending, sent, failed, in_doubt, not_sendable), with the provider's error."""

    class Meta:
        model = ReplyDelivery
        fields = ["id", "channel", "status", "error_code", "error_reason", "attempts", "sent_at"]
        read_only_fields = fields


class TicketEventSerializer(serializers.ModelSerializer):
    """One entry of a ticket's history: `body` in the request's language (`feedback.event_texts`),
    beside the code and parameters that were stored and the text a person typed (`note`); a
    reply carries its `delivery` (null for other entries and for replies older than deliveries)."""

    body = serializers.CharField(source="body_text", read_only=True)
    note = serializers.CharField(source="body", read_only=True)
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    delivery = serializers.SerializerMethodField()

    class Meta:
        model = TicketEvent
        fields = [
            "at", "kind", "from_status", "to_status", "body", "body_code", "body_params", "note", "actor", "delivery",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(ReplyDeliverySerializer(allow_null=True))
    def get_delivery(self, event):
        if event.kind != TicketEvent.Kind.REPLY:
            return None
        delivery = getattr(event, "delivery", None)
        return ReplyDeliverySerializer(delivery).data if delivery is not None else None


class ReplyInputSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=5000, help_text="The reply to the customer.")
    record_only = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Record the reply although no channel can deliver it (else 409 `no_channel`). "
        "It does not count as a first response.",
    )


class ReplyOutputSerializer(serializers.Serializer):
    at = api_fields.DateTimeField()
    body = serializers.CharField()
    actor = serializers.CharField(allow_null=True)
    delivery = ReplyDeliverySerializer()


class CallInputSerializer(serializers.Serializer):
    called_at = api_fields.DateTimeField(
        required=False, allow_null=True, default=None, help_text="When the call took place; now when absent."
    )
    note = serializers.CharField(max_length=MAX_CALL_NOTE, required=False, allow_blank=True, default="")


class CallOutputSerializer(serializers.Serializer):
    at = api_fields.DateTimeField()
    note = serializers.CharField()
    actor = serializers.CharField(allow_null=True)
    first_response_at = api_fields.DateTimeField(allow_null=True)


class StaffTicketInputSerializer(FeedbackInputSerializer):
    """Staff record a ticket (`POST /api/v1/tickets/`): the feedback fields, the channel it came by,
    when the customer reached us and — for a call or chat typed in afterwards — when they were
    answered (the first response: the ticket is measured, not alarmed)."""

    channel = serializers.ChoiceField(choices=Ticket.Channel.choices, default=Ticket.Channel.API)
    contacted_at = api_fields.DateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="When the customer reached us (now when absent); not in the future.",
    )
    first_response_at = api_fields.DateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="When the customer was answered (a call picked up, a chat answered); not before `contacted_at`, "
        "not in the future.",
    )

    class Meta:
        ref_name = "StaffTicket"


class SlaSerializer(serializers.Serializer):
    """The ticket's service level (`feedback.sla.sla_status`): `breached` once a target was missed
    (at the due instant), `warning` inside the next target's warning window, `met` once the customer
    was answered in time, `ok` while waiting in time. `due_at`: the next target's due instant;
    `first_response_seconds`: how long the customer waited for an answer."""

    state = serializers.ChoiceField(choices=["met", "ok", "warning", "breached"])
    due_at = api_fields.DateTimeField(allow_null=True)
    first_response_seconds = serializers.IntegerField(allow_null=True)


class TicketTopicRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="topic_id")
    name = serializers.CharField(source="topic.display_name")


class TicketSerializer(serializers.ModelSerializer):
    member = serializers.SlugRelatedField(slug_field="member_no", read_only=True, allow_null=True)
    purchase = serializers.SlugRelatedField(slug_field="external_ref", read_only=True, allow_null=True)
    store = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    assignee = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    attachments = serializers.SerializerMethodField()
    contacted_at = api_fields.DateTimeField(read_only=True)
    first_response_at = api_fields.DateTimeField(read_only=True, allow_null=True)
    priority_reason = serializers.SerializerMethodField()
    sla = serializers.SerializerMethodField()
    topics = TicketTopicRefSerializer(source="ticket_topics", many=True, read_only=True)

    class Meta:
        model = Ticket
        fields = [
            "ticket_no", "kind", "channel", "priority", "priority_reason", "status", "message", "contact_name",
            "phone", "email", "member", "purchase", "store", "order_ref", "assignee", "attachments",
            "created_at", "updated_at", "contacted_at", "first_response_at", "resolved_at", "sla", "topics",
        ]  # fmt: skip
        read_only_fields = fields

    def get_priority_reason(self, ticket) -> str:
        """Why the ticket has its priority (the priority rules' names, in the request's language)."""
        from feedback.models import reason_display

        return reason_display(ticket.priority_reason)

    @extend_schema_field(SlaSerializer)
    def get_sla(self, ticket):
        from django.utils import timezone

        from feedback import sla

        now = self.context.get("now") or timezone.now()
        return SlaSerializer(sla.sla_status(ticket, now)).data

    def to_representation(self, ticket):
        data = super().to_representation(ticket)
        if self.context.get("with_history"):
            data["history"] = TicketEventSerializer(ticket.events.all(), many=True).data
        if self.context.get("mask_contact"):
            # Lists show the contact data masked, as the members lists do (PIPL 最小必要).
            data["phone"], data["email"] = mask_phone(ticket.phone), mask_email(ticket.email)
        return data

    def get_attachments(self, ticket) -> list[str]:
        from django.urls import reverse

        request = self.context.get("request")
        urls = [reverse("feedback:attachment", args=[a.pk]) for a in ticket.attachments.all()]
        return [request.build_absolute_uri(u) if request else u for u in urls]


class TicketUpdateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Ticket.Status.choices, required=False)
    priority = serializers.ChoiceField(choices=Ticket.Priority.choices, required=False)
    assignee = serializers.SlugRelatedField(
        slug_field="username",
        queryset=get_user_model().objects.filter(is_active=True, is_staff=True),
        required=False,
        allow_null=True,
    )

    class Meta:
        ref_name = "Ticket"

    note = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Recorded with a status change."
    )
    topics = serializers.PrimaryKeyRelatedField(
        queryset=Topic.objects.all(),
        many=True,
        required=False,
        help_text="The ticket's topics, exactly these (topic ids); a topic not active cannot be added.",
    )
