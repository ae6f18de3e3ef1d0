"""The repurchase rate of members computed set-based (campaigns._sql.repurchase_counts) gives the
same buyers and repeat buyers per month as the definition — a member who bought in the month and
had bought before the month's first local midnight — evaluated purchase by purchase, on an
irregular history with walk-in sales and purchases on the month boundaries. (The former per-purchase
query compared with the month's start read in UTC, so a first purchase in a month's first eight
hours, Asia/Shanghai, counted as a repeat; the boundary purchases here would catch that.)"""

import datetime
import random
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns import reports
from campaigns.models import CampaignKpiTarget
from members.models import Purchase
from tests.members import factories

pytestmark = pytest.mark.django_db


def _reference(months: int, today: datetime.date) -> list[tuple[datetime.date, int, int]]:
    """The definition, purchase by purchase in Python: buyers of the local month, and those of them
    with a purchase before the month's first local midnight."""
    first = reports.add_months(reports.month_start(today), -(months - 1))
    purchases = list(Purchase.objects.exclude(member=None).values_list("member_id", "ordered_at"))
    found = []
    for month in (reports.add_months(first, i) for i in range(months)):
        start, end = reports._aware(month), reports._aware(reports.add_months(month, 1))
        buyers = {member for member, at in purchases if start <= at < end}
        repeat = {member for member, at in purchases if member in buyers and at < start}
        found.append((month, len(buyers), len(repeat)))
    return found


def test_the_set_based_repurchase_counts_match_the_definition_purchase_by_purchase(django_assert_num_queries):
    rng = random.Random(7)
    today = timezone.localdate()
    this_month = reports.month_start(today)
    members = [factories.member(name=f"会员{i}") for i in range(40)]
    moments = []
    for back in range(11):  # month starts in the local time zone, and just before them
        start = reports._aware(reports.add_months(this_month, -back))
        moments += [start, start - datetime.timedelta(microseconds=1), start + datetime.timedelta(hours=13)]
    moments = [m for m in moments if m <= timezone.now()]
    rows = []
    for i in range(400):
        member = rng.choice(members[:30]) if rng.random() < 0.85 else None  # walk-ins; 10 never buy
        at = rng.choice(moments) if rng.random() < 0.3 else timezone.now() - datetime.timedelta(days=rng.random() * 320)
        rows.append(
            Purchase(member=member, external_ref=f"R-{i}", ordered_at=at, subtotal=Decimal("10"), total=Decimal("10"))
        )
    Purchase.objects.bulk_create(rows)

    for months in (1, 2, 6, 12):
        with django_assert_num_queries(1):
            got = reports.repurchase_by_month(months=months, today=today)
        assert [(m.month, m.buyers, m.repeat_buyers) for m in got] == _reference(months, today)
    assert any(m.repeat_buyers and m.repeat_buyers < m.buyers for m in got)  # the data tests both cases
    review = reports.monthly_report(months=12, today=today)
    assert [(m.buyers, m.repeat_buyers) for m in review] == [(m.buyers, m.repeat_buyers) for m in got]


def test_the_home_pages_series_and_target_come_from_one_computation(django_assert_num_queries):
    today = timezone.localdate()
    this_month = reports.month_start(today)
    baseline = reports.add_months(this_month, -8)  # older than the six months shown
    returning = factories.member()
    for back in (9, 8, 1, 0):
        at = reports._aware(reports.add_months(this_month, -back)) + datetime.timedelta(hours=12)
        if at <= timezone.now():
            Purchase.objects.create(
                member=returning, external_ref=f"T-{back}", ordered_at=at, subtotal=Decimal(5), total=Decimal(5)
            )
    CampaignKpiTarget.objects.create(metric="repurchase_rate", baseline_month=baseline, change_percent=Decimal(20))
    with django_assert_num_queries(2):  # the targets, the series
        series, status = reports.repurchase_with_target(months=6, today=today)
    assert [m.month for m in series] == [reports.add_months(this_month, -i) for i in range(5, -1, -1)]
    assert [(m.buyers, m.repeat_buyers) for m in series] == [
        (m.buyers, m.repeat_buyers) for m in reports.repurchase_by_month(months=6, today=today)
    ]
    [expected] = reports.target_statuses(today=today, metric="repurchase_rate")
    assert (status.baseline, status.goal, status.actual, status.actual_month) == (
        expected.baseline, expected.goal, expected.actual, expected.actual_month
    )  # fmt: skip
    assert status.baseline == 1.0
    CampaignKpiTarget.objects.all().delete()
    assert reports.repurchase_with_target(months=6, today=today)[1] is None
