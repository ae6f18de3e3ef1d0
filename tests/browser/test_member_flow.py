"""A store clerk in China logs into the admin, finds a member by phone and opens the 360 page."""

import pytest

from loyalty_crm.roles import STORE_STAFF
from members.models import ContactDetailView
from tests.browser.conftest import screenshot
from tests.conftest import make_user
from tests.members import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_store_staff_finds_member_by_phone_and_opens_member_360(live_server, zh_page):
    make_user("clerk", STORE_STAFF)
    member = factories.member(name="陈美玲", phone="139 1234 5678", email="meiling@example.com")
    factories.purchase(member, total="299.00", ref="POS-2026-0001")
    factories.member(name="赵强")  # someone else, who must not show up

    page = zh_page
    page.goto(f"{live_server.url}/admin/login/")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    page.fill("#id_username", "clerk")
    page.fill("#id_password", "pw-clerk")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    screenshot(page, "members_01_dashboard_zh")

    page.goto(f"{live_server.url}/admin/members/member/")
    page.fill("#searchbar", "+86 139-1234-5678")
    page.press("#searchbar", "Enter")
    rows = page.locator("#result_list tbody tr")
    rows.first.wait_for()
    assert rows.count() == 1
    assert "陈美玲" in rows.first.inner_text()
    assert "139****5678" in rows.first.inner_text()  # lists mask the phone for every role
    screenshot(page, "members_02_search_by_phone_zh")

    rows.first.locator("th a").click()
    page.wait_for_url(f"**/admin/members/member/{member.pk}/change/**")
    body = page.locator("body").inner_text()
    assert member.member_no in body
    assert "POS-2026-0001" in body  # recent purchases on the 360 page
    # One member's page shows the phone in clear to store staff (they may see contact details),
    # and the view is recorded.
    assert "13912345678" in body.replace(" ", "").replace("+86", "")
    assert ContactDetailView.objects.filter(member=member, user__username="clerk", channel="admin").count() == 1
    screenshot(page, "members_03_member_360_zh")
