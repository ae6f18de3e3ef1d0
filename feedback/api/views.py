"""Feedback API (docs/api.md "Feedback"). Thin: validate, call one service, render."""

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from feedback import services
from feedback.api.serializers import (
    CallInputSerializer,
    CallOutputSerializer,
    FeedbackInputSerializer,
    FeedbackOutputSerializer,
    ReplyDeliverySerializer,
    ReplyInputSerializer,
    ReplyOutputSerializer,
    StaffTicketInputSerializer,
    TicketSerializer,
    TicketUpdateSerializer,
)
from feedback.models import ReplyDelivery, Ticket, TicketEvent, TicketTopic, Topic
from feedback.netaddr import client_ip
from loyalty_crm.api.schema import conflict

WORK_TICKETS = "feedback.change_ticket"
ADD_TICKETS = "feedback.add_ticket"


class FeedbackThrottle(AnonRateThrottle):
    """Anonymous submissions per client IP; DRF answers 429 with Retry-After."""

    scope = "feedback"
    rate = "10/hour"

    def get_ident(self, request):
        # DRF's own reading of X-Forwarded-For believes whatever the client sends; ours trusts
        # only TRUSTED_PROXIES (feedback.netaddr).
        return client_ip(request)


def _submit(request, data: dict, **how):
    """The one call of `submit_feedback` for the public endpoint and staff's tickets; `how` is the
    channel and, for staff, when the customer reached us and was answered."""
    return services.submit_feedback(
        kind=data["kind"],
        message=data["message"],
        contact_name=data["contact_name"],
        phone=data["phone"],
        email=data["email"],
        member_no=data["member_no"],
        purchase_ref=data["purchase_ref"],
        store=data["store"],
        photos=request.FILES.getlist("photos") if hasattr(request, "FILES") else [],
        language=getattr(request, "LANGUAGE_CODE", ""),
        actor=request.user,
        **how,
    )


class FeedbackSubmitView(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [FeedbackThrottle]

    @extend_schema(request=FeedbackInputSerializer, responses={201: FeedbackOutputSerializer})
    def post(self, request):
        serializer = FeedbackInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ticket = _submit(request, serializer.validated_data, channel=Ticket.Channel.API)
        return Response(FeedbackOutputSerializer(ticket).data, status=status.HTTP_201_CREATED)


class CanWorkTickets(BasePermission):
    """Support staff and managers: reading tickets needs the right to work them, not just view.
    Recording a new ticket (`POST`) needs the right to add one (store staff at the counter too)."""

    def has_permission(self, request, view):
        if getattr(view, "action", None) == "create":
            return request.user.has_perm(ADD_TICKETS)
        return request.user.has_perm(WORK_TICKETS)


class TicketFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=Ticket.Status.choices)
    kind = filters.MultipleChoiceFilter(choices=Ticket.Kind.choices)
    priority = filters.MultipleChoiceFilter(choices=Ticket.Priority.choices)
    store = filters.CharFilter(field_name="store__code")
    assignee = filters.CharFilter(field_name="assignee__username")
    unassigned = filters.BooleanFilter(field_name="assignee", lookup_expr="isnull")
    topic = filters.ModelMultipleChoiceFilter(
        field_name="topics",
        queryset=Topic.objects.all(),
        label="topic",
        help_text="Tickets with any of these topics (topic ids; repeat the parameter for several).",
    )

    class Meta:
        model = Ticket
        fields = []


class TicketViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    lookup_field = "ticket_no"
    serializer_class = TicketSerializer
    filterset_class = TicketFilter
    permission_classes = [IsAuthenticated, CanWorkTickets]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        tickets = Ticket.objects.select_related("member", "purchase", "store", "assignee").prefetch_related(
            "attachments",
            Prefetch("ticket_topics", TicketTopic.objects.select_related("topic").order_by("topic__name")),
        )
        if self.action != "list":
            # The detail carries the history (one query more, whatever its length).
            tickets = tickets.prefetch_related(
                Prefetch("events", TicketEvent.objects.select_related("actor", "delivery"))
            )
        return tickets

    def get_serializer_context(self):
        return {
            **super().get_serializer_context(),
            "mask_contact": self.action == "list",
            "with_history": self.action != "list",
        }

    @extend_schema(
        request=StaffTicketInputSerializer,
        responses={201: TicketSerializer},
        description="Staff record a ticket taken by phone, on WeChat, at the counter or elsewhere. "
        "`contacted_at` is when the customer reached us (now when absent); a call or chat typed in afterwards "
        "gives `first_response_at`, when the customer was answered, and is measured against the first-response "
        "target rather than alarmed. Both may not lie in the future, and the answer not before the contact "
        "(400 naming the field). Priority comes from the priority rules (`priority_reason` says why).",
    )
    def create(self, request):
        serializer = StaffTicketInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        ticket = _submit(
            request,
            data,
            channel=data["channel"],
            contacted_at=data["contacted_at"],
            first_response_at=data["first_response_at"],
        )
        created = self.get_queryset().get(pk=ticket.pk)
        return Response(TicketSerializer(created, context={"request": request}).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request, *args, **kwargs):
        ticket = self.get_object()
        data = self.get_serializer(ticket).data
        # The detail shows the customer's phone and email in clear (lists mask them): recorded.
        services.show_ticket_contact(
            user=request.user,
            ticket=ticket,
            channel=services.privacy.API_CHANNEL,
            path=request.path,
            client_ip=client_ip(request),
        )
        return Response(data)

    @extend_schema(
        request=TicketUpdateSerializer, responses={200: TicketSerializer, 409: conflict("invalid_transition")}
    )
    def partial_update(self, request, ticket_no=None):
        ticket = get_object_or_404(Ticket, ticket_no=ticket_no)
        serializer = TicketUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        changes = {field: data[field] for field in ("priority", "assignee", "status", "topics") if field in data}
        services.work_ticket(ticket=ticket, actor=request.user, **changes, note=data["note"])
        context = {"request": request, "with_history": True}
        return Response(TicketSerializer(self.get_queryset().get(pk=ticket.pk), context=context).data)

    # --- replies and calls ----------------------------------------------------------------

    @extend_schema(
        request=ReplyInputSerializer,
        responses={201: ReplyOutputSerializer, 409: conflict("no_channel")},
        description="Reply to the customer. The reply is recorded, then sent after commit on the one channel "
        "the ticket allows (email, else WeChat when the member's account is bound, else SMS with a link to the "
        "ticket's page); `delivery` says what happened (`sent`, `failed` with the provider's error, `in_doubt`, "
        "`pending` while queued). Only a sent reply stamps `first_response_at`. 409 `no_channel` when nothing "
        "can deliver it, unless `record_only` is true (then recorded as `not_sendable`).",
    )
    @action(detail=True, methods=["post"], url_path="replies")
    def replies(self, request, ticket_no=None):
        ticket = get_object_or_404(Ticket, ticket_no=ticket_no)
        serializer = ReplyInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        event = services.reply(ticket=ticket, body=data["body"], actor=request.user, record_only=data["record_only"])
        event = TicketEvent.objects.select_related("actor", "delivery").get(pk=event.pk)  # after the send
        return Response(_reply_data(event), status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses={200: ReplyDeliverySerializer, 409: conflict("not_retryable")},
        description="Send a failed reply again (sent at most once successfully; an in-doubt reply is not "
        "re-sent). 409 `not_retryable` for any status but `failed`.",
    )
    @action(detail=True, methods=["post"], url_path=r"replies/(?P<delivery_id>[0-9]{1,18})/retry")
    def retry_reply(self, request, ticket_no=None, delivery_id=None):
        failed = get_object_or_404(ReplyDelivery, pk=delivery_id, ticket__ticket_no=ticket_no)
        services.retry_reply(delivery=failed, actor=request.user)
        failed.refresh_from_db()
        return Response(ReplyDeliverySerializer(failed).data)

    @extend_schema(
        request=CallInputSerializer,
        responses={201: CallOutputSerializer},
        description="Record a phone call to the customer (time and a short note). The call is a first "
        "response: it stamps `first_response_at` with the call's time when there was none or it came earlier.",
    )
    @action(detail=True, methods=["post"], url_path="calls")
    def calls(self, request, ticket_no=None):
        ticket = get_object_or_404(Ticket, ticket_no=ticket_no)
        serializer = CallInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        event = services.record_call(ticket=ticket, actor=request.user, called_at=data["called_at"], note=data["note"])
        body = {
            "at": event.at,
            "note": event.body,
            "actor": request.user.get_username(),
            "first_response_at": ticket.first_response_at,
        }
        return Response(CallOutputSerializer(body).data, status=status.HTTP_201_CREATED)


def _reply_data(event: TicketEvent) -> dict:
    return ReplyOutputSerializer(
        {
            "at": event.at,
            "body": event.body,
            "actor": event.actor.get_username() if event.actor else None,
            "delivery": event.delivery,
        }
    ).data
