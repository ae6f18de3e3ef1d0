"""Support opens the ticket queue in Chinese on a 1366 px screen: open tickets only, the most
overdue first with "已超时 1小时1分" in red, and why a ticket is prioritised ("金卡会员")."""

import datetime
import importlib

import pytest
import time_machine
from django.utils import timezone

from feedback.models import PriorityRule, SlaTarget, Ticket
from loyalty_crm.roles import SUPPORT
from tests.browser.conftest import screenshot
from tests.conftest import make_user
from tests.feedback.factories import ticket, ticket_in
from tests.members import factories as mf
from tests.rewards.helpers import post, reseed_after_flush

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
H = datetime.timedelta(hours=1)
M = datetime.timedelta(minutes=1)


def _seeded_rows():
    """The migrations' tiers, SLA targets and priority rules, which a transactional test before may have flushed."""
    reseed_after_flush()
    targets = importlib.import_module("feedback.migrations.0004_sla_defaults_and_breach_task")
    for kind, channel, priority, first, resolution in targets.DEFAULTS:
        SlaTarget.objects.get_or_create(
            kind=kind, channel=channel, priority=priority, defaults={"first_response": first, "resolution": resolution}
        )
    rules = importlib.import_module("feedback.migrations.0010_priority_rules_and_hours_roles")
    for name, priority, tier_code, classification, paid_plan, kind, vip in rules.DEFAULT_RULES:
        PriorityRule.objects.get_or_create(
            name=name,
            defaults={
                "priority": priority, "tier_code": tier_code, "classification": classification,
                "paid_plan": paid_plan, "kind": kind, "vip": vip,
            },
        )  # fmt: skip


def aged(delta, **kwargs):
    with time_machine.travel(timezone.now() - delta, tick=False):
        return ticket(**kwargs)


def test_support_sees_the_overdue_ticket_first_in_red_and_why_a_ticket_is_prioritised(live_server, zh_page):
    _seeded_rows()
    gold = mf.member(name="金先生", phone="13900002222")
    post(gold, "6000.00")  # Gold from 5,000
    vip = aged(30 * M, member_no=gold.member_no, kind="question", message="想预订情人节花束。")
    overdue = aged(5 * H + 1 * M + 20 * datetime.timedelta(seconds=1), message="花束送到时已经枯萎了。")
    warned = aged(3 * H + 30 * M, kind="question", message="可以开发票吗？")
    later = aged(10 * M, kind="suggestion", message="希望增加自提点。")
    done = ticket_in("resolved", message="已解决的问题。")
    make_user("kefu", SUPPORT)
    page = zh_page
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "kefu")
    page.fill("#id_password", "pw-kefu")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    page.goto(f"{live_server.url}/admin/feedback/ticket/")
    rows = page.locator("#result_list tbody tr")
    numbers = [rows.nth(i).locator("th").inner_text().strip() for i in range(rows.count())]
    assert done.ticket_no not in numbers  # open tickets only
    assert numbers[0] == overdue.ticket_no and numbers.index(warned.ticket_no) == 1
    assert set(numbers) == {overdue.ticket_no, warned.ticket_no, vip.ticket_no, later.ticket_no}
    badge = rows.nth(0).locator(".sla-badge")
    assert badge.inner_text().strip() == "已超时 1小时1分"
    assert badge.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(180, 35, 24)"
    vip_row = rows.nth(numbers.index(vip.ticket_no))
    assert "金卡会员" in vip_row.locator(".priority-reason").inner_text()
    assert "高" in vip_row.inner_text()
    assert "建议" in rows.nth(numbers.index(later.ticket_no)).locator(".priority-reason").inner_text()
    # The columns fit a 1366 px screen: no horizontal scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    widths = page.evaluate(
        "(() => { const t = document.querySelector('#result_list'); const p = t.parentElement;"
        " return [t.scrollWidth, t.offsetWidth, p.clientWidth, p.scrollWidth, p.className]; })()"
    )
    assert widths[0] <= widths[2]
    screenshot(page, "feedback_20_sla_queue_zh")
    page.click("#changelist-filter a:has-text('全部工单')")
    page.wait_for_url("**/admin/feedback/ticket/?queue=all")
    assert page.locator(f"#result_list th:has-text('{done.ticket_no}')").count() == 1
    screenshot(page, "feedback_21_sla_queue_all_zh")


def test_support_types_in_a_call_answered_within_three_rings_and_it_is_met(live_server, zh_page):
    _seeded_rows()
    make_user("kefu2", SUPPORT)
    page = zh_page
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "kefu2")
    page.fill("#id_password", "pw-kefu2")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    page.goto(f"{live_server.url}/admin/feedback/ticket/add/")
    called = timezone.localtime(timezone.now() - 20 * M).replace(second=0, microsecond=0)
    page.select_option("#id_kind", "complaint")
    page.select_option("#id_channel", "phone")
    page.fill("#id_contacted_at", called.strftime("%Y-%m-%dT%H:%M"))
    page.select_option("#id_answered", "three_rings")
    page.fill("#id_message", "电话反映：花束送到时已经枯萎了。")
    page.fill("#id_phone", "13800138000")
    assert "响铃三声内接听（电话）" in page.locator("#id_answered").inner_text()
    screenshot(page, "feedback_22_phone_ticket_typed_after_the_call_zh")
    page.click("input[name=_save]")
    page.wait_for_url("**/admin/feedback/ticket/")
    badge = page.locator("#result_list tbody tr").first.locator(".sla-badge")
    assert "sla-met" in badge.get_attribute("class")  # answered in time: measured, not alarmed
    made = Ticket.objects.get(channel="phone")
    assert made.contacted_at == called and made.first_response_at == called + datetime.timedelta(seconds=15)
    screenshot(page, "feedback_23_phone_ticket_met_in_the_queue_zh")
