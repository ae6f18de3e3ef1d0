"""A customer sends feedback with a photo from a phone in Chinese; support resolves it in the admin."""

import pytest

from feedback.models import Ticket
from loyalty_crm.roles import SUPPORT
from tests.browser.conftest import screenshot
from tests.conftest import make_user
from tests.feedback.helpers import png_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_customer_submits_on_a_phone_and_support_resolves_it(live_server, browser, tmp_path):
    photo = tmp_path / "破损的花瓶.png"
    photo.write_bytes(png_bytes((120, 90)))
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto(f"{live_server.url}/feedback/")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    page.screenshot(path="/tmp/feedback_form_zh.png", full_page=True)
    screenshot(page, "feedback_01_form_phone_zh")
    page.check("input[name=kind][value=complaint]")
    page.fill("#id_message", "花瓶送到时已经破了，请尽快处理。")
    page.fill("#id_email", "kehu@example.com")
    page.set_input_files("#id_photos", str(photo))
    page.click("button.fb-submit")
    page.wait_for_url("**/feedback/thanks/**")
    ticket = Ticket.objects.get()
    assert ticket.ticket_no in page.locator(".fb-ticket").inner_text()
    assert ticket.attachments.count() == 1
    screenshot(page, "feedback_02_thanks_phone_zh")
    context.close()

    make_user("helper", SUPPORT)
    context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "helper")
    page.fill("#id_password", "pw-helper")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    page.goto(f"{live_server.url}/admin/feedback/ticket/")
    page.fill("#searchbar", ticket.ticket_no)
    page.press("#searchbar", "Enter")
    page.locator("#result_list tbody tr th a").first.click()
    page.wait_for_url(f"**/admin/feedback/ticket/{ticket.pk}/change/**")
    page.select_option("#id_new_status", "open")
    page.fill("#id_reply", "非常抱歉，我们明天补送一个新的花瓶。")
    page.click("input[name=_continue]")
    page.wait_for_url(f"**/admin/feedback/ticket/{ticket.pk}/change/**")
    page.select_option("#id_new_status", "resolved")
    screenshot(page, "feedback_03_admin_change_zh")
    page.click("input[name=_save]")
    page.wait_for_url(lambda url: "/admin/feedback/ticket/" in url and "/change/" not in url)
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.RESOLVED and ticket.first_response_at is not None
    context.close()
