"""The care plan expiry reminder (issue 17: "expiry reminders through automations"): a member whose
care plan with claims left ends within N days gets one message through the outbox and the contact
policy, once per end date, naming the plan, the date and the claims left; a plan whose claims are
used is not told."""

from __future__ import annotations

import datetime

import pytest
import time_machine

from campaigns import automation_rules
from campaigns.models import Automation, OutboxMessage, SmsLog
from campaigns.services import automations
from rewards import services
from tests.campaigns.helpers import drain, member, no_quiet_hours
from tests.members import factories
from tests.rewards import care_plan_helpers as h

pytestmark = pytest.mark.django_db
SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))
KIND = "care_plan_expiry"
START = datetime.date(2026, 5, 1)
ENDS = START + datetime.timedelta(days=6)


def noon(day: datetime.date):
    return datetime.datetime(day.year, day.month, day.day, 12, 0, tzinfo=SHANGHAI)


def run_on(day: datetime.date) -> dict[str, int]:
    with time_machine.travel(noon(day), tick=False):
        return automations.run_automations()


def test_the_reminder_is_seeded_off_with_a_default_message():
    found = Automation.objects.get(kind=KIND)
    assert (found.enabled, found.days_before) == (False, 2)
    message = automation_rules.default_message(found)
    assert "{{ care_plan }}" in message["body"] and "{{ ends_on }}" in message["body"]
    assert automation_rules.check_automation_templates(kind=KIND, subject="", body=message["body"]) == []


def test_one_message_two_days_before_the_plan_ends_and_none_for_a_used_plan():
    no_quiet_hours()
    found = Automation.objects.get(kind=KIND)
    automations.update_automation(automation=found, enabled=True)
    found.refresh_from_db()
    plan = h.plan(products=[factories.product()])
    with time_machine.travel(noon(START), tick=False):
        alice = member(name="Alice", sms_consent=True)
        bob = member(name="Bob", sms_consent=True)
        h.sold(alice, plan, day=START)
        used = h.sold(bob, plan, day=START)
        services.claim_care_plan(sale=used, description="枯萎", idempotency_key="C1", today=START)
    assert run_on(ENDS - datetime.timedelta(days=3)) == {KIND: 0}
    assert run_on(ENDS - datetime.timedelta(days=2)) == {KIND: 1}
    with time_machine.travel(noon(ENDS - datetime.timedelta(days=2)), tick=False):
        drain()
    assert run_on(ENDS - datetime.timedelta(days=1)) == {KIND: 0}
    message = OutboxMessage.objects.get(campaign_id=found.campaign_id)
    assert (message.member, message.status) == (alice, OutboxMessage.Status.SENT)
    text = SmsLog.objects.get().text
    assert "Alice" in text and "鲜花养护计划" in text and ENDS.isoformat() in text and "1次" in text
