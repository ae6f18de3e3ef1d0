"""Segments API (API.md "Segments, campaigns and contact policy"): thin views over
`campaigns.segments`."""

import csv

from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns import segments
from campaigns.api.serializers import SegmentInputSerializer, SegmentSerializer
from campaigns.models import Segment
from loyalty_crm.api.permissions import ModelPermissions


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
        segment = segments.save_segment(actor=request.user, **data.validated_data)
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
        segment = segments.save_segment(
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
