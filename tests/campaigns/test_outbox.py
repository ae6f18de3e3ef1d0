"""`campaigns.services.outbox.add_messages`: the one batched insert (and consent skip) that a
campaign's start and an automation's occurrence both write their outbox rows with."""

from __future__ import annotations

import pytest

from campaigns.models import Automation, OutboxMessage, SkipReason
from campaigns.services import automations, outbox
from members.models import ConsentSource, Member
from members.services import set_consents
from tests.campaigns.helpers import campaign, launched, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def written_by_helper(monkeypatch):
    """Batches of two (so several batches are written) and a record of every call of the helper."""
    monkeypatch.setattr(outbox, "INSERT_BATCH", 2)
    calls = []
    real = outbox.add_messages

    def spy(**kwargs):
        calls.append(kwargs["step"].campaign_id)
        return real(**kwargs)

    monkeypatch.setattr(outbox, "add_messages", spy)
    return calls


def five_members():
    for name in ("A", "B", "C"):
        member(name=name, sms_consent=True)
    opted_out = member(name="OptedOut", sms_consent=True)
    set_consents(member=opted_out, consents={"marketing_sms": False}, source=ConsentSource.ADMIN)
    member(name="Never")


def reasons(campaign_id: int) -> dict[str, str]:
    rows = OutboxMessage.objects.filter(campaign_id=campaign_id)
    return dict(rows.values_list("member__name", "skip_reason"))


def test_a_campaign_start_and_an_automation_write_through_the_one_helper(written_by_helper):
    five_members()
    started = launched(campaign())
    found = Automation.objects.get(kind="holiday", holiday="mid_autumn")
    automations.update_automation(automation=found, enabled=True)
    found.refresh_from_db()
    added = automations.enqueue_occurrence(automation=found, key="2026", on=None, members=Member.objects.all())
    assert written_by_helper == [started.pk, found.campaign_id]
    assert added == 5 and started.outbox_messages.count() == 5
    expected = {"A": "", "B": "", "C": "", "OptedOut": SkipReason.OPTED_OUT, "Never": SkipReason.NO_CONSENT}
    assert reasons(started.pk) == expected
    assert reasons(found.campaign_id) == expected


def test_an_occurrence_run_again_adds_nothing_and_leaves_the_rows_alone(written_by_helper):
    five_members()
    found = Automation.objects.get(kind="holiday", holiday="mid_autumn")
    automations.update_automation(automation=found, enabled=True)
    found.refresh_from_db()
    assert automations.enqueue_occurrence(automation=found, key="2026", on=None, members=Member.objects.all()) == 5
    assert automations.enqueue_occurrence(automation=found, key="2026", on=None, members=Member.objects.all()) == 0
    assert OutboxMessage.objects.filter(campaign_id=found.campaign_id).count() == 5
