"""A newcomer's first look at the demo shop, in Chinese: the admin home is populated and the
redemption page offers the reward catalogue (it was an empty dropdown before the demo had one)."""

import io

import pytest
from django.core.management import call_command

from demo.logins import demo_password
from members.models import Member
from tests.browser.conftest import screenshot
from tests.conftest import ensure_roles

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _login(page, live_server, username):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", demo_password(username))
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")


def test_the_seeded_shop_home_and_redemption_page_in_chinese(live_server, zh_page):
    ensure_roles()  # the demo logins join the role groups, which an earlier transactional test may have flushed
    call_command("seed_demo", members=40, allow_production=True, stdout=io.StringIO(), stderr=io.StringIO())
    page = zh_page
    _login(page, live_server, "manager")
    body = page.locator("#content").inner_text()
    assert "会员总数" in body and "40" in body  # the dashboard's member count, in Chinese
    screenshot(page, "demo_00_admin_home_zh")

    page.goto(f"{live_server.url}/admin/campaigns/memberscore/")
    assert page.locator(".class-chart").is_visible()
    assert page.locator("form.classify-now button").inner_text() == "立即分层"
    screenshot(page, "demo_01_classification_zh")

    page.context.clear_cookies()
    _login(page, live_server, "staff")
    member = Member.objects.order_by("pk").first()
    page.goto(f"{live_server.url}/admin/rewards/redemption/add/?member={member.pk}")
    options = [text.strip() for text in page.locator("#id_reward option").all_inner_texts()]
    rewards = [text for text in options if "积分" in text]
    assert len(rewards) >= 5, options
    assert any(text.startswith("玻璃花瓶（直筒） — 600 积分") for text in rewards), rewards
    screenshot(page, "demo_02_redeem_page_zh")
