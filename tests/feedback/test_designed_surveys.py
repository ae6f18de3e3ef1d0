"""Designed surveys: branching, versions, personal single-use links, phone answers, results."""

import datetime
import math
import re
import threading

import pytest
import time_machine
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import connections
from django.utils import timezone, translation

from feedback import survey_results, survey_rules, surveys
from feedback.models import Survey, SurveyAnswer, SurveyQuestion, SurveyResponse
from feedback.services import questionnaires
from members.models import Interaction
from rewards.models import ActivityBonus
from tests.feedback.factories import ticket_in
from tests.feedback.survey_helpers import designed_survey, ensure_builtin_surveys, ensure_survey_bonus
from tests.members import factories as mf

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"}


def path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


# --- rules (pure) -------------------------------------------------------------------------------

DEFINITION = {
    "questions": [
        {"key": "nps", "kind": "nps", "text": "n", "required": True, "choices": [], "scale_max": 5, "show_if": None},
        {"key": "why", "kind": "text", "text": "w", "required": True, "choices": [], "scale_max": 5,
         "show_if": {"key": "nps", "op": "lte", "value": "6"}},
        {"key": "pick", "kind": "multiple", "text": "p", "required": False, "choices": ["a", "b", "c"],
         "scale_max": 5, "show_if": None},
        {"key": "more", "kind": "single", "text": "m", "required": True, "choices": ["x", "y"], "scale_max": 5,
         "show_if": {"key": "pick", "op": "any", "value": "b|c"}},
    ]
}  # fmt: skip


def test_a_detractor_is_asked_why_and_must_answer():
    with translation.override("en"):
        cleaned = survey_rules.clean_answers(DEFINITION, {"nps": ["6"]})
    assert cleaned.errors == {"why": "Please answer this question."}
    assert survey_rules.clean_answers(DEFINITION, {"nps": ["6"], "why": ["太贵"]}).answers == {"nps": 6, "why": "太贵"}


def test_a_promoter_is_not_asked_why_and_an_answer_sent_anyway_is_dropped():
    cleaned = survey_rules.clean_answers(DEFINITION, {"nps": ["9"], "why": ["forged"]})
    assert cleaned.errors == {} and cleaned.answers == {"nps": 9}


def test_branching_on_a_multiple_choice_follows_any_chosen_option():
    assert "more" in survey_rules.clean_answers(DEFINITION, {"nps": ["9"], "pick": ["a", "c"]}).errors
    assert "more" not in survey_rules.clean_answers(DEFINITION, {"nps": ["9"], "pick": ["a"]}).errors


@pytest.mark.parametrize(
    ("raw", "key"),
    [({"nps": ["11"]}, "nps"), ({"nps": ["x"]}, "nps"), ({"nps": ["9"], "pick": ["z"]}, "pick")],
)
def test_out_of_range_scores_and_unknown_choices_are_refused(raw, key):
    assert key in survey_rules.clean_answers(DEFINITION, raw).errors


def test_nps_and_its_interval_match_the_hand_computation():
    # 10 answers: promoters 10,10,10,9,9 (0.5), passives 8,8,7, detractors 5,0 (0.2) → NPS 30.
    estimate = survey_rules.nps({10: 3, 9: 2, 8: 2, 7: 1, 5: 1, 0: 1})
    # variance (0.5 + 0.2 − 0.3²) / 10 = 0.061; half width 1.959964 · √0.061 · 100 = 48.41
    assert estimate.n == 10 and estimate.value == pytest.approx(30.0)
    assert estimate.low == pytest.approx(30 - 48.4076, abs=0.01)
    assert estimate.high == pytest.approx(30 + 48.4076, abs=0.01)


