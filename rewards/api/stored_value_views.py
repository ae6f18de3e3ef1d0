"""Stored-value API (储值卡): thin views that validate, call one service or selector, and render.

Writes answer 201 the first time, 200 with the first answer for a retry with the same
`external_ref`, 409 `idempotency_conflict` for a different request with it (docs/api.md).
"""

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty_crm.api.permissions import ModelPermissions
from loyalty_crm.api.schema import conflict
from members.models import Member
from rewards import selectors_stored_value as selectors
from rewards.api.stored_value_serializers import (
    CashOutInputSerializer,
    GiftClaimInputSerializer,
    GiftInputSerializer,
    GiftOutputSerializer,
    RuleQuerySerializer,
    TopUpInputSerializer,
    TopUpOutputSerializer,
    TopUpRuleSerializer,
    WalletAdjustInputSerializer,
    WalletChangeSerializer,
    WalletPaymentInputSerializer,
    WalletRefundInputSerializer,
    WalletSerializer,
)
from rewards.models import StoredValueAccount, TopUpRule
from rewards.services import stored_value

MEMBER_PARAM = OpenApiParameter("member_no", str, OpenApiParameter.PATH, description="The member's public number")


def _has(codename: str) -> type[BasePermission]:
    class HasPermission(BasePermission):
        def has_permission(self, request, view):
            return bool(request.user and request.user.is_authenticated and request.user.has_perm(codename))

    HasPermission.__name__ = f"Has_{codename.split('.')[-1]}"
    return HasPermission


def _member(member_no: str) -> Member:
    return get_object_or_404(Member, member_no=member_no)


def _answer(serializer_class, result) -> Response:
    return Response(
        serializer_class(result).data, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
    )


@extend_schema(parameters=[MEMBER_PARAM])
class WalletView(APIView):
    """The member's principal, bonus, total, the bonus that will lapse and the newest 50 ledger rows."""

    queryset = StoredValueAccount.objects.none()  # GET needs rewards.view_storedvalueaccount
    permission_classes = [ModelPermissions]

    @extend_schema(responses=WalletSerializer)
    def get(self, request, member_no: str):
        return Response(WalletSerializer(selectors.wallet(_member(member_no))).data)


@extend_schema(parameters=[MEMBER_PARAM])
class TopUpView(APIView):
    """Top up (money paid outside the system, `payment_method` says how), with a rule's bonus when
    `rule` is given. Store staff and managers (`rewards.top_up_stored_value`)."""

    permission_classes = [_has("rewards.top_up_stored_value")]

    @extend_schema(
        request=TopUpInputSerializer,
        responses={
            201: TopUpOutputSerializer,
            200: TopUpOutputSerializer,
            409: conflict("idempotency_conflict", "top_up_rule_unavailable", "member_erased"),
        },
    )
    def post(self, request, member_no: str):
        member = _member(member_no)
        data = TopUpInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = stored_value.top_up(member=member, actor=request.user, **data.validated_data)
        return _answer(TopUpOutputSerializer, result)


@extend_schema(parameters=[MEMBER_PARAM])
class PaymentView(APIView):
    """Pay from the balance (principal and bonus in proportion); 409 `insufficient_balance` writes
    nothing. `rewards.pay_stored_value` (store staff, managers)."""

    permission_classes = [_has("rewards.pay_stored_value")]

    @extend_schema(
        request=WalletPaymentInputSerializer,
        responses={
            201: WalletChangeSerializer,
            200: WalletChangeSerializer,
            409: conflict("idempotency_conflict", "insufficient_balance", "member_erased"),
        },
    )
    def post(self, request, member_no: str):
        member = _member(member_no)
        data = WalletPaymentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        purchase = data.validated_data.get("purchase")
        if purchase is not None and purchase.member_id != member.pk:
            raise ValidationError({"purchase": [_("This purchase is another member's.")]})
        result = stored_value.pay_from_balance(member=member, actor=request.user, **data.validated_data)
        return _answer(WalletChangeSerializer, result)


