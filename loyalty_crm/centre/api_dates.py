"""The member's important dates as a JSON API (/api/v1/me/important-dates/), member sessions only:
the same service and rules as the member centre page and the staff inline (`members.services.dates`)."""

from __future__ import annotations

from django.http import Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from loyalty_crm.api.schema import conflict
from loyalty_crm.centre.api_profile import TAG, MeView
from members import selectors, services
from members.models import ConsentSource, ImportantDate


class ImportantDateSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    kind = serializers.ChoiceField(choices=ImportantDate.Kind.choices, read_only=True)
    label = serializers.CharField(
        source="display_label", read_only=True, help_text=_("What the date is: the label, or the kind's name.")
    )
    month = serializers.IntegerField(read_only=True)
    day = serializers.IntegerField(read_only=True)
    year = serializers.SerializerMethodField()

    def get_year(self, important_date) -> int | None:
        return int(important_date.year) if important_date.year else None


class ImportantDateListSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = ImportantDateSerializer(many=True)
    data_processing_consent = serializers.BooleanField(
        help_text=_("Dates are used for greetings only while this consent is granted.")
    )


class ImportantDateInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ImportantDate.Kind.choices)
    label = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    month = serializers.IntegerField(min_value=1, max_value=12)
    day = serializers.IntegerField(min_value=1, max_value=31)
    year = serializers.IntegerField(min_value=1900, max_value=9999, required=False, allow_null=True, default=None)
    consent = serializers.BooleanField(
        required=False,
        default=False,
        help_text=_("True grants the data-processing consent keeping dates needs (recorded in the consent history)."),
    )


class MeImportantDatesView(MeView):
    @extend_schema(tags=[TAG], operation_id="me_important_dates", responses=ImportantDateListSerializer)
    def get(self, request):
        found = selectors.important_dates_of(self.member)
        consent = self.member.consents.filter(topic="data_processing", granted=True).exists()
        answer = {"count": len(found), "next": None, "previous": None, "results": found,
                  "data_processing_consent": consent}  # fmt: skip
        return Response(ImportantDateListSerializer(answer).data)

    @extend_schema(
        tags=[TAG],
        operation_id="me_important_dates_add",
        request=ImportantDateInputSerializer,
        responses={201: ImportantDateSerializer, 409: conflict("member_erased")},
        description="Add an anniversary, a partner's birthday or a custom date (with a label). Without the "
        "data-processing consent, `consent: true` is needed (400 on `consent` otherwise). At most 20 dates.",
    )
    def post(self, request):
        serializer = ImportantDateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        made = services.add_important_date(member=self.member, source=ConsentSource.MEMBER_CENTRE, **data)
        return Response(ImportantDateSerializer(made).data, status=status.HTTP_201_CREATED)


class MeImportantDateView(MeView):
    @extend_schema(
        tags=[TAG],
        operation_id="me_important_date_delete",
        responses={204: OpenApiResponse(description="Removed."), 404: OpenApiResponse(description="Not yours.")},
    )
    def delete(self, request, pk: int):
        found = ImportantDate.objects.filter(pk=pk, member=self.member).first()
        if found is None:
            raise Http404
        services.delete_important_date(important_date=found)
        return Response(status=status.HTTP_204_NO_CONTENT)
