"""The stored-value bonus lapse reminder (issue 16: "the member is told before it lapses"): a member
whose bonus lot ends within N days gets one message through the outbox and the contact policy, once
per lot (per end date), with the amount left and the date; a bonus that never lapses, one ending
later, or one already spent is not told."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import time_machine

from campaigns import automation_rules
from campaigns.models import Automation, OutboxMessage, SkipReason, SmsLog
from campaigns.services import automations
from rewards.models import StoredValueBonusLot
from rewards.services import stored_value
from tests.campaigns.helpers import drain, member, no_quiet_hours
from tests.rewards.helpers import next_ref
from tests.rewards.stored_value_helpers import fund, rule

pytestmark = pytest.mark.django_db
SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))
KIND = "bonus_lapse"


def noon(day: datetime.date):
    return datetime.datetime(day.year, day.month, day.day, 12, 0, tzinfo=SHANGHAI)


def switched_on(**changes) -> Automation:
    found = Automation.objects.get(kind=KIND)
    automations.update_automation(automation=found, enabled=True, **changes)
    found.refresh_from_db()
    return found


def run_on(day: datetime.date) -> dict[str, int]:
    with time_machine.travel(noon(day), tick=False):
        return automations.run_automations()


def lapse_date(person) -> datetime.date:
    return StoredValueBonusLot.objects.filter(account__member=person, expires_on__isnull=False).latest("id").expires_on


@pytest.fixture
def lapsing_rule():
    return rule("500.00", "100.00", bonus_expires_after_days=30)


def test_the_reminder_is_seeded_off_with_seven_days_and_a_default_message():
    found = Automation.objects.get(kind=KIND)
    assert (found.enabled, found.days_before, found.campaign_id) == (False, 7, None)
    message = automation_rules.default_message(found)
    assert "{{ lapsing_bonus }}" in message["body"] and "{{ lapses_on }}" in message["body"]
    assert automation_rules.check_automation_templates(kind=KIND, subject="", body=message["body"]) == []


def test_one_message_n_days_before_the_lot_lapses_once_per_lot(lapsing_rule):
    no_quiet_hours()
    found = switched_on()
    start = datetime.date(2026, 5, 1)
    with time_machine.travel(noon(start), tick=False):
        alice = member(name="Alice", sms_consent=True)
        fund(alice, "500.00", with_rule=lapsing_rule)
    ends = lapse_date(alice)
    assert ends == start + datetime.timedelta(days=30)
    assert run_on(ends - datetime.timedelta(days=8)) == {KIND: 0}  # not yet within 7 days
    assert run_on(ends - datetime.timedelta(days=7)) == {KIND: 1}
    with time_machine.travel(noon(ends - datetime.timedelta(days=7)), tick=False):
        drain()
    assert run_on(ends - datetime.timedelta(days=7)) == {KIND: 0}  # the same day again
    assert run_on(ends - datetime.timedelta(days=3)) == {KIND: 0}  # a later day: the lot was told
    message = OutboxMessage.objects.get(campaign_id=found.campaign_id)
    assert (message.member, message.status) == (alice, OutboxMessage.Status.SENT)
    text = SmsLog.objects.get().text
    assert "Alice" in text and "¥100.00" in text and ends.isoformat() in text

    # A new lot (a second top-up) is a new reminder when its own end comes near.
    with time_machine.travel(noon(ends - datetime.timedelta(days=3)), tick=False):
        fund(alice, "500.00", with_rule=lapsing_rule)
    second = lapse_date(alice)
    assert second > ends
    assert run_on(second - datetime.timedelta(days=7)) == {KIND: 1}
    assert OutboxMessage.objects.filter(campaign_id=found.campaign_id, member=alice).count() == 2


def test_the_amount_is_what_is_left_of_the_lots_ending_that_day(lapsing_rule):
    no_quiet_hours()
    switched_on()
    start = datetime.date(2026, 5, 1)
    with time_machine.travel(noon(start), tick=False):
        bob = member(name="Bob", sms_consent=True)
        fund(bob, "500.00", with_rule=lapsing_rule)
        # ¥120 paid: ¥100 principal, ¥20 bonus in proportion: ¥80 of the lot is left.
        stored_value.pay_from_balance(member=bob, amount=Decimal("120.00"), external_ref=next_ref("PAY"))
    ends = lapse_date(bob)
    day = ends - datetime.timedelta(days=7)
    assert run_on(day) == {KIND: 1}
    with time_machine.travel(noon(day), tick=False):
        drain()
    assert "¥80.00" in SmsLog.objects.get().text


def test_no_message_for_a_bonus_that_never_lapses_one_ending_later_or_one_spent(lapsing_rule):
    no_quiet_hours()
    found = switched_on(days_before=5)
    start = datetime.date(2026, 5, 1)
    with time_machine.travel(noon(start), tick=False):
        forever = member(sms_consent=True)
        fund(forever, "500.00", with_rule=rule("500.00", "50.00"))  # no end date
        spent = member(sms_consent=True)
        fund(spent, "500.00", with_rule=lapsing_rule)
        stored_value.pay_from_balance(member=spent, amount=Decimal("600.00"), external_ref=next_ref("PAY"))
    with time_machine.travel(noon(start + datetime.timedelta(days=10)), tick=False):
        later = member(sms_consent=True)
        fund(later, "500.00", with_rule=lapsing_rule)
    ends = start + datetime.timedelta(days=30)
    assert run_on(ends - datetime.timedelta(days=5)) == {KIND: 0}
    assert not OutboxMessage.objects.filter(campaign_id=found.campaign_id).exists()


def test_the_contact_policy_applies(lapsing_rule):
    no_quiet_hours()
    found = switched_on()
    start = datetime.date(2026, 5, 1)
    with time_machine.travel(noon(start), tick=False):
        silent = member(sms_consent=False)
        fund(silent, "500.00", with_rule=lapsing_rule)
    day = lapse_date(silent) - datetime.timedelta(days=7)
    run_on(day)
    with time_machine.travel(noon(day), tick=False):
        drain()
    assert not SmsLog.objects.exists()
    skipped = OutboxMessage.objects.filter(campaign_id=found.campaign_id, status=OutboxMessage.Status.SKIPPED)
    assert list(skipped.values_list("member", "skip_reason")) == [(silent.pk, SkipReason.NO_CONSENT)]