@extend_schema(parameters=[MEMBER_PARAM])
class RefundView(APIView):
    """Give back (part of) a payment to the balance, in the payment's proportion, never more than it
    took. `rewards.pay_stored_value`."""

    permission_classes = [_has("rewards.pay_stored_value")]

    @extend_schema(
        request=WalletRefundInputSerializer,
        responses={
            201: WalletChangeSerializer,
            200: WalletChangeSerializer,
            409: conflict("idempotency_conflict", "refund_exceeds_payment"),
        },
    )
    def post(self, request, member_no: str):
        member = _member(member_no)
        data = WalletRefundInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data["payment"].member_id != member.pk:
            raise ValidationError({"payment": [_("This payment is another member's.")]})
        result = stored_value.refund_to_balance(actor=request.user, **data.validated_data)
        return _answer(WalletChangeSerializer, result)


@extend_schema(parameters=[MEMBER_PARAM])
class CashOutView(APIView):
    """Pay the whole principal back (outside the system); the bonus lapses. Managers only
    (`rewards.cash_out_stored_value`)."""

    permission_classes = [_has("rewards.cash_out_stored_value")]

    @extend_schema(
        request=CashOutInputSerializer,
        responses={
            201: WalletChangeSerializer,
            200: WalletChangeSerializer,
            409: conflict("idempotency_conflict", "insufficient_balance"),
        },
    )
    def post(self, request, member_no: str):
        member = _member(member_no)
        data = CashOutInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = stored_value.cash_out(member=member, actor=request.user, **data.validated_data)
        return _answer(WalletChangeSerializer, result)


@extend_schema(parameters=[MEMBER_PARAM])
class AdjustView(APIView):
    """Correct the principal and/or bonus with a reason. Managers only (`rewards.adjust_stored_value`)."""

    permission_classes = [_has("rewards.adjust_stored_value")]

    @extend_schema(
        request=WalletAdjustInputSerializer,
        responses={
            201: WalletChangeSerializer,
            200: WalletChangeSerializer,
            409: conflict("idempotency_conflict", "insufficient_balance"),
        },
    )
    def post(self, request, member_no: str):
        member = _member(member_no)
        data = WalletAdjustInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = stored_value.adjust_balance(member=member, actor=request.user, **data.validated_data)
        return _answer(WalletChangeSerializer, result)


@extend_schema(parameters=[MEMBER_PARAM])
class GiftView(APIView):
    """The member buys a gift of their principal for a phone number; the answer carries the claim
    code (again for a retry). `rewards.top_up_stored_value`."""

    permission_classes = [_has("rewards.top_up_stored_value")]

    @extend_schema(
        request=GiftInputSerializer,
        responses={
            201: GiftOutputSerializer,
            200: GiftOutputSerializer,
            409: conflict("idempotency_conflict", "insufficient_balance", "member_erased"),
        },
    )
    def post(self, request, member_no: str):
        member = _member(member_no)
        data = GiftInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = stored_value.send_gift(buyer=member, actor=request.user, **data.validated_data)
        return _answer(GiftOutputSerializer, result)


@extend_schema(parameters=[MEMBER_PARAM])
class GiftClaimView(APIView):
    """The member claims a gift bought for their phone number, once. `rewards.top_up_stored_value`."""

    permission_classes = [_has("rewards.top_up_stored_value")]

    @extend_schema(
        request=GiftClaimInputSerializer,
        responses={
            201: WalletChangeSerializer,
            409: conflict("gift_unknown", "gift_already_claimed", "gift_not_yours", "member_erased"),
        },
    )
    def post(self, request, member_no: str):
        member = _member(member_no)
        data = GiftClaimInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = stored_value.claim_gift(member=member, actor=request.user, **data.validated_data)
        return _answer(WalletChangeSerializer, result)


@extend_schema(parameters=[RuleQuerySerializer])
class TopUpRuleListView(generics.ListAPIView):
    """Top-up rules on offer today, smallest top-up first; with `amount` (and `member`), the ones a
    top-up of that amount may use, the largest bonus first (what the till offers)."""

    queryset = TopUpRule.objects.none()  # GET needs rewards.view_topuprule
    permission_classes = [IsAuthenticated, ModelPermissions]
    serializer_class = TopUpRuleSerializer
    filter_backends = []
    pagination_class = None

    def get_queryset(self):
        query = RuleQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        amount = query.validated_data.get("amount")
        if amount is None:
            return selectors.rules_on_offer()
        member_no = query.validated_data.get("member")
        if member_no:
            return selectors.applicable_rules(_member(member_no), amount)
        return list(selectors.rules_on_offer().filter(pay_amount__lte=amount).order_by("-bonus_amount", "id"))
