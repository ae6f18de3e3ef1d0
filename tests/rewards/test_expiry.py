"""Expiry policies and the nightly expiry of due lots, with frozen time across a year end."""

from __future__ import annotations

import datetime
import threading
import time
from unittest import mock

import pytest
import time_machine
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, connections, transaction
from django.db.models import Sum
from django_celery_beat.models import PeriodicTask

from rewards import rules, services
from rewards.models import EXPIRY_POLICY_CACHE_KEY, ExpiryPolicy, LedgerEntry, PointsAccount, PointsLot
from rewards.services.expiry import expire_due_lots
from rewards.tasks import expire_points
from tests.members import factories
from tests.rewards.helpers import account_of, assert_ledger_invariants, post, reseed_after_flush

pytestmark = pytest.mark.django_db

SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))
EARNED = datetime.datetime(2024, 6, 10, 12, tzinfo=SHANGHAI)


def at(year, month, day):
    return time_machine.travel(datetime.datetime(year, month, day, 3, tzinfo=SHANGHAI), tick=False)


def set_policy(kind, months=None):
    for old in ExpiryPolicy.objects.filter(is_active=True):
        old.is_active = False
        old.save()
    ExpiryPolicy.objects.create(kind=kind, months=months, is_active=True)


@pytest.fixture(autouse=True)
def forget_cached_policy():
    """Postings cache the active policy; a test's policy must not outlive its rolled-back rows."""
    cache.delete(EXPIRY_POLICY_CACHE_KEY)
    yield
    cache.delete(EXPIRY_POLICY_CACHE_KEY)


@pytest.fixture
def member():
    return factories.member()


def earn_in_june_2024(member, amount="100.00"):
    with at(2024, 6, 11):
        post(member, amount, ordered_at=EARNED)


# --- the pure rule ----------------------------------------------------------------------------


def test_rule_year_end_next_is_31_december_of_the_next_year():
    assert rules.expiry_date(datetime.date(2024, 1, 1), "year_end_next", None) == datetime.date(2025, 12, 31)


def test_rule_year_end_is_31_december_of_the_year_earned():
    assert rules.expiry_date(datetime.date(2024, 6, 10), "year_end", None) == datetime.date(2024, 12, 31)


def test_rule_rolling_adds_months_and_clamps_to_month_end():
    assert rules.expiry_date(datetime.date(2024, 6, 10), "rolling", 6) == datetime.date(2024, 12, 10)
    assert rules.expiry_date(datetime.date(2024, 8, 31), "rolling", 6) == datetime.date(2025, 2, 28)


def test_rule_rolling_without_months_is_an_error():
    with pytest.raises(ValueError, match="months"):
        rules.expiry_date(datetime.date(2024, 6, 10), "rolling", None)


# --- the policy row ---------------------------------------------------------------------------


def test_migration_creates_the_default_policy():
    assert list(ExpiryPolicy.objects.filter(is_active=True).values_list("kind", "months")) == [("year_end_next", None)]


def test_year_end_policy_dates_new_lots_31_december_of_the_year_earned(member):
    set_policy("year_end")
    earn_in_june_2024(member)
    assert PointsLot.objects.get().expires_on == datetime.date(2024, 12, 31)


def test_rolling_policy_dates_new_lots_months_after_earning(member):
    set_policy("rolling", 3)
    earn_in_june_2024(member)
    assert PointsLot.objects.get().expires_on == datetime.date(2024, 9, 10)


def test_saving_a_policy_takes_effect_for_the_next_posting_despite_the_cache(member):
    earn_in_june_2024(member)  # caches the default policy
    set_policy("year_end")
    earn_in_june_2024(member)
    dates = PointsLot.objects.order_by("id").values_list("expires_on", flat=True)
    assert list(dates) == [datetime.date(2025, 12, 31), datetime.date(2024, 12, 31)]