def test_csat_mean_and_its_t_interval_match_the_hand_computation():
    # 5,5,5,5,4,4,4,3,3,1: mean 3.9; s² = 14.9 / 9; t(0.975, 9) = 2.262157; half = 2.262157·√(1.6556/10) = 0.9204
    estimate = survey_rules.mean_interval({5: 4, 4: 3, 3: 2, 1: 1})
    assert estimate.value == pytest.approx(3.9)
    assert estimate.low == pytest.approx(3.9 - 0.92044, abs=0.0005)
    assert estimate.high == pytest.approx(3.9 + 0.92044, abs=0.0005)


def test_one_answer_has_no_interval():
    assert survey_rules.nps({10: 1}).low is None and survey_rules.mean_interval({4: 1}).high is None


# --- links and answers ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_link_is_answered_once_and_records_a_survey_interaction_with_its_bonus(django_capture_on_commit_callbacks):
    ensure_survey_bonus()
    survey = designed_survey()
    member = mf.member()
    link = questionnaires.create_link(survey=survey, member=member, channel="sms", source="campaign:1")
    token = path_of(questionnaires.link_url(link)).split("/")[-2]
    with django_capture_on_commit_callbacks(execute=True):
        response = questionnaires.answer_link(
            token=token, raw={"nps": ["4"], "why": ["送货太慢"], "csat": ["2"], "liked": ["包装精美"]}
        )
    assert response.kind == "form" and response.channel == "sms" and response.link == link
    assert {(a.question_key, a.number, a.choice, a.text) for a in response.answers.all()} == {
        ("nps", 4, "", ""), ("why", None, "", "送货太慢"), ("csat", 2, "", ""), ("liked", None, "包装精美", ""),
    }  # fmt: skip
    interaction = Interaction.objects.get(member=member)
    assert interaction.kind == Interaction.Kind.SURVEY and interaction.channel == Interaction.Channel.SMS
    assert interaction.summary_code == "designed_survey" and interaction.summary_params == {"survey": "门店体验调查"}
    assert member.bonus_awards.filter(bonus__kind=ActivityBonus.Kind.SURVEY).count() == 1
    with pytest.raises(surveys.SurveyAlreadyAnswered):
        questionnaires.answer_link(token=token, raw={"nps": ["9"], "csat": ["5"]})
    assert SurveyResponse.objects.filter(kind="form").count() == 1


@pytest.mark.django_db
def test_a_forged_an_expired_and_a_closed_link_are_refused_with_4xx_pages(client):
    survey = designed_survey(link_valid_days=3)
    member = mf.member()
    with time_machine.travel(timezone.now() - datetime.timedelta(days=4)):
        old = questionnaires.create_link(survey=survey, member=member)
    fresh = questionnaires.create_link(survey=survey, member=member)
    token = questionnaires.link_token(fresh)
    forged = signing.dumps({"l": fresh.pk, "n": "x" * 24}, salt=questionnaires.LINK_SALT)
    changed = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert client.get(f"/survey/s/{changed}/", **ZH).status_code == 400
    assert client.get(f"/survey/s/{forged}/", **ZH).status_code == 400
    expired = client.get(f"/survey/s/{questionnaires.link_token(old)}/", **ZH)
    assert expired.status_code == 410 and 'data-reason="expired"' in expired.content.decode()
    Survey.objects.filter(pk=survey.pk).update(is_active=False)
    closed = client.get(f"/survey/s/{token}/", **ZH)
    assert closed.status_code == 410 and 'data-reason="closed"' in closed.content.decode()
    assert not SurveyResponse.objects.exists()


