"""Designed surveys through the admin (builder, results, CSV, by phone) and the API; campaigns' `{{ survey_link }}`."""

import pytest
from django.urls import reverse

from campaigns import personal_variables
from campaigns.models import Campaign
from campaigns.services import campaigns as campaign_services
from campaigns.services import dispatch
from feedback.models import Survey, SurveyLink, SurveyQuestion, SurveyResponse
from feedback.services import questionnaires
from tests.conftest import make_user
from tests.feedback.survey_helpers import designed_survey, ensure_survey_bonus
from tests.members import factories as mf

pytestmark = pytest.mark.django_db
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"}


def answered(survey, n, staff):
    for i in range(n):
        raw = {"nps": [str(i % 11)], "csat": [str(1 + i % 5)]}
        if i % 11 <= 6:
            raw["why"] = [f"原因{i}"]
        questionnaires.answer_by_phone(survey=survey, member=mf.member(), raw=raw, staff=staff)


# --- API ------------------------------------------------------------------------------------------


def test_surveys_api_lists_and_reports_results_to_marketing(api_marketing, support):
    survey = designed_survey()
    answered(survey, 3, support)
    listing = api_marketing.get("/api/v1/surveys/")
    assert listing.status_code == 200
    row = next(r for r in listing.json()["results"] if r["id"] == survey.pk)
    assert row["version"] == 1 and row["responses"] == 3 and [q["key"] for q in row["questions"]] == [
        "nps", "why", "csat", "liked",
    ]  # fmt: skip
    assert row["questions"][1]["show_if"] == {"key": "nps", "op": "lte", "value": "6"}
    results = api_marketing.get(f"/api/v1/surveys/{survey.pk}/results/")
    assert results.status_code == 200
    body = results.json()
    assert body["responses"] == 3 and body["responses_by_channel"] == {"phone": 3}
    assert body["nps"]["n"] == 3 and body["response_rate"] is None
    assert body["questions"][0]["distribution"][0] == {"value": "0", "count": 1}
    assert {t["text"] for t in body["free_text"]} == {"原因0", "原因1", "原因2"}


def test_support_and_anonymous_may_not_read_survey_results(api_support, api_anon):
    survey = designed_survey()
    assert api_support.get("/api/v1/surveys/").status_code == 403
    assert api_support.get(f"/api/v1/surveys/{survey.pk}/results/").status_code == 403
    assert api_anon.get("/api/v1/surveys/").status_code in (401, 403)


def test_an_unknown_survey_is_404(api_manager):
    assert api_manager.get("/api/v1/surveys/999999/results/").status_code == 404


def test_survey_list_and_results_run_a_fixed_number_of_queries(api_manager, support, django_assert_num_queries):
    ensure_survey_bonus()
    survey = designed_survey()
    answered(survey, 2, support)

    def counts():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as listed:
            assert api_manager.get("/api/v1/surveys/").status_code == 200
        with CaptureQueriesContext(connection) as results:
            assert api_manager.get(f"/api/v1/surveys/{survey.pk}/results/").status_code == 200
        return len(listed), len(results)

    before = counts()
    for i in range(4):
        designed_survey(name=f"调查{i}")
    answered(survey, 12, support)
    assert counts() == before


# --- admin ----------------------------------------------------------------------------------------


def test_results_page_and_csv_with_translated_headers(client, marketing, support):
    survey = designed_survey()
    answered(survey, 4, support)
    client.force_login(marketing)
    page = client.get(reverse("admin:feedback_survey_results", args=[survey.pk]), **ZH)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="sv-nps"' in html and 'id="sv-csat"' in html and "<svg" in html and "原因1" in html
    export = client.get(reverse("admin:feedback_survey_results_csv", args=[survey.pk]), **ZH)
    text = b"".join(export.streaming_content).decode("utf-8-sig")
    header, *rows = text.strip().splitlines()
    assert header.startswith("回答时间,") and "您有多大可能向朋友推荐我们？" in header
    assert len(rows) == 4


def test_results_page_runs_a_fixed_number_of_queries(client, manager, support):
    survey = designed_survey()
    answered(survey, 2, support)
    client.force_login(manager)
    url = reverse("admin:feedback_survey_results", args=[survey.pk])
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)
    with CaptureQueriesContext(connection) as before:
        client.get(url)
    answered(survey, 10, support)
    with CaptureQueriesContext(connection) as after:
        client.get(url)
    assert len(after) == len(before)


def test_support_may_not_read_results_but_may_answer_by_phone(client, support):
    survey = designed_survey()
    member = mf.member()
    client.force_login(support)
    assert client.get(reverse("admin:feedback_survey_results", args=[survey.pk])).status_code == 403
    url = reverse("admin:feedback_survey_phone", args=[survey.pk])
    opened = client.get(url, {"member": member.member_no}, **ZH)
    assert opened.status_code == 200 and "您有多大可能向朋友推荐我们" in opened.content.decode()
    refused = client.post(url, {"member": member.member_no, "nps": "3", "csat": "2"}, **ZH)
    assert refused.status_code == 400 and not SurveyResponse.objects.exists()
    saved = client.post(url, {"member": member.member_no, "nps": "3", "why": "等太久", "csat": "2"}, **ZH)
    assert saved.status_code == 302
    response = SurveyResponse.objects.get()
    assert response.channel == "phone" and response.staff == support and response.member == member