def test_a_second_active_policy_is_refused():
    ExpiryPolicy.objects.get_or_create(is_active=True, defaults={"kind": "year_end_next"})
    with pytest.raises(IntegrityError):
        ExpiryPolicy.objects.create(kind="year_end", is_active=True)


def test_rolling_policy_without_months_fails_validation():
    with pytest.raises(ValidationError, match="months"):
        ExpiryPolicy(kind="rolling", is_active=False).full_clean()


def test_changing_the_policy_leaves_existing_lots_alone(member):
    earn_in_june_2024(member)
    set_policy("year_end")
    assert PointsLot.objects.get().expires_on == datetime.date(2025, 12, 31)


# --- expiring across the year end -------------------------------------------------------------


def test_points_earned_in_june_2024_expire_on_31_december_2025_by_default(member):
    earn_in_june_2024(member)
    assert PointsLot.objects.get().expires_on == datetime.date(2025, 12, 31)


def test_points_are_still_there_on_31_december_2025(member):
    earn_in_june_2024(member)
    with at(2025, 12, 31):
        result = expire_due_lots()
    assert result.lots == 0
    assert account_of(member).balance == 100


def test_points_are_gone_on_1_january_2026(member):
    earn_in_june_2024(member)
    with at(2026, 1, 1):
        result = expire_due_lots()
    assert (result.lots, result.points, result.accounts) == (1, 100, 1)
    assert account_of(member).balance == 0
    lot = PointsLot.objects.get()
    assert (lot.remaining, lot.expired) == (0, 100)
    entry = LedgerEntry.objects.filter(kind="expire").get()
    assert (entry.points, entry.balance_after, entry.member_id) == (-100, 0, member.pk)
    assert entry.purchase_id == LedgerEntry.objects.get(kind="earn").purchase_id
    assert "2025-12-31" in entry.reason_text


def test_a_partly_spent_lot_expires_only_the_rest(member):
    earn_in_june_2024(member)
    with at(2025, 3, 1):
        services.adjust_points(member=member, points=-30, reason="Redeemed", actor=None)
    with at(2026, 1, 1):
        result = expire_due_lots()
    assert result.points == 70
    assert (PointsLot.objects.get().expired, account_of(member).balance) == (70, 0)
    assert_ledger_invariants(member)


def test_only_due_lots_expire_and_balance_after_runs_down(member):
    earn_in_june_2024(member, "100.00")
    with at(2024, 7, 1):
        post(member, "50.00", ordered_at=datetime.datetime(2024, 6, 30, tzinfo=SHANGHAI))
    with at(2025, 2, 1):
        post(member, "7.00", ordered_at=datetime.datetime(2025, 2, 1, tzinfo=SHANGHAI))  # expires 2026-12-31
    with at(2026, 1, 1):
        expire_due_lots(batch_size=1)
    assert account_of(member).balance == 7
    rows = LedgerEntry.objects.filter(kind="expire").order_by("id").values_list("points", "balance_after")
    assert list(rows) == [(-100, 57), (-50, 7)]
    assert_ledger_invariants(member)


def test_rolling_policy_lots_expire_the_day_after_their_date(member):
    set_policy("rolling", 3)
    earn_in_june_2024(member)
    with at(2024, 9, 10):
        assert expire_due_lots().lots == 0
    with at(2024, 9, 11):
        assert expire_due_lots().lots == 1
    assert account_of(member).balance == 0


def test_year_end_policy_lots_are_gone_on_1_january_of_the_next_year(member):
    set_policy("year_end")
    earn_in_june_2024(member)
    with at(2025, 1, 1):
        expire_due_lots()
    assert account_of(member).balance == 0
    assert_ledger_invariants(member)


def test_a_second_run_expires_nothing(member):
    earn_in_june_2024(member)
    with at(2026, 1, 1):
        expire_due_lots()
        again = expire_due_lots()
    assert (again.lots, again.points, again.batches) == (0, 0, 0)
    assert LedgerEntry.objects.filter(kind="expire").count() == 1


