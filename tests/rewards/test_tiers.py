"""Tier qualification (TierPolicy) and the nightly re-evaluation, with frozen time across window edges
and grace periods."""

from __future__ import annotations

import datetime
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_celery_beat.models import PeriodicTask

from rewards import services
from rewards.models import TIER_POLICY_CACHE_KEY, PointsAccount, Tier, TierHistory, TierPolicy
from rewards.services.tiers import reevaluate_tiers, tier_policy, window_start
from rewards.tasks import reevaluate_tiers as reevaluate_task
from tests.members import factories
from tests.rewards.helpers import account_of, post

pytestmark = pytest.mark.django_db

SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))


def moment(year, month, day, hour=10):
    return datetime.datetime(year, month, day, hour, tzinfo=SHANGHAI)


def at(year, month, day, hour=10):
    return time_machine.travel(moment(year, month, day, hour), tick=False)


def set_policy(**values):
    policy = TierPolicy.objects.get()
    for name, value in values.items():
        setattr(policy, name, value)
    policy.save()
    return policy


@pytest.fixture(autouse=True)
def forget_cached_policy():
    """Postings cache the policy; a test's policy must not outlive its rolled-back rows."""
    cache.delete(TIER_POLICY_CACHE_KEY)
    yield
    cache.delete(TIER_POLICY_CACHE_KEY)


@pytest.fixture
def member():
    return factories.member()


def buy(member, amount, year, month, day):
    """A purchase made (and posted) on that day."""
    with at(year, month, day):
        return post(member, amount, ordered_at=moment(year, month, day, 9))


def tier_of(member) -> str:
    return account_of(member).tier.code


def reasons(member) -> list[tuple[str, str, str]]:
    return [
        (h.from_tier.code, h.to_tier.code, h.reason)
        for h in TierHistory.objects.filter(member=member).select_related("from_tier", "to_tier").order_by("id")
    ]


def run(year, month, day, **kwargs):
    with at(year, month, day, 3):
        return reevaluate_tiers(**kwargs)


# --- the policy ------------------------------------------------------------------------------


def test_the_migration_seeds_the_default_policy():
    policy = TierPolicy.objects.get()
    assert (policy.pk, policy.basis, policy.window_months, policy.grace_days, policy.downgrade) == (
        1,
        "lifetime_spend",
        12,
        30,
        True,
    )


def test_without_a_row_the_defaults_apply():
    TierPolicy.objects.all().delete()
    assert tier_policy().basis == "lifetime_spend"
    assert (tier_policy().window_months, tier_policy().grace_days, tier_policy().downgrade) == (12, 30, True)


def test_saving_the_policy_drops_the_cached_one():
    assert tier_policy().basis == "lifetime_spend"
    set_policy(basis="window_spend", window_months=6)
    assert (tier_policy().basis, tier_policy().window_months) == ("window_spend", 6)


def test_the_policy_is_a_single_row():
    TierPolicy(basis="window_points").save()  # saving "another" one overwrites the only row
    assert list(TierPolicy.objects.values_list("pk", "basis")) == [(1, "window_points")]


def test_a_window_of_0_months_is_refused():
    from django.core.exceptions import ValidationError

    policy = TierPolicy.objects.get()
    policy.window_months = 0
    with pytest.raises(ValidationError, match="1 to 120"):
        policy.full_clean()


def test_window_start_is_the_same_date_months_ago_at_local_midnight():
    assert window_start(datetime.date(2026, 1, 11), 12) == moment(2025, 1, 11, 0)
    assert window_start(datetime.date(2026, 3, 31), 1) == moment(2026, 2, 28, 0)


# --- upgrades at the purchase, per basis --------------------------------------------------------


def test_lifetime_spend_is_the_default_and_history_records_the_figure(member):
    post(member, "600.00")
    result = post(member, "400.00")
    assert (result.tier.code, result.tier_changed) == ("silver", True)
    history = TierHistory.objects.get(member=member)
    assert (history.reason, history.basis, history.figure, history.window_months) == (
        "purchase",
        "lifetime_spend",
        Decimal("1000.00"),
        None,
    )
    assert history.note == "Lifetime spend: 1,000.00"


