"""The member's care plans in the member centre: the page `/m/care-plans/` and
`GET /api/v1/me/care-plans/`, both from `rewards.selectors_care_plans.member_care_plans` (one
query): each plan with its product, what it covers, until when and the claims left."""

from __future__ import annotations

from django.shortcuts import render
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from loyalty_crm.api.fields import DateField
from loyalty_crm.centre.api_pages import TAG, MeAPIView
from loyalty_crm.centre.session import member_required
from rewards import selectors_care_plans


class MeCarePlanSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="sale.pk")
    plan = serializers.CharField(source="sale.plan.name")
    coverage = serializers.CharField(source="sale.plan.coverage")
    product = serializers.SerializerMethodField()
    starts_on = DateField(source="sale.starts_on")
    ends_on = DateField(source="sale.ends_on")
    active = serializers.BooleanField()
    status = serializers.ChoiceField(
        source="sale.status",
        choices=["active", "cancelled"],
        help_text="`cancelled`: cancelled and refunded, it covers nothing (shown with the ended plans).",
    )
    days_left = serializers.IntegerField(help_text="Days of cover left, today included; 0 once ended.")
    claims_allowed = serializers.IntegerField(source="sale.claims_allowed")
    claims_left = serializers.IntegerField(help_text="Claims still possible now; 0 once ended.")

    def get_product(self, row) -> str:
        sale = row.sale
        return sale.product.name if sale.product else sale.purchase_item.name or sale.purchase_item.sku


class MeCarePlansView(MeAPIView):
    @extend_schema(tags=TAG, responses=MeCarePlanSerializer(many=True), summary="The signed-in member's care plans")
    def get(self, request):
        """The member's care plans, running ones first, with what is left and until when."""
        rows = selectors_care_plans.member_care_plans(self.member, today=timezone.localdate())
        return Response(MeCarePlanSerializer(rows, many=True).data)


@member_required
def care_plans(request):
    rows = selectors_care_plans.member_care_plans(request.member, today=timezone.localdate())
    return render(
        request,
        "centre/care_plans.html",
        {
            "tab": "card",
            "active": [row for row in rows if row.active],
            "ended": [row for row in rows if not row.active],
        },
    )
