"""The member's own profile, consents, purchases, tickets, data export and account closure, as a
JSON API under /api/v1/me/ (member sessions only: `Authorization: Member <token>`; a staff token
is refused). The same services and reads as the pages (`members.centre.views_profile`)."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty_crm.api.pagination import Pagination
from loyalty_crm.api.schema import conflict
from members import services
from members.centre import api_profile_serializers as s
from members.centre import profile_data
from members.centre.session import member_api_view_settings
from members.models import ConsentSource, Member

TAG = "member centre"


class MemberSessionScheme(OpenApiAuthenticationExtension):
    """How the schema names `Authorization: Member <token>` (from `POST /api/v1/me/session/`)."""

    target_class = "members.centre.session.MemberAuthentication"
    name = "memberSession"
    priority = -1  # a scheme the sign-in views declare with a higher priority wins

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Member <token>`: the token of a member-centre session.",
        }


class MeView(APIView):
    authentication_classes = member_api_view_settings()["authentication_classes"]
    permission_classes = member_api_view_settings()["permission_classes"]

    @property
    def member(self) -> Member:
        return self.request.auth


class MeProfileView(MeView):
    @extend_schema(tags=[TAG], operation_id="me_profile", responses=s.MeProfileSerializer)
    def get(self, request):
        return Response(s.MeProfileSerializer(self.member).data)

    @extend_schema(
        tags=[TAG],
        operation_id="me_profile_update",
        request=s.MeProfileUpdateSerializer,
        responses={200: s.MeProfileSerializer, 409: conflict("member_erased")},
        description="Name, email and gender; the birthday once (then only staff). The phone only staff change.",
    )
    def patch(self, request):
        serializer = s.MeProfileUpdateSerializer(data=request.data, context={"member": self.member})
        serializer.is_valid(raise_exception=True)
        member = services.update_member(
            member=self.member, change_reason=services.MEMBER_CENTRE_REASON, **serializer.validated_data
        )
        return Response(s.MeProfileSerializer(member).data)


def _consents_answer(member: Member) -> dict:
    channels = profile_data.consent_channels(member)
    return {
        **{channel.topic: channel.granted for channel in channels},
        "channels": [{"topic": c.topic, "granted": c.granted, "since": c.since} for c in channels],
        "history": profile_data.consent_history(member),
    }


class MeConsentsView(MeView):
    @extend_schema(tags=[TAG], operation_id="me_consents", responses=s.MeConsentsOutputSerializer)
    def get(self, request):
        return Response(s.MeConsentsOutputSerializer(_consents_answer(self.member)).data)

    @extend_schema(
        tags=[TAG],
        operation_id="me_consents_update",
        request=s.MeConsentsSerializer,
        responses=s.MeConsentsOutputSerializer,
        description="Grant or withdraw marketing consent per channel; a withdrawal takes effect at once "
        "and is written to the consent history (source `member_centre`).",
    )
    def patch(self, request):
        serializer = s.MeConsentsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.set_consents(
            member=self.member, consents=serializer.validated_data, source=ConsentSource.MEMBER_CENTRE
        )
        return Response(s.MeConsentsOutputSerializer(_consents_answer(self.member)).data)


class MePurchasesView(generics.ListAPIView):
    authentication_classes = MeView.authentication_classes
    permission_classes = MeView.permission_classes
    serializer_class = s.MePurchaseSerializer
    pagination_class = Pagination

    def get_queryset(self):
        return profile_data.member_purchases_queryset(self.request.auth)

    @extend_schema(tags=[TAG], operation_id="me_purchases")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class MeTicketsView(generics.ListAPIView):
    authentication_classes = MeView.authentication_classes
    permission_classes = MeView.permission_classes
    serializer_class = s.MeTicketSerializer
    pagination_class = Pagination

    def get_queryset(self):
        return profile_data.member_tickets_queryset(self.request.auth)

    @extend_schema(
        tags=[TAG], operation_id="me_tickets", description="The member's feedback tickets with staff replies."
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class MeExportView(MeView):
    @extend_schema(
        tags=[TAG],
        operation_id="me_export",
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="The member's full data (the export).")},
        description="Everything held about the member, as the staff export writes it; recorded on the profile.",
    )
    def get(self, request):
        data = profile_data.export_for_member(self.member)
        response = Response(data)
        response["Content-Disposition"] = f'attachment; filename="my-data-{self.member.member_no}.json"'
        response["Cache-Control"] = "private, no-store"
        return response


class MeClosureRequestView(MeView):
    @extend_schema(
        tags=[TAG],
        operation_id="me_closure_request",
        request=s.MeClosureRequestInputSerializer,
        responses={
            201: s.MeClosureRequestSerializer,
            200: s.MeClosureRequestSerializer,
            409: conflict("member_erased"),
        },
        description="Ask to close the account (erasure after staff confirm). Asking again while a request "
        "is open answers 200 with that request.",
    )
    def post(self, request):
        serializer = s.MeClosureRequestInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        existing = services.open_closure_request(self.member)
        closure = services.request_account_closure(
            member=self.member, reason=serializer.validated_data.get("reason", "")
        )
        answer = status.HTTP_200_OK if existing is not None else status.HTTP_201_CREATED
        return Response(s.MeClosureRequestSerializer(closure).data, status=answer)