def test_window_spend_ignores_purchases_older_than_the_window(member):
    set_policy(basis="window_spend", window_months=12)
    buy(member, "800.00", 2025, 1, 10)
    assert buy(member, "300.00", 2026, 1, 11).tier.code == "regular"  # the 800 dropped out on 11 January
    assert buy(member, "700.00", 2026, 1, 12).tier.code == "silver"  # 300 + 700 within the window
    history = TierHistory.objects.get(member=member)
    assert (history.basis, history.window_months, history.figure) == ("window_spend", 12, Decimal("1000.00"))
    assert history.note == "Spend in the last 12 months: 1,000.00"


def test_window_spend_counts_a_purchase_on_the_last_day_of_its_window(member):
    set_policy(basis="window_spend", window_months=12)
    buy(member, "800.00", 2025, 1, 10)
    assert buy(member, "200.00", 2026, 1, 10).tier.code == "silver"


def test_lifetime_points_counts_points_not_spend(member):
    set_policy(basis="lifetime_points")
    services.adjust_points(member=member, points=995, reason="welcome gift", actor=None)
    result = post(member, "5.00")
    assert (result.tier.code, account_of(member).lifetime_spend) == ("silver", Decimal("5.00"))
    assert TierHistory.objects.get(member=member).note == "Points earned, lifetime: 1,000"


def test_spending_points_does_not_lower_the_points_figure(member):
    set_policy(basis="lifetime_points")
    post(member, "1000.00")
    services.adjust_points(member=member, points=-900, reason="redeemed", actor=None)
    assert run(2099, 1, 1).changed == 0
    assert tier_of(member) == "silver"


def test_window_points_ignore_points_earned_before_the_window(member):
    set_policy(basis="window_points", window_months=6)
    buy(member, "900.00", 2025, 1, 10)
    assert buy(member, "200.00", 2025, 7, 11).tier.code == "regular"  # the January points left the window
    assert buy(member, "800.00", 2025, 7, 12).tier.code == "silver"


def test_lifetime_spend_upgrades_whatever_the_purchase_date(member):
    buy(member, "800.00", 2020, 1, 1)
    assert buy(member, "300.00", 2026, 1, 1).tier.code == "silver"


# --- refunds ---------------------------------------------------------------------------------


def test_a_refund_lowers_the_tier_at_once_with_its_figure(member):
    post(member, "900.00")
    big = post(member, "200.00")
    services.refund_purchase(purchase=big.purchase, external_ref="R-1", amount=Decimal("150.00"))
    history = TierHistory.objects.filter(reason="refund").get()
    assert (history.from_tier.code, history.to_tier.code, history.figure) == ("silver", "regular", Decimal("950.00"))


def test_a_refund_counts_net_of_itself_in_a_window(member):
    set_policy(basis="window_spend")
    buy(member, "900.00", 2026, 1, 5)
    big = buy(member, "200.00", 2026, 1, 6)
    assert big.tier.code == "silver"
    with at(2026, 1, 7):
        refund = services.refund_purchase(purchase=big.purchase, external_ref="R-1", amount=Decimal("100.00"))
    assert refund.tier.code == "silver"  # 1,000 left in the window
    with at(2026, 1, 7):
        refund = services.refund_purchase(purchase=big.purchase, external_ref="R-2", amount=Decimal("0.01"))
    assert refund.tier.code == "regular"
    assert TierHistory.objects.filter(reason="refund").get().figure == Decimal("999.99")


# --- the nightly re-evaluation: grace and window edges -----------------------------------------


@pytest.fixture
def silver_by_window(member):
    """Silver by a 1,500 purchase on 10 January 2025; 12-month window, 30 days of grace."""
    set_policy(basis="window_spend", window_months=12, grace_days=30)
    assert buy(member, "1500.00", 2025, 1, 10).tier.code == "silver"
    return member


def test_nothing_changes_while_the_purchase_is_in_the_window(silver_by_window):
    result = run(2026, 1, 10)
    assert (result.accounts, result.changed) == (1, 0)
    assert account_of(silver_by_window).below_since is None


