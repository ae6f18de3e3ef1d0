"""Campaign lifecycle through the services: draft → scheduled → sending → completed | cancelled."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.utils import timezone

from campaigns import services
from campaigns.errors import CampaignNotEditable, InvalidTransition
from campaigns.models import Campaign, CampaignStep, OutboxMessage
from campaigns.services import dispatch
from tests.campaigns.helpers import campaign, drain, launched, member, no_quiet_hours

pytestmark = pytest.mark.django_db


def test_create_makes_a_draft_with_its_first_step(marketing):
    made = campaign(actor=marketing)
    assert made.status == Campaign.Status.DRAFT
    assert made.created_by == marketing
    assert list(made.steps.values_list("number", flat=True)) == [1]


def test_create_returns_warnings_for_fields_no_member_has():
    saved = services.create_campaign(name="x", channel="sms", body="{{ member.nickname }}你好")
    assert saved.warnings and "member.nickname" in saved.warnings[0]


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"name": "", "channel": "sms", "body": "x"}, "name"),
        ({"name": "x", "channel": "fax", "body": "x"}, "channel"),
        ({"name": "x", "channel": "sms", "body": "  "}, "body"),
        ({"name": "x", "channel": "email", "body": "x"}, "subject"),
        ({"name": "x", "channel": "sms", "body": "{% for %}"}, "body"),
        ({"name": "x", "channel": "sms", "body": "x", "control_group_pct": 95}, "control_group_pct"),
    ],
)
def test_create_refuses_bad_fields_naming_them(fields, bad):
    with pytest.raises(ValidationError) as error:
        services.create_campaign(**fields)
    assert bad in error.value.message_dict
    assert not Campaign.objects.exists()


def test_launch_schedules_and_start_resolves_the_audience():
    no_quiet_hours()
    member(sms_consent=True)
    member(sms_consent=True)
    made = campaign()
    services.launch_campaign(campaign=made)
    made.refresh_from_db()
    assert made.status == Campaign.Status.SCHEDULED and made.start_at is not None
    result = dispatch.start_campaign(campaign_id=made.pk)
    made.refresh_from_db()
    assert made.status == Campaign.Status.SENDING
    assert result.audience == 2 == made.outbox_messages.count()


def test_a_future_start_waits_for_its_time():
    made = campaign(start_at=timezone.now() + datetime.timedelta(hours=2))
    services.launch_campaign(campaign=made)
    assert dispatch.start_due_campaigns() == []
    later = timezone.now() + datetime.timedelta(hours=3)
    assert dispatch.start_due_campaigns(now=later) == [made.pk]


def test_starting_twice_creates_the_outbox_once():
    member(sms_consent=True)
    made = campaign()
    services.launch_campaign(campaign=made)
    assert dispatch.start_campaign(campaign_id=made.pk) is not None
    assert dispatch.start_campaign(campaign_id=made.pk) is None
    assert OutboxMessage.objects.count() == 1


def test_campaign_completes_when_nothing_is_left_to_send():
    no_quiet_hours()
    member(sms_consent=True)
    made = launched(campaign())
    drain()
    made.refresh_from_db()
    assert made.status == Campaign.Status.COMPLETED and made.completed_at


def test_an_empty_audience_completes_at_once():
    made = launched(campaign())
    assert dispatch.complete_finished_campaigns() == [made.pk]


@pytest.mark.parametrize("status", ["scheduled", "sending", "completed", "cancelled"])
def test_only_a_draft_can_be_launched(status):
    made = campaign()
    Campaign.objects.filter(pk=made.pk).update(status=status)
    with pytest.raises(InvalidTransition) as error:
        services.launch_campaign(campaign=made)
    assert error.value.code == "invalid_transition"


@pytest.mark.parametrize("status", ["completed", "cancelled"])
def test_a_finished_campaign_cannot_be_cancelled(status):
    made = campaign()
    Campaign.objects.filter(pk=made.pk).update(status=status)
    with pytest.raises(InvalidTransition):
        services.cancel_campaign(campaign=made)


def test_cancelling_a_sending_campaign_skips_what_was_not_sent():
    no_quiet_hours()
    for _i in range(3):
        member(sms_consent=True)
    made = launched(campaign())
    services.cancel_campaign(campaign=made)
    made.refresh_from_db()
    assert made.status == Campaign.Status.CANCELLED
    assert set(made.outbox_messages.values_list("status", "skip_reason")) == {("skipped", "cancelled")}
    drain()
    assert not made.outbox_messages.filter(status="sent").exists()


def test_only_drafts_are_edited():
    made = campaign()
    services.update_campaign(campaign=made, name="秋季回馈")
    made.refresh_from_db()
    assert made.name == "秋季回馈"
    services.launch_campaign(campaign=made)
    with pytest.raises(CampaignNotEditable):
        services.update_campaign(campaign=made, name="again")


def test_outbox_holds_one_row_per_step_and_member():
    someone = member(sms_consent=True)
    made = launched(campaign())
    step = CampaignStep.objects.get(campaign=made)
    with pytest.raises(IntegrityError):
        OutboxMessage.objects.create(campaign=made, step=step, member=someone, channel="sms")


def test_erased_members_are_never_in_the_audience():
    from members.services import erase_member

    gone = member(sms_consent=True)
    member(sms_consent=True)
    erase_member(member=gone)
    made = launched(campaign())
    assert not made.outbox_messages.filter(member=gone).exists()
    assert made.outbox_messages.count() == 1
