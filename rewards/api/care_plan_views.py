"""Care-plan API: plans, sales and claims — thin views over `rewards.services.care_plans`."""

from __future__ import annotations

import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty_crm.api.permissions import ModelPermissions
from loyalty_crm.api.schema import conflict
from rewards.api.care_plan_serializers import (
    CarePlanCancelInputSerializer,
    CarePlanClaimInputSerializer,
    CarePlanClaimSerializer,
    CarePlanSaleInputSerializer,
    CarePlanSaleSerializer,
    CarePlanSerializer,
)
from rewards.api.catalogue_views import has_perm
from rewards.models import CarePlan, CarePlanSale
from rewards.services import care_plans as care_plan_services


class CarePlanListCreateView(generics.ListCreateAPIView):
    """The plans. `POST` (managers): a new plan with the products (SKUs) or categories (codes) it
    may be sold with → 201 with `id`."""

    queryset = CarePlan.objects.prefetch_related("products", "categories").order_by("name", "id")
    serializer_class = CarePlanSerializer
    filterset_fields = ["is_active"]
    permission_classes = [ModelPermissions]

    def perform_create(self, serializer):
        serializer.instance = care_plan_services.create_care_plan(actor=self.request.user, **serializer.validated_data)


class CarePlanDetailView(generics.RetrieveAPIView):
    queryset = CarePlan.objects.prefetch_related("products", "categories")
    serializer_class = CarePlanSerializer
    permission_classes = [ModelPermissions]


class CarePlanSaleFilter(django_filters.FilterSet):
    member = django_filters.CharFilter(field_name="member__member_no", label="member_no")

    class Meta:
        model = CarePlanSale
        fields = ["member", "plan"]


class CarePlanSaleListCreateView(generics.ListAPIView):
    """`GET`: plans sold, newest first. `POST`: sell a plan for a member's purchase line (idempotent
    on `idempotency_key`: 201 the first time, 200 with the same answer on a retry)."""

    queryset = CarePlanSale.objects.none()  # permissions: view_ / add_careplansale
    serializer_class = CarePlanSaleSerializer
    filterset_class = CarePlanSaleFilter
    permission_classes = [ModelPermissions]

    def get_queryset(self):
        return CarePlanSale.objects.select_related("member", "plan", "product").order_by("-created_at", "-id")

    @extend_schema(
        request=CarePlanSaleInputSerializer,
        responses={
            201: CarePlanSaleSerializer,
            200: CarePlanSaleSerializer,
            409: conflict(
                "product_not_covered",
                "sale_window_closed",
                "plan_not_on_sale",
                "already_covered",
                "purchase_required",
                "care_plan_cancelled",
                "idempotency_conflict",
                "member_erased",
            ),
        },
    )
    def post(self, request):
        data = CarePlanSaleInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = care_plan_services.sell_care_plan(actor=request.user, **data.validated_data)
        return Response(
            CarePlanSaleSerializer(result.sale).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class CarePlanSaleDetailView(generics.RetrieveAPIView):
    queryset = CarePlanSale.objects.none()
    serializer_class = CarePlanSaleSerializer
    permission_classes = [ModelPermissions]

    def get_queryset(self):
        return CarePlanSale.objects.select_related("member", "plan", "product")


class CarePlanSaleCancelView(APIView):
    """Cancel a sold plan before any claim and record its price as refunded
    (`rewards.cancel_careplansale`, managers): 200 with the sale; the same again → 200 with it
    unchanged; 409 `care_plan_claimed` once a claim was made."""

    permission_classes = [IsAuthenticated, has_perm("rewards.cancel_careplansale")]

    @extend_schema(
        request=CarePlanCancelInputSerializer,
        responses={200: CarePlanSaleSerializer, 409: conflict("care_plan_claimed")},
    )
    def post(self, request, pk: int):
        sale = get_object_or_404(CarePlanSale, pk=pk)
        data = CarePlanCancelInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = care_plan_services.cancel_care_plan_sale(
            sale=sale, reason=data.validated_data["reason"], actor=request.user
        )
        sale = CarePlanSale.objects.select_related("member", "plan", "product").get(pk=result.sale.pk)
        return Response(CarePlanSaleSerializer(sale).data, status=status.HTTP_200_OK)


class CarePlanClaimCreateView(APIView):
    """Open a claim under a sold plan (`rewards.add_careplanclaim`, support and managers): 201 with
    the claim and its service record; 200 for a retry with the same key; 409 with the reason."""

    permission_classes = [IsAuthenticated, has_perm("rewards.add_careplanclaim")]

    @extend_schema(
        request=CarePlanClaimInputSerializer,
        responses={
            201: CarePlanClaimSerializer,
            200: CarePlanClaimSerializer,
            409: conflict(
                "plan_expired",
                "plan_not_started",
                "no_claims_left",
                "product_not_covered",
                "purchase_required",
                "care_plan_cancelled",
                "idempotency_conflict",
                "member_erased",
            ),
        },
    )
    def post(self, request, pk: int):
        sale = get_object_or_404(CarePlanSale, pk=pk)
        data = CarePlanClaimInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        product = values.pop("sku", None)
        result = care_plan_services.claim_care_plan(
            sale=sale, product=product, store=_store(request.user), actor=request.user, **values
        )
        return Response(
            CarePlanClaimSerializer(result.claim).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


def _store(user):
    profile = getattr(user, "staff_profile", None)
    return profile.store if profile is not None else None
