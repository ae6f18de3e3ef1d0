"""Issue 18's automations with frozen time: the important-date greeting (7 days before, once per
date, only with consent), holiday greetings driven by the calendar's lead days (and a holiday added
by a manager), and win-back by churn risk or by the member's own usual interval."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from campaigns.models import Automation, MemberScore, OutboxMessage, SmsLog
from campaigns.services import automations
from members import services as member_services
from members.models import Holiday
from tests.campaigns.helpers import drain, member, no_quiet_hours
from tests.rewards.helpers import post

pytestmark = pytest.mark.django_db
SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))


def noon(year, month, day):
    return datetime.datetime(year, month, day, 12, 0, tzinfo=SHANGHAI)


def switch_on(kind, holiday="", **changes) -> Automation:
    found = Automation.objects.get(kind=kind, holiday=holiday)
    automations.update_automation(automation=found, enabled=True, **changes)
    found.refresh_from_db()
    return found


def sent_to(found: Automation) -> set[str]:
    return set(
        OutboxMessage.objects.filter(campaign_id=found.campaign_id, status__in=OutboxMessage.ACCEPTED).values_list(
            "member__name", flat=True
        )
    )


def test_important_date_greeting_seven_days_before_once_with_consent():
    no_quiet_hours()
    found = switch_on("important_date")
    assert found.days_before == 7
    ann = member(name="Ann", sms_consent=True)
    member_services.add_important_date(member=ann, kind="anniversary", month=5, day=20, year=2019, consent=True)
    bob = member(name="Bob", sms_consent=True)  # a date but no data-processing consent any more
    member_services.add_important_date(member=bob, kind="custom", label="妈妈生日", month=5, day=21, consent=True)
    member_services.set_consents(member=bob, consents={"data_processing": False})
    with time_machine.travel(noon(2027, 5, 12), tick=False):
        assert automations.run_automations()["important_date"] == 0  # 8 days before
    with time_machine.travel(noon(2027, 5, 13), tick=False):
        assert automations.run_automations()["important_date"] == 1
        drain()
    with time_machine.travel(noon(2027, 5, 14), tick=False):
        assert automations.run_automations()["important_date"] == 0  # once per date
    assert sent_to(found) == {"Ann"}
    text = SmsLog.objects.get().text
    assert text.startswith("Ann您好，5/20是您的纪念日")  # the label in the message's language
    assert found.occurrences.get().key == "2027-05-20"


def test_a_29_february_date_is_greeted_on_28_february_in_a_common_year():
    no_quiet_hours()
    found = switch_on("important_date", days_before=0)
    leap = member(name="Leap", sms_consent=True)
    member_services.add_important_date(member=leap, kind="partner_birthday", month=2, day=29, consent=True)
    with time_machine.travel(noon(2027, 2, 28), tick=False):
        assert automations.run_automations()["important_date"] == 1
    assert found.occurrences.get().key == "2027-02-28"


def test_holiday_greetings_follow_the_calendars_lead_days_and_switch():
    no_quiet_hours()
    found = switch_on("holiday", "day_520")
    member(name="Ann", sms_consent=True)
    Holiday.objects.filter(code="day_520").update(lead_days=3)
    with time_machine.travel(noon(2027, 5, 16), tick=False):
        assert automations.run_automations()["holiday:day_520"] == 0
    Holiday.objects.filter(code="day_520").update(is_active=False)
    with time_machine.travel(noon(2027, 5, 17), tick=False):
        assert automations.run_automations()["holiday:day_520"] == 0  # switched off in the calendar
    Holiday.objects.filter(code="day_520").update(is_active=True)
    with time_machine.travel(noon(2027, 5, 17), tick=False):
        assert automations.run_automations()["holiday:day_520"] == 1
        drain()
    assert "520" in SmsLog.objects.get().text
    assert found.occurrences.get().on == datetime.date(2027, 5, 20)


def test_a_holiday_a_manager_adds_gets_its_greeting_automation(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        Holiday.objects.create(code="shop_birthday", name="店庆", rule="fixed", month=6, day=18, lead_days=5)
    made = Automation.objects.get(kind="holiday", holiday="shop_birthday")
    assert not made.enabled and str(made) == "店庆"
    automations.update_automation(automation=made, enabled=True)
    made.refresh_from_db()
    assert "店庆" in made.campaign.name and "{{ holiday }}" in made.campaign.body


def _score(who, churn):
    MemberScore.objects.update_or_create(
        member=who,
        defaults={
            "as_of": timezone.localdate(), "classification": "potential", "churn_risk": churn, "p_alive": 1 - churn,
            "computed_at": timezone.now(), "last_purchase_at": timezone.now() - datetime.timedelta(days=40),
        },
    )  # fmt: skip


def test_win_back_by_churn_risk_once_per_lapse():
    no_quiet_hours()
    found = switch_on("win_back", win_back_rule="churn_risk", win_back_churn_risk=Decimal("0.60"))
    risky, safe = member(name="Risky", sms_consent=True), member(name="Safe", sms_consent=True)
    _score(risky, 0.61)
    _score(safe, 0.59)
    assert automations.run_automations()["win_back"] == 1
    drain()
    assert sent_to(found) == {"Risky"}
    with time_machine.travel(timezone.now() + datetime.timedelta(days=1)):
        assert automations.run_automations()["win_back"] == 0  # not again until they buy and drift again


def test_win_back_by_the_members_own_usual_interval():
    """Fast: bought every 10 days, last 16 days ago (16 > 1.5 × 10). Slow: every 60 days, last 80
    days ago (80 < 90). Once: a single purchase has no interval."""
    no_quiet_hours()
    found = switch_on("win_back", win_back_rule="usual_interval", win_back_interval_factor=Decimal("1.5"))
    fast, slow, once = (member(name=n, sms_consent=True) for n in ("Fast", "Slow", "Once"))
    now = timezone.now()
    for days in (36, 26, 16):
        post(fast, "50.00", ordered_at=now - datetime.timedelta(days=days))
    for days in (200, 140, 80):
        post(slow, "50.00", ordered_at=now - datetime.timedelta(days=days))
    post(once, "50.00", ordered_at=now - datetime.timedelta(days=300))
    from campaigns.services.classification import classify_members

    classify_members(as_of=timezone.localdate())
    assert automations.run_automations()["win_back"] == 1
    drain()
    assert sent_to(found) == {"Fast"}
    switch_on("win_back", win_back_interval_factor=Decimal("1.3"))  # 80 > 1.3 × 60
    assert automations.run_automations()["win_back"] == 1


def test_win_back_settings_are_checked():
    found = Automation.objects.get(kind="win_back")
    with pytest.raises(Exception) as error:
        automations.update_automation(automation=found, win_back_churn_risk=Decimal("1.5"))
    assert "win_back_churn_risk" in error.value.message_dict
