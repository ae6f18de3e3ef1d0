"""Shapes of the surveys API (docs/api.md "Surveys")."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from feedback.models import Survey, SurveyQuestion
from loyalty_crm.api import fields as api_fields


class ShowIfSerializer(serializers.Serializer):
    key = serializers.CharField(help_text=_("The earlier question's key."))
    op = serializers.ChoiceField(choices=SurveyQuestion.Operator.choices)
    value = serializers.CharField()


class QuestionSerializer(serializers.Serializer):
    key = serializers.CharField()
    kind = serializers.ChoiceField(choices=SurveyQuestion.Kind.choices)
    text = serializers.CharField()
    required = serializers.BooleanField()
    choices = serializers.ListField(child=serializers.CharField())
    scale_max = serializers.IntegerField(help_text=_("Rating scale: answers from 1 to this number."))
    show_if = ShowIfSerializer(allow_null=True, help_text=_("Asked only when the earlier answer meets this."))


class SurveySerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="display_name")
    version = serializers.SerializerMethodField(help_text=_("The latest version's number; null before the first."))
    questions = serializers.SerializerMethodField()
    responses = serializers.IntegerField(source="n_responses")
    links_sent = serializers.IntegerField(source="n_links")
    created_at = api_fields.DateTimeField(read_only=True)

    class Meta:
        model = Survey
        fields = [
            "id", "name", "intro", "builtin", "is_active", "link_valid_days", "version", "questions", "responses",
            "links_sent", "created_at",
        ]  # fmt: skip
        read_only_fields = fields

    def _latest(self, survey):
        versions = survey.versions.all()  # prefetched, newest first
        return versions[0] if versions else None

    def get_version(self, survey) -> int | None:
        latest = self._latest(survey)
        return latest.number if latest else None

    @staticmethod
    def _definition(survey):
        from feedback.services.questionnaires import definition_of

        return definition_of(list(survey.questions.all()))

    def get_questions(self, survey) -> list[dict]:
        from feedback.survey_forms import _text

        questions = self._definition(survey)["questions"]
        return QuestionSerializer([{**q, "text": _text(q["text"])} for q in questions], many=True).data


class EstimateSerializer(serializers.Serializer):
    value = serializers.FloatField()
    low = serializers.FloatField(
        allow_null=True, help_text=_("Lower end of the 95 percent interval (null below 2 answers).")
    )
    high = serializers.FloatField(allow_null=True)
    n = serializers.IntegerField()


class DistributionSerializer(serializers.Serializer):
    value = serializers.CharField(help_text=_("A score or a choice."))
    count = serializers.IntegerField()


class QuestionResultSerializer(serializers.Serializer):
    key = serializers.CharField()
    kind = serializers.CharField()
    text = serializers.CharField()
    answered = serializers.IntegerField(help_text=_("Responses that answered it."))
    distribution = serializers.SerializerMethodField()
    mean = EstimateSerializer(allow_null=True, help_text=_("Scores only: the mean with its 95 percent interval."))

    @extend_schema_field(DistributionSerializer(many=True))
    def get_distribution(self, result) -> list[dict]:
        return [{"value": value, "count": count} for value, count in result.distribution]


class TextAnswerSerializer(serializers.Serializer):
    answered_at = api_fields.DateTimeField()
    question = serializers.CharField()
    text = serializers.CharField()
    channel = serializers.CharField()
    member_no = serializers.CharField(help_text=_("Empty when the answer has no member."))
    tier = serializers.CharField()


class SurveyResultsSerializer(serializers.Serializer):
    survey = serializers.IntegerField(source="survey.pk")
    links_sent = serializers.IntegerField()
    responses = serializers.IntegerField()
    responses_by_channel = serializers.DictField(child=serializers.IntegerField(), source="by_channel")
    response_rate = serializers.FloatField(
        allow_null=True, help_text=_("Answers through a link ÷ links sent; null when no link was made.")
    )
    nps = EstimateSerializer(allow_null=True)
    csat = EstimateSerializer(allow_null=True)
    questions = QuestionResultSerializer(many=True)
    free_text = TextAnswerSerializer(many=True, source="texts", help_text=_("The latest 50."))
