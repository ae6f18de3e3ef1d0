"""Catalogue, redemption, coupon and checkout API: thin views over `rewards.services` and selectors."""

from __future__ import annotations

import django_filters
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty_crm.api.permissions import ModelPermissions
from loyalty_crm.api.schema import conflict
from members.models import Member
from members.services import PurchaseLine
from rewards import selectors
from rewards.api.catalogue_serializers import (
    CancelInputSerializer,
    CancelOutputSerializer,
    CouponIssueInputSerializer,
    CouponRedeemInputSerializer,
    CouponSerializer,
    CouponTemplateSerializer,
    CouponValidateInputSerializer,
    CouponValidateOutputSerializer,
    QuoteInputSerializer,
    QuoteOutputSerializer,
    RedemptionCreatedSerializer,
    RedemptionInputSerializer,
    RedemptionSerializer,
    RewardSerializer,
)
from rewards.models import Coupon, CouponTemplate, Redemption, Reward, RewardKind
from rewards.services import catalogue as catalogue_services
from rewards.services import checkout as checkout_services
from rewards.services import coupons as coupon_services
from rewards.services import redemptions as redemption_services


def has_perm(codename: str) -> type[BasePermission]:
    """A permission class requiring one Django permission (e.g. "rewards.redeem_coupon")."""

    class HasPerm(BasePermission):
        def has_permission(self, request, view):
            return bool(request.user and request.user.is_authenticated and request.user.has_perm(codename))

    HasPerm.__name__ = f"Has_{codename.replace('.', '_')}"
    return HasPerm


# --- rewards --------------------------------------------------------------------------------


class RewardFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=RewardKind.choices)
    is_active = django_filters.BooleanFilter()
    member = django_filters.CharFilter(
        method="filter_member", label="Only rewards this member (member_no) could redeem now, points aside"
    )
    affordable = django_filters.BooleanFilter(
        method="filter_affordable", label="With member: only rewards whose points cost the balance covers"
    )

    class Meta:
        model = Reward
        fields = ["kind", "is_active", "member", "affordable"]

    def _member(self):
        member_no = self.data.get("member")
        if not member_no:
            return None
        member = Member.objects.filter(member_no=member_no).first()
        if member is None:
            raise ValidationError({"member": [_("No member has the number “%(value)s”.") % {"value": member_no}]})
        return member

    def filter_member(self, queryset, name, value):
        member = self._member()
        return selectors.rewards_available_to(queryset, member) if member else queryset

    def filter_affordable(self, queryset, name, value):
        member = self._member()
        if not value or member is None:
            return queryset
        return queryset.filter(points_cost__lte=selectors.points_summary(member).balance)


class RewardListCreateView(generics.ListCreateAPIView):
    """The catalogue. `POST` (managers): `{name, kind, points_cost, stock, …}` → 201 with `id`."""

    queryset = Reward.objects.select_related("min_tier").order_by("points_cost", "name", "id")
    serializer_class = RewardSerializer
    filterset_class = RewardFilter
    permission_classes = [ModelPermissions]

    def perform_create(self, serializer):
        serializer.instance = catalogue_services.create_reward(actor=self.request.user, **serializer.validated_data)


class RewardDetailView(generics.RetrieveUpdateAPIView):
    """`PATCH` (managers) changes only the fields sent, under the reward's row lock."""

    queryset = Reward.objects.select_related("min_tier")
    serializer_class = RewardSerializer
    permission_classes = [ModelPermissions]
    http_method_names = ["get", "patch", "head", "options"]

    def perform_update(self, serializer):
        serializer.instance = catalogue_services.update_reward(
            reward=serializer.instance, changes=dict(serializer.validated_data), actor=self.request.user
        )


# --- redemptions ----------------------------------------------------------------------------


class RedemptionFilter(django_filters.FilterSet):
    member = django_filters.CharFilter(field_name="member__member_no", label="member_no")
    status = django_filters.ChoiceFilter(choices=Redemption.Status.choices)

    class Meta:
        model = Redemption
        fields = ["member", "reward", "status"]


