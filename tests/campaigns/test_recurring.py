"""Recurring campaigns: the beat entry, one run per occurrence, audience re-resolved each run,
the contact policy, cancel and the end date (campaigns/services/recurring.py)."""

import datetime
import json
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django_celery_beat.models import PeriodicTask

from campaigns import recurrence, tasks
from campaigns.models import Campaign, CampaignOccurrence, OutboxMessage
from campaigns.services import cancel_campaign, dispatch, launch_campaign, pilots, recover_expired_leases, recurring
from members import services as member_services
from members.models import Member
from tests.campaigns.helpers import campaign, drain, member, no_quiet_hours
from tests.campaigns.recurring_helpers import at
from tests.campaigns.recurring_helpers import recurring as recurring_campaign

pytestmark = pytest.mark.django_db
TEN = datetime.time(10, 0)


def vip(**kwargs):
    return member(sms_consent=True, tags=["VIP"], **kwargs)


def run(made, moment):
    """The beat's tick at `moment`, then the workers' dispatch."""
    with time_machine.travel(moment, tick=True):
        result = recurring.run_occurrence(campaign_id=made.pk, now=moment)
        drain()
    made.refresh_from_db()
    return result


def messages_of(person):
    return OutboxMessage.objects.filter(member=person).order_by("step__number")


# --- the pure schedule rules ------------------------------------------------------------------


def test_next_run_of_each_frequency():
    tz = "Asia/Shanghai"
    daily = recurrence.Schedule(frequency="daily", time=TEN)
    assert recurrence.next_run(daily, after=at("2026-03-02", "09:00"), tz=tz) == at("2026-03-02")
    assert recurrence.next_run(daily, after=at("2026-03-02", "10:00"), tz=tz) == at("2026-03-03")
    weekly = recurrence.Schedule(frequency="weekly", time=TEN, weekday=7)  # Sundays
    assert recurrence.next_run(weekly, after=at("2026-03-02"), tz=tz) == at("2026-03-08")
    monthly = recurrence.Schedule(frequency="monthly", time=TEN, day=28, until=datetime.date(2026, 4, 27))
    assert recurrence.next_run(monthly, after=at("2026-02-28", "11:00"), tz=tz) == at("2026-03-28")
    assert recurrence.next_run(monthly, after=at("2026-03-28", "11:00"), tz=tz) is None  # 28 April is too late
    assert recurrence.next_run(daily, after=at("2026-03-02"), tz=tz, not_before=at("2026-03-05")) == at("2026-03-05")


def test_crontab_fields_use_crons_sunday_zero():
    weekly = recurrence.Schedule(frequency="weekly", time=datetime.time(9, 30), weekday=7)
    assert recurrence.crontab_fields(weekly) == {
        "minute": "30", "hour": "9", "day_of_week": "0", "day_of_month": "*", "month_of_year": "*",
    }  # fmt: skip
    monthly = recurrence.Schedule(frequency="monthly", time=TEN, day=15)
    assert recurrence.crontab_fields(monthly)["day_of_month"] == "15"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"repeat": "weekly"}, "repeat_weekday"),
        ({"repeat": "monthly"}, "repeat_day"),
        ({"repeat": "monthly", "repeat_day": 31}, "repeat_day"),
        ({"repeat": "hourly"}, "repeat"),
        ({"repeat_time": None}, "repeat_time"),
        ({"end_at": at("2026-12-31")}, "end_at"),
        ({"start_at": at("2026-06-01"), "repeat_until": datetime.date(2026, 5, 31)}, "repeat_until"),
    ],
)
def test_a_bad_schedule_is_refused_naming_the_field(changes, field):
    values = {"repeat": "daily", "repeat_time": TEN} | changes
    with pytest.raises(ValidationError) as error:
        campaign(**values)
    assert field in error.value.message_dict
    assert not Campaign.objects.exists()


def test_a_one_off_campaign_keeps_no_schedule():
    made = campaign(repeat="once", repeat_time=TEN, repeat_weekday=3)
    assert (made.repeat, made.repeat_time, made.repeat_weekday) == ("once", None, None)


# --- launch and the beat entry ------------------------------------------------------------------


def test_launch_creates_an_enabled_beat_entry_and_does_not_start_at_once(django_capture_on_commit_callbacks):
    made = recurring_campaign(repeat="weekly", repeat_weekday=1, time=datetime.time(9, 30))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        launch_campaign(campaign=made, now=at("2026-03-04"))
    made.refresh_from_db()
    assert made.status == "scheduled" and not callbacks  # no start task: the beat runs it
    task = made.periodic_task
    assert (task.task, json.loads(task.args), task.enabled) == ("campaigns.run_recurring_campaign", [made.pk], True)
    crontab = task.crontab
    assert (crontab.minute, crontab.hour, crontab.day_of_week, crontab.day_of_month) == ("30", "9", "1", "*")
    assert str(crontab.timezone) == "Asia/Shanghai"
    assert task.name == f"Recurring campaign #{made.pk}: 春季回馈"
    assert recurring.next_run_at(made, now=at("2026-03-04")) == at("2026-03-09", "09:30")
    # The every-minute "start due campaigns" leaves it to its beat entry.
    assert dispatch.start_due_campaigns(now=at("2026-03-05")) == []
    assert dispatch.start_campaign(campaign_id=made.pk, now=at("2026-03-05")) is None
    assert made.steps.get().outbox_messages.count() == 0


