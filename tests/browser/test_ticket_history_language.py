"""The ticket's history follows the reader's language, whatever language wrote it (issue 12)."""

import pytest
from django.utils import translation

from feedback import services, surveys
from feedback.models import Ticket
from loyalty_crm.roles import MANAGER
from tests.browser.conftest import screenshot
from tests.conftest import make_user
from tests.feedback.factories import ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_a_history_written_in_chinese_reads_in_english_for_an_english_manager(live_server, browser):
    manager = make_user("boss", MANAGER)
    made = ticket(email="kehu@example.com", language="zh-hans")
    with translation.override("zh-hans"):
        services.update_ticket(ticket=made, actor=manager, kind=Ticket.Kind.QUESTION, priority="high")
        services.change_status(ticket=made, to="open", actor=manager)
        services.change_status(ticket=made, to="resolved", actor=manager)
        surveys.record_survey_response(token=surveys.csat_token(made), kind="csat", score=4, comment="很快")
    context = browser.new_context(locale="en-GB", viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "pw-boss")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    page.goto(f"{live_server.url}/admin/feedback/ticket/{made.pk}/change/")
    history = page.locator("#events-group").inner_text()
    assert "kind: Complaint → Question; priority: Normal → High" in history
    assert f"Satisfaction survey for {made.ticket_no}: 4/5 — 很快" in history
    assert "类型" not in history and "满意度调查" not in history
    page.locator("#events-group").scroll_into_view_if_needed()
    screenshot(page, "feedback_20_history_in_english")
    context.close()