def test_ledger_sum_equals_balance_for_many_members_in_small_batches():
    members = [factories.member() for _ in range(5)]
    for i, m in enumerate(members):
        earn_in_june_2024(m, f"{10 * (i + 1)}.00")
        with at(2025, 5, 1):
            post(m, "3.00", ordered_at=datetime.datetime(2025, 5, 1, tzinfo=SHANGHAI))
    with at(2026, 1, 1):
        result = expire_due_lots(batch_size=2)
    assert (result.lots, result.batches, result.points) == (5, 3, 150)
    for m in members:
        assert_ledger_invariants(m)
    ledger_total = LedgerEntry.objects.aggregate(s=Sum("points"))["s"]
    assert ledger_total == PointsAccount.objects.aggregate(s=Sum("balance"))["s"] == 15


def test_batch_size_below_one_is_refused():
    with pytest.raises(ValueError, match="batch_size"):
        expire_due_lots(batch_size=0)


# --- Celery -----------------------------------------------------------------------------------


def test_nightly_beat_task_runs_at_half_past_two_shanghai_time():
    task = PeriodicTask.objects.select_related("crontab").get(name="Expire points (nightly)")
    assert task.task == "rewards.expire_points" and task.enabled
    assert (task.crontab.minute, task.crontab.hour, str(task.crontab.timezone)) == ("30", "2", "Asia/Shanghai")


def test_task_calls_the_service_and_returns_its_counts():
    fake = services.expiry.ExpiryResult(lots=3, points=40, accounts=2, batches=1)
    with mock.patch("rewards.tasks.expire_due_lots", return_value=fake) as service:
        assert expire_points.apply(kwargs={"batch_size": 10}).get() == {
            "lots": 3,
            "points": 40,
            "accounts": 2,
            "batches": 1,
        }
    service.assert_called_once_with(batch_size=10)


def test_task_is_acknowledged_late():
    assert expire_points.acks_late is True


# --- a concurrent spend (PostgreSQL, real threads) --------------------------------------------


@pytest.fixture
def seeded(transactional_db):
    """A transactional test before this one may have flushed the migrations' seed rows."""
    reseed_after_flush()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_expiry_waits_for_a_concurrent_spend_and_expires_only_what_it_left(seeded):
    member = factories.member()
    """The spend holds the account lock, uncommitted; expiry must wait for it, then re-read the lot."""
    earn_in_june_2024(member)
    spent, release = threading.Event(), threading.Event()
    outcome = {}

    def spend():
        try:
            with transaction.atomic():
                services.adjust_points(member=member, points=-30, reason="Redeemed", actor=None)
                spent.set()
                assert release.wait(20)
        finally:
            connections.close_all()

    def expire():
        try:
            outcome["result"] = expire_due_lots(today=datetime.date(2026, 1, 1))
        finally:
            connections.close_all()

    spender = threading.Thread(target=spend)
    spender.start()
    assert spent.wait(20)
    expirer = threading.Thread(target=expire)
    expirer.start()
    with connection.cursor() as cursor:  # wait until expiry is blocked on the spend's row lock
        for _attempt in range(200):
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0]:
                break
            time.sleep(0.05)
        else:
            pytest.fail("expiry never waited for the account lock")
    assert "result" not in outcome
    release.set()
    spender.join(30)
    expirer.join(30)
    assert outcome["result"].points == 70
    assert (PointsLot.objects.get().expired, account_of(member).balance) == (70, 0)
    assert_ledger_invariants(member)


def test_admin_explains_that_a_change_affects_new_lots_only(admin_client):
    policy = ExpiryPolicy.objects.get(is_active=True)
    response = admin_client.get(f"/admin/rewards/expirypolicy/{policy.pk}/change/")
    assert response.status_code == 200
    assert "points already earned keep the expiry date" in response.content.decode()
