"""A customer rates a resolved ticket on a phone (Chinese); a manager reads the KPI charts."""

import datetime

import pytest
from django.utils import timezone

from feedback import services, surveys
from feedback.models import KpiTarget, SurveyResponse, Ticket
from loyalty_crm.roles import MANAGER
from tests.browser.conftest import screenshot
from tests.conftest import make_user
from tests.feedback.factories import ticket
from tests.members import factories as mf

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_customer_answers_the_csat_survey_on_a_phone(live_server, browser, settings):
    settings.FEEDBACK_PUBLIC_URL = live_server.url
    made = ticket(email="kehu@example.com", language="zh-hans")
    services.change_status(ticket=made, to="open", actor=None)
    services.change_status(ticket=made, to="resolved", actor=None)
    link = surveys.csat_survey_link(made)
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto(link)
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert made.ticket_no in page.locator("main").inner_text()
    # The five score buttons fit side by side on a phone.
    boxes = [page.locator(".fb-score").nth(i).bounding_box() for i in range(5)]
    assert len({round(box["y"]) for box in boxes}) == 1 and boxes[-1]["x"] + boxes[-1]["width"] <= 390
    page.locator(".fb-score", has_text="4").click()
    page.fill("#id_comment", "客服回复很快，谢谢！")
    screenshot(page, "feedback_10_csat_phone_zh")
    page.click("button.fb-submit")
    page.wait_for_selector(".fb-survey-done")
    screenshot(page, "feedback_11_csat_thanks_phone_zh")
    answer = SurveyResponse.objects.get()
    assert (answer.score, answer.comment, answer.ticket) == (4, "客服回复很快，谢谢！", made)
    page.goto(link)
    assert page.locator("h1[data-reason=answered]").is_visible()
    screenshot(page, "feedback_12_csat_already_answered_phone_zh")
    context.close()


def test_manager_opens_the_kpi_page_and_sees_the_charts(live_server, zh_page):
    shop = mf.store("sh-001", "上海南京西路店")
    buyer = mf.member(phone="13900001111", home_store=shop)
    now = timezone.now()
    minutes = datetime.timedelta(minutes=1)
    for months_back in range(6):
        moment = now - datetime.timedelta(days=30 * months_back + 1)
        for _i in range(20):
            mf.purchase(buyer, ordered_at=moment, store=shop)
        for n in range(6 - months_back // 2):
            made = ticket(kind="complaint" if n % 2 else "question", store=shop, email="kehu@example.com")
            # Answered and resolved faster month after month (set directly: history is not the point here).
            Ticket.objects.filter(pk=made.pk).update(
                created_at=moment,
                status="resolved",
                first_response_at=moment + (20 + 15 * months_back + n) * minutes,
                resolved_at=moment + (300 + 120 * months_back + 30 * n) * minutes,
                first_response_due=moment + 240 * minutes,
                resolution_due=moment + 48 * 60 * minutes,
            )
            SurveyResponse.objects.create(
                kind="csat", token_id=f"csat:{made.ticket_no}", ticket=made, store=shop,
                score=5 - (n + months_back) % 3, created_at=moment,
            )  # fmt: skip
            SurveyResponse.objects.create(
                kind="nps", token_id=f"nps:{made.ticket_no}", store=shop, score=10 - (n + months_back) % 5,
                created_at=moment,
            )  # fmt: skip
    KpiTarget.objects.create(metric="complaint_rate", target_value=10)
    KpiTarget.objects.create(metric="csat", target_value=4)
    KpiTarget.objects.create(metric="first_response", target_value=60)
    make_user("boss", MANAGER)
    page = zh_page
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "pw-boss")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    page.click("a[href='/admin/feedback/servicekpi/']")
    page.wait_for_url("**/admin/feedback/servicekpi/")
    assert page.locator("svg.kpi-chart").count() == 6
    assert page.locator("[data-metric=complaint_rate] .kpi-point").count() >= 5
    assert page.locator("[data-metric=complaint_rate] .kpi-target").count() == 1
    assert page.locator("[data-metric=csat] .kpi-point").count() >= 5
    assert page.locator(".kpi-empty").count() == 0
    assert "服务指标" in page.title() or "服务指标" in page.locator("h1").inner_text()
    screenshot(page, "feedback_13_kpi_page_zh")
    page.select_option("#kpi-store", str(shop.pk))
    page.wait_for_url(f"**/admin/feedback/servicekpi/?store={shop.pk}")
    screenshot(page, "feedback_14_kpi_page_store_zh")
