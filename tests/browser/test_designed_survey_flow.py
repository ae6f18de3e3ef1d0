"""Issue 19: a designed survey with branching, answered by a member on a phone (390×844, Chinese)
and by support staff over the phone in the admin (Chinese); marketing reads the results; a ticket's
topic suggestions show the words that matched."""

import pytest

from feedback.models import SurveyResponse, Topic
from feedback.services import questionnaires
from loyalty_crm.roles import MANAGER, SUPPORT
from tests.browser.conftest import screenshot
from tests.conftest import make_user
from tests.feedback.factories import ticket
from tests.feedback.survey_helpers import designed_survey
from tests.members import factories as mf

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", f"pw-{username}")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")


def test_a_member_answers_a_branching_survey_on_a_phone(live_server, browser, settings):
    settings.FEEDBACK_PUBLIC_URL = live_server.url
    survey = designed_survey()
    link = questionnaires.create_link(survey=survey, member=mf.member(), channel="sms")
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto(questionnaires.link_url(link))
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    why = page.locator('.sv-question[data-key="why"]')
    assert not why.is_visible()  # asked only of detractors
    nps = page.locator('.sv-question[data-key="nps"] .fb-score')
    boxes = [nps.nth(i).bounding_box() for i in range(11)]
    assert max(b["x"] + b["width"] for b in boxes) <= 390  # 0–10 fit the phone's width (two rows)
    nps.filter(has_text="9").first.click()
    assert not why.is_visible()
    nps.filter(has_text="3").first.click()
    assert why.is_visible()
    screenshot(page, "survey_01_phone_branching_zh")
    page.locator('.sv-question[data-key="csat"] .fb-score', has_text="2").click()
    page.click("button.fb-submit")  # the "why" left empty: refused, the page says so
    page.wait_for_selector(".fb-alert")
    assert "请回答这个问题" in why.inner_text()
    screenshot(page, "survey_02_phone_required_why_zh")
    why.locator("textarea").fill("花送到时已经蔫了")
    page.locator(".fb-kind", has_text="包装精美").click()
    page.click("button.fb-submit")
    page.wait_for_selector(".fb-survey-done")
    screenshot(page, "survey_03_phone_thanks_zh")
    response = SurveyResponse.objects.get(link=link)
    answers = {a.question_key: a.number if a.number is not None else a.choice or a.text for a in response.answers.all()}
    assert answers == {"nps": 3, "why": "花送到时已经蔫了", "csat": 2, "liked": "包装精美"}
    page.goto(questionnaires.link_url(link))
    assert page.locator("h1[data-reason=answered]").is_visible()
    screenshot(page, "survey_04_phone_used_link_zh")
    context.close()


def test_support_enters_answers_over_the_phone_and_a_manager_reads_the_results(live_server, zh_page):
    make_user("kefu", SUPPORT)
    make_user("jingli", MANAGER)
    survey = designed_survey()
    member = mf.member(name="李小姐")
    page = zh_page
    sign_in(page, live_server, "kefu")
    page.goto(f"{live_server.url}/admin/feedback/survey/{survey.pk}/phone/")
    page.fill("#id_member", member.member_no)
    page.click(".phone-member input[type=submit]")
    page.wait_for_selector(".sv-form")
    assert "李小姐" in page.locator(".phone-member-name").inner_text()
    why = page.locator('.sv-question[data-key="why"]')
    page.locator('.sv-question[data-key="nps"] .fb-score', has_text="5").click()
    assert why.is_visible()
    why.locator("textarea").fill("店员不太耐心")
    page.locator('.sv-question[data-key="csat"] .fb-score', has_text="3").click()
    screenshot(page, "survey_05_admin_phone_entry_zh")
    page.click(".submit-row input[type=submit]")
    page.wait_for_selector(".messagelist .success")
    response = SurveyResponse.objects.get()
    assert (response.channel, response.staff.username, response.member_id) == ("phone", "kefu", member.pk)
    page.context.clear_cookies()
    context_page = page.context.new_page()
    sign_in(context_page, live_server, "jingli")
    context_page.goto(f"{live_server.url}/admin/feedback/survey/{survey.pk}/results/")
    assert "-100.0" in context_page.locator("#sv-nps").inner_text()  # one detractor: NPS −100
    assert "店员不太耐心" in context_page.locator(".sv-texts").inner_text()
    screenshot(context_page, "survey_06_admin_results_zh")


def test_a_ticket_shows_its_suggested_topics_with_the_matched_words(live_server, zh_page):
    make_user("kefu2", SUPPORT)
    if not Topic.objects.filter(name="Delivery").exists():
        Topic.objects.create(name="Delivery", keywords="配送, 迟到, late")
    made = ticket(kind="complaint", message="配送员迟到了一个半小时，错过了生日聚会")
    sign_in(zh_page, live_server, "kefu2")
    zh_page.goto(f"{live_server.url}/admin/feedback/ticket/{made.pk}/change/")
    suggestion = zh_page.locator(".topic-suggestion").first
    assert "配送" in suggestion.inner_text() and "迟到" in suggestion.inner_text()
    suggestion.scroll_into_view_if_needed()
    screenshot(zh_page, "survey_07_ticket_topic_suggestions_zh")
