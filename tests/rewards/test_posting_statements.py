"""What one posting costs in statements (issue 20), and the cached tiers it reads."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from rewards.models import LedgerEntry, PointsLot, PurchasePosting, Tier
from tests.members import factories
from tests.rewards.helpers import account_of, assert_ledger_invariants, line, post

pytestmark = pytest.mark.django_db


def statements(queries) -> list[str]:
    """The posting's own statements: the test's transaction turns the posting's BEGIN/COMMIT (which
    Django does not log) into a SAVEPOINT/RELEASE pair, left out here."""
    return [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]


@pytest.fixture
def member():
    member = factories.member()
    factories.product()
    post(member, "10.00", items=[line("10.00", category="roses")])  # opens the account, fills the caches
    return member


def test_a_posting_without_a_tier_change_runs_at_most_ten_statements(member):
    with CaptureQueriesContext(connection) as queries:
        result = post(member, "199.00", items=[line("199.00", category="roses")])
    assert result.created and not result.tier_changed
    # The reference check, the member's lock, the products, the purchase, its lines, the account's
    # lock, the paid plan in force, the ledger row with its lot, the account with the posting: 9
    # elsewhere; on PostgreSQL the member's lock with the products, the purchase with its lines and
    # the account's lock with the plan are one statement each (issue 20): 6.
    limit = 6 if connection.vendor == "postgresql" else 10
    assert len(statements(queries)) <= limit, "\n".join(statements(queries))
    assert_ledger_invariants(member)


def test_the_ledger_row_and_its_lot_and_the_account_and_posting_are_written_together(member):
    result = post(member, "199.00", ref="TOGETHER")
    entry = LedgerEntry.objects.get(purchase=result.purchase)
    lot = PointsLot.objects.get(entry=entry)
    posting = PurchasePosting.objects.get(purchase=result.purchase)
    account = account_of(member)
    assert (entry.points, entry.balance_after, lot.points, lot.remaining) == (199, 209, 199, 199)
    assert (posting.points_earned, posting.points_balance, account.balance) == (199, 209, 209)
    assert account.lifetime_spend == Decimal("209.00") and entry.created_at and posting.created_at


def test_a_replayed_posting_runs_two_statements(member):
    at = timezone.now() - datetime.timedelta(hours=1)
    post(member, "199.00", ref="AGAIN", ordered_at=at)
    with CaptureQueriesContext(connection) as queries:
        result = post(member, "199.00", ref="AGAIN", ordered_at=at)
    assert not result.created
    assert len(statements(queries)) <= 2, "\n".join(statements(queries))


def test_tiers_are_read_from_the_cache_and_a_saved_tier_is_seen_at_once(member):
    with CaptureQueriesContext(connection) as queries:
        post(member, "50.00")
    assert not [sql for sql in statements(queries) if '"rewards_tier"' in sql]
    silver = Tier.objects.get(code="silver")
    silver.threshold = Decimal("100.00")
    silver.save()  # drops the cached tiers (rewards.receivers)
    result = post(member, "50.00")
    assert (result.tier.code, result.tier_changed) == ("silver", True)
