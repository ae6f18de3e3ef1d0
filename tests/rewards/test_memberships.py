"""Paid membership: selling, renewing, cancelling, expiring, reminders, perks."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from members import services as members_services
from members.services import MemberErased
from rewards import selectors, services
from rewards.errors import IdempotencyConflict, MembershipNotActive, PlanNotOnSale
from rewards.models import MembershipPlan, MembershipSubscription, Tier
from rewards.signals import membership_renewal_due
from rewards.tasks import process_memberships
from tests.members import factories
from tests.rewards.helpers import post

pytestmark = pytest.mark.django_db
SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))
D = datetime.date


def on(day: datetime.date):
    return time_machine.travel(datetime.datetime.combine(day, datetime.time(9), tzinfo=SHANGHAI), tick=False)


@pytest.fixture
def member():
    return factories.member()


@pytest.fixture
def plan():
    return MembershipPlan.objects.get(code="annual-plus")


def buy(member, plan, ref="SALE-1", **kwargs):
    return services.buy_membership(member=member, plan=plan, external_ref=ref, **kwargs)


def test_the_example_plan_is_seeded(plan):
    assert (plan.name, plan.price, plan.duration_months, plan.free_delivery, plan.points_multiplier) == (
        "Annual plus",
        Decimal("199.00"),
        12,
        True,
        Decimal("1.50"),
    )


def test_buying_starts_today_for_twelve_months_at_the_plan_price(member, plan, manager):
    with on(D(2025, 3, 10)):
        result = buy(member, plan, actor=manager)
    sub = result.subscription
    assert result.created
    assert (sub.starts_on, sub.ends_on, sub.price_paid, sub.status, sub.sold_by) == (
        D(2025, 3, 10),
        D(2026, 3, 9),
        Decimal("199.00"),
        "active",
        manager,
    )


def test_the_same_sale_again_answers_the_first_and_another_body_conflicts(member, plan):
    first = buy(member, plan).subscription
    again = buy(member, plan)
    assert (again.created, again.subscription.pk) == (False, first.pk)
    with pytest.raises(IdempotencyConflict):
        buy(factories.member(name="别人"), plan)
    assert MembershipSubscription.objects.count() == 1


def test_a_renewal_starts_the_day_after_the_current_membership_ends(member, plan):
    with on(D(2025, 3, 10)):
        buy(member, plan, ref="S1")
    with on(D(2026, 2, 1)):
        renewal = buy(member, plan, ref="S2").subscription
        third = buy(member, plan, ref="S3").subscription  # bought ahead again: after the renewal
    assert (renewal.starts_on, renewal.ends_on) == (D(2026, 3, 10), D(2027, 3, 9))
    assert third.starts_on == D(2027, 3, 10)


def test_a_plan_off_sale_cannot_be_bought(member, plan):
    plan.is_active = False
    plan.save()
    with pytest.raises(PlanNotOnSale):
        buy(member, plan)


def test_an_erased_member_cannot_buy(member, plan):
    members_services.erase_member(member=member)
    with pytest.raises(MemberErased):
        buy(member, plan)


def test_active_membership_is_the_one_in_force_that_day(member, plan):
    with on(D(2025, 3, 10)):
        first = buy(member, plan, ref="S1").subscription
        renewal = buy(member, plan, ref="S2").subscription
    assert selectors.active_membership(member, D(2025, 3, 9)) is None
    assert selectors.active_membership(member, D(2025, 3, 10)) == first
    assert selectors.active_membership(member, D(2026, 3, 9)) == first
    assert selectors.active_membership(member, D(2026, 3, 10)) == renewal
    assert selectors.active_membership(member, D(2027, 3, 10)) is None


def test_cancelling_stops_the_perks_at_once_and_cannot_happen_twice(member, plan, manager):
    sub = buy(member, plan).subscription
    cancelled = services.cancel_membership(subscription=sub, actor=manager)
    assert (cancelled.status, cancelled.cancelled_by) == ("cancelled", manager)
    assert selectors.active_membership(member) is None
    with pytest.raises(MembershipNotActive):
        services.cancel_membership(subscription=sub, actor=manager)


def test_after_a_cancellation_a_new_membership_starts_at_once(member, plan):
    with on(D(2025, 3, 10)):
        services.cancel_membership(subscription=buy(member, plan, ref="S1").subscription)
        assert buy(member, plan, ref="S2").subscription.starts_on == D(2025, 3, 10)


def test_free_delivery_comes_from_the_plan_or_the_tier(member, plan):
    assert not selectors.free_delivery_for(member)
    sub = buy(member, plan).subscription
    assert selectors.free_delivery_for(member)
    services.cancel_membership(subscription=sub)
    assert not selectors.free_delivery_for(member)
    post(member, "20000.00")  # diamond: free delivery by tier
    assert Tier.objects.get(code="diamond").free_delivery
    assert selectors.free_delivery_for(member)


def test_the_plan_multiplier_applies_while_the_plan_runs(member, plan):
    buy(member, plan, starts_on=timezone.localdate() - datetime.timedelta(days=1))
    assert post(member, "100.00").points_earned == 150


# --- the daily task: expiry and renewal reminders -------------------------------------------


@pytest.fixture
def reminders():
    received = []

    def listener(sender, *, subscription, days_left, **kwargs):
        received.append((subscription.external_ref, days_left))

    membership_renewal_due.connect(listener, dispatch_uid="test-listener")
    yield received
    membership_renewal_due.disconnect(dispatch_uid="test-listener")


def test_ended_memberships_expire(member, plan):
    with on(D(2024, 1, 1)):
        sub = buy(member, plan).subscription  # ends 2024-12-31
    with on(D(2024, 12, 31)):
        assert process_memberships()["expired"] == 0
    with on(D(2025, 1, 1)):
        assert process_memberships()["expired"] == 1
        assert process_memberships()["expired"] == 0
    sub.refresh_from_db()
    assert sub.status == "expired"


def test_the_renewal_reminder_is_sent_once_within_the_window(member, plan, reminders, settings):
    settings.MEMBERSHIP_RENEWAL_REMINDER_DAYS = 30
    with on(D(2024, 1, 1)):
        buy(member, plan)  # ends 2024-12-31
    with on(D(2024, 11, 30)):
        assert process_memberships()["reminded"] == 0  # 31 days left
    with on(D(2024, 12, 1)):
        assert process_memberships()["reminded"] == 1
    with on(D(2024, 12, 2)):
        assert process_memberships()["reminded"] == 0
    assert reminders == [("SALE-1", 30)]
    assert MembershipSubscription.objects.get().renewal_reminded_at is not None


def test_no_reminder_when_a_renewal_is_already_bought(member, plan, reminders):
    with on(D(2024, 1, 1)):
        buy(member, plan, ref="S1")
        buy(member, plan, ref="S2")
    with on(D(2024, 12, 15)):
        process_memberships()
    assert reminders == []


def test_a_failing_listener_is_retried_the_next_day(member, plan, caplog):
    calls = []

    def flaky(sender, *, subscription, days_left, **kwargs):
        calls.append(days_left)
        if len(calls) == 1:
            raise RuntimeError("SMS gateway down")

    membership_renewal_due.connect(flaky, dispatch_uid="flaky")
    try:
        with on(D(2024, 1, 1)):
            buy(member, plan)
        with on(D(2024, 12, 20)):
            assert process_memberships()["reminded"] == 0
        with on(D(2024, 12, 21)):
            assert process_memberships()["reminded"] == 1
    finally:
        membership_renewal_due.disconnect(dispatch_uid="flaky")
    assert calls == [11, 10]
    assert "listener failed" in caplog.text


def test_the_daily_membership_task_is_scheduled():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="rewards.process_memberships")
    assert (task.enabled, task.crontab.hour, task.crontab.minute) == (True, "1", "15")