def test_marketing_may_not_answer_by_phone(client, marketing):
    survey = designed_survey()
    client.force_login(marketing)
    assert client.get(reverse("admin:feedback_survey_phone", args=[survey.pk])).status_code == 403


def test_an_unknown_member_number_is_named_on_the_phone_page(client, support):
    survey = designed_survey()
    client.force_login(support)
    page = client.get(reverse("admin:feedback_survey_phone", args=[survey.pk]), {"member": "M000"})
    assert page.status_code == 200 and "M000" in page.content.decode() and "errornote" in page.content.decode()


def _builder_post(survey, questions):
    data = {
        "name": survey.name,
        "intro": "",
        "is_active": "on",
        "link_valid_days": "14",
        "questions-TOTAL_FORMS": str(len(questions)),
        "questions-INITIAL_FORMS": str(sum(1 for q in questions if q.get("id"))),
        "questions-MIN_NUM_FORMS": "0",
        "questions-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    for i, question in enumerate(questions):
        for key, value in question.items():
            data[f"questions-{i}-{key}"] = value
        data[f"questions-{i}-survey"] = survey.pk
    return data


def test_the_builder_refuses_a_condition_on_a_later_question(client, marketing):
    survey = Survey.objects.create(name="新调查")
    first = SurveyQuestion.objects.create(survey=survey, position=1, kind="text", text="为什么？")
    second = SurveyQuestion.objects.create(survey=survey, position=2, kind="nps", text="推荐吗？")
    client.force_login(marketing)
    url = reverse("admin:feedback_survey_change", args=[survey.pk])
    base = {"scale_max": "5", "required": "on", "choices": "", "key": ""}
    posted = _builder_post(
        survey,
        [
            {**base, "id": first.pk, "position": "1", "kind": "text", "text": "为什么？",
             "show_if_question": second.pk, "show_if_operator": "lte", "show_if_value": "6"},
            {**base, "id": second.pk, "position": "2", "kind": "nps", "text": "推荐吗？"},
        ],
    )  # fmt: skip
    page = client.post(url, posted)
    assert page.status_code == 200 and "earlier question" in page.content.decode()
    posted["questions-0-position"], posted["questions-1-position"] = "2", "1"
    assert client.post(url, posted).status_code == 302
    survey.refresh_from_db()
    questions = survey.versions.get().definition["questions"]
    assert [(q["key"], q["kind"]) for q in questions] == [("q1", "nps"), ("q2", "text")]
    assert questions[1]["show_if"] == {"key": "q1", "op": "lte", "value": "6"}


def test_a_builtin_survey_questions_are_read_only_in_the_builder(client, manager):
    from tests.feedback.survey_helpers import ensure_builtin_surveys

    ensure_builtin_surveys()
    client.force_login(manager)
    csat = Survey.objects.get(builtin="csat")
    page = client.get(reverse("admin:feedback_survey_change", args=[csat.pk]))
    assert page.status_code == 200 and 'name="questions-0-text"' not in page.content.decode()


# --- campaigns' {{ survey_link }} -------------------------------------------------------------------


def test_a_campaign_with_a_survey_gives_each_member_their_own_link_and_the_preview_none(manager):
    survey = designed_survey()
    saved = campaign_services.create_campaign(
        name="满意度调查", channel="sms", body="请填写问卷：{{ survey_link }}", survey=survey, actor=manager
    )
    campaign = Campaign.objects.get(pk=saved.campaign.pk)
    member = mf.member()
    preview = dispatch.render_for(campaign, member, preview=True)
    assert "crm.example.com" in preview.text and not SurveyLink.objects.exists()
    first = dispatch.render_for(campaign, member).text
    second = dispatch.render_for(campaign, mf.member()).text
    links = list(SurveyLink.objects.order_by("pk"))
    assert len(links) == 2 and links[0].source == f"campaign:{campaign.pk}" and links[0].channel == "sms"
    assert first != second and "/survey/s/" in first


def test_a_campaign_without_a_survey_renders_the_link_empty():
    campaign = Campaign(name="x", channel="sms", body="{{ survey_link }}")
    assert personal_variables.values_for(campaign, mf.member()) == {"survey_link": ""}


def test_the_campaigns_api_takes_and_shows_the_survey(api_marketing):
    survey = designed_survey()
    created = api_marketing.post(
        "/api/v1/campaigns/",
        {"name": "问卷", "channel": "email", "subject": "问卷", "body": "{{ survey_link }}", "survey": survey.pk},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert api_marketing.get(f"/api/v1/campaigns/{created.json()['id']}/").json()["survey"] == survey.pk
    bad = api_marketing.post(
        "/api/v1/campaigns/",
        {"name": "问卷", "channel": "email", "subject": "问卷", "body": "x", "survey": 999999},
        format="json",
    )
    assert bad.status_code == 400 and "survey" in bad.json()


def test_store_staff_may_not_open_the_survey_builder(client):
    staff = make_user("staff-survey", "Store staff")
    client.force_login(staff)
    assert client.get(reverse("admin:feedback_survey_changelist")).status_code == 403