class RedemptionListCreateView(generics.ListAPIView):
    """`GET`: redemptions, newest first. `POST`: redeem a reward (idempotent on `idempotency_key`)."""

    queryset = Redemption.objects.none()  # permissions: view_ / add_redemption
    serializer_class = RedemptionSerializer
    filterset_class = RedemptionFilter
    permission_classes = [ModelPermissions]

    def get_queryset(self):
        return selectors.redemptions().order_by("-id")

    @extend_schema(
        request=RedemptionInputSerializer,
        responses={
            201: RedemptionCreatedSerializer,
            200: RedemptionCreatedSerializer,
            409: conflict(
                "insufficient_points",
                "out_of_stock",
                "reward_unavailable",
                "reward_limit_reached",
                "coupon_limit_reached",
                "idempotency_conflict",
                "member_erased",
            ),
        },
    )
    def post(self, request):
        data = RedemptionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = redemption_services.redeem_reward(actor=request.user, **data.validated_data)
        return Response(
            RedemptionCreatedSerializer(result).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class RedemptionDetailView(generics.RetrieveAPIView):
    queryset = Redemption.objects.none()
    serializer_class = RedemptionSerializer
    permission_classes = [ModelPermissions]

    def get_queryset(self):
        return selectors.redemptions()


class RedemptionCancelView(APIView):
    """Managers (`rewards.cancel_redemption`): points and stock go back, coupons are voided."""

    queryset = Redemption.objects.none()
    permission_classes = [has_perm("rewards.cancel_redemption")]

    @extend_schema(
        request=CancelInputSerializer,
        responses={
            200: CancelOutputSerializer,
            409: conflict("already_cancelled", "coupon_used"),
        },
    )
    def post(self, request, pk: int):
        redemption = get_object_or_404(Redemption, pk=pk)
        data = CancelInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = redemption_services.cancel_redemption(
            redemption=redemption, actor=request.user, reason=data.validated_data["reason"]
        )
        return Response(CancelOutputSerializer(result).data)


# --- coupons --------------------------------------------------------------------------------


class CouponFilter(django_filters.FilterSet):
    member = django_filters.CharFilter(field_name="member__member_no", label="member_no")
    status = django_filters.ChoiceFilter(choices=Coupon.Status.choices)

    class Meta:
        model = Coupon
        fields = ["member", "status", "template"]


class CouponListIssueView(generics.ListAPIView):
    """`GET`: coupons (filter by member). `POST` (`rewards.issue_coupon`): `{template, member}` → 201."""

    queryset = Coupon.objects.select_related("template", "member").order_by("-issued_at", "-id")
    serializer_class = CouponSerializer
    filterset_class = CouponFilter

    def get_permissions(self):
        if self.request.method == "POST":
            return [has_perm("rewards.issue_coupon")()]
        return [ModelPermissions()]

    @extend_schema(
        request=CouponIssueInputSerializer,
        responses={
            201: CouponSerializer,
            409: conflict("coupon_limit_reached", "coupon_template_unavailable", "member_erased"),
        },
    )
    def post(self, request):
        data = CouponIssueInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        coupon = coupon_services.issue_coupon(
            template=data.validated_data["template"],
            member=data.validated_data["member"],
            source=Coupon.Source.MANUAL,
            actor=request.user,
        )
        return Response(CouponSerializer(coupon).data, status=status.HTTP_201_CREATED)


class CouponValidateView(APIView):
    """Whether a member may use a code on an order of `order_total` now, and the discount. No writes."""

    queryset = Coupon.objects.none()
    permission_classes = [has_perm("rewards.view_coupon")]

    @extend_schema(request=CouponValidateInputSerializer, responses={200: CouponValidateOutputSerializer})
    def post(self, request):
        data = CouponValidateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        check = coupon_services.validate_coupon(**data.validated_data)
        return Response(
            CouponValidateOutputSerializer(
                {
                    "valid": check.valid,
                    "discount": check.discount,
                    "reason": check.reason,
                    "detail": check.detail,
                    "free_delivery": check.free_delivery,
                }
            ).data
        )


class CouponRedeemView(APIView):
    """Use a coupon on an order (`rewards.redeem_coupon`). 201 the first time, 200 for the same
    member and order again; 409 `coupon_invalid` (unknown code included) with the reason in `detail`."""

    queryset = Coupon.objects.none()
    permission_classes = [has_perm("rewards.redeem_coupon")]

    @extend_schema(
        request=CouponRedeemInputSerializer,
        responses={
            201: CouponSerializer,
            200: CouponSerializer,
            409: conflict("coupon_invalid", "member_erased"),
        },
    )
    def post(self, request, code: str):
        data = CouponRedeemInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        use = coupon_services.redeem_coupon(code=code, actor=request.user, **data.validated_data)
        return Response(
            CouponSerializer(use.coupon).data, status=status.HTTP_201_CREATED if use.created else status.HTTP_200_OK
        )


class CouponTemplateListView(generics.ListAPIView):
    queryset = CouponTemplate.objects.order_by("name", "id")
    serializer_class = CouponTemplateSerializer
    permission_classes = [ModelPermissions]
    filterset_fields = ["kind", "is_active"]


# --- checkout -------------------------------------------------------------------------------


class CheckoutQuoteView(APIView):
    """Price a basket: tier discount, then the coupon, then points paid, then points to earn (on
    the money only). `member` null prices a walk-in. Changes nothing."""

    queryset = Reward.objects.none()
    permission_classes = [IsAuthenticated, has_perm("rewards.view_reward")]

    @extend_schema(request=QuoteInputSerializer, responses={200: QuoteOutputSerializer})
    def post(self, request):
        data = QuoteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        code = (values.get("coupon_code") or "").strip()
        quote = checkout_services.quote_checkout(
            member=values["member"],
            items=[PurchaseLine(**item) for item in values["items"]],
            coupon_code=code or None,
            points_to_use=values["points_to_use"],
            tenders=values.get("tenders"),
        )
        coupon = None
        if quote.coupon is not None:
            coupon = {
                "code": coupon_services.normalise_code(code),
                "valid": quote.coupon.valid,
                "reason": quote.coupon.reason,
                "detail": quote.coupon.detail,
            }
        body = {
            "subtotal": quote.subtotal,
            "tier": quote.tier,
            "tier_discount": quote.tier_discount,
            "coupon_discount": quote.coupon_discount,
            "total": quote.total,
            "points_to_earn": quote.points_to_earn,
            "free_delivery": quote.free_delivery,
            "coupon": coupon,
            "points_balance": quote.points_balance,
            "points_max": quote.points_max,
            "points_used": quote.points_used,
            "points_value": quote.points_value,
            "amount_due": quote.amount_due,
            "points_message": quote.points_message,
            "tier_after": quote.tier_after,
            "stored_value_balance": quote.stored_value_balance,
            "stored_value_used": quote.stored_value_used,
            "stored_value_principal": quote.stored_value_principal,
            "stored_value_bonus": quote.stored_value_bonus,
            "stored_value_message": quote.stored_value_message,
        }
        return Response(QuoteOutputSerializer(body).data)
