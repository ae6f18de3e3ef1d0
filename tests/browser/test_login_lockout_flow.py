"""A clerk who mistypes the password five times is locked out, told why in Chinese, and stays out
even with the right password until the lock ends or a manager lifts it."""

import pytest

from loyalty_crm.roles import STORE_STAFF
from tests.browser.conftest import screenshot
from tests.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def sign_in(page, live_server, password):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "clerk")
    page.fill("#id_password", password)
    page.click("input[type=submit]")


def test_five_wrong_passwords_lock_the_clerk_out_with_a_page_in_chinese(live_server, zh_page):
    make_user("clerk", STORE_STAFF)
    page = zh_page
    for _attempt in range(4):
        sign_in(page, live_server, "wrong")
        assert page.locator(".errornote").is_visible()  # the admin's own "wrong password" note
    sign_in(page, live_server, "wrong")
    assert page.locator("[data-lockout=locked]").is_visible()
    body = page.locator("#content").inner_text()
    assert "登录已锁定" in body and "15 分钟" in body  # what happened, and how long to wait
    screenshot(page, "lockout_01_locked_zh")

    sign_in(page, live_server, "pw-clerk")  # the right password does not get through a lock
    assert page.locator("[data-lockout=locked]").is_visible()
    assert "/admin/login/" in page.url
