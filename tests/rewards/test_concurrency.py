"""Real threads on PostgreSQL: each thread has its own connection and transaction."""

import datetime
import threading
from decimal import Decimal

import pytest
from django.db import connections
from django.utils import timezone

from members.models import Purchase
from rewards import services
from rewards.models import LedgerEntry, PurchasePosting
from tests.members import factories
from tests.rewards.helpers import account_of, assert_ledger_invariants, line, post, reseed_after_flush

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _seeded_tiers_and_rules(transactional_db):
    """A transactional test before this one may have flushed the migrations' seed rows."""
    reseed_after_flush()


def run_at_once(calls) -> list[object]:
    """Start every call in its own thread behind a barrier; return each result or exception."""
    results: list[object] = [None] * len(calls)
    barrier = threading.Barrier(len(calls), timeout=20)

    def run(index):
        try:
            barrier.wait()
            results[index] = calls[index]()
        except Exception as exc:  # the test inspects what each thread got
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results


def test_twenty_identical_posts_at_once_record_one_purchase_and_earn_once():
    member = factories.member()
    factories.product()
    ordered_at = timezone.now() - datetime.timedelta(hours=1)

    def post_it():
        return services.post_purchase(
            member=member, external_ref="POS-RACE", ordered_at=ordered_at, items=[line("188.80")]
        )

    results = run_at_once([post_it] * 20)

    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    assert sorted(r.created for r in results) == [False] * 19 + [True]
    assert {(r.purchase.pk, r.points_earned, r.points_balance) for r in results} == {
        (Purchase.objects.get().pk, 188, 188)
    }
    assert PurchasePosting.objects.count() == 1
    assert list(LedgerEntry.objects.values_list("kind", "points")) == [("earn", 188)]
    assert account_of(member).balance == 188
    assert_ledger_invariants(member)


def test_refunds_and_adjustments_at_once_keep_the_balance_equal_to_the_ledger():
    member = factories.member()
    factories.product()
    first = post(member, "100.00").purchase
    second = post(member, "200.00").purchase

    calls = [
        lambda: services.refund_purchase(purchase=first, external_ref="R-A"),
        lambda: services.refund_purchase(purchase=second, external_ref="R-B1", amount=Decimal("25.00")),
        lambda: services.refund_purchase(purchase=second, external_ref="R-B2", amount=Decimal("25.00")),
        lambda: services.adjust_points(member=member, points=-30, reason="redeemed", actor=None),
        lambda: services.adjust_points(member=member, points=20, reason="goodwill", actor=None),
        lambda: services.adjust_points(member=member, points=-40, reason="redeemed", actor=None),
        lambda: post(member, "10.00"),
    ] * 2
    # The second round reuses the refund references: those answer the first result, or
    # `already_refunded` never happens because the references match.
    results = run_at_once(calls)

    assert [r for r in results if isinstance(r, Exception)] == []
    # 300 earned + 2×10 − 100 − 50 − 2×(30 − 20 + 40)
    assert account_of(member).balance == 300 + 20 - 100 - 50 - 100
    second.refresh_from_db()
    assert second.refunded_total == Decimal("50.00")
    assert_ledger_invariants(member)


def test_twenty_partial_refunds_at_once_refund_what_fits_and_answer_409_to_the_rest(store_staff):
    """Twenty refunds of 15.00 of one 100.00 purchase, each with its own reference, through the
    API: six fit (90.00), the fourteen others are a business conflict — 409
    `refund_exceeds_purchase` — whatever order the purchase's row lock lets them in."""
    from rest_framework.test import APIClient

    from tests.conftest import token_client

    member = factories.member()
    factories.product()
    purchase = post(member, "100.00").purchase
    before = account_of(member).balance  # 100, plus a sign-up bonus if the seeded rules still hold one
    token = token_client(store_staff)._credentials["HTTP_AUTHORIZATION"]

    def refund(index):
        def call():
            api = APIClient(raise_request_exception=False)
            api.credentials(HTTP_AUTHORIZATION=token)
            response = api.post(
                f"/api/v1/purchases/{purchase.pk}/refund/",
                {"external_ref": f"R-{index:02d}", "amount": "15.00"},
                format="json",
            )
            return response.status_code, response.json()

        return call

    results = run_at_once([refund(index) for index in range(20)])

    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(status for status, _body in results) == [201] * 6 + [409] * 14
    conflicts = [body for status, body in results if status == 409]
    assert {body["code"] for body in conflicts} == {"refund_exceeds_purchase"}
    assert {body["detail"] for body in conflicts} == {
        f"Only 10.00 of purchase {purchase.external_ref} is left to refund."
    }
    purchase.refresh_from_db()
    assert purchase.refunded_total == Decimal("90.00")
    assert sorted(e.points for e in LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND_REVERSAL)) == [-15] * 6
    assert account_of(member).balance == before - 90
    assert_ledger_invariants(member)
