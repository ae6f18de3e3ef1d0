"""Two tills syncing the same offline purchases at once, on PostgreSQL with real threads."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from members.models import Purchase
from members.services import PurchaseDraft
from rewards import services
from rewards.models import PurchasePosting
from rewards.services.batch import POSTED, REPLAYED
from tests.members import factories
from tests.rewards.helpers import account_of, assert_ledger_invariants, line, reseed_after_flush
from tests.rewards.test_concurrency import run_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _seeded_tiers_and_rules(transactional_db):
    reseed_after_flush()


def _drafts(people, count, prefix="C"):
    start = timezone.now() - datetime.timedelta(days=30)
    return [
        PurchaseDraft(
            member=people[i % len(people)],
            external_ref=f"{prefix}-{i}",
            ordered_at=start + datetime.timedelta(hours=i),
            items=[line("100.00")],
        )
        for i in range(count)
    ]


def test_the_same_batch_from_two_tills_at_once_posts_each_purchase_once():
    people = [factories.member(name=f"并{i}") for i in range(4)]
    drafts = _drafts(people, 12)
    results = run_at_once([lambda: services.post_purchases_each(drafts=drafts)] * 2)
    assert not [r for r in results if isinstance(r, Exception)], results
    statuses = sorted(o.status for r in results for o in r.outcomes)
    assert statuses == sorted([POSTED] * 12 + [REPLAYED] * 12)
    assert Purchase.objects.count() == PurchasePosting.objects.count() == 12
    for person in people:
        assert_ledger_invariants(person)
    assert sum(account_of(p).balance for p in people) == 100 * 12


def test_overlapping_batches_for_different_members_lose_nothing():
    """A reference taken by another member's concurrent batch: refused for this one (a conflict),
    the rest of the batch posted."""
    one, two = factories.member(name="甲"), factories.member(name="乙")
    first = _drafts([one], 5, prefix="O")
    second = _drafts([two], 5, prefix="O")[2:] + _drafts([two], 3, prefix="T")
    results = run_at_once(
        [lambda: services.post_purchases_each(drafts=first), lambda: services.post_purchases_each(drafts=second)]
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    assert Purchase.objects.count() == 5 + 3
    assert account_of(one).balance + account_of(two).balance == 100 * 8
    assert Decimal(sum(account_of(p).balance for p in (one, two))) == Decimal(800)
