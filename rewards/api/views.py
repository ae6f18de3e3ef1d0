"""Points API: thin views that validate, call one service or selector, and render."""

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty_crm.api.permissions import ModelPermissions
from loyalty_crm.api.schema import conflict
from members.models import Member, Purchase
from members.services import PurchaseLine
from rewards import selectors, services
from rewards.api.serializers import (
    AdjustInputSerializer,
    AdjustOutputSerializer,
    LedgerEntrySerializer,
    MembershipInputSerializer,
    MembershipPlanSerializer,
    MembershipSerializer,
    PointsSummarySerializer,
    PostingOutputSerializer,
    PreviewInputSerializer,
    PreviewOutputSerializer,
    PurchaseInputSerializer,
    RefundInputSerializer,
    RefundOutputSerializer,
    TierDetailSerializer,
    TierHistorySerializer,
)
from rewards.models import (
    EarnRule,
    LedgerEntry,
    MembershipPlan,
    MembershipSubscription,
    PointsAccount,
    PurchasePosting,
    PurchaseRefund,
    Tier,
    TierHistory,
)

MEMBER_PARAM = OpenApiParameter("member_no", str, OpenApiParameter.PATH, description="The member's public number")


class CanAdjustPoints(BasePermission):
    def has_permission(self, request, view):
        return bool(request.user and request.user.has_perm("rewards.adjust_points"))


