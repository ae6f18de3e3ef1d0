"""Real threads on PostgreSQL: an offer is given once per message even when two workers race."""

import pytest
from django.utils import timezone

from campaigns.models import OfferGrant, OutboxMessage
from campaigns.services import dispatch, offers
from rewards.models import Coupon, LedgerEntry
from tests.campaigns.helpers import campaign, launched, member, no_quiet_hours
from tests.rewards import catalogue_factories
from tests.rewards.test_concurrency import _seeded_tiers_and_rules, run_at_once  # noqa: F401

# serialized_rollback: the next files (referral, worker kill) restore the serialized database; a plain
# transactional test before them would leave re-created content types that collide with it.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_two_workers_finishing_the_same_message_credit_points_once():
    no_quiet_hours()
    member(sms_consent=True)
    made = campaign()
    offers.set_offer(campaign=made, kind="points", points=100)
    launched(made)
    message = made.outbox_messages.get()
    OutboxMessage.objects.filter(pk=message.pk).update(
        status=OutboxMessage.Status.SENDING, lease_owner="w", sending_at=timezone.now()
    )
    run_at_once([lambda: dispatch.finish_message(message_id=message.pk, owner="w", provider_ref="x")] * 4)
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.BONUS, reason_code="campaign").count() == 1
    assert OfferGrant.objects.count() == 1


def test_two_coupon_issues_for_the_same_message_give_one_coupon():
    no_quiet_hours()
    member(sms_consent=True)
    template = catalogue_factories.template()
    made = campaign(body="{{ coupon.code }}")
    offers.set_offer(campaign=made, kind="coupon", coupon_template=template)
    launched(made)
    message_id = made.outbox_messages.get().pk

    def prepare_in_a_transaction():
        from django.db import transaction

        from campaigns import lock_objects

        with transaction.atomic():
            locked = lock_objects.outbox_message_for_update(message_id)
            return offers.coupon_for_message(locked).code

    codes = run_at_once([prepare_in_a_transaction] * 4)
    assert len(set(codes)) == 1, codes
    assert Coupon.objects.count() == 1 and OfferGrant.objects.count() == 1
