"""Browser flow in Chinese: a marketing user builds a segment in the admin, watches the live member
count follow the rules, and saves it."""

import datetime

import pytest
from django.utils import timezone

from campaigns.models import Segment
from campaigns.services.classification import classify_members
from loyalty_crm.roles import MARKETING
from tests.browser.conftest import screenshot
from tests.conftest import make_user
from tests.members import factories
from tests.rewards.helpers import post

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def login(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", f"pw-{username}")
    page.click("input[type=submit]")
    page.wait_for_url(f"{base_url}/admin/")


def test_marketing_builds_a_segment_with_a_live_count(live_server, zh_page):
    make_user("marketer", MARKETING)
    store = factories.store("sh-001", "上海南京西路店", "上海")
    now = timezone.now()
    for index, (amount, tags, consent) in enumerate(
        [("6000.00", ["VIP"], True), ("3000.00", ["VIP"], False), ("80.00", ["VIP"], True), ("50.00", [], True)]
    ):
        member = factories.member(name=f"会员{index}", home_store=store, tags=tags, consents={"marketing_sms": consent})
        post(member, amount, ordered_at=now - datetime.timedelta(days=3 + index))
    for index in range(6):
        factories.member(name=f"新会员{index}")
    classify_members()

    page = zh_page
    login(page, live_server.url, "marketer")
    page.goto(f"{live_server.url}/admin/campaigns/segment/add/")
    count = page.locator("#segment-preview-count")
    page.wait_for_function("document.getElementById('segment-preview-count').textContent.includes('10')")
    page.fill("#id_name", "高价值 VIP 短信")
    page.select_option("#id_tags", ["VIP"])
    page.wait_for_function("document.getElementById('segment-preview-count').textContent.includes('3 位')")
    page.get_by_label("高价值").check()
    page.select_option("#id_consented_channel", "sms")
    page.wait_for_function("document.getElementById('segment-preview-count').textContent.includes('1 位')")
    assert count.inner_text() == "1 位会员符合条件"
    page.fill("#id_min_spend_12m", "-1")
    page.wait_for_function("document.getElementById('segment-preview-error').textContent.includes('0')")
    assert page.locator("#segment-preview-count").inner_text() == "—"
    page.fill("#id_min_spend_12m", "1000")
    page.wait_for_function("document.getElementById('segment-preview-count').textContent.includes('1 位')")
    screenshot(page, "campaigns_01_segment_live_count_zh")
    page.click("input[name=_save]")
    page.wait_for_url(f"{live_server.url}/admin/campaigns/segment/")
    screenshot(page, "campaigns_02_segment_list_zh")
    segment = Segment.objects.get()
    assert segment.rules == {
        "classification": ["high_value"],
        "tags": ["VIP"],
        "consented_channel": "sms",
        "min_spend_12m": "1000.00",
    }
    assert segment.size == 1
    assert "高价值 VIP 短信" in page.locator("#result_list").inner_text()
