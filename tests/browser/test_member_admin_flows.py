"""Browser flows of the member back office in Chinese: registering, importing and erasing members."""

import pytest

from loyalty_crm.roles import MANAGER, STORE_STAFF
from members.models import ConsentEvent, Member
from tests.browser.conftest import screenshot
from tests.conftest import make_user
from tests.members import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def login(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", f"pw-{username}")
    page.click("input[type=submit]")
    page.wait_for_url(f"{base_url}/admin/")


def test_store_staff_registers_a_member_with_consent(live_server, zh_page):
    make_user("clerk", STORE_STAFF)
    factories.store()
    page = zh_page
    login(page, live_server.url, "clerk")
    page.goto(f"{live_server.url}/admin/members/member/add/")
    page.fill("#id_name", "周雨萱")
    page.fill("#id_phone", "186 2233 4455")
    page.fill("#id_email", "yuxuan@example.com")
    page.check("#id_consent_marketing_sms")
    screenshot(page, "members_04_add_member_zh")
    page.click("input[name=_save]")
    page.wait_for_url("**/admin/members/member/**")
    member = Member.objects.with_phone("18622334455").get()
    assert member.name == "周雨萱"
    assert member.phone == "+8618622334455"
    event = ConsentEvent.objects.get(member=member)
    assert (event.topic, event.granted, event.source, event.actor.username) == ("marketing_sms", True, "admin", "clerk")


def test_store_staff_sees_the_duplicate_phone_error_next_to_the_field(live_server, zh_page):
    make_user("clerk", STORE_STAFF)
    existing = factories.member(name="刘洋", phone="13511112222")
    page = zh_page
    login(page, live_server.url, "clerk")
    page.goto(f"{live_server.url}/admin/members/member/add/")
    page.fill("#id_name", "刘洋二号")
    page.fill("#id_phone", "+86 135 1111 2222")
    page.click("input[name=_save]")
    error = page.locator(".field-phone .errorlist")
    error.wait_for()
    assert existing.member_no in error.inner_text()
    assert page.locator("#id_name").input_value() == "刘洋二号"  # nothing typed is lost
    screenshot(page, "members_05_duplicate_phone_zh")
    assert Member.objects.count() == 1


def test_manager_imports_a_csv_after_the_preview(live_server, zh_page, tmp_path):
    make_user("boss", MANAGER)
    csv_file = tmp_path / "members.csv"
    csv_file.write_text(
        "external_id,name,phone,email,birthday,registered_at\n"
        "POS-1,吴婷,13900001111,ting@example.com,1990-02-14,2024-03-01\n"
        "POS-2,郑浩,13900002222,,,2024-03-02\n",
        encoding="utf-8",
    )
    page = zh_page
    login(page, live_server.url, "boss")
    page.goto(f"{live_server.url}/admin/members/member/import/")
    page.set_input_files("input[type=file]", str(csv_file))
    page.click("#import-upload input[type=submit]")
    confirm = page.locator("input[name=_confirm]")
    confirm.wait_for()
    assert "吴婷" in page.locator("body").inner_text()
    assert Member.objects.count() == 0  # the preview stores nothing
    screenshot(page, "members_06_import_preview_zh")
    confirm.click()
    page.wait_for_url(f"{live_server.url}/admin/members/member/")
    assert sorted(Member.objects.values_list("external_id", flat=True)) == ["POS-1", "POS-2"]
    screenshot(page, "members_07_import_done_zh")


def test_manager_erases_a_member_after_confirming(live_server, zh_page):
    make_user("boss", MANAGER)
    member = factories.member(name="孙丽", phone="13722223333")
    factories.purchase(member, total="88.00")
    page = zh_page
    login(page, live_server.url, "boss")
    page.goto(f"{live_server.url}/admin/members/member/")
    page.check(f"input[name=_selected_action][value='{member.pk}']")
    page.select_option("select[name=action]", "erase_selected")
    page.click("button[name=index]")
    page.locator("input[type=submit]").first.wait_for()
    assert "孙丽" in page.locator("body").inner_text()
    screenshot(page, "members_08_erase_confirm_zh")
    page.locator("form input[type=submit]").first.click()
    page.wait_for_url(f"{live_server.url}/admin/members/member/**")
    member.refresh_from_db()
    assert member.status == Member.Status.ERASED
    assert member.phone is None
    assert member.purchases.count() == 1
