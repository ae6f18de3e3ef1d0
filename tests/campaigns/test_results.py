"""Campaign results on hand-computed cases: repurchase rates, lift, attributed revenue, cost, ROI."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from campaigns import results
from campaigns.services import dispatch, offers
from tests.campaigns.helpers import campaign, drain, launched, member, no_quiet_hours
from tests.rewards.helpers import post

pytestmark = pytest.mark.django_db
DAY = datetime.timedelta(days=1)


def test_pure_arithmetic():
    assert results.lift(0.5, 1 / 3) == pytest.approx(0.5)
    assert results.lift(0.2, 0.25) == pytest.approx(-0.2)
    assert results.lift(0.5, 0) is None and results.lift(None, 0.3) is None
    assert results.roi(Decimal("150.00"), Decimal("4.00")) == pytest.approx(36.5)
    assert results.roi(Decimal("3.00"), Decimal("4.00")) == pytest.approx(-0.25)
    assert results.roi(Decimal("100"), Decimal("0")) is None


def test_results_of_a_points_campaign_with_a_control_group(monkeypatch, settings):
    settings.CAMPAIGN_POINT_VALUE = "0.01"
    no_quiet_hours()
    a, b, c, _d = (member(sms_consent=True) for _i in range(4))
    e, f, g = (member(sms_consent=True) for _i in range(3))
    control = {e.pk, f.pk, g.pk}
    monkeypatch.setattr(dispatch.rules, "in_control_group", lambda *, campaign_id, member_id, pct: member_id in control)
    sent_at = timezone.now() - 45 * DAY
    made = campaign(control_group_pct=40)
    offers.set_offer(campaign=made, kind="points", points=100)
    with time_machine.travel(sent_at, tick=False):
        launched(made, now=sent_at)
        drain()
    post(a, "100.00", ordered_at=sent_at + 5 * DAY)
    post(b, "50.00", ordered_at=sent_at + 5 * DAY)
    post(b, "30.00", ordered_at=sent_at + 40 * DAY)  # outside the 30-day window
    post(c, "70.00", ordered_at=sent_at - 2 * DAY)  # before the send
    post(e, "200.00", ordered_at=sent_at + 3 * DAY)  # control group
    figures = results.campaign_results(made)
    assert (figures.audience, figures.sent, figures.accepted, figures.skipped) == (7, 4, 4, {"control_group": 3})
    assert figures.delivered == 0 and figures.delivery_rate is None  # no receipt came (issue 14)
    assert (figures.recipients.members, figures.recipients.repurchasers) == (4, 2)
    assert (figures.control.members, figures.control.repurchasers) == (3, 1)
    assert figures.recipients.repurchase_rate == 0.5
    assert figures.control.repurchase_rate == pytest.approx(1 / 3)
    assert figures.lift == pytest.approx(0.5)  # (0.5 − 1/3) / (1/3)
    assert figures.attributed_revenue == Decimal("150.00")
    assert figures.points_given == 400 and figures.points_cost == Decimal("4.00")
    assert figures.roi == pytest.approx(36.5)  # (150 − 4) / 4
    wider = results.campaign_results(made, window_days=60)
    assert wider.attributed_revenue == Decimal("180.00") and wider.recipients.repurchasers == 2


def test_coupon_cost_counts_used_coupons_only():
    from rewards.services.coupons import redeem_coupon
    from tests.rewards import catalogue_factories

    no_quiet_hours()
    amount = catalogue_factories.template(name="减20", value="20.00")
    buyers = [member(sms_consent=True) for _i in range(3)]
    made = campaign(body="{{ coupon.code }}")
    offers.set_offer(campaign=made, kind="coupon", coupon_template=amount)
    launched(made)
    drain()
    for buyer in buyers[:2]:
        coupon = buyer.coupons.get()
        post(buyer, "120.00", ref=f"order-{buyer.pk}", ordered_at=timezone.now())
        redeem_coupon(code=coupon.code, member=buyer, external_ref=f"order-{buyer.pk}")
    figures = results.campaign_results(made)
    assert (figures.coupons_issued, figures.coupons_redeemed) == (3, 2)
    assert figures.redemption_rate == pytest.approx(2 / 3)
    assert figures.coupon_cost == Decimal("40.00") and figures.cost == Decimal("40.00")
    assert figures.attributed_revenue == Decimal("240.00")
    assert figures.roi == pytest.approx(5.0)  # (240 − 40) / 40
    assert figures.lift is None  # no control group
