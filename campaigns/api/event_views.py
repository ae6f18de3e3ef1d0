"""Member events API: thin views over `campaigns.services.events` and its selectors."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.api.event_serializers import (
    CancelResultSerializer,
    EventInputSerializer,
    EventSerializer,
    RegistrationInputSerializer,
    RegistrationSerializer,
)
from campaigns.models import Event, EventRegistration
from campaigns.selectors import events as event_selectors
from campaigns.services import events as event_services
from loyalty_crm.api.schema import conflict

TAG = ["events"]
SIGNUP_CONFLICT = conflict("signup_closed", "not_eligible", "already_registered", "idempotency_conflict",
                           "insufficient_points")  # fmt: skip


def _registration_body(result) -> dict:
    registration = result.registration
    body = RegistrationSerializer(
        {
            "id": registration.pk,
            "event_id": registration.event_id,
            "member": registration.member,
            "status": registration.status,
            "position": result.position,
            "points_spent": registration.points_spent,
            "attended_at": registration.attended_at,
        }
    ).data
    if result.position is None:
        body.pop("position")
    return body


class EventListCreateView(generics.ListAPIView):
    """Events, soonest last, with `confirmed`, `waitlisted` and `seats_left`; POST creates one
    (Marketing and Managers)."""

    queryset = Event.objects.none()  # for the permission class: view / add event
    serializer_class = EventSerializer

    def get_queryset(self):
        return event_selectors.event_list().order_by("-starts_at", "-pk")

    @extend_schema(tags=TAG, request=EventInputSerializer, responses={201: EventSerializer})
    def post(self, request):
        data = EventInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        event = event_services.create_event(actor=request.user, **data.service_values())
        return Response(
            EventSerializer(event_selectors.event_list().get(pk=event.pk)).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(tags=TAG)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class EventDetailView(generics.RetrieveAPIView):
    queryset = Event.objects.none()
    serializer_class = EventSerializer

    @extend_schema(tags=TAG)
    def get(self, request, pk: int):
        return Response(EventSerializer(get_object_or_404(event_selectors.event_list(), pk=pk)).data)


class RegistrationCreateView(APIView):
    """Sign a member up: 201 confirmed or waitlisted (with `position`); 200 for a retry with the same key."""

    queryset = EventRegistration.objects.none()  # add event registration

    @extend_schema(
        tags=TAG,
        request=RegistrationInputSerializer,
        responses={201: RegistrationSerializer, 200: RegistrationSerializer, 409: SIGNUP_CONFLICT},
    )
    def post(self, request, pk: int):
        event = get_object_or_404(Event, pk=pk)
        data = RegistrationInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = event_services.register_member(
            event=event,
            member=data.validated_data["member"],
            idempotency_key=data.validated_data["idempotency_key"],
            source=EventRegistration.Source.API,
            actor=request.user,
        )
        return Response(_registration_body(result), status=status.HTTP_201_CREATED if result.created else 200)


class RegistrationCancelView(APIView):
    """Cancel a sign-up before the deadline: its points come back and the waitlist moves up."""

    queryset = EventRegistration.objects.none()

    @extend_schema(
        tags=TAG,
        request=None,
        responses={200: CancelResultSerializer, 403: OpenApiResponse(), 409: conflict("cancellation_closed")},
    )
    def post(self, request, pk: int, rid: int):
        if not request.user.has_perm("campaigns.add_eventregistration"):
            raise PermissionDenied()
        registration = get_object_or_404(EventRegistration, pk=rid, event_id=pk)
        result = event_services.cancel_registration(registration=registration, actor=request.user)
        body = {
            "id": result.registration.pk,
            "status": result.registration.status,
            "points_returned": result.points_returned,
            "promoted": [promoted.member.member_no for promoted in result.promoted],
        }
        return Response(CancelResultSerializer(body).data)