class PurchasePostView(APIView):
    """Post a purchase: 201 the first time, 200 with the first answer for a retry, 409 on a
    reused `external_ref` with a different body."""

    queryset = PurchasePosting.objects.none()  # POST needs rewards.add_purchaseposting

    @extend_schema(
        request=PurchaseInputSerializer,
        responses={
            201: PostingOutputSerializer,
            200: PostingOutputSerializer,
            409: conflict(
                "idempotency_conflict", "member_erased", "insufficient_points", "coupon_invalid", "insufficient_balance"
            ),
        },
    )
    def post(self, request):
        data = PurchaseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if any(tender["amount"] for tender in values.get("tenders") or []) and not request.user.has_perm(
            "rewards.pay_stored_value"
        ):
            raise PermissionDenied(_("You may not take payment from a member's stored value."))
        result = services.post_purchase(
            member=values["member"],
            external_ref=values["external_ref"],
            ordered_at=values["ordered_at"],
            items=[PurchaseLine(**item) for item in values["items"]],
            store=values.get("store"),
            channel=values["channel"],
            payment_method=values["payment_method"],
            total=values.get("total"),
            coupon_code=(values.get("coupon_code") or "").strip() or None,
            points_to_use=values["points_to_use"],
            tenders=values.get("tenders"),
            actor=request.user,
        )
        return Response(
            PostingOutputSerializer(result).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class PurchaseRefundView(APIView):
    """Refund a purchase: all of it, an `amount`, or the goods of `lines` (their money share back
    as money, their points share back as points). 201 the first time, 200 for a retry."""

    queryset = PurchaseRefund.objects.none()  # POST needs rewards.add_purchaserefund

    @extend_schema(
        request=RefundInputSerializer,
        responses={
            201: RefundOutputSerializer,
            200: RefundOutputSerializer,
            409: conflict("idempotency_conflict", "already_refunded", "refund_exceeds_purchase"),
        },
    )
    def post(self, request, pk: int):
        purchase = get_object_or_404(Purchase, pk=pk)
        data = RefundInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.refund_purchase(
            purchase=purchase,
            external_ref=data.validated_data["external_ref"],
            amount=data.validated_data.get("amount"),
            lines=[(line["item"], line["quantity"]) for line in data.validated_data.get("lines") or []] or None,
            reason=data.validated_data["reason"],
            actor=request.user,
        )
        return Response(
            RefundOutputSerializer(result).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


@extend_schema(parameters=[MEMBER_PARAM])
class PointsSummaryView(APIView):
    queryset = PointsAccount.objects.none()  # GET needs rewards.view_pointsaccount

    @extend_schema(responses=PointsSummarySerializer)
    def get(self, request, member_no: str):
        member = get_object_or_404(Member, member_no=member_no)
        return Response(PointsSummarySerializer(selectors.points_summary(member)).data)


@extend_schema(parameters=[MEMBER_PARAM])
class LedgerView(generics.ListAPIView):
    """The member's ledger rows, newest first."""

    queryset = LedgerEntry.objects.none()  # GET needs rewards.view_ledgerentry
    serializer_class = LedgerEntrySerializer
    filter_backends = []

    def get_queryset(self):
        return selectors.ledger_for(get_object_or_404(Member, member_no=self.kwargs["member_no"]))


@extend_schema(parameters=[MEMBER_PARAM])
class TierHistoryView(generics.ListAPIView):
    """The member's tier changes, newest first, each with its reason and qualifying figure."""

    queryset = TierHistory.objects.none()  # GET needs rewards.view_tierhistory
    serializer_class = TierHistorySerializer
    filter_backends = []

    def get_queryset(self):
        return selectors.tier_history_for(get_object_or_404(Member, member_no=self.kwargs["member_no"]))


@extend_schema(parameters=[MEMBER_PARAM])
class PointsAdjustView(APIView):
    """Managers only (`rewards.adjust_points`); the reason is required and recorded."""

    queryset = LedgerEntry.objects.none()
    permission_classes = [ModelPermissions, CanAdjustPoints]

    @extend_schema(
        request=AdjustInputSerializer,
        responses={201: AdjustOutputSerializer, 409: conflict("insufficient_points", "member_erased")},
    )
    def post(self, request, member_no: str):
        member = get_object_or_404(Member, member_no=member_no)
        data = AdjustInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.adjust_points(member=member, actor=request.user, **data.validated_data)
        return Response(AdjustOutputSerializer(result).data, status=status.HTTP_201_CREATED)


class TierListView(generics.ListAPIView):
    """Tiers, lowest first, with thresholds and benefits (names translated)."""

    queryset = Tier.objects.order_by("rank")
    serializer_class = TierDetailSerializer
    filter_backends = []


class CanViewEarningRules(BasePermission):
    """The preview writes nothing: whoever may read the earning rules may ask it (POST carries a basket)."""

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.has_perm("rewards.view_earnrule"))


class PointsPreviewView(APIView):
    """The points a basket would earn and why: the rules, promotions and caps that applied.

    The same computation as purchase posting; nothing is written. With `member`, the member's
    tier, paid plan and what they earned that day count too."""

    queryset = EarnRule.objects.none()
    permission_classes = [CanViewEarningRules]

    @extend_schema(request=PreviewInputSerializer, responses={200: PreviewOutputSerializer})
    def post(self, request):
        data = PreviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        preview = services.preview_points(
            items=[PurchaseLine(**item) for item in values["items"]],
            total=values.get("total"),
            member=values.get("member"),
            store=values.get("store"),
            channel=values["channel"],
            ordered_at=values.get("ordered_at"),
        )
        return Response(PreviewOutputSerializer(preview).data)


class MembershipPlanListView(generics.ListAPIView):
    """Paid membership plans on sale, cheapest first (names translated)."""

    queryset = MembershipPlan.objects.filter(is_active=True).order_by("price", "id")
    serializer_class = MembershipPlanSerializer
    filter_backends = []


@extend_schema(parameters=[MEMBER_PARAM])
class MemberMembershipsView(generics.ListAPIView):
    """GET: the member's paid memberships, latest first. POST: sell a plan (a renewal starts when
    the current membership ends); idempotent on `external_ref` (201 first, 200 for a retry, 409
    `idempotency_conflict` for another member or plan, 409 `plan_not_on_sale`)."""

    queryset = MembershipSubscription.objects.none()  # GET: view_, POST: add_membershipsubscription
    serializer_class = MembershipSerializer
    filter_backends = []

    def get_queryset(self):
        return selectors.memberships_of(get_object_or_404(Member, member_no=self.kwargs["member_no"]))

    @extend_schema(
        request=MembershipInputSerializer,
        responses={
            201: MembershipSerializer,
            200: MembershipSerializer,
            409: conflict("idempotency_conflict", "plan_not_on_sale", "member_erased"),
        },
    )
    def post(self, request, member_no: str):
        member = get_object_or_404(Member, member_no=member_no)
        data = MembershipInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.buy_membership(
            member=member,
            plan=data.validated_data["plan"],
            external_ref=data.validated_data["external_ref"],
            actor=request.user,
        )
        subscription = selectors.memberships_of(member).get(pk=result.subscription.pk)
        return Response(
            MembershipSerializer(subscription).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )
