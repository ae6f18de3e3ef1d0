"""Claims with real threads on PostgreSQL: simultaneous claims never use more than the plan allows."""

import pytest
from django.utils import timezone

from rewards import services
from rewards.models import CarePlanClaim, CarePlanSale
from tests.members import factories
from tests.rewards import care_plan_helpers as h
from tests.rewards.test_concurrency import _seeded_tiers_and_rules, run_at_once  # noqa: F401  (fixture)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def codes(results):
    return sorted("ok" if not isinstance(r, Exception) else getattr(r, "code", type(r).__name__) for r in results)


def test_ten_claims_at_once_on_a_plan_of_two_give_exactly_two():
    today = timezone.localdate()
    care_plan = h.plan(products=[factories.product()], claims_allowed=2)
    sale = h.sold(care_plan=care_plan, day=today)

    results = run_at_once(
        [
            (lambda i=i: services.claim_care_plan(sale=sale, description=f"第{i}次报修", idempotency_key=f"C-{i}"))
            for i in range(10)
        ]
    )

    assert codes(results) == ["no_claims_left"] * 8 + ["ok"] * 2
    sale = CarePlanSale.objects.get(pk=sale.pk)
    assert sale.claims_used == 2
    assert CarePlanClaim.objects.filter(sale=sale).count() == 2


def test_the_same_claim_key_ten_times_at_once_claims_once():
    today = timezone.localdate()
    care_plan = h.plan(products=[factories.product()], claims_allowed=3)
    sale = h.sold(care_plan=care_plan, day=today)

    results = run_at_once(
        [
            (lambda: services.claim_care_plan(sale=sale, description="花枯萎了", idempotency_key="SAME"))
            for _ in range(10)
        ]
    )

    assert codes(results) == ["ok"] * 10
    assert sum(1 for r in results if r.created) == 1
    assert CarePlanSale.objects.get(pk=sale.pk).claims_used == 1
