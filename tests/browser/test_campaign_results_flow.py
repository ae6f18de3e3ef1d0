"""A marketer in China opens a sent campaign's results (figures, lift, ROI, charts) and the monthly
marketing review."""

import datetime

import pytest
import time_machine
from django.utils import timezone

from campaigns.services import offers
from loyalty_crm.roles import MARKETING
from tests.browser.conftest import screenshot
from tests.campaigns.helpers import campaign, drain, launched, member, no_quiet_hours
from tests.conftest import make_user
from tests.rewards.helpers import post

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_marketer_reads_results_and_the_monthly_review(live_server, zh_page, monkeypatch):
    from campaigns.services import dispatch

    make_user("marketer", MARKETING)
    no_quiet_hours()
    people = [member(name=f"会员{i}", sms_consent=True) for i in range(10)]
    control = {p.pk for p in people[:3]}
    monkeypatch.setattr(dispatch.rules, "in_control_group", lambda *, campaign_id, member_id, pct: member_id in control)
    sent_at = timezone.now() - datetime.timedelta(days=20)
    made = campaign(name="双十一回馈", control_group_pct=30)
    offers.set_offer(campaign=made, kind="points", points=200)
    with time_machine.travel(sent_at, tick=False):
        launched(made, now=sent_at)
        drain()
    for buyer in people[3:7]:
        post(buyer, "300.00", ordered_at=sent_at + datetime.timedelta(days=3))
    post(people[0], "120.00", ordered_at=sent_at + datetime.timedelta(days=3))

    page = zh_page
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "marketer")
    page.fill("#id_password", "pw-marketer")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    page.goto(f"{live_server.url}/admin/campaigns/campaign/{made.pk}/change/")
    page.click("a.campaign-results-link")
    page.wait_for_url("**/results/**")
    body = page.locator("body").inner_text()
    assert "复购与回报" in body and "提升度" in body
    assert page.locator(".figure-lift").inner_text() == "71%"  # (4/7 − 1/3) / (1/3)
    assert page.locator(".figure-revenue").inner_text().replace(",", "") == "1200.00"
    screenshot(page, "campaigns_results_01_results_zh")

    page.goto(f"{live_server.url}/admin/campaigns/campaign/")
    page.click("a.campaigns-monthly-report-link")
    page.wait_for_url("**/monthly-report/**")
    assert "月度营销复盘" in page.locator("body").inner_text()
    screenshot(page, "campaigns_results_02_monthly_review_zh")
