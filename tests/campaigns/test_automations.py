"""Automations with frozen time: holiday dates, birthday (29 February too), points expiry,
win-back, tier upgrade; once per occurrence, offers issued once, consent and the cap respected,
and who may configure them."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from campaigns import holidays
from campaigns.channels.base import ChannelError
from campaigns.models import Automation, OutboxMessage, SkipReason, SmsLog
from campaigns.services import automations
from campaigns.services.classification import classify_members
from loyalty_crm.roles import MANAGER, MARKETING, ROLES, STORE_STAFF, SUPPORT
from members.models import Holiday
from rewards import services as reward_services
from rewards.models import Coupon, PointsLot
from tests.campaigns.helpers import drain, member, no_quiet_hours
from tests.rewards.catalogue_factories import template
from tests.rewards.helpers import post

pytestmark = pytest.mark.django_db
SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))


def noon(year, month, day):
    return datetime.datetime(year, month, day, 12, 0, tzinfo=SHANGHAI)


def automation(kind, holiday="", **changes) -> Automation:
    found = Automation.objects.select_related("campaign").get(kind=kind, holiday=holiday)
    automations.update_automation(automation=found, enabled=True, **changes)
    found.refresh_from_db()
    return found


def outbox(found: Automation):
    return OutboxMessage.objects.filter(campaign_id=found.campaign_id)


# --- holiday dates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("holiday", "year", "expected"),
    [
        ("spring_festival", 2026, datetime.date(2026, 2, 17)),
        ("spring_festival", 2027, datetime.date(2027, 2, 6)),
        ("mid_autumn", 2026, datetime.date(2026, 9, 25)),
        ("mid_autumn", 2027, datetime.date(2027, 9, 15)),
        ("qixi", 2026, datetime.date(2026, 8, 19)),
        ("qixi", 2027, datetime.date(2027, 8, 8)),
        ("valentines", 2026, datetime.date(2026, 2, 14)),
        ("mothers_day", 2026, datetime.date(2026, 5, 10)),
        ("mothers_day", 2027, datetime.date(2027, 5, 9)),
    ],
)
def test_holiday_dates(holiday, year, expected):
    assert holidays.holiday_date(holiday, year) == expected


def test_seeded_automations_are_off_and_the_daily_task_exists():
    # 13 + the stored-value bonus lapse reminder (issue 16) + care plan expiry and the two of member
    # events (issue 17) + the important-date greeting and a greeting for each of the 12 holidays the
    # calendar added to the first five (issue 18)
    assert Automation.objects.count() == 30
    assert Automation.objects.filter(kind="holiday").count() == Holiday.objects.count() == 17
    # on: only the message telling a waitlisted member their seat is confirmed (not a date trigger)
    assert list(Automation.objects.filter(enabled=True).values_list("kind", flat=True)) == ["event_seat"]
    task = PeriodicTask.objects.get(name="Run automations (daily)")
    assert task.task == "campaigns.run_automations" and task.crontab.hour == "10"
    assert automations.run_automations() == {}


def test_holiday_greeting_on_the_day_once_per_year():
    no_quiet_hours()
    found = automation("holiday", "mid_autumn")
    Holiday.objects.filter(code="mid_autumn").update(lead_days=2)  # the calendar's lead days drive it
    alice = member(name="Alice", sms_consent=True)
    member(name="Bob")  # no consent: skipped, counted
    with time_machine.travel(noon(2026, 9, 22), tick=False):
        assert automations.run_automations() == {"holiday:mid_autumn": 0}
    with time_machine.travel(noon(2026, 9, 23), tick=False):
        assert automations.run_automations() == {"holiday:mid_autumn": 2}
        drain()
    with time_machine.travel(noon(2026, 9, 25), tick=False):
        assert automations.run_automations() == {"holiday:mid_autumn": 0}
    assert outbox(found).filter(status=OutboxMessage.Status.SENT).get().member == alice
    assert outbox(found).get(status=OutboxMessage.Status.SKIPPED).skip_reason == SkipReason.NO_CONSENT
    assert "中秋快乐" in SmsLog.objects.get().text
    assert found.occurrences.get().key == "2026" and found.occurrences.get().on == datetime.date(2026, 9, 25)
    with time_machine.travel(noon(2027, 9, 15), tick=False):
        assert automations.run_automations() == {"holiday:mid_autumn": 2}


# --- birthday ------------------------------------------------------------------------------------


def test_birthday_coupon_seven_days_before_once_and_offer_issued_once():
    no_quiet_hours()
    coupon = template(name="生日礼券")
    found = automation("birthday", coupon_template=coupon)
    assert found.days_before == 7
    alice = member(name="Alice", sms_consent=True, birthday=datetime.date(1990, 3, 8))
    member(name="Later", sms_consent=True, birthday=datetime.date(1990, 3, 9))
    with time_machine.travel(noon(2026, 3, 1), tick=False):
        assert automations.run_automations() == {"birthday": 1}
        drain()
        assert automations.run_automations() == {"birthday": 0}
        drain()
    issued = Coupon.objects.get()
    assert issued.member == alice and issued.source == Coupon.Source.CAMPAIGN
    text = SmsLog.objects.get().text
    assert issued.code in text and "3/8" in text
    with time_machine.travel(noon(2026, 3, 2), tick=False):
        assert automations.run_automations() == {"birthday": 1}  # Later's turn; Alice not again
    assert outbox(found).filter(member=alice).count() == 1


@pytest.mark.parametrize(
    ("today", "queued"),
    [
        ((2027, 2, 21), 1),  # 2027 is not a leap year: 29 February is celebrated on the 28th
        ((2028, 2, 21), 0),  # 2028 is: 28 February is not the birthday
        ((2028, 2, 22), 1),
    ],
)
def test_birthday_on_29_february(today, queued):
    automation("birthday")
    member(name="Leap", sms_consent=True, birthday=datetime.date(2000, 2, 29))
    with time_machine.travel(noon(*today), tick=False):
        assert automations.run_automations() == {"birthday": queued}


def test_consent_and_frequency_cap_are_respected_and_no_coupon_for_skipped():
    no_quiet_hours(frequency_cap_messages=1)
    found = automation("birthday", coupon_template=template())
    born = datetime.date(1991, 6, 10)
    capped = member(name="Capped", sms_consent=True, birthday=born)
    opted_out = member(name="OptedOut", sms_consent=True, birthday=born)
    from members.models import ConsentSource
    from members.services import set_consents

    set_consents(member=opted_out, consents={"marketing_sms": False}, source=ConsentSource.ADMIN)
    with time_machine.travel(noon(2026, 6, 1), tick=False):
        OutboxMessage.objects.create(  # capped already had a message this month
            campaign=found.campaign, step=found.campaign.steps.get(number=1), member=capped, channel="sms",
            status=OutboxMessage.Status.SENT, sending_at=timezone.now(), sent_at=timezone.now(),
        )  # fmt: skip
    with time_machine.travel(noon(2026, 6, 5), tick=False):
        assert automations.run_automations() == {"birthday": 2}
        drain()
    occurrence = found.occurrences.get()
    reasons = dict(outbox(found).filter(step=occurrence.step).values_list("member__name", "skip_reason"))
    assert reasons == {"Capped": SkipReason.FREQUENCY_CAP, "OptedOut": SkipReason.OPTED_OUT}
    assert not Coupon.objects.exists()


# --- points expiry -----------------------------------------------------------------------------------


def test_points_expiry_reminder_with_points_and_date():
    no_quiet_hours()
    found = automation("points_expiry")
    with time_machine.travel(noon(2026, 5, 1), tick=False):
        alice = member(name="Alice", sms_consent=True)
        later = member(name="Later", sms_consent=True)
        reward_services.adjust_points(member=alice, points=300, reason="test", actor=None)
        reward_services.adjust_points(member=later, points=50, reason="test", actor=None)
    PointsLot.objects.filter(account__member=alice).update(expires_on=datetime.date(2026, 6, 20))
    PointsLot.objects.filter(account__member=later).update(expires_on=datetime.date(2026, 7, 10))
    with time_machine.travel(noon(2026, 5, 20), tick=False):
        assert automations.run_automations() == {"points_expiry": 0}
    with time_machine.travel(noon(2026, 5, 21), tick=False):
        assert automations.run_automations() == {"points_expiry": 1}
        drain()
        assert automations.run_automations() == {"points_expiry": 0}
    text = SmsLog.objects.get().text
    assert "300" in text and "2026-06-20" in text
    assert outbox(found).get().member == alice


# --- win-back ----------------------------------------------------------------------------------------


def test_win_back_once_per_lapse():
    no_quiet_hours()
    found = automation("win_back")
    old = member(name="Old", sms_consent=True)
    long_gone = member(name="LongGone", sms_consent=True)
    recent = member(name="Recent", sms_consent=True)
    now = timezone.now()
    post(old, "100.00", ordered_at=now - datetime.timedelta(days=735))
    post(long_gone, "100.00", ordered_at=now - datetime.timedelta(days=900))  # lapsed long before
    post(recent, "100.00", ordered_at=now - datetime.timedelta(days=10))
    classify_members(as_of=timezone.localdate())
    assert automations.run_automations() == {"win_back": 1}
    drain()
    assert outbox(found).get(status=OutboxMessage.Status.SENT).member == old
    with time_machine.travel(now + datetime.timedelta(days=1)):
        classify_members(as_of=timezone.localdate())
        assert automations.run_automations() == {"win_back": 0}


# --- tier upgrade ------------------------------------------------------------------------------------


def test_tier_upgrade_congratulation_after_commit(django_capture_on_commit_callbacks):
    no_quiet_hours()
    found = automation("tier_upgrade")
    alice = member(name="Alice", sms_consent=True)
    with django_capture_on_commit_callbacks(execute=True):
        post(alice, "100.00")
    assert not outbox(found).exists()  # no upgrade yet
    with django_capture_on_commit_callbacks(execute=True):
        post(alice, "6000.00")
    assert outbox(found).get().member == alice
    drain()
    assert "恭喜Alice升级" in SmsLog.objects.get().text


def test_disabled_tier_upgrade_sends_nothing(django_capture_on_commit_callbacks):
    found = Automation.objects.get(kind="tier_upgrade")
    alice = member(name="Alice", sms_consent=True)
    with django_capture_on_commit_callbacks(execute=True):
        post(alice, "100.00")
        post(alice, "6000.00")
    assert not outbox(found).exists()


def test_no_upgrade_callback_while_nobody_congratulates_upgrades(django_capture_on_commit_callbacks):
    """Issue 20: with the tier-upgrade automation off, an upgrading posting schedules no after-commit
    work for it; switched on (through the service, as the admin does), the next upgrade does."""
    alice = member(name="Alice", sms_consent=True)
    post(alice, "100.00")
    with django_capture_on_commit_callbacks() as callbacks:
        result = post(alice, "6000.00")
    assert result.tier_changed
    assert not [c for c in callbacks if "on_tier_history_saved" in c.__qualname__]
    automation("tier_upgrade")
    bob = member(name="Bob", sms_consent=True)
    post(bob, "100.00")
    with django_capture_on_commit_callbacks() as callbacks:
        assert post(bob, "6000.00").tier_changed
    assert len([c for c in callbacks if "on_tier_history_saved" in c.__qualname__]) == 1


# --- configuration and permissions ------------------------------------------------------------------


def test_update_names_bad_fields():
    found = Automation.objects.get(kind="birthday")
    inactive = template(is_active=False)
    with pytest.raises(Exception) as caught:
        automations.update_automation(
            automation=found, channel="email", subject="", body="{% if %}", days_before=91, coupon_template=inactive
        )
    assert set(caught.value.message_dict) == {"subject", "body", "days_before", "coupon_template"}
    found.refresh_from_db()
    assert found.days_before == 7 and found.campaign is None  # nothing half-written


EXPECTED = {
    STORE_STAFF: set(),
    SUPPORT: set(),
    MARKETING: {"view_automation", "change_automation", "view_automationoccurrence"},
    MANAGER: {"view_automation", "change_automation", "view_automationoccurrence"},
}


@pytest.mark.parametrize("role", ROLES)
def test_role_permissions(role):
    held = set(
        Group.objects.get(name=role)
        .permissions.filter(codename__contains="automation")
        .values_list("codename", flat=True)
    )
    assert held == EXPECTED[role]


ADMIN = "/admin/campaigns/automation/"


def test_marketing_switches_on_an_automation_in_the_admin(client, marketing):
    found = Automation.objects.get(kind="holiday", holiday="qixi")
    client.force_login(marketing)
    page = client.get(f"{ADMIN}{found.pk}/change/")
    assert page.status_code == 200
    assert "2026-08-19" in page.content.decode() or "2027-08-08" in page.content.decode()
    response = client.post(
        f"{ADMIN}{found.pk}/change/",
        {"enabled": "on", "days_before": "1", "coupon_template": "", "channel": "sms", "language": "zh-hans",
         "subject": "", "body": "{{ member.name }}，{{ holiday }}快乐", "segment": ""},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    found.refresh_from_db()
    assert found.enabled and "{{ holiday }}" in found.campaign.body


def test_store_staff_cannot_see_automations(client, store_staff):
    client.force_login(store_staff)
    assert client.get(ADMIN).status_code == 403


def test_changelist_query_count_is_fixed(client, manager, django_assert_max_num_queries):
    client.force_login(manager)
    with django_assert_max_num_queries(15):
        assert client.get(ADMIN).status_code == 200


# --- welcome series and renewal reminder -------------------------------------------------------------


def test_welcome_series_at_once_and_follow_up_after_n_days(django_capture_on_commit_callbacks):
    no_quiet_hours()
    first = automation("welcome")
    follow_up = automation("welcome_follow_up", days_before=3)
    with time_machine.travel(noon(2026, 4, 1), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            alice = member(name="Alice", sms_consent=True)
        drain()
        assert [m.text for m in SmsLog.objects.all()] == [f"Alice您好，欢迎加入！您的会员号是{alice.member_no}。"]
        assert automations.welcome_member(member_id=alice.pk) == 0  # once per member
    held = outbox(follow_up).get()
    assert held.status == OutboxMessage.Status.PENDING and held.not_before == noon(2026, 4, 4)
    with time_machine.travel(noon(2026, 4, 3), tick=False):
        drain()
        assert SmsLog.objects.count() == 1
    with time_machine.travel(noon(2026, 4, 4), tick=False):
        drain()
    assert SmsLog.objects.count() == 2 and outbox(first).get().status == OutboxMessage.Status.SENT
    assert outbox(follow_up).get().status == OutboxMessage.Status.SENT


def test_renewal_reminder_on_rewards_signal(django_capture_on_commit_callbacks):
    from rewards.models import MembershipPlan
    from rewards.services.memberships import remind_renewals

    no_quiet_hours()
    found = automation("renewal_reminder")
    alice = member(name="Alice", sms_consent=True)
    with time_machine.travel(noon(2025, 3, 10), tick=False):
        reward_services.buy_membership(
            member=alice, plan=MembershipPlan.objects.get(code="annual-plus"), external_ref="SALE-1"
        )
    with time_machine.travel(noon(2026, 2, 20), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            assert remind_renewals() == 1
            assert remind_renewals() == 0
        drain()
    assert outbox(found).get().status == OutboxMessage.Status.SENT
    assert "2026-03-09" in SmsLog.objects.get().text


def test_a_retried_automation_message_carries_the_coupon_of_its_first_attempt(sms):
    """A temporary refusal sends the message again later: with the same coupon, never a second one;
    a message that finally fails voids it (the member never heard of it)."""
    no_quiet_hours()
    found = automation("birthday", coupon_template=template(name="生日礼券"))
    alice = member(name="Alice", sms_consent=True, birthday=datetime.date(1990, 3, 8))
    busy = ChannelError("isv.BUSINESS_LIMIT_CONTROL", "触发流控", temporary=True)
    sms.answers = [busy, "ok-1"]
    start = noon(2026, 3, 1)
    with time_machine.travel(start, tick=False):
        assert automations.run_automations() == {"birthday": 1}
        drain()
    with time_machine.travel(start + datetime.timedelta(minutes=2), tick=False):
        drain()
    issued = Coupon.objects.get(member=alice)
    assert [sent["text"].count(issued.code) for sent in sms.sent] == [1, 1]
    assert outbox(found).get().status == OutboxMessage.Status.SENT
    assert issued.status == Coupon.Status.ISSUED


def test_an_automation_coupon_is_void_when_its_message_fails(sms):
    no_quiet_hours()
    automation("birthday", coupon_template=template(name="生日礼券"))
    alice = member(name="Alice", sms_consent=True, birthday=datetime.date(1990, 3, 8))
    sms.answers = [ChannelError("isv.MOBILE_NUMBER_ILLEGAL", "手机号码格式错误")]
    with time_machine.travel(noon(2026, 3, 1), tick=False):
        automations.run_automations()
        drain()
    assert Coupon.objects.get(member=alice).status == Coupon.Status.VOID
