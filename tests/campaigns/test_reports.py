"""The monthly marketing review: hand-computed figures per month, KPI targets, CSV, roles."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from campaigns import reports
from campaigns.models import CampaignKpiTarget
from campaigns.services import offers
from rewards.services.coupons import redeem_coupon
from tests.campaigns.helpers import campaign, drain, launched, member, no_quiet_hours
from tests.rewards import catalogue_factories
from tests.rewards.helpers import post

pytestmark = pytest.mark.django_db


def at(year, month, day):
    return timezone.make_aware(datetime.datetime(year, month, day, 12, 0))


def test_monthly_figures_and_targets():
    no_quiet_hours()
    a, b, c = (member(sms_consent=True) for _i in range(3))
    template = catalogue_factories.template()
    # January: a buys twice (first time ever), b once; no campaign.
    post(a, "10.00", ordered_at=at(2026, 1, 3))
    post(a, "10.00", ordered_at=at(2026, 1, 20))
    post(b, "10.00", ordered_at=at(2026, 1, 5))
    # February: a campaign with a coupon to all three; a uses it on a purchase, c buys later.
    made = campaign(body="{{ coupon.code }}")
    offers.set_offer(campaign=made, kind="coupon", coupon_template=template)
    with time_machine.travel(at(2026, 2, 10), tick=False):
        launched(made, now=at(2026, 2, 10))
        drain()
    with time_machine.travel(at(2026, 2, 11), tick=False):
        coupon = a.coupons.get()
        post(a, "50.00", ref="feb-a", ordered_at=at(2026, 2, 10) + datetime.timedelta(hours=1))
        redeem_coupon(code=coupon.code, member=a, external_ref="feb-a")
    post(c, "30.00", ordered_at=at(2026, 2, 25))
    report = reports.monthly_report(months=3, today=datetime.date(2026, 3, 15))
    jan, feb, mar = report
    assert [m.month for m in report] == [
        datetime.date(2026, 1, 1),
        datetime.date(2026, 2, 1),
        datetime.date(2026, 3, 1),
    ]
    assert (jan.buyers, jan.repeat_buyers, jan.repurchase_rate) == (2, 0, 0.0)  # nobody bought before January
    assert (feb.buyers, feb.repeat_buyers, feb.repurchase_rate) == (2, 1, 0.5)  # a yes, c first time
    assert (feb.campaigns_sent, feb.recipients, feb.participants) == (1, 3, 2)  # a used the coupon, c bought
    assert feb.participation_rate == pytest.approx(2 / 3)
    assert (feb.coupons_issued, feb.coupons_redeemed, feb.redemption_rate) == (3, 1, pytest.approx(1 / 3))
    assert (mar.recipients, mar.buyers, mar.participation_rate) == (0, 0, None)

    CampaignKpiTarget.objects.create(
        metric="participation_rate", baseline_month=datetime.date(2026, 2, 1), change_percent=Decimal("20"), months=1
    )
    (status,) = reports.target_statuses(today=datetime.date(2026, 3, 15))
    assert status.baseline == pytest.approx(2 / 3) and status.goal == pytest.approx(0.8)
    assert status.deadline == datetime.date(2026, 3, 1) and status.actual is None and status.met is None


def test_report_page_csv_and_roles(client, marketing, manager, store_staff, support):
    client.force_login(marketing)
    response = client.get("/admin/campaigns/campaign/monthly-report/")
    assert response.status_code == 200 and "bar-chart" in response.content.decode()
    assert "monthly-report/" in client.get("/admin/campaigns/campaign/").content.decode()
    csv = client.get("/admin/campaigns/campaign/monthly-report/?format=csv")
    assert csv["Content-Type"].startswith("text/csv")
    lines = csv.content.decode("utf-8-sig").strip().splitlines()
    assert len(lines) == 13 and lines[0].startswith("Month,Campaigns sent,Recipients,Participants,Participation rate")
    client.force_login(manager)
    assert client.get("/admin/campaigns/campaign/monthly-report/").status_code == 200
    for user in (store_staff, support):
        client.force_login(user)
        assert client.get("/admin/campaigns/campaign/monthly-report/").status_code in (302, 403)


def test_the_review_takes_a_month_and_its_csv_speaks_the_readers_language(client, marketing):
    import datetime as dt

    from tests.members import factories

    client.force_login(marketing)
    page = client.get("/admin/campaigns/campaign/monthly-report/?month=2026-02")
    assert page.status_code == 200
    text = page.content.decode()
    assert 'value="2026-02"' in text and "<td>2026-02</td>" in text and "<td>2026-03</td>" not in text
    buyer = factories.member()
    factories.purchase(buyer, ordered_at=timezone.make_aware(dt.datetime(2026, 1, 10, 12)))
    factories.purchase(buyer, ordered_at=timezone.make_aware(dt.datetime(2026, 2, 10, 12)))
    other = factories.member()
    factories.purchase(other, ordered_at=timezone.make_aware(dt.datetime(2026, 2, 11, 12)))
    answer = client.get(
        "/admin/campaigns/campaign/monthly-report/?month=2026-02&format=csv", HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert 'filename="campaigns-monthly-report-2026-02.csv"' in answer["Content-Disposition"]
    lines = answer.content.decode("utf-8-sig").strip().splitlines()
    assert lines[0].startswith("月份,")
    assert lines[-1].startswith("2026-02,") and ",50%," in lines[-1]  # 1 repeat buyer of 2, as on screen
    assert client.get("/admin/campaigns/campaign/monthly-report/?month=2999-01").status_code == 200
    assert "Choose a month" in client.get("/admin/campaigns/campaign/monthly-report/?month=nope").content.decode()
