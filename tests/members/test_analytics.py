"""Members against walk-ins and cohort retention, against a hand-computed small shop."""

from __future__ import annotations

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from members import analytics, services
from tests.members import factories

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(day: str, hour: int = 12) -> datetime.datetime:
    return datetime.datetime.fromisoformat(day).replace(hour=hour, tzinfo=SHANGHAI)


def joined(day: str):
    with time_machine.travel(local(day), tick=False):
        return factories.member()


@pytest.fixture
def shop():
    """Three members and four walk-in sales.

    January: Ann joins (5 Jan) and buys 100.00 and 50.00; Bob joins (20 Jan) and buys 80.00.
    February: Cai joins; Ann buys 30.00, refunded 10.00; Cai buys nothing.
    March: Bob buys 40.00.
    Walk-ins: 60.00 and 20.00 in January, 45.50 in February, 10.00 on 1 April (outside).
    """
    ann, bob, cai = joined("2026-01-05"), joined("2026-01-20"), joined("2026-02-11")
    factories.purchase(ann, "100.00", ordered_at=local("2026-01-06"))
    factories.purchase(ann, "50.00", ordered_at=local("2026-01-25"))
    factories.purchase(bob, "80.00", ordered_at=local("2026-01-21"))
    refunded = factories.purchase(ann, "30.00", ordered_at=local("2026-02-14"))
    services.record_refund(purchase=refunded, amount=Decimal("10.00"))
    factories.purchase(bob, "40.00", ordered_at=local("2026-03-31", hour=23))
    for amount, day in (
        ("60.00", "2026-01-02"),
        ("20.00", "2026-01-30"),
        ("45.50", "2026-02-01"),
        ("10.00", "2026-04-01"),
    ):
        factories.purchase(None, amount, ordered_at=local(day, hour=0))
    return ann, bob, cai


def test_members_against_walk_ins_to_the_cent(shop, django_assert_num_queries):
    with django_assert_num_queries(2):
        figures = analytics.members_vs_walk_ins(datetime.date(2026, 1, 1), datetime.date(2026, 3, 31))
    assert (figures.members.orders, figures.members.sales) == (5, Decimal("290.00"))
    assert figures.members.average_order_value == Decimal("58.00")
    assert (figures.members.buyers, figures.members.repeat_buyers) == (2, 2)
    assert figures.members.purchase_frequency == 2.5
    assert figures.members.repeat_purchase_rate == 1.0
    assert (figures.walk_ins.orders, figures.walk_ins.sales) == (3, Decimal("125.50"))
    assert figures.walk_ins.average_order_value == Decimal("41.83")
    assert figures.walk_ins.purchase_frequency is None
    assert figures.member_share_of_sales == pytest.approx(290 / 415.5)
    assert figures.aov_uplift == Decimal("16.17")


def test_one_month_counts_only_its_orders(shop):
    february = analytics.members_vs_walk_ins(datetime.date(2026, 2, 1), datetime.date(2026, 2, 28))
    assert (february.members.orders, february.members.sales, february.members.repeat_buyers) == (1, Decimal("20.00"), 0)
    assert february.members.repeat_purchase_rate == 0
    assert (february.walk_ins.orders, february.walk_ins.sales) == (1, Decimal("45.50"))


def test_an_empty_period_has_no_averages(shop):
    figures = analytics.members_vs_walk_ins(datetime.date(2025, 1, 1), datetime.date(2025, 1, 31))
    assert figures.members.average_order_value is None and figures.member_share_of_sales is None


def test_retention_by_joining_month(shop, django_assert_num_queries):
    with django_assert_num_queries(2):
        matrix = analytics.retention_matrix(datetime.date(2026, 1, 1), datetime.date(2026, 3, 31))
    january, february, march = matrix.cohorts
    assert (january.month, january.size, january.active) == (datetime.date(2026, 1, 1), 2, [2, 1, 1])
    assert january.rates == [1.0, 0.5, 0.5]
    assert (february.size, february.active) == (1, [0, 0])
    assert (march.size, march.active, march.rates) == (0, [0], [None])
    assert matrix.width == 3


def test_retention_stops_at_the_end_of_the_period(shop):
    matrix = analytics.retention_matrix(datetime.date(2026, 1, 15), datetime.date(2026, 2, 3))
    assert [(c.month, c.size, c.active) for c in matrix.cohorts] == [
        (datetime.date(2026, 1, 1), 2, [2, 1]),
        (datetime.date(2026, 2, 1), 1, [0]),
    ]