def test_launch_refuses_a_past_end_date_and_a_pilot():
    made = recurring_campaign(repeat_until=datetime.date(2026, 3, 1))
    with pytest.raises(ValidationError) as error:
        launch_campaign(campaign=made, now=at("2026-03-02"))
    assert "repeat_until" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        pilots.launch_pilot(campaign=made, sample_pct=20, now=at("2026-02-01"))
    assert "pilot" in error.value.message_dict
    made.refresh_from_db()
    assert made.status == "draft" and not PeriodicTask.objects.filter(task="campaigns.run_recurring_campaign").exists()


# --- runs --------------------------------------------------------------------------------------


def test_each_run_is_one_step_once_and_re_reads_the_audience():
    no_quiet_hours(frequency_cap_messages=100)
    alice, bob = vip(name="Alice"), vip(name="Bob")
    member(sms_consent=True, name="Not VIP")
    made = recurring_campaign()
    launch_campaign(campaign=made, now=at("2026-03-01", "12:00"))

    assert run(made, at("2026-03-01", "12:01")) is None  # first run time is the next 10:00
    first = run(made, at("2026-03-02", "10:00"))
    assert (first.on, first.step, first.audience) == (datetime.date(2026, 3, 2), 1, 2)
    assert made.status == "sending"
    assert run(made, at("2026-03-02", "10:00:30")) is None  # a duplicate beat tick
    assert run(made, at("2026-03-02", "18:00")) is None  # a re-run the same day

    carol = vip(name="Carol")  # joins the segment after the first run
    member_services.update_member(member=bob, status=Member.Status.FROZEN)  # and Bob leaves it
    second = run(made, at("2026-03-03", "10:00"))
    assert (second.step, second.audience) == (2, 2)

    assert [m.step.number for m in messages_of(alice)] == [1, 2]
    assert [m.step.number for m in messages_of(bob)] == [1]
    assert [m.step.number for m in messages_of(carol)] == [2]
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {"sent"}
    assert list(CampaignOccurrence.objects.filter(campaign=made).order_by("on").values_list("on", "step__number")) == [
        (datetime.date(2026, 3, 2), 1),
        (datetime.date(2026, 3, 3), 2),
    ]
    made.refresh_from_db()
    assert made.status == "sending"  # nothing pending, but it runs again tomorrow
    assert dispatch.complete_finished_campaigns(now=at("2026-03-03", "11:00")) == []


def test_weekly_runs_only_on_its_weekday_and_not_before_its_time():
    no_quiet_hours()
    vip()
    made = recurring_campaign(repeat="weekly", repeat_weekday=3)  # Wednesdays
    launch_campaign(campaign=made, now=at("2026-03-01"))
    assert run(made, at("2026-03-03")) is None  # a Tuesday
    assert run(made, at("2026-03-04", "09:59")) is None  # Wednesday, before 10:00
    assert run(made, at("2026-03-04", "10:00")).on == datetime.date(2026, 3, 4)
    assert run(made, at("2026-03-05")) is None


def test_the_control_group_is_the_same_members_every_run():
    no_quiet_hours(frequency_cap_messages=100)
    # The draw hashes the campaign's and the member's ids: with 10 members a 30% group was empty for
    # some id sequences (0.7^10 ≈ 3%); with 30 that is 0.7^30 ≈ 0.002%.
    people = [vip() for _i in range(30)]
    made = recurring_campaign(control_group_pct=30)
    launch_campaign(campaign=made, now=at("2026-03-01"))
    run(made, at("2026-03-02"))
    run(made, at("2026-03-03"))
    held = {
        step: set(
            OutboxMessage.objects.filter(step__number=step, skip_reason="control_group").values_list(
                "member", flat=True
            )
        )
        for step in (1, 2)
    }
    assert held[1] == held[2] and 0 < len(held[1]) < len(people)
    assert OutboxMessage.objects.filter(status="sent").count() == 2 * (len(people) - len(held[1]))


def test_the_contact_policy_applies_to_each_run():
    no_quiet_hours(frequency_cap_messages=1, frequency_cap_days=30)
    alice = vip()
    no_consent = member(tags=["VIP"])
    made = recurring_campaign()
    launch_campaign(campaign=made, now=at("2026-03-01"))
    run(made, at("2026-03-02"))
    run(made, at("2026-03-03"))
    assert [(m.status, m.skip_reason) for m in messages_of(alice)] == [("sent", ""), ("skipped", "frequency_cap")]
    assert [m.skip_reason for m in messages_of(no_consent)] == ["no_consent", "no_consent"]