@pytest.mark.django_db
def test_the_public_page_in_chinese_answers_once_then_says_already_answered(client):
    survey = designed_survey()
    link = questionnaires.create_link(survey=survey, member=mf.member())
    url = path_of(questionnaires.link_url(link))
    page = client.get(url, **ZH)
    assert page.status_code == 200 and "您有多大可能向朋友推荐我们" in page.content.decode()
    assert "感谢您抽出一分钟" in page.content.decode() and 'data-show-key="nps"' in page.content.decode()
    missing = client.post(url, {"nps": "3", "csat": "4"}, **ZH)
    assert missing.status_code == 400 and "请回答这个问题" in missing.content.decode()
    assert client.post(url, {"nps": "3", "why": "花枯萎了", "csat": "2"}, **ZH).status_code == 200
    again = client.get(url, **ZH)
    assert again.status_code == 410 and 'data-reason="answered"' in again.content.decode()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_answers_through_one_link_at_once_store_one():
    survey = designed_survey()
    link = questionnaires.create_link(survey=survey, member=mf.member())
    token = questionnaires.link_token(link)
    outcomes = [None, None]
    barrier = threading.Barrier(2, timeout=20)

    def answer(index):
        try:
            barrier.wait()
            outcomes[index] = questionnaires.answer_link(token=token, raw={"nps": ["9"], "csat": ["5"]})
        except Exception as error:  # inspected below
            outcomes[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=answer, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert SurveyResponse.objects.filter(link=link).count() == 1
    assert sum(isinstance(o, SurveyResponse) for o in outcomes) == 1
    assert sum(isinstance(o, surveys.SurveyAlreadyAnswered) for o in outcomes) == 1


@pytest.mark.django_db
def test_staff_answer_by_phone_with_the_same_branching(support):
    survey = designed_survey()
    member = mf.member()
    with pytest.raises(ValidationError) as refused:
        questionnaires.answer_by_phone(survey=survey, member=member, raw={"nps": ["2"], "csat": ["3"]}, staff=support)
    assert "why" in refused.value.message_dict
    response = questionnaires.answer_by_phone(
        survey=survey, member=member, raw={"nps": ["2"], "why": ["店员态度差"], "csat": ["3"]}, staff=support
    )
    assert response.channel == "phone" and response.staff == support and response.link is None
    interaction = Interaction.objects.get(member=member)
    assert interaction.channel == Interaction.Channel.PHONE and interaction.staff == support


# --- versions -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_editing_before_answers_keeps_the_version_and_after_answers_starts_a_new_one(support):
    survey = designed_survey()
    member = mf.member()
    first = questionnaires.current_version(survey=survey)
    SurveyQuestion.objects.filter(survey=survey, key="csat").update(text="您对服务满意吗？")
    assert questionnaires.current_version(survey=survey).pk == first.pk  # no answers yet: updated in place
    answered = questionnaires.answer_by_phone(
        survey=survey, member=member, raw={"nps": ["9"], "csat": ["4"]}, staff=support
    )
    SurveyQuestion.objects.filter(survey=survey, key="csat").update(text="您对配送满意吗？")
    second = questionnaires.current_version(survey=survey)
    assert second.number == 2 and answered.version.number == 1
    assert answered.version.definition["questions"][2]["text"] == "您对服务满意吗？"
    assert second.definition["questions"][2]["text"] == "您对配送满意吗？"


@pytest.mark.django_db
def test_a_link_sent_before_an_edit_is_answered_with_its_version(support):
    survey = designed_survey()
    questionnaires.answer_by_phone(survey=survey, member=mf.member(), raw={"nps": ["9"], "csat": ["4"]}, staff=support)
    link = questionnaires.create_link(survey=survey, member=mf.member())
    SurveyQuestion.objects.filter(survey=survey, key="liked").delete()
    assert questionnaires.current_version(survey=survey).number == 2
    response = questionnaires.answer_link(
        token=questionnaires.link_token(link), raw={"nps": ["9"], "csat": ["5"], "liked": ["花材新鲜"]}
    )
    assert response.version.number == 1 and response.answers.filter(question_key="liked").exists()


# --- results --------------------------------------------------------------------------------------


def answer_set(survey, member, nps, csat, staff=None, why="", liked=()):
    raw = {"nps": [str(nps)], "csat": [str(csat)], "liked": list(liked)}
    if why:
        raw["why"] = [why]
    if staff is not None:
        return questionnaires.answer_by_phone(survey=survey, member=member, raw=raw, staff=staff)
    link = questionnaires.create_link(survey=survey, member=member, channel="email")
    return questionnaires.answer_link(token=questionnaires.link_token(link), raw=raw)


@pytest.mark.django_db
def test_results_match_the_hand_computed_figures(support):
    ensure_survey_bonus()
    survey = designed_survey()
    scores = [(10, 5), (10, 5), (10, 5), (9, 5), (9, 4), (8, 4), (8, 4), (7, 3), (5, 3), (0, 1)]
    for i, (nps, csat) in enumerate(scores):
        member = mf.member()
        why = "太贵了" if nps <= 6 else ""
        answer_set(
            survey, member, nps, csat, staff=support if i % 2 else None, why=why, liked=["包装精美"] if i < 3 else []
        )
    for _i in range(5):
        questionnaires.create_link(survey=survey, member=mf.member())  # sent, never answered
    results = survey_results.survey_results(survey)
    assert results.responses == 10 and results.by_channel == {"email": 5, "phone": 5}
    assert results.links_sent == 10 and results.link_responses == 5 and results.response_rate == pytest.approx(0.5)
    assert results.nps.value == pytest.approx(30.0) and results.nps.high == pytest.approx(78.4076, abs=0.01)
    assert results.csat.value == pytest.approx(3.9) and results.csat.low == pytest.approx(2.97956, abs=0.0005)
    by_key = {q.key: q for q in results.questions}
    expected_nps = {0: 1, 1: 0, 2: 0, 3: 0, 4: 0, 5: 1, 6: 0, 7: 1, 8: 2, 9: 2, 10: 3}
    assert dict(by_key["nps"].distribution) == {str(n): c for n, c in expected_nps.items()}
    assert dict(by_key["liked"].distribution) == {"花材新鲜": 0, "包装精美": 3, "配送准时": 0}
    assert by_key["why"].answered == 2
    assert sorted(t.text for t in results.texts) == ["太贵了", "太贵了"]
    assert len({t.tier for t in results.texts}) == 1 and all(t.tier and t.member_no for t in results.texts)
    assert math.isclose(by_key["csat"].mean.value, 3.9)


@pytest.mark.django_db
def test_builtin_answers_become_answers_of_the_builtin_survey():
    ensure_builtin_surveys()
    made = ticket_in("resolved", email="kehu@example.com")
    surveys.record_survey_response(token=surveys.csat_token(made), kind="csat", score=4, comment="很快")
    csat = Survey.objects.get(builtin="csat")
    response = SurveyResponse.objects.get()
    assert response.survey == csat and response.version.number == 1
    assert set(SurveyAnswer.objects.values_list("question_key", "number", "text")) == {
        ("score", 4, ""),
        ("comment", None, "很快"),
    }
    results = survey_results.survey_results(csat)
    assert results.csat.value == 4 and results.response_rate is None


@pytest.mark.django_db
def test_the_migration_moves_earlier_answers_into_the_builtin_surveys():
    made = ticket_in("resolved")
    SurveyResponse.objects.create(kind="csat", token_id="csat:old", ticket=made, score=2, comment="慢")
    SurveyResponse.objects.create(kind="nps", token_id="nps:old", score=9)
    Survey.objects.filter(builtin__in=["csat", "nps"]).delete()
    ensure_builtin_surveys()
    ensure_builtin_surveys()  # idempotent
    old = SurveyResponse.objects.get(token_id="csat:old")
    assert old.survey.builtin == "csat" and old.version.number == 1
    assert set(old.answers.values_list("question_key", "number", "text")) == {("score", 2, ""), ("comment", None, "慢")}
    assert SurveyResponse.objects.get(token_id="nps:old").answers.get().number == 9
    assert survey_results.survey_results(Survey.objects.get(builtin="nps")).nps.value == 100
