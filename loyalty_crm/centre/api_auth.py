"""Signing in to the member API (`/api/v1/me/`, issue 15): one-time codes, sessions, joining, terms.

`POST otp/`, `POST session/` and `POST join/` are open (only a member token is read, and none is
needed: a staff token is ignored and gains nothing here) but throttled per client address, besides the code's own limits
(`members.services.otp`). The token `session/` answers goes in `Authorization: Member <token>`;
`DELETE session/` and `terms/` need it. The answer to `otp/` is the same whether or not the phone
belongs to a member: only a proved phone learns that (`not_a_member`, 409).
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from loyalty_crm.api import fields as api_fields
from loyalty_crm.api.schema import conflict
from loyalty_crm.centre.auth import MARKETING_TOPICS, member_for_phone
from loyalty_crm.centre.session import IsMember, MemberAuthentication, end_session, start_session
from loyalty_crm.netaddr import client_ip
from members import services
from members.models import ConsentSource, Member, MemberSession, OtpChallenge, TermsAcceptance


class MemberTokenScheme(OpenApiAuthenticationExtension):
    """The member API's `Authorization: Member <token>` in the OpenAPI schema."""

    target_class = "loyalty_crm.centre.session.MemberAuthentication"
    name = "memberToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Member <token>`, the token from `POST /api/v1/me/session/`.",
        }


# 429: the code limits answer `{code, detail}`, the throttle `{detail}`.
LIMITED = {
    "type": "object",
    "properties": {"code": {"type": "string"}, "detail": {"type": "string"}},
    "required": ["detail"],
}
# 400: `{code: "otp_invalid", detail}` or field errors (the project's ValidationError body).
INVALID = {"$ref": "#/components/schemas/ValidationError"}


class MemberSignInThrottle(AnonRateThrottle):
    """Per client address (trusted proxies only, `loyalty_crm.netaddr`): a bound on guessing."""

    scope = "member_sign_in"
    rate = "60/hour"

    def get_ident(self, request):
        return client_ip(request)

    def allow_request(self, request, view):
        self.rate = settings.MEMBER_SIGN_IN_THROTTLE_RATE
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)


class OpenView(APIView):
    # Only a member token is read (a bad one is 401); a staff token is ignored and gains nothing.
    authentication_classes = [MemberAuthentication]
    permission_classes = [AllowAny]
    throttle_classes = [MemberSignInThrottle]


def _code_error(detail: str, code: str, status_code: int) -> Response:
    return Response({"code": code, "detail": detail}, status=status_code)


def _otp_invalid() -> Response:
    return _code_error(_("This code is wrong or has expired. Check the SMS or ask for a new code."), "otp_invalid", 400)


class MemberSummarySerializer(serializers.Serializer):
    member_no = serializers.CharField()
    name = serializers.CharField()


class SessionOutputSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send it as `Authorization: Member <token>`.")
    expires_at = api_fields.DateTimeField()
    member = MemberSummarySerializer()


def _session_answer(member: Member, *, status_code: int = 201) -> Response:
    token = start_session(member, source=MemberSession.Source.API)
    expires_at = timezone.now() + datetime.timedelta(seconds=settings.MEMBER_SESSION_MAX_AGE_SECONDS)
    body = {"token": token, "expires_at": expires_at, "member": {"member_no": member.member_no, "name": member.name}}
    return Response(SessionOutputSerializer(body).data, status=status_code)