def test_quiet_hours_hold_a_run_until_they_end():
    no_quiet_hours()
    dispatch_policy = {"quiet_hours_start": datetime.time(21, 0), "quiet_hours_end": datetime.time(9, 0)}
    from campaigns.services import update_contact_policy

    update_contact_policy(**dispatch_policy)
    alice = vip()
    made = recurring_campaign(time=datetime.time(22, 0))
    launch_campaign(campaign=made, now=at("2026-03-01"))
    run(made, at("2026-03-02", "22:00"))
    message = messages_of(alice).get()
    assert message.status == "pending" and message.not_before == at("2026-03-03", "09:00")


def test_the_task_runs_the_occurrence_once():
    no_quiet_hours()
    vip()
    made = recurring_campaign()
    launch_campaign(campaign=made, now=at("2026-03-01"))
    with time_machine.travel(at("2026-03-02", "10:00"), tick=False):
        assert tasks.run_recurring_campaign(made.pk) == {
            "on": "2026-03-02", "step": 1, "audience": 1, "control_group": 0,
        }  # fmt: skip
        assert tasks.run_recurring_campaign(made.pk) is None
    assert OutboxMessage.objects.count() == 1


# --- cancel and the end date ---------------------------------------------------------------------


def test_cancel_disables_the_beat_entry_and_stops_pending_messages():
    no_quiet_hours()
    alice = vip()
    made = recurring_campaign()
    launch_campaign(campaign=made, now=at("2026-03-01"))
    with time_machine.travel(at("2026-03-02"), tick=True):
        recurring.run_occurrence(campaign_id=made.pk, now=at("2026-03-02"))  # queued, not yet sent
    cancel_campaign(campaign=made, now=at("2026-03-02", "10:01"))
    made.refresh_from_db()
    assert made.status == "cancelled" and made.periodic_task.enabled is False
    assert [(m.status, m.skip_reason) for m in messages_of(alice)] == [("skipped", "cancelled")]
    assert run(made, at("2026-03-03")) is None
    assert recurring.next_run_at(made) is None
    assert messages_of(alice).count() == 1


def test_after_its_last_day_it_completes_and_the_beat_entry_is_disabled():
    no_quiet_hours(frequency_cap_messages=100)
    vip()
    made = recurring_campaign(repeat_until=datetime.date(2026, 3, 3))
    launch_campaign(campaign=made, now=at("2026-03-01"))
    run(made, at("2026-03-02"))
    run(made, at("2026-03-03"))
    assert made.status == "sending" and recurring.next_run_at(made, now=at("2026-03-03", "11:00")) is None
    assert dispatch.complete_finished_campaigns(now=at("2026-03-03", "23:59")) == []  # its last day
    assert run(made, at("2026-03-04")) is None
    made.refresh_from_db()
    assert made.status == "completed" and made.completed_at is not None
    assert made.periodic_task.enabled is False
    assert made.occurrences.count() == 2


def test_the_minute_recovery_completes_an_ended_campaign_that_never_ran():
    made = recurring_campaign(repeat="monthly", repeat_day=28, repeat_until=datetime.date(2026, 3, 10))
    launch_campaign(campaign=made, now=at("2026-03-01"))
    with time_machine.travel(at("2026-03-11", "00:00:30"), tick=False):
        assert recover_expired_leases().completed == [made.pk]
    made.refresh_from_db()
    assert made.status == "completed" and made.periodic_task.enabled is False


# --- results across runs ---------------------------------------------------------------------------


def test_results_count_each_run_with_its_own_window(monkeypatch):
    """Weekly runs on 2 and 9 March; a 3-day window. Recipients a and b, control group c:
    a buys after run 1 (100) and after run 2 (50), b after run 2 (30): 3 of 4 messages led to a
    purchase. c buys on 11 March: inside run 2's window only (a control window from the campaign's
    first start would miss it): 1 of 2. Lift (0.75 − 0.5) / 0.5 = 0.5."""
    from campaigns import results
    from tests.rewards.helpers import post

    no_quiet_hours(frequency_cap_messages=100)
    a, b, c = vip(), vip(), vip()
    monkeypatch.setattr(dispatch.rules, "in_control_group", lambda *, campaign_id, member_id, pct: member_id == c.pk)
    made = recurring_campaign(repeat="weekly", repeat_weekday=1, control_group_pct=30)
    launch_campaign(campaign=made, now=at("2026-03-01"))
    run(made, at("2026-03-02"))
    run(made, at("2026-03-09"))
    post(a, "100.00", ordered_at=at("2026-03-03", "12:00"))
    post(a, "50.00", ordered_at=at("2026-03-10", "12:00"))
    post(b, "30.00", ordered_at=at("2026-03-10", "12:00"))
    post(c, "80.00", ordered_at=at("2026-03-11", "12:00"))
    figures = results.campaign_results(made, window_days=3)
    assert (figures.audience, figures.sent, figures.skipped) == (6, 4, {"control_group": 2})
    assert (figures.recipients.members, figures.recipients.repurchasers) == (4, 3)
    assert (figures.control.members, figures.control.repurchasers) == (2, 1)
    assert figures.lift == pytest.approx(0.5)
    assert figures.attributed_revenue == Decimal("180.00")
