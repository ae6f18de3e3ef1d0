"""The built-in CSAT and NPS surveys (today's answers become their version 1), the seeded ticket
topics with their keywords, and the roles: managers and marketing design surveys and read their
results; support and managers enter answers by phone and manage topics."""

from django.db import migrations

from loyalty_crm.roles import MANAGER, MARKETING, SUPPORT, grant, revoke

COMMENT = "Anything you would like to add?"
BUILTINS = {
    "csat": ("Satisfaction after a ticket (CSAT)", "csat", "How satisfied are you with how we handled your feedback?"),
    "nps": ("Recommendation (NPS)", "nps", "How likely are you to recommend us to a friend?"),
}
# English names (translated on display) and keywords in Chinese and English: a keyword found in a
# ticket's message suggests the topic (`feedback.topic_rules`).
TOPICS = [
    ("Product quality", "质量, 枯萎, 不新鲜, 发黑, 发黄, 烂, 坏了, 掉叶, 蔫, 破损, 差别, 不符, quality, wilted, damaged"),
    ("Delivery", "配送, 送货, 快递, 物流, 迟到, 晚到, 送错, 延误, 骑手, delivery, late, courier"),
    ("Staff attitude", "态度, 服务员, 店员, 不耐烦, 冷淡, 客服, 没礼貌, rude, staff, attitude"),
    ("Price", "价格, 贵, 太贵, 涨价, 收费, 多收, 退款, 优惠, price, expensive, overcharged, refund"),
    ("Packaging", "包装, 包装纸, 花盒, 丝带, 压坏, 贺卡, packaging, wrapping, card"),
    ("Membership and points", "积分, 会员, 等级, 优惠券, 兑换, points, member, coupon, tier"),
    ("Store environment", "门店, 环境, 排队, 停车, 卫生, store, queue, parking"),
]
GRANTS = {
    MANAGER: [
        f"{a}_{m}"
        for m in ("survey", "surveyquestion", "topic", "tickettopic")
        for a in ("view", "add", "change", "delete")
    ]
    + ["view_surveyversion", "view_surveylink", "answer_survey_by_phone", "view_survey_results"],
    MARKETING: [f"{a}_{m}" for m in ("survey", "surveyquestion") for a in ("view", "add", "change", "delete")]
    + ["view_surveyversion", "view_surveylink", "view_surveyresponse", "view_survey_results"],
    SUPPORT: ["view_survey", "view_surveyquestion", "answer_survey_by_phone", "view_topic"]
    + ["view_tickettopic", "add_tickettopic", "change_tickettopic", "delete_tickettopic"],
}


def forwards(apps, schema_editor):
    seed_builtin_surveys(apps)
    seed_topics(apps)
    grant(apps, "feedback", GRANTS)


def seed_builtin_surveys(apps):
    """The two built-in surveys and their version 1, today's answers moved into it (idempotent)."""
    Survey = apps.get_model("feedback", "Survey")
    SurveyQuestion = apps.get_model("feedback", "SurveyQuestion")
    SurveyVersion = apps.get_model("feedback", "SurveyVersion")
    SurveyResponse = apps.get_model("feedback", "SurveyResponse")
    SurveyAnswer = apps.get_model("feedback", "SurveyAnswer")
    for code, (name, kind, text) in BUILTINS.items():
        survey, _created = Survey.objects.get_or_create(builtin=code, defaults={"name": name})
        questions = [
            {"key": "score", "kind": kind, "text": text, "required": True, "choices": [], "scale_max": 5, "show_if": None},
            {"key": "comment", "kind": "text", "text": COMMENT, "required": False, "choices": [], "scale_max": 5, "show_if": None},
        ]  # fmt: skip
        if not survey.questions.exists():
            for position, question in enumerate(questions, start=1):
                SurveyQuestion.objects.create(
                    survey=survey,
                    position=position,
                    key=question["key"],
                    kind=question["kind"],
                    text=question["text"],
                    required=question["required"],
                )
        version, _created = SurveyVersion.objects.get_or_create(
            survey=survey, number=1, defaults={"definition": {"questions": questions}}
        )
        answers = []
        for response in SurveyResponse.objects.filter(kind=code, survey__isnull=True).iterator(chunk_size=2000):
            answers.append(SurveyAnswer(response=response, question_key="score", kind=kind, number=response.score))
            if response.comment:
                answers.append(
                    SurveyAnswer(response=response, question_key="comment", kind="text", text=response.comment)
                )
            if len(answers) >= 2000:
                SurveyAnswer.objects.bulk_create(answers)
                answers = []
        SurveyAnswer.objects.bulk_create(answers)
        SurveyResponse.objects.filter(kind=code, survey__isnull=True).update(survey=survey, version=version)


def seed_topics(apps):
    Topic = apps.get_model("feedback", "Topic")
    for name, keywords in TOPICS:
        Topic.objects.get_or_create(name=name, defaults={"keywords": keywords})


def backwards(apps, schema_editor):
    # The rows go with their tables when 0009 is reversed; the answers' columns too.
    revoke(apps, "feedback", GRANTS)


class Migration(migrations.Migration):
    dependencies = [("feedback", "0009_designed_surveys_and_topics")]
    operations = [migrations.RunPython(forwards, backwards)]
