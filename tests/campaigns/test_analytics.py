"""Programme ROI and a campaign's daily series, against a hand-computed small shop."""

from __future__ import annotations

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from campaigns import analytics
from campaigns.services import dispatch, offers
from members import services as member_services
from rewards.models import ActivityBonus, ProgrammeAssumptions
from rewards.services.redemptions import redeem_reward
from tests.campaigns.helpers import campaign, drain, launched, member, no_quiet_hours
from tests.rewards.catalogue_factories import reward
from tests.rewards.helpers import line, post

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
MARCH = datetime.date(2026, 3, 1)
APRIL_END = datetime.date(2026, 4, 30)


def local(day: str, hour: int = 10) -> datetime.datetime:
    return datetime.datetime.fromisoformat(day).replace(hour=hour, tzinfo=SHANGHAI)


def posted(who, amount: str, day: str):
    with time_machine.travel(local(day, 15), tick=False):
        return post(who, amount, ordered_at=local(day, 14))


@pytest.fixture
def shop(monkeypatch):
    """A points campaign (100 bonus points) sent on 10 March to a, b, c, d; e, f, g are its
    control group. a buys 100.00 and b 50.00 on 15 March, e (control) 60.00 on 13 March; c redeems
    a 50-point reward on 12 March. Two walk-in sales of 40.00 and 60.00 on 20 March."""
    ActivityBonus.objects.all().delete()
    ProgrammeAssumptions(
        margin_percent=Decimal("40"), cost_per_point=Decimal("0.01"), cost_per_message=Decimal("0.05")
    ).save()
    no_quiet_hours()
    a, b, c, _d, e, f, g = (member(sms_consent=True) for _i in range(7))
    control = {e.pk, f.pk, g.pk}
    monkeypatch.setattr(dispatch.rules, "in_control_group", lambda *, campaign_id, member_id, pct: member_id in control)
    sent_at = local("2026-03-10")
    made = campaign(control_group_pct=40)
    offers.set_offer(campaign=made, kind="points", points=100)
    with time_machine.travel(sent_at, tick=False):
        launched(made, now=sent_at)
        drain()
    posted(a, "100.00", "2026-03-15")
    posted(b, "50.00", "2026-03-15")
    posted(e, "60.00", "2026-03-13")
    gift = reward(points_cost=50)
    with time_machine.travel(local("2026-03-12"), tick=False):
        redeem_reward(member=c, reward=gift, idempotency_key="c-gift")
    for amount, ref in (("40.00", "WALK-1"), ("60.00", "WALK-2")):
        member_services.record_purchase(
            member=None, external_ref=ref, ordered_at=local("2026-03-20"), items=[line(amount)]
        )
    made.refresh_from_db()
    return made


def test_programme_roi_equals_the_hand_computed_figures(shop, django_assert_max_num_queries):
    with django_assert_max_num_queries(10):
        roi = analytics.programme_roi(MARCH, APRIL_END)
    [lift] = roi.campaigns
    assert (lift.recipients, lift.revenue, lift.control_members, lift.control_revenue) == (
        4, Decimal("150.00"), 3, Decimal("60.00")
    )  # fmt: skip
    assert lift.incremental_revenue == Decimal("70.00")  # 150 − 4 × 60 / 3
    assert roi.campaign_margin == Decimal("28.00")  # 40 % of 70
    # Members: 210.00 in 3 orders (70.00 each); walk-ins 100.00 in 2 (50.00): 20.00 × 3 orders.
    assert roi.member_uplift_revenue == Decimal("60.00") and roi.member_uplift_margin == Decimal("24.00")
    assert roi.incremental_margin == Decimal("52.00")
    # 400 bonus points + 210 earned (1 a yuan); 4 messages; no discounts.
    assert (roi.points_issued, roi.messages_sent, roi.member_discounts) == (610, 4, Decimal("0.00"))
    assert (roi.points_cost, roi.messages_cost, roi.cost) == (Decimal("6.10"), Decimal("0.20"), Decimal("6.30"))
    assert roi.roi == pytest.approx((52 - 6.30) / 6.30)


def test_a_campaign_without_a_control_group_adds_no_lift(shop):
    roi = analytics.programme_roi(MARCH, APRIL_END)
    assert roi.campaigns[0].has_control
    none = analytics.CampaignLift(
        campaign_id=1, name="x", recipients=3, revenue=Decimal("90"), control_members=0, control_revenue=Decimal("0")
    )
    assert none.incremental_revenue == Decimal("0.00")


def test_a_period_without_sends_has_no_campaign(shop):
    roi = analytics.programme_roi(datetime.date(2026, 5, 1), datetime.date(2026, 5, 31))
    assert roi.campaigns == [] and roi.cost == Decimal("0.00") and roi.roi is None


def test_daily_series_counts_each_day(shop, django_assert_max_num_queries):
    with django_assert_max_num_queries(5):
        series = analytics.daily_series(shop, datetime.date(2026, 3, 9), datetime.date(2026, 3, 16))
    assert [d.day.day for d in series.days] == [9, 10, 11, 12, 13, 14, 15, 16]
    assert series.values("sent") == [0, 4, 0, 0, 0, 0, 0, 0]
    # a and b bought on the 15th within their window; e is in the control group (no message).
    assert series.values("participants") == [0, 0, 0, 0, 0, 0, 2, 0]
    assert series.values("redemptions") == [0, 0, 0, 1, 0, 0, 0, 0]
    assert series.values("coupons_used") == [0] * 8


def test_series_range_runs_from_the_first_send(shop):
    start, end = analytics.series_range(shop, today=datetime.date(2026, 3, 20))
    assert (start, end) == (datetime.date(2026, 3, 10), datetime.date(2026, 3, 20))


def test_the_results_page_draws_the_daily_series(shop, client, manager):
    client.force_login(manager)
    page = client.get(f"/admin/campaigns/campaign/{shop.pk}/results/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Day by day" in text and text.count('class="daily-chart"') == 4
