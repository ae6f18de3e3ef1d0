"""Surveys API: the designed surveys and their results (managers and marketing)."""

from django.db.models import Count, OuterRef, Prefetch, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from feedback import survey_results
from feedback.api.survey_serializers import SurveyResultsSerializer, SurveySerializer
from feedback.models import Survey, SurveyLink, SurveyQuestion, SurveyResponse, SurveyVersion

RESULTS_PERMISSION = "feedback.view_survey_results"


def _count(model):
    """A per-survey count as a subquery (two joins counted together would multiply)."""
    rows = model.objects.filter(survey=OuterRef("pk")).order_by().values("survey").annotate(n=Count("id")).values("n")
    return Coalesce(Subquery(rows), 0)


class CanReadSurveyResults(BasePermission):
    def has_permission(self, request, view):
        return bool(request.user and request.user.has_perm(RESULTS_PERMISSION))


class SurveyViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """`GET /api/v1/surveys/` and `GET /api/v1/surveys/{id}/results/`."""

    permission_classes = [CanReadSurveyResults]
    serializer_class = SurveySerializer

    def get_queryset(self):
        return (
            Survey.objects.annotate(n_responses=_count(SurveyResponse), n_links=_count(SurveyLink))
            .prefetch_related(
                Prefetch("questions", queryset=SurveyQuestion.objects.order_by("position", "id")),
                Prefetch(
                    "versions", queryset=SurveyVersion.objects.order_by("-number").only("id", "survey_id", "number")
                ),
            )
            .order_by("-created_at", "-id")
        )

    @extend_schema(responses={200: SurveyResultsSerializer})
    @action(detail=True, methods=["get"])
    def results(self, request, pk=None):
        survey = get_object_or_404(Survey, pk=pk) if str(pk).isdigit() else None
        if survey is None:
            from django.http import Http404

            raise Http404
        return Response(SurveyResultsSerializer(survey_results.survey_results(survey)).data)
