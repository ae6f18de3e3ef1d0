"""The member-scoped events API (`/api/v1/me/events/…`): the same selectors and services as
/m/events/ (loyalty_crm.centre.views_events), for the signed-in member only."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from campaigns.api.event_serializers import MeEventsSerializer, MeSignUpSerializer
from campaigns.models import Event, EventRegistration
from campaigns.selectors import events as event_selectors
from campaigns.services import events as event_services
from loyalty_crm.api.schema import conflict
from loyalty_crm.centre.api_pages import TAG, MeAPIView


class MeEventsView(MeAPIView):
    @extend_schema(tags=TAG, responses=MeEventsSerializer, summary="Events the member may come to, and their sign-ups")
    def get(self, request):
        member = self.member
        upcoming = event_selectors.upcoming_events()
        allowed = event_selectors.events_member_may_attend(upcoming, member)
        registrations = list(event_selectors.member_registrations(member)[:30])
        active = {r.event_id: r.pk for r in registrations if r.status != EventRegistration.Status.CANCELLED}
        now = timezone.now()
        events = [
            {
                "event": event,
                "place": event.address or (event.store.name if event.store else ""),
                "seats_left": event_selectors.seats_left(event),
                "open": event_services.signup_refusal(event, now) is None,
                "registration": active.get(event.pk),
            }
            for event in upcoming
            if event.pk in allowed or event.pk in active
        ]
        return Response(MeEventsSerializer({"events": events, "registrations": registrations}).data)


class MeEventSignUpView(MeAPIView):
    @extend_schema(
        tags=TAG,
        request=MeSignUpSerializer,
        responses={
            201: None,
            200: None,
            409: conflict("signup_closed", "not_eligible", "already_registered", "insufficient_points"),
        },
        summary="Sign the member up (confirmed or waitlisted)",
    )
    def post(self, request, pk: int):
        event = get_object_or_404(Event, pk=pk)
        data = MeSignUpSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = event_services.register_member(
            event=event,
            member=self.member,
            idempotency_key=f"m{self.member.pk}-{data.validated_data['idempotency_key']}",
            source=EventRegistration.Source.CENTRE,
        )
        body = {"id": result.registration.pk, "status": result.registration.status}
        if result.position is not None:
            body["position"] = result.position
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


class MeRegistrationCancelView(MeAPIView):
    @extend_schema(
        tags=TAG, request=None, responses={200: None, 409: conflict("cancellation_closed")}, summary="Cancel a sign-up"
    )
    def post(self, request, rid: int):
        registration = get_object_or_404(EventRegistration, pk=rid, member=self.member)
        result = event_services.cancel_registration(registration=registration)
        return Response({"id": result.registration.pk, "status": result.registration.status,
                         "points_returned": result.points_returned})  # fmt: skip
