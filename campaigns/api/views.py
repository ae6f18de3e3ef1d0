"""Campaigns API: thin views that validate, call one service or selector, and render."""

import csv

from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns import results, segments, selectors, services
from campaigns.api.serializers import (
    CampaignCreatedSerializer,
    CampaignInputSerializer,
    CampaignResultsSerializer,
    CampaignSerializer,
    CampaignStatusSerializer,
    ContactPolicySerializer,
    CostEstimateSerializer,
    ExpandedSerializer,
    LaunchInputSerializer,
    MessageTemplateSerializer,
    ResultsQuerySerializer,
    SegmentInputSerializer,
    SegmentSerializer,
)
from campaigns.models import Campaign, ContactPolicy, MessageTemplate, Segment
from campaigns.selectors.estimates import cost_estimate
from campaigns.services import message_templates, pilots
from campaigns.services import segments as segment_services
from loyalty_crm.api.permissions import ModelPermissions
from loyalty_crm.api.schema import conflict

CONFLICT = conflict("invalid_transition")
LAUNCH_CONFLICT = conflict("invalid_transition", "template_required")


class CanLaunchCampaigns(BasePermission):
    def has_permission(self, request, view):
        return bool(request.user and request.user.has_perm("campaigns.launch_campaign"))


class CampaignFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=Campaign.Status.choices)
    channel = filters.ChoiceFilter(choices=Campaign._meta.get_field("channel").choices)

    class Meta:
        model = Campaign
        fields = []


class CampaignListCreateView(generics.ListAPIView):
    """Campaigns, newest first, with their counts; POST creates a draft (Marketing, Managers)."""

    queryset = Campaign.objects.none()  # for the permission class: view / add campaign
    serializer_class = CampaignSerializer
    filterset_class = CampaignFilter

    def get_queryset(self):
        return selectors.campaign_list()

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        serializer = CampaignSerializer(page, many=True, context={"results": selectors.results_for(page)})
        return self.get_paginated_response(serializer.data)

    @extend_schema(
        request=CampaignInputSerializer,
        responses={
            201: CampaignCreatedSerializer,
            400: OpenApiResponse(description="Field errors (an offer's under `offer`)"),
            403: OpenApiResponse(description="No permission to add campaigns, or to give an offer"),
        },
    )
    def post(self, request):
        data = CampaignInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.service_values()
        offer = fields.pop("offer", None)
        if offer is not None and not request.user.has_perm("campaigns.add_campaignoffer"):
            raise PermissionDenied()
        try:  # the draft and its offer together, or neither
            saved = services.create_campaign_with_offer(actor=request.user, offer=offer, **fields)
        except services.OfferRefused as exc:
            raise serializers.ValidationError({"offer": exc.message_dict}) from exc
        body = {"id": saved.campaign.pk, "status": saved.campaign.status, "warnings": saved.warnings}
        return Response(CampaignCreatedSerializer(body).data, status=status.HTTP_201_CREATED)


class CampaignDetailView(generics.RetrieveAPIView):
    queryset = Campaign.objects.none()

    @extend_schema(responses=CampaignSerializer)
    def get(self, request, pk: int):
        campaign = get_object_or_404(selectors.campaign_list(), pk=pk)
        results = {campaign.pk: selectors.campaign_results(campaign)}
        return Response(CampaignSerializer(campaign, context={"results": results}).data)


class CampaignResultsView(generics.RetrieveAPIView):
    """Results of one campaign (Marketing and Managers: the view-campaign permission)."""

    queryset = Campaign.objects.none()  # for the permission class: view campaign
    serializer_class = CampaignResultsSerializer

    @extend_schema(parameters=[ResultsQuerySerializer], responses={200: CampaignResultsSerializer})
    def get(self, request, pk: int):
        query = ResultsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        campaign = get_object_or_404(Campaign, pk=pk)
        figures = results.campaign_results(campaign, window_days=query.validated_data["window_days"])
        return Response(CampaignResultsSerializer(figures).data)


class CampaignLaunchView(APIView):
    """draft → scheduled: it sends at `start_at`, or now. 409 `invalid_transition` otherwise."""

    permission_classes = [IsAuthenticated, CanLaunchCampaigns]

    @extend_schema(request=LaunchInputSerializer, responses={202: CampaignStatusSerializer, 409: LAUNCH_CONFLICT})
    def post(self, request, pk: int):
        data = LaunchInputSerializer(data=request.data or {})
        data.is_valid(raise_exception=True)
        campaign = get_object_or_404(Campaign, pk=pk)
        pilot = data.validated_data.get("pilot")
        if pilot:
            campaign = pilots.launch_pilot(
                campaign=campaign,
                sample_pct=pilot.get("sample_pct"),
                classification=pilot.get("classification") or "",
                actor=request.user,
            )
        else:
            campaign = services.launch_campaign(campaign=campaign, actor=request.user)
        return Response({"status": campaign.status}, status=status.HTTP_202_ACCEPTED)


class CampaignEstimateView(generics.RetrieveAPIView):
    """What the campaign will cost and how it fits today's budget (recipients × SMS segments ×
    SMS_PRICE_PER_SEGMENT; WeChat and email free but counted)."""

    queryset = Campaign.objects.none()  # for the permission class: view campaign
    serializer_class = CostEstimateSerializer

    @extend_schema(responses={200: CostEstimateSerializer})
    def get(self, request, pk: int):
        campaign = get_object_or_404(Campaign.objects.select_related("segment", "message_template"), pk=pk)
        member = selectors.audience_members(campaign).order_by("pk").first()
        sample = services.render_for(campaign, member, preview=True).text if member is not None else ""
        template = campaign.message_template
        sign_name = template.sign_name if template else ""
        return Response(CostEstimateSerializer(cost_estimate(campaign, sample_text=sample, sign_name=sign_name)).data)


