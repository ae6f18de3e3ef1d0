"""Browser flow in Chinese (issue 18, segments at 1M members): the live count of the segment "bought
roses in the last 90 days, churn risk above 60%" follows the shop at once — on PostgreSQL it reads
the purchase summary the database keeps, so a refund and a new purchase recorded after the segment
was saved show in the builder's count without any refresh."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.models import Segment
from loyalty_crm.roles import MARKETING
from members import services as member_services
from members.models import Member, Purchase
from tests.browser.conftest import screenshot
from tests.browser.test_segment_dates_flow import _shop
from tests.browser.test_segment_flow import login
from tests.conftest import make_user
from tests.rewards.helpers import reseed_after_flush

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

COUNT = "document.getElementById('segment-preview-count').textContent.includes('%s')"


@pytest.fixture(autouse=True)
def _programme_rows():
    reseed_after_flush()


def test_the_live_count_follows_a_refund_and_a_new_purchase(live_server, zh_page):
    make_user("marketer", MARKETING)
    _shop()  # roses within 90 days and churn above 60%: Ann (0.72) and Cat (0.65)
    page = zh_page
    login(page, live_server.url, "marketer")
    page.goto(f"{live_server.url}/admin/campaigns/segment/add/")
    page.wait_for_function(COUNT % "6")
    page.fill("#id_name", "90天内买过玫瑰、流失风险高于60%")
    page.select_option("#id_bought_category", "roses")
    page.fill("#id_bought_category_within_days", "90")
    page.fill("#id_churn_risk_min", "60")
    page.wait_for_function(COUNT % "2 位")
    page.click("input[name=_save]")
    page.wait_for_url(f"{live_server.url}/admin/campaigns/segment/")
    segment = Segment.objects.get()
    assert segment.size == 2

    # Ann's roses are refunded in full; Dan (risk 0.80, last roses 120 days ago) buys roses today.
    ann, dan = Member.objects.get(name="Ann"), Member.objects.get(name="Dan")
    refunded = Purchase.objects.get(member=ann)
    member_services.record_refund(purchase=refunded, amount=refunded.total)
    page.goto(f"{live_server.url}/admin/campaigns/segment/{segment.pk}/change/")
    page.wait_for_function(COUNT % "1 位")
    assert page.locator("#segment-preview-count").inner_text() == "1 位会员符合条件"
    member_services.record_purchase(
        member=dan, external_ref="B-DAN-2", ordered_at=timezone.now() - datetime.timedelta(hours=1),
        items=[member_services.PurchaseLine(sku="ROSE-11", quantity=1, unit_price=Decimal("199.00"))],
    )  # fmt: skip
    page.reload()
    page.wait_for_function(COUNT % "2 位")
    assert page.locator("#segment-preview-count").inner_text() == "2 位会员符合条件"
    assert page.locator("#id_bought_category").input_value() == "roses"
    assert float(page.locator("#id_churn_risk_min").input_value()) == 60
    page.locator("#id_churn_risk_min").scroll_into_view_if_needed()
    screenshot(page, "segments_summary_01_count_after_refund_and_purchase_zh")
