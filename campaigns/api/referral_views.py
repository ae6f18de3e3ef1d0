"""API of the referral programme and partner codes (docs/api.md, campaigns section, extensions).

- `GET /api/v1/members/{member_no}/referrals/` — the member's referral code and the members they
  referred with each one's reward status (staff with `members.view_member` and
  `campaigns.view_referralreward`).
- `POST /api/v1/partner-codes/{code}/redeem/` — `{member, external_ref}`: accept a code a partner
  gave its customer; the member gets a coupon (source "partner") for the checkout quote and
  `coupons/{code}/redeem/`. 201 first, 200 for the same member and order again, 409
  `coupon_invalid` for an unknown, used, void or expired code (`campaigns.services.partners.accept_partner_code`).
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns import selectors
from campaigns.models import PartnerCode, ReferralReward
from campaigns.services import partners
from loyalty_crm.api import fields as api_fields
from loyalty_crm.api.schema import conflict
from members.models import Member
from rewards.api.catalogue_serializers import CouponSerializer
from rewards.api.serializers import MemberNoField


def has_perms(*codenames: str) -> type[BasePermission]:
    class HasPerms(BasePermission):
        def has_permission(self, request, view):
            user = request.user
            return bool(user and user.is_authenticated and user.has_perms(codenames))

    HasPerms.__name__ = "Has_" + "_".join(c.replace(".", "_") for c in codenames)
    return HasPerms


class ReferredMemberSerializer(serializers.Serializer):
    member_no = serializers.CharField()
    registered_at = api_fields.DateTimeField()
    status = serializers.ChoiceField(
        choices=[("pending", "pending"), *ReferralReward.Status.choices],
        help_text="pending: no purchase yet; rewarded; not_rewarded: first purchase while the programme was off.",
    )
    rewarded_at = api_fields.DateTimeField(allow_null=True)
    referrer_points = serializers.IntegerField()
    referred_points = serializers.IntegerField()


class ReferralsSerializer(serializers.Serializer):
    member_no = serializers.CharField()
    referral_code = serializers.CharField()
    referred_by = serializers.CharField(allow_null=True)
    referred_count = serializers.IntegerField()
    rewarded_count = serializers.IntegerField()
    referrals = ReferredMemberSerializer(many=True)


class MemberReferralsView(APIView):
    """The member's referral code and the members they referred, newest first, with the reward status."""

    queryset = ReferralReward.objects.none()
    permission_classes = [has_perms("members.view_member", "campaigns.view_referralreward")]

    @extend_schema(
        parameters=[OpenApiParameter("member_no", str, OpenApiParameter.PATH, description="The member's number")],
        responses={200: ReferralsSerializer, 404: OpenApiResponse(description="No member has this number.")},
    )
    def get(self, request, member_no: str):
        member = get_object_or_404(Member.objects.select_related("referred_by"), member_no=member_no)
        rows = selectors.referrals_of(member)
        body = {
            "member_no": member.member_no,
            "referral_code": member.referral_code,
            "referred_by": member.referred_by.member_no if member.referred_by else None,
            "referred_count": len(rows),
            "rewarded_count": sum(1 for row in rows if row.status == ReferralReward.Status.REWARDED),
            "referrals": rows,
        }
        return Response(ReferralsSerializer(body).data)


class PartnerCodeRedeemInputSerializer(serializers.Serializer):
    member = MemberNoField()
    external_ref = serializers.CharField(max_length=64, help_text="The order the code is used on.")


class PartnerCodeRedeemOutputSerializer(serializers.Serializer):
    partner = serializers.CharField(source="partner_code.pool.partner.name")
    partner_code = serializers.CharField(source="partner_code.code")
    external_ref = serializers.CharField(source="partner_code.external_ref")
    coupon = CouponSerializer()


class PartnerCodeRedeemView(APIView):
    """Accept a partner's code at checkout: it becomes the member's coupon (use its `coupon.code`
    in the checkout quote and to redeem). 201 the first time, 200 for the same member and order
    again; 409 `coupon_invalid` (unknown, used, void, expired, not yet valid)."""

    queryset = PartnerCode.objects.none()
    permission_classes = [has_perms("campaigns.accept_partner_code")]

    @extend_schema(
        parameters=[OpenApiParameter("code", str, OpenApiParameter.PATH, description="The partner's code")],
        request=PartnerCodeRedeemInputSerializer,
        responses={
            201: PartnerCodeRedeemOutputSerializer,
            200: PartnerCodeRedeemOutputSerializer,
            409: conflict("coupon_invalid", "coupon_template_unavailable", "coupon_limit_reached", "member_erased"),
        },
    )
    def post(self, request, code: str):
        data = PartnerCodeRedeemInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        use = partners.accept_partner_code(code=code, actor=request.user, **data.validated_data)
        return Response(
            PartnerCodeRedeemOutputSerializer(use).data,
            status=status.HTTP_201_CREATED if use.created else status.HTTP_200_OK,
        )
