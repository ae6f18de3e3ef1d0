"""Each role's home page in Chinese on the seeded demo shop: the role's panels, their figures and
links, and the full app list one click away. Screenshots go to var/screenshots/ and /tmp/shots-home/."""

import io
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command

from demo.logins import demo_password
from tests.browser.conftest import screenshot
from tests.conftest import ensure_roles, ensure_seeded_automations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

SHOTS = Path("/tmp/shots-home")


def _login(page, live_server, username):
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", demo_password(username))
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")


def _shot(page, name):
    path = screenshot(page, name)
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SHOTS / path.name)


def test_each_roles_home_page_in_chinese(live_server, zh_page):
    ensure_roles()
    ensure_seeded_automations()  # a shop has them from its migrations; an earlier test may have flushed them
    call_command("seed_demo", members=60, allow_production=True, stdout=io.StringIO(), stderr=io.StringIO())
    page = zh_page

    _login(page, live_server, "staff")
    panels = page.locator("[data-panel]")
    assert [panels.nth(i).get_attribute("data-panel") for i in range(panels.count())] == ["store_staff"]
    counter = page.locator("[data-panel=store_staff]")
    assert counter.locator("label[for=home-find-q]").inner_text() == "查找会员"
    assert counter.locator("a.home-big-button").inner_text() == "打开收银台"
    text = counter.inner_text()
    assert "今日生日" in text and "未来 7 天的重要日子" in text and "待处理的服务请求" in text and "今日活动" in text
    assert counter.locator(".home-card").nth(1).locator(".home-list li").count() >= 3  # 2 birthdays, 2 dates
    assert "周末花艺小课堂" in text  # the demo's workshop today
    _shot(page, "home_store_staff_zh")
    # The find box: the last four digits of a member's phone open that member (or a short list).
    from members.models import Member

    member = Member.objects.filter(home_store__isnull=False).exclude(phone_last4="").order_by("pk").first()
    page.fill("#home-find-q", member.member_no)
    page.click(".home-find button[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/members/member/{member.pk}/change/")
    page.goto(f"{live_server.url}/admin/till/")
    assert page.url.endswith("/admin/till/")

    _login(page, live_server, "support")
    support = page.locator("[data-panel=support]")
    text = support.inner_text()
    assert "已超时" in text and "即将超时" in text and "我的工单" in text and "本月满意度" in text
    assert support.locator(".home-card").nth(1).locator(".home-list li").count() >= 1  # tickets assigned to them
    _shot(page, "home_support_zh")
    support.locator(".home-sla-breached a").click()
    page.wait_for_url("**/admin/feedback/ticket/?queue=breached")

    _login(page, live_server, "marketing")
    marketing = page.locator("[data-panel=marketing]")
    text = marketing.inner_text()
    assert "进行中和已排期的营销活动" in text and "客户分群" in text and "即将触发的自动化" in text
    assert marketing.locator(".home-table tbody tr").count() >= 1  # the demo has running campaigns
    assert marketing.locator("[data-channel=sms]").count() == 1
    automations = marketing.locator(".home-card", has_text="即将触发的自动化")
    assert automations.locator(".home-list li").count() >= 2  # the demo's birthday and date greetings
    assert "尚未开启" not in automations.inner_text()
    _shot(page, "home_marketing_zh")

    _login(page, live_server, "manager")
    manager = page.locator("[data-panel=manager]")
    assert manager.locator("svg.kpi-chart").count() == 3
    text = manager.inner_text()
    assert "积分负债" in text and "储值负债" in text and "会员消费占比" in text
    assert page.locator("#all-apps").count() == 1 and page.locator("#content-main .app-members").count() == 1
    _shot(page, "home_manager_zh")

    _login(page, live_server, "admin")
    panels = page.locator("[data-panel]")
    assert [panels.nth(i).get_attribute("data-panel") for i in range(panels.count())] == [
        "store_staff", "support", "marketing", "manager",
    ]  # fmt: skip
    _shot(page, "home_superuser_zh")