def test_falling_out_of_the_window_starts_the_grace_period_without_a_downgrade(silver_by_window):
    result = run(2026, 1, 11)
    assert (result.grace_started, result.downgrades) == (1, 0)
    account = account_of(silver_by_window)
    assert (account.tier.code, account.below_since) == ("silver", datetime.date(2026, 1, 11))
    assert reasons(silver_by_window) == [("regular", "silver", "purchase")]


def test_running_twice_changes_nothing_the_second_time(silver_by_window):
    run(2026, 1, 11)
    before = list(PointsAccount.objects.values_list("tier_id", "below_since", "updated_at"))
    assert run(2026, 1, 11).changed == 0
    assert list(PointsAccount.objects.values_list("tier_id", "below_since", "updated_at")) == before
    run(2026, 2, 10)
    assert run(2026, 2, 10).changed == 0
    assert TierHistory.objects.count() == 2


def test_the_downgrade_waits_for_the_whole_grace_period(silver_by_window):
    run(2026, 1, 11)
    assert run(2026, 2, 9).changed == 0  # 29 days below
    assert tier_of(silver_by_window) == "silver"
    result = run(2026, 2, 10)  # 30 days below
    assert (result.downgrades, result.moves) == (1, {"silver→regular": 1})
    account = account_of(silver_by_window)
    assert (account.tier.code, account.below_since) == ("regular", None)
    history = TierHistory.objects.filter(reason="grace_ended").get()
    assert (history.from_tier.code, history.to_tier.code, history.figure, history.below_since) == (
        "silver",
        "regular",
        Decimal("0.00"),
        datetime.date(2026, 1, 11),
    )
    assert history.note == "Spend in the last 12 months: 0.00; below the threshold since 2026-01-11"


def test_a_missed_night_still_downgrades_once_the_grace_has_passed(silver_by_window):
    run(2026, 1, 11)
    assert run(2026, 3, 20).downgrades == 1


def test_a_purchase_that_qualifies_again_clears_the_grace_period(silver_by_window):
    run(2026, 1, 11)
    assert buy(silver_by_window, "1000.00", 2026, 1, 20).tier_changed is False
    assert account_of(silver_by_window).below_since is None
    assert run(2026, 2, 10).changed == 0
    assert tier_of(silver_by_window) == "silver"


def test_a_purchase_that_does_not_qualify_keeps_the_grace_running(silver_by_window):
    run(2026, 1, 11)
    buy(silver_by_window, "100.00", 2026, 1, 20)
    assert account_of(silver_by_window).below_since == datetime.date(2026, 1, 11)
    assert run(2026, 2, 10).downgrades == 1


def test_qualifying_again_without_a_purchase_clears_the_mark_at_night(silver_by_window):
    run(2026, 1, 11)
    set_policy(basis="lifetime_spend")
    assert run(2026, 1, 12).grace_cleared == 1
    assert account_of(silver_by_window).below_since is None
    assert TierHistory.objects.count() == 1


def test_a_downgrade_goes_as_far_as_the_figure(member):
    set_policy(basis="window_spend", grace_days=30)
    buy(member, "6000.00", 2025, 1, 10)
    buy(member, "1200.00", 2025, 3, 1)
    assert tier_of(member) == "gold"
    run(2026, 1, 11)  # 1,200 left: below gold, still silver
    run(2026, 2, 10)
    assert reasons(member)[-1] == ("gold", "silver", "grace_ended")


def test_without_grace_the_downgrade_happens_on_the_first_night_below(silver_by_window):
    set_policy(grace_days=0)
    assert run(2026, 1, 10).changed == 0
    result = run(2026, 1, 11)
    assert result.downgrades == 1
    assert reasons(silver_by_window)[-1] == ("silver", "regular", "window")


def test_with_downgrades_off_the_night_neither_marks_nor_downgrades(silver_by_window):
    set_policy(downgrade=False)
    assert run(2026, 1, 11).changed == 0
    assert run(2027, 1, 11).changed == 0
    assert (tier_of(silver_by_window), account_of(silver_by_window).below_since) == ("silver", None)