class PhoneField(serializers.CharField):
    def __init__(self, **kwargs):
        super().__init__(max_length=32, **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        try:
            return services.otp.phone_key(value)
        except ValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None


class CodeField(serializers.RegexField):
    def __init__(self, **kwargs):
        super().__init__(r"^[0-9]{6}$", max_length=6, **kwargs)


class MemberOtpInputSerializer(serializers.Serializer):
    phone = PhoneField()


class MemberOtpOutputSerializer(serializers.Serializer):
    sent = serializers.BooleanField()
    retry_after = serializers.IntegerField(help_text="Seconds until another code may be asked for.")


class MeOtpView(OpenView):
    InputSerializer = MemberOtpInputSerializer
    OutputSerializer = MemberOtpOutputSerializer

    @extend_schema(
        summary="Send a sign-in code by SMS",
        description="Sends a 6-digit code, valid 5 minutes, to any valid phone (member or not: the answer "
        "is the same). At most one code a minute and 10 an hour per phone, and a limit per client address: "
        "429 with `code` (`otp_too_soon`, `otp_hourly_limit`, `otp_address_limit`) and `Retry-After`.",
        request=InputSerializer,
        responses={
            202: OutputSerializer,
            429: OpenApiResponse(LIMITED, description="A code limit or the throttle; see Retry-After."),
        },
        tags=["member centre"],
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            sent = services.request_code(
                data.validated_data["phone"], purpose=OtpChallenge.Purpose.SIGN_IN, client_ip=client_ip(request)
            )
        except services.OtpRefused as exc:
            response = _code_error(exc.detail, exc.code, 429)
            response["Retry-After"] = str(exc.retry_after)
            return response
        return Response(
            self.OutputSerializer({"sent": True, "retry_after": sent.retry_after}).data, status=status.HTTP_202_ACCEPTED
        )


class SessionInputSerializer(serializers.Serializer):
    phone = PhoneField()
    code = CodeField()


class MeSessionView(APIView):
    """POST: open (a code proves the phone); DELETE: the member's own session."""

    throttle_classes = [MemberSignInThrottle]

    def _is_delete(self) -> bool:
        return getattr(getattr(self, "request", None), "method", "") == "DELETE"

    authentication_classes = [MemberAuthentication]

    def get_permissions(self):
        return [IsMember()] if self._is_delete() else [AllowAny()]

    def get_throttles(self):
        return [] if self._is_delete() else super().get_throttles()

    terms_exempt = True  # signing out works before accepting new terms

    @extend_schema(
        summary="Sign in with a code",
        request=SessionInputSerializer,
        responses={
            201: SessionOutputSerializer,
            400: OpenApiResponse(INVALID, description="`{code: otp_invalid, detail}`, or field errors."),
            409: conflict("not_a_member"),
        },
        tags=["member centre"],
    )
    def post(self, request):
        data = SessionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        phone = data.validated_data["phone"]
        if not services.verify_code(phone, data.validated_data["code"]):
            return _otp_invalid()
        member = member_for_phone(phone)
        if member is None or member.status != Member.Status.ACTIVE:
            return _code_error(
                _("This phone is not a member. Join with POST /api/v1/me/join/ (ask for a new code first)."),
                "not_a_member",
                409,
            )
        return _session_answer(member)

    @extend_schema(summary="Sign out (ends the session)", request=None, responses={204: None}, tags=["member centre"])
    def delete(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "").split()
        end_session(header[1] if len(header) == 2 else "")
        return Response(status=status.HTTP_204_NO_CONTENT)


class ConsentsInputSerializer(serializers.Serializer):
    marketing_sms = serializers.BooleanField(required=False, default=False)
    marketing_email = serializers.BooleanField(required=False, default=False)
    marketing_wechat = serializers.BooleanField(required=False, default=False)


class MemberJoinInputSerializer(serializers.Serializer):
    phone = PhoneField()
    code = CodeField()
    name = serializers.CharField(max_length=100)
    accept_terms = serializers.BooleanField(
        help_text="Must be true: the member accepts the current terms and privacy notice."
    )
    consents = ConsentsInputSerializer(required=False, help_text="Optional marketing consent, per channel.")
    email = serializers.EmailField(required=False, allow_blank=True)
    birthday = api_fields.DateField(required=False, allow_null=True)
    store = serializers.CharField(required=False, allow_blank=True, max_length=32, help_text="Store code.")

    def validate_accept_terms(self, value):
        if value is not True:
            raise serializers.ValidationError(_("Accept the terms of membership and the privacy notice to join."))
        return value

    def validate_name(self, value):
        if not value.strip():
            raise serializers.ValidationError(_("Enter your name."))
        return value.strip()

    def validate_birthday(self, value):
        if value and not (datetime.date(1900, 1, 1) <= value <= timezone.localdate()):
            raise serializers.ValidationError(_("Enter your real birthday."))
        return value


class MeJoinView(OpenView):
    InputSerializer = MemberJoinInputSerializer

    @extend_schema(
        summary="Join (become a member) with a code",
        description="201 with a session, as `POST session/`. A phone that is a member already signs in "
        "instead (200, never a duplicate).",
        request=InputSerializer,
        responses={
            200: SessionOutputSerializer,
            201: SessionOutputSerializer,
            400: OpenApiResponse(INVALID, description="`{code: otp_invalid, detail}`, or field errors."),
            409: conflict("terms_not_current", "member_suspended"),
        },
        tags=["member centre"],
    )
    def post(self, request):
        from members.models import Store

        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        store = None
        if values.get("store"):
            store = Store.objects.filter(code=values["store"], is_active=True).first()
            if store is None:
                unknown = _("Unknown store “%(code)s”.") % {"code": values["store"]}
                raise serializers.ValidationError({"store": [unknown]})
        phone = values["phone"]
        if not services.verify_code(phone, values["code"]):
            return _otp_invalid()
        existing = member_for_phone(phone)
        if existing is not None:
            if existing.status != Member.Status.ACTIVE:
                return _code_error(_("This membership is suspended. Please ask at a store."), "member_suspended", 409)
            return _session_answer(existing, status_code=200)
        consents = values.get("consents") or {}
        with transaction.atomic():
            member = services.create_member(
                name=values["name"],
                phone=phone,
                email=values.get("email") or None,
                birthday=values.get("birthday"),
                home_store=store,
                consents={topic: bool(consents.get(topic, False)) for topic in MARKETING_TOPICS},
                source_channel=Member.SourceChannel.QR_STORE if store else Member.SourceChannel.API,
                consent_source=ConsentSource.MEMBER_CENTRE,
            )
            services.accept_terms(
                member=member,
                versions=services.current_terms(),
                source=TermsAcceptance.Source.API,
                client_ip=client_ip(request),
            )
        return _session_answer(member)


class TermsVersionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    version = serializers.CharField()
    title = serializers.CharField()
    text = serializers.CharField()
    published_at = api_fields.DateTimeField()


class MemberTermsInputSerializer(serializers.Serializer):
    versions = serializers.ListField(
        child=serializers.IntegerField(min_value=1), allow_empty=False, max_length=10, help_text="Version ids."
    )


class MemberTermsOutputSerializer(serializers.Serializer):
    pending = TermsVersionSerializer(many=True, help_text="Current versions the member has not accepted yet.")


class MeTermsView(APIView):
    authentication_classes = [MemberAuthentication]
    permission_classes = [IsMember]
    terms_exempt = True
    InputSerializer = MemberTermsInputSerializer
    OutputSerializer = MemberTermsOutputSerializer

    @extend_schema(summary="Terms still to accept", responses={200: OutputSerializer}, tags=["member centre"])
    def get(self, request):
        from members.models import TermsVersion

        pending = services.pending_terms(request.auth)
        full = TermsVersion.objects.filter(pk__in=[v.pk for v in pending]).order_by("kind")
        return Response(self.OutputSerializer({"pending": full}).data)

    @extend_schema(
        summary="Accept the current terms and privacy notice",
        request=InputSerializer,
        responses={200: OutputSerializer, 409: conflict("terms_not_current")},
        tags=["member centre"],
    )
    def post(self, request):
        from members.models import TermsVersion

        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ids = set(data.validated_data["versions"])
        versions = list(TermsVersion.objects.filter(pk__in=ids, published_at__isnull=False))
        if len(versions) != len(ids):
            raise serializers.ValidationError({"versions": [_("Unknown version.")]})
        services.accept_terms(
            member=request.auth, versions=versions, source=TermsAcceptance.Source.API, client_ip=client_ip(request)
        )
        pending = services.pending_terms(request.auth)
        full = TermsVersion.objects.filter(pk__in=[v.pk for v in pending]).order_by("kind")
        return Response(self.OutputSerializer({"pending": full}).data)
