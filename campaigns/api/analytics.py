"""Programme analytics API (managers: `rewards.view_programme_analytics`): points, members against
walk-ins, cohort retention. Read-only views over the selectors of `rewards.analytics` and
`members.analytics`; the figures' definitions are in docs/rules/analytics.md.

`from` and `to` are local dates (YYYY-MM-DD, both included); without them the period is the last
12 calendar months up to today. A bad date or `from` after `to` is a 400 naming the field.
"""

from __future__ import annotations

import datetime

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.analytics import MAX_DAYS, PERMISSION, default_period
from loyalty_crm.api.fields import DateField
from loyalty_crm.db_routing import replica_reads
from members.analytics import add_months, members_vs_walk_ins, retention_matrix
from rewards.analytics import points_summary


class CanSeeProgrammeAnalytics(BasePermission):
    def has_permission(self, request, view):
        return bool(request.user and request.user.has_perm(PERMISSION))


class PeriodQuerySerializer(serializers.Serializer):
    # `from` is a Python keyword: the field is declared below under its real name.
    to = DateField(required=False, help_text=_("The last day of the period, included (YYYY-MM-DD); default today."))

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = DateField(
            required=False,
            help_text=_("The first day of the period, included (YYYY-MM-DD); default the first day of 11 months ago."),
        )
        return fields

    def validate(self, attrs):
        default_start, default_end = default_period()
        end = attrs.get("to") or default_end
        start = attrs.get("from") or (add_months(end.replace(day=1), -11) if "to" in attrs else default_start)
        if start > end:
            raise serializers.ValidationError({"from": [_("The start of the period is after its end.")]})
        if (end - start).days > MAX_DAYS:
            raise serializers.ValidationError({"from": [_("A period is at most ten years.")]})
        return {"start": start, "end": end}


def _period(request) -> tuple[datetime.date, datetime.date]:
    query = PeriodQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data["start"], query.validated_data["end"]


class PeriodSerializer(serializers.Serializer):
    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = DateField(source="start")
        fields["to"] = DateField(source="end")
        return fields


class PointsAnalyticsSerializer(PeriodSerializer):
    issued = serializers.IntegerField(
        help_text=_("Points earned, given as bonus or added by hand, less refund reversals.")
    )
    redeemed = serializers.IntegerField(help_text=_("Points spent, less spends given back."))
    expired = serializers.IntegerField()
    adjusted_out = serializers.IntegerField(help_text=_("Points taken off by hand."))
    redemption_rate = serializers.FloatField(allow_null=True, help_text=_("redeemed ÷ issued"))
    breakage = serializers.FloatField(allow_null=True, help_text=_("expired ÷ issued"))
    outstanding = serializers.IntegerField(help_text=_("The members' balances at the end of the period."))
    expiring_30 = serializers.IntegerField(help_text=_("Points expiring within 30 days of today."))
    expiring_60 = serializers.IntegerField()
    expiring_90 = serializers.IntegerField()


class SalesGroupSerializer(serializers.Serializer):
    orders = serializers.IntegerField()
    sales = serializers.DecimalField(max_digits=16, decimal_places=2, help_text=_("Paid net of refunds."))
    average_order_value = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)


class MemberSalesSerializer(SalesGroupSerializer):
    buyers = serializers.IntegerField(help_text=_("Members with at least one order."))
    purchase_frequency = serializers.FloatField(allow_null=True, help_text=_("orders ÷ buyers"))
    repeat_purchase_rate = serializers.FloatField(
        allow_null=True, help_text=_("Buyers with two or more orders ÷ buyers.")
    )


class MembersVsWalkInsSerializer(PeriodSerializer):
    members = MemberSalesSerializer()
    walk_ins = SalesGroupSerializer()
    member_share_of_sales = serializers.FloatField(allow_null=True)


class CohortSerializer(serializers.Serializer):
    month = serializers.SerializerMethodField()
    size = serializers.IntegerField(help_text=_("Members who joined in the month."))
    active = serializers.ListField(
        child=serializers.IntegerField(), help_text=_("Members with a purchase in month 0, 1, … since joining.")
    )
    rates = serializers.ListField(child=serializers.FloatField(allow_null=True), help_text=_("active ÷ size"))

    def get_month(self, cohort) -> str:
        return cohort.month.strftime("%Y-%m")


class RetentionSerializer(PeriodSerializer):
    cohorts = CohortSerializer(many=True)


PERIOD_PARAMETERS = [PeriodQuerySerializer]


class PointsAnalyticsView(APIView):
    """Points issued, redeemed and expired in the period, the redemption rate and breakage, the
    outstanding balance at its end, and the points expiring within 30/60/90 days of today."""

    permission_classes = [CanSeeProgrammeAnalytics]

    @extend_schema(parameters=PERIOD_PARAMETERS, responses=PointsAnalyticsSerializer)
    def get(self, request):
        start, end = _period(request)
        with replica_reads():  # the read replica when there is one (loyalty_crm.db_routing)
            return Response(PointsAnalyticsSerializer(points_summary(start, end)).data)


class MembersVsWalkInsView(APIView):
    """Members against walk-ins (sales without a member) in the period: orders, sales, average
    order value; members' purchase frequency and repeat-purchase rate; their share of sales."""

    permission_classes = [CanSeeProgrammeAnalytics]

    @extend_schema(parameters=PERIOD_PARAMETERS, responses=MembersVsWalkInsSerializer)
    def get(self, request):
        start, end = _period(request)
        with replica_reads():  # the read replica when there is one (loyalty_crm.db_routing)
            return Response(MembersVsWalkInsSerializer(members_vs_walk_ins(start, end)).data)


class RetentionView(APIView):
    """Cohort retention: members by the month they joined (from `from`'s month to `to`'s), and for
    each month since joining the share of them with a purchase in it."""

    permission_classes = [CanSeeProgrammeAnalytics]

    @extend_schema(parameters=PERIOD_PARAMETERS, responses=RetentionSerializer)
    def get(self, request):
        start, end = _period(request)
        with replica_reads():  # the read replica when there is one (loyalty_crm.db_routing)
            return Response(RetentionSerializer(retention_matrix(start, end)).data)