def test_the_night_upgrades_when_a_threshold_is_lowered(member):
    post(member, "600.00")
    Tier.objects.filter(code="silver").update(threshold=Decimal("500.00"))
    result = reevaluate_tiers()
    assert (result.upgrades, result.moves) == (1, {"regular→silver": 1})
    history = TierHistory.objects.get(member=member)
    assert (history.reason, history.figure) == ("reevaluation", Decimal("600.00"))


def test_lifetime_spend_never_downgrades_at_night(member):
    post(member, "5000.00")
    assert run(2099, 1, 1).changed == 0
    assert tier_of(member) == "gold"


def test_a_dry_run_reports_and_writes_nothing(silver_by_window):
    run(2026, 1, 11)
    result = run(2026, 2, 10, dry_run=True)
    assert (result.dry_run, result.downgrades) == (True, 1)
    assert (tier_of(silver_by_window), TierHistory.objects.count()) == ("silver", 1)


def test_batches_give_the_same_result_as_one(settings):
    set_policy(basis="window_spend", grace_days=0)
    members = [factories.member(name=f"m{i}") for i in range(5)]
    for index, member in enumerate(members):
        buy(member, "1500.00" if index % 2 else "200.00", 2025, 1, 10)
    result = run(2026, 1, 11, batch_size=2)
    assert (result.accounts, result.batches, result.downgrades) == (5, 3, 2)
    assert [tier_of(member) for member in members] == ["regular"] * 5


def test_a_batch_runs_the_same_queries_for_3_and_30_changing_accounts():
    set_policy(basis="window_spend", grace_days=0)

    def queries_for(count):
        for index in range(count):
            buy(factories.member(name=f"q{count}-{index}"), "1500.00", 2025, 1, 10)
        with at(2026, 1, 11, 3):
            tier_policy()  # cached (the cache's clock jumped with the travels above)
        with CaptureQueriesContext(connection) as queries:
            result = run(2026, 1, 11)
        assert result.downgrades == count, "\n".join(q["sql"] for q in queries.captured_queries)
        return len(queries)

    assert queries_for(3) == queries_for(30)


# --- the task, its schedule and the command ---------------------------------------------------


def test_the_nightly_task_is_scheduled_by_the_migration():
    task = PeriodicTask.objects.get(name="Re-evaluate tiers (nightly)")
    assert (task.task, task.enabled, task.crontab.hour, task.crontab.minute) == (
        "rewards.reevaluate_tiers",
        True,
        "3",
        "0",
    )
    assert str(task.crontab.timezone) == "Asia/Shanghai"


def test_the_task_calls_the_service_and_returns_the_summary(silver_by_window):
    with at(2026, 1, 11, 3):
        summary = reevaluate_task()
    assert (summary["accounts"], summary["grace_started"], summary["dry_run"]) == (1, 1, False)


def test_the_command_prints_a_summary(silver_by_window):
    run(2026, 1, 11)
    out = StringIO()
    with at(2026, 2, 10, 3):
        call_command("reevaluate_tiers", stdout=out, stderr=StringIO())
    text = out.getvalue()
    assert "1 accounts in 1 batches: 0 upgraded, 1 downgraded" in text
    assert "silver→regular: 1" in text
    assert "Spend in a rolling window of months (12 months)" in text
    assert tier_of(silver_by_window) == "regular"


def test_the_command_dry_run_changes_nothing(silver_by_window):
    run(2026, 1, 11)
    out = StringIO()
    with at(2026, 2, 10, 3):
        call_command("reevaluate_tiers", "--dry-run", stdout=out, stderr=StringIO())
    assert "Dry run, nothing written" in out.getvalue()
    assert tier_of(silver_by_window) == "silver"


def test_the_command_shows_a_progress_bar_over_several_batches():
    for index in range(3):
        post(factories.member(name=f"p{index}"), "10.00")
    err = StringIO()
    call_command("reevaluate_tiers", "--batch-size", "1", stdout=StringIO(), stderr=err)
    assert "3/3" in err.getvalue()


def test_the_command_refuses_a_batch_size_of_0():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="batch-size"):
        call_command("reevaluate_tiers", "--batch-size", "0", stdout=StringIO())
