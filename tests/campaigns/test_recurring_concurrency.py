"""Real threads on PostgreSQL: two runs of the same occurrence of a recurring campaign (a duplicate
beat tick, two beat processes by mistake) queue it once."""

import pytest
from django.db import IntegrityError, transaction

from campaigns.models import CampaignOccurrence, CampaignStep, OutboxMessage
from campaigns.services import launch_campaign, recurring
from tests.campaigns.helpers import member, no_quiet_hours
from tests.campaigns.recurring_helpers import at
from tests.campaigns.recurring_helpers import recurring as recurring_campaign
from tests.rewards.test_concurrency import _seeded_tiers_and_rules, run_at_once  # noqa: F401

# serialized_rollback: the next files (referral, worker kill) restore the serialized database; a plain
# transactional test before them would leave re-created content types that collide with it.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_concurrent_runs_of_the_same_occurrence_create_one_step():
    no_quiet_hours()
    people = [member(sms_consent=True, tags=["VIP"]) for _i in range(5)]
    made = recurring_campaign()
    launch_campaign(campaign=made, now=at("2026-03-01"))
    results = run_at_once([lambda: recurring.run_occurrence(campaign_id=made.pk, now=at("2026-03-02"))] * 4)
    queued = [result for result in results if result is not None]
    assert not [result for result in results if isinstance(result, Exception)], results
    assert len(queued) == 1 and queued[0].audience == len(people)
    assert CampaignOccurrence.objects.filter(campaign=made).count() == 1
    assert CampaignStep.objects.filter(campaign=made).count() == 1
    assert OutboxMessage.objects.filter(campaign=made).count() == len(people)


def test_the_database_refuses_a_second_occurrence_of_the_same_day():
    made = recurring_campaign(segment=None)
    launch_campaign(campaign=made, now=at("2026-03-01"))
    recurring.run_occurrence(campaign_id=made.pk, now=at("2026-03-02"))
    step = CampaignStep.objects.create(campaign=made, number=2)
    with pytest.raises(IntegrityError), transaction.atomic():
        CampaignOccurrence.objects.create(campaign=made, on=at("2026-03-02").date(), step=step, ran_at=at("2026-03-02"))