class MessageTemplateListView(generics.ListAPIView):
    """Provider-approved SMS and WeChat templates. POST adds one (400 names an unmapped placeholder
    or an unknown member field)."""

    queryset = MessageTemplate.objects.order_by("channel", "name")
    serializer_class = MessageTemplateSerializer

    @extend_schema(request=MessageTemplateSerializer, responses={201: MessageTemplateSerializer})
    def post(self, request):
        data = MessageTemplateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        template = message_templates.save_message_template(actor=request.user, **data.validated_data)
        return Response(MessageTemplateSerializer(template).data, status=status.HTTP_201_CREATED)


class CampaignExpandView(APIView):
    """A finished pilot → step 2 to the rest of its audience (nobody twice). 409 when not possible."""

    permission_classes = [IsAuthenticated, CanLaunchCampaigns]

    @extend_schema(request=None, responses={202: ExpandedSerializer, 409: CONFLICT})
    def post(self, request, pk: int):
        campaign = get_object_or_404(Campaign, pk=pk)
        result = pilots.expand_campaign(campaign=campaign, actor=request.user)
        body = {"status": Campaign.Status.SENDING, "audience": result.audience, "control_group": result.control_group}
        return Response(ExpandedSerializer(body).data, status=status.HTTP_202_ACCEPTED)


class CampaignCancelView(APIView):
    """draft, scheduled or sending → cancelled; messages not yet sent are skipped."""

    permission_classes = [IsAuthenticated, CanLaunchCampaigns]

    @extend_schema(request=None, responses={200: CampaignStatusSerializer, 409: CONFLICT})
    def post(self, request, pk: int):
        campaign = get_object_or_404(Campaign, pk=pk)
        campaign = services.cancel_campaign(campaign=campaign, actor=request.user)
        return Response({"status": campaign.status})


class ContactPolicyView(APIView):
    """The contact policy (Managers): quiet hours, frequency cap and send rate per channel."""

    queryset = ContactPolicy.objects.none()  # view / change contact policy
    permission_classes = [ModelPermissions]

    @extend_schema(responses=ContactPolicySerializer)
    def get(self, request):
        return Response(ContactPolicySerializer(selectors.contact_policy()).data)

    @extend_schema(request=ContactPolicySerializer, responses={200: ContactPolicySerializer})
    def patch(self, request):
        data = ContactPolicySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        policy = services.update_contact_policy(actor=request.user, **data.service_changes())
        return Response(ContactPolicySerializer(policy).data)


class SegmentFilter(filters.FilterSet):
    name = filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name contains")

    class Meta:
        model = Segment
        fields = []


class SegmentListView(generics.ListAPIView):
    """Segments by name, each with its size as last counted. POST creates one (201 with `id`, `size`)."""

    queryset = Segment.objects.select_related("created_by").order_by("name")
    serializer_class = SegmentSerializer
    filterset_class = SegmentFilter

    @extend_schema(request=SegmentInputSerializer, responses={201: SegmentSerializer})
    def post(self, request):
        data = SegmentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        segment = segment_services.save_segment(actor=request.user, **data.validated_data)
        return Response(SegmentSerializer(segment).data, status=status.HTTP_201_CREATED)


class SegmentDetailView(generics.RetrieveAPIView):
    """One segment, its size counted now. PATCH changes name, description or rules."""

    queryset = Segment.objects.select_related("created_by")
    serializer_class = SegmentSerializer
    filter_backends = []
    http_method_names = ["get", "patch", "head", "options"]

    def retrieve(self, request, *args, **kwargs):
        segment = self.get_object()
        context = self.get_serializer_context() | {"live_sizes": {segment.pk: segments.count_members(segment.rules)}}
        return Response(SegmentSerializer(segment, context=context).data)

    @extend_schema(request=SegmentInputSerializer(partial=True), responses={200: SegmentSerializer})
    def patch(self, request, *args, **kwargs):
        segment = self.get_object()
        data = SegmentInputSerializer(segment, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        segment = segment_services.save_segment(
            segment=segment,
            name=values.get("name", segment.name),
            description=values.get("description", segment.description),
            rules=values.get("rules", segment.rules),
            actor=request.user,
        )
        return Response(SegmentSerializer(segment).data)


class CanExportSegments(BasePermission):
    def has_permission(self, request, view):
        return bool(request.user and request.user.has_perm("campaigns.export_segment"))


class _Echo:
    def write(self, value):
        return value


class SegmentExportView(APIView):
    """The segment's members as CSV: member_no, name, classification, tier (no contact data).
    Marketing and managers (`campaigns.export_segment`)."""

    queryset = Segment.objects.none()
    permission_classes = [ModelPermissions, CanExportSegments]

    @extend_schema(
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV, UTF-8 with a byte-order mark"),
        }
    )
    def get(self, request, pk: int):
        segment = get_object_or_404(Segment, pk=pk)
        segments.validate_rules(segment.rules)  # a stale rule answers 400 before the download starts
        return csv_response(segment)


def csv_response(segment: Segment) -> StreamingHttpResponse:
    """Shared by the API and the admin's export action."""
    writer = csv.writer(_Echo())

    def rows():
        yield "\ufeff" + writer.writerow(segments.EXPORT_COLUMNS)
        for row in segments.segment_export_rows(segment):
            yield writer.writerow(row)

    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="segment-{segment.pk}-{stamp}.csv"'
    return response
