"""A designed survey for the tests: NPS, "why" only for detractors (NPS ≤ 6), CSAT, a multiple choice."""

import importlib

from django.apps import apps

from feedback.models import Survey, SurveyQuestion
from feedback.services import questionnaires


def designed_survey(name="门店体验调查", **kwargs) -> Survey:
    survey = Survey.objects.create(name=name, intro="感谢您抽出一分钟。", **kwargs)
    nps = SurveyQuestion.objects.create(
        survey=survey, position=1, key="nps", kind="nps", text="您有多大可能向朋友推荐我们？"
    )
    SurveyQuestion.objects.create(
        survey=survey,
        position=2,
        key="why",
        kind="text",
        text="请问是什么让您不满意？",
        required=True,
        show_if_question=nps,
        show_if_operator="lte",
        show_if_value="6",
    )
    SurveyQuestion.objects.create(survey=survey, position=3, key="csat", kind="csat", text="您对本次购物满意吗？")
    SurveyQuestion.objects.create(
        survey=survey,
        position=4,
        key="liked",
        kind="multiple",
        text="您喜欢我们的哪些方面？",
        required=False,
        choices="花材新鲜\n包装精美\n配送准时",
    )
    questionnaires.current_version(survey=survey)
    return survey


def ensure_builtin_surveys() -> None:
    """The migration's built-in CSAT and NPS surveys (a transactional test before may have flushed them)."""
    seed = importlib.import_module("feedback.migrations.0010_builtin_surveys_topics_roles")
    seed.seed_builtin_surveys(apps)
    seed.seed_topics(apps)


def ensure_survey_bonus() -> None:
    """The migrations' tiers and the survey activity bonus (flushed by an earlier transactional test)."""
    from rewards.models import ActivityBonus
    from tests.rewards.helpers import reseed_after_flush

    reseed_after_flush()
    ActivityBonus.objects.get_or_create(kind="survey", defaults={"points": 20, "limit": "monthly", "is_active": True})
