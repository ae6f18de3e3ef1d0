"""Points analytics against a hand-computed small shop (docs/rules/analytics.md)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db.models import Sum

from rewards import analytics, services
from rewards.models import ActivityBonus, ExpiryPolicy, LedgerEntry, ProgrammeAssumptions
from rewards.services.redemptions import redeem_reward
from tests.members import factories
from tests.rewards.catalogue_factories import reward

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: str, hour: int = 10):
    return time_machine.travel(datetime.datetime.fromisoformat(day).replace(hour=hour, tzinfo=SHANGHAI), tick=False)


@pytest.fixture
def shop():
    """March: +500 (adjustment), −50 (adjustment), a 120-point reward; 10 April: what is left
    of March's lot (330) expires; 12 April: +100. Rolling expiry of one month."""
    ActivityBonus.objects.all().delete()
    ExpiryPolicy.objects.update(is_active=False)
    ExpiryPolicy.objects.create(kind=ExpiryPolicy.Kind.ROLLING, months=1, is_active=True)
    with at("2026-03-05"):
        member = factories.member()
        services.adjust_points(member=member, points=500, reason="opening", actor=None)
    with at("2026-03-06"):
        services.adjust_points(member=member, points=-50, reason="correction", actor=None)
    with at("2026-03-20"):
        redeem_reward(member=member, reward=reward(points_cost=120), idempotency_key="r-1")
    with at("2026-04-10", hour=2):
        services.expire_due_lots(today=datetime.date(2026, 4, 10))
    with at("2026-04-12"):
        services.adjust_points(member=member, points=100, reason="gift", actor=None)
    return member


def test_points_summary_equals_the_hand_computed_figures(shop, django_assert_num_queries):
    with django_assert_num_queries(2):
        summary = analytics.points_summary(
            datetime.date(2026, 3, 1), datetime.date(2026, 4, 30), today=datetime.date(2026, 4, 20)
        )
    assert (summary.issued, summary.redeemed, summary.expired, summary.adjusted_out) == (600, 120, 330, 50)
    assert summary.redemption_rate == pytest.approx(0.2)
    assert summary.breakage == pytest.approx(0.55)
    assert summary.outstanding == 100
    # April's lot expires on 12 May: inside 30 days of 20 April, so in every horizon.
    assert (summary.expiring_30, summary.expiring_60, summary.expiring_90) == (100, 100, 100)
    assert summary.outstanding == LedgerEntry.objects.aggregate(s=Sum("points"))["s"]


def test_a_period_counts_only_its_own_rows_and_the_balance_at_its_end(shop):
    march = analytics.points_summary(
        datetime.date(2026, 3, 1), datetime.date(2026, 3, 31), today=datetime.date(2026, 6, 1)
    )
    assert (march.issued, march.redeemed, march.expired, march.adjusted_out, march.outstanding) == (
        500,
        120,
        0,
        50,
        330,
    )
    assert march.breakage == 0
    assert (march.expiring_30, march.expiring_60, march.expiring_90) == (100, 100, 100)  # due before 1 June


def test_points_by_month_has_every_month_with_its_flow(shop, django_assert_num_queries):
    with django_assert_num_queries(1):
        months = analytics.points_by_month(datetime.date(2026, 2, 10), datetime.date(2026, 4, 3))
    assert [(m.start, m.issued, m.redeemed, m.expired) for m in months] == [
        (datetime.date(2026, 2, 1), 0, 0, 0),
        (datetime.date(2026, 3, 1), 500, 120, 0),
        (datetime.date(2026, 4, 1), 100, 0, 330),
    ]
    assert months[0].redemption_rate is None


def test_outstanding_liability_prices_the_balances_at_the_managed_cost(shop, django_assert_num_queries):
    ProgrammeAssumptions(cost_per_point=Decimal("0.0250")).save()
    with django_assert_num_queries(3):
        liability = analytics.outstanding_liability(datetime.date(2026, 5, 1))
    assert liability.points == 100
    assert liability.amount == Decimal("2.50")
    assert liability.expiring == {30: 100, 60: 100, 90: 100}
    assert liability.expiring_amount(30) == Decimal("2.50")
    later = analytics.outstanding_liability(datetime.date(2026, 5, 13))  # lot due on 12 May: still counted
    assert later.expiring[30] == 100


def test_liability_uses_the_default_cost_without_a_saved_row():
    assert ProgrammeAssumptions.load().cost_per_point == Decimal("0.0100")
    assert analytics.outstanding_liability(datetime.date(2026, 5, 1)).amount == Decimal("0.00")


def test_a_period_that_ends_before_it_starts_is_refused():
    with pytest.raises(ValueError):
        analytics.points_summary(datetime.date(2026, 3, 2), datetime.date(2026, 3, 1))
