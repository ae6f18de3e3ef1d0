"""Reminders never say "0": a points-expiry or bonus-lapse reminder whose figure is 0 by the time
it is sent (the points used, the bonus spent since it was queued) is skipped with the reason
`nothing_to_remind`, as other skips are, and nothing goes out."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import time_machine

from campaigns.models import Automation, OutboxMessage, SkipReason, SmsLog
from campaigns.selectors.campaigns import campaign_results
from campaigns.services import automations
from rewards import services as reward_services
from rewards.models import PointsLot, StoredValueBonusLot
from rewards.services import stored_value
from tests.campaigns.helpers import drain, member, no_quiet_hours
from tests.rewards.helpers import next_ref
from tests.rewards.stored_value_helpers import fund, rule

pytestmark = pytest.mark.django_db
SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))


def noon(day: datetime.date):
    return datetime.datetime(day.year, day.month, day.day, 12, 0, tzinfo=SHANGHAI)


def switched_on(kind: str) -> Automation:
    found = Automation.objects.get(kind=kind)
    automations.update_automation(automation=found, enabled=True)
    found.refresh_from_db()
    return found


def test_a_points_reminder_whose_points_were_used_meanwhile_is_skipped():
    no_quiet_hours()
    found = switched_on("points_expiry")
    with time_machine.travel(noon(datetime.date(2026, 5, 1)), tick=False):
        alice = member(name="Alice", sms_consent=True)
        bob = member(name="Bob", sms_consent=True)
        reward_services.adjust_points(member=alice, points=300, reason="test", actor=None)
        reward_services.adjust_points(member=bob, points=120, reason="test", actor=None)
    PointsLot.objects.filter(account__member__in=[alice, bob]).update(expires_on=datetime.date(2026, 6, 20))
    day = noon(datetime.date(2026, 5, 21))
    with time_machine.travel(day, tick=False):
        assert automations.run_automations() == {"points_expiry": 2}
        reward_services.adjust_points(member=alice, points=-300, reason="used them all", actor=None)
        drain()
    messages = dict(OutboxMessage.objects.filter(campaign_id=found.campaign_id).values_list("member", "status"))
    assert messages == {alice.pk: OutboxMessage.Status.SKIPPED, bob.pk: OutboxMessage.Status.SENT}
    skipped = OutboxMessage.objects.get(campaign_id=found.campaign_id, member=alice)
    assert skipped.skip_reason == SkipReason.NOTHING_TO_REMIND
    [text] = SmsLog.objects.values_list("text", flat=True)
    assert "Bob" in text and "120" in text and "Alice" not in text
    assert campaign_results(found.campaign).skipped[SkipReason.NOTHING_TO_REMIND] == 1


def test_a_bonus_reminder_whose_bonus_was_spent_meanwhile_is_skipped():
    no_quiet_hours()
    found = switched_on("bonus_lapse")
    lapsing = rule("500.00", "100.00", bonus_expires_after_days=30)
    start = datetime.date(2026, 5, 1)
    with time_machine.travel(noon(start), tick=False):
        carol = member(name="Carol", sms_consent=True)
        fund(carol, "500.00", with_rule=lapsing)
    ends = StoredValueBonusLot.objects.filter(account__member=carol, expires_on__isnull=False).get().expires_on
    day = ends - datetime.timedelta(days=7)
    with time_machine.travel(noon(day), tick=False):
        assert automations.run_automations() == {"bonus_lapse": 1}
        stored_value.pay_from_balance(member=carol, amount=Decimal("600.00"), external_ref=next_ref("PAY"))
        drain()
    message = OutboxMessage.objects.get(campaign_id=found.campaign_id)
    assert (message.status, message.skip_reason) == (OutboxMessage.Status.SKIPPED, SkipReason.NOTHING_TO_REMIND)
    assert not SmsLog.objects.exists()
