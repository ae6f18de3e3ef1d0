"""Pilot → expand: a sample first, then the rest of the audience, nobody twice."""

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Count

from campaigns.errors import InvalidTransition
from campaigns.models import Campaign, OutboxMessage
from campaigns.services import dispatch, pilots
from tests.campaigns.helpers import campaign, drain, member, no_quiet_hours

pytestmark = pytest.mark.django_db


def start(made):
    dispatch.start_campaign(campaign_id=made.pk)
    made.refresh_from_db()
    return made


def test_sample_pilot_then_expand_reaches_everyone_once():
    no_quiet_hours()
    people = [member(sms_consent=True) for _i in range(20)]
    made = campaign(control_group_pct=10)
    pilots.launch_pilot(campaign=made, sample_pct=30)
    start(made)
    piloted = set(made.outbox_messages.values_list("member_id", flat=True))
    assert 0 < len(piloted) < 20
    drain()
    made.refresh_from_db()
    assert made.status == Campaign.Status.COMPLETED
    result = pilots.expand_campaign(campaign=made)
    assert result.audience == 20 - len(piloted)
    drain()
    made.refresh_from_db()
    assert made.status == Campaign.Status.COMPLETED
    per_member = OutboxMessage.objects.filter(campaign=made).values("member_id").annotate(n=Count("id"))
    assert {row["member_id"] for row in per_member} == {p.pk for p in people}
    assert {row["n"] for row in per_member} == {1}
    assert set(made.steps.values_list("number", flat=True)) == {1, 2}
    with pytest.raises(InvalidTransition):
        pilots.expand_campaign(campaign=made)


def test_classification_pilot_takes_only_that_class(people):
    no_quiet_hours()
    made = campaign()
    pilots.launch_pilot(campaign=made, classification="high_value")
    start(made)
    assert list(made.outbox_messages.values_list("member_id", flat=True)) == [people["alice"].pk]


def test_expand_refused_before_the_pilot_finished_and_bad_rules_refused():
    no_quiet_hours()
    member(sms_consent=True)
    made = campaign()
    with pytest.raises(ValidationError):
        pilots.launch_pilot(campaign=made)
    with pytest.raises(ValidationError):
        pilots.launch_pilot(campaign=made, sample_pct=95)
    with pytest.raises(InvalidTransition):
        pilots.expand_campaign(campaign=made)  # not a pilot
    pilots.launch_pilot(campaign=made, sample_pct=50)
    with pytest.raises(InvalidTransition):
        pilots.expand_campaign(campaign=made)  # still scheduled


def test_api_launches_a_pilot_and_expands_it(api_marketing, api_staff):
    no_quiet_hours()
    for _i in range(10):
        member(sms_consent=True)
    made = campaign()
    bad = api_marketing.post(f"/api/v1/campaigns/{made.pk}/launch/", {"pilot": {}}, format="json")
    assert bad.status_code == 400
    response = api_marketing.post(f"/api/v1/campaigns/{made.pk}/launch/", {"pilot": {"sample_pct": 40}}, format="json")
    assert response.status_code == 202
    start(made)
    too_early = api_marketing.post(f"/api/v1/campaigns/{made.pk}/expand/")
    assert too_early.status_code == 409 and too_early.json()["code"] == "invalid_transition"
    drain()
    piloted = made.outbox_messages.count()
    assert api_staff.post(f"/api/v1/campaigns/{made.pk}/expand/").status_code == 403
    response = api_marketing.post(f"/api/v1/campaigns/{made.pk}/expand/")
    assert response.status_code == 202 and response.json()["audience"] == 10 - piloted
