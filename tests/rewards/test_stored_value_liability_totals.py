"""`liability_totals`: what the home page shows managers of the stored-value liability."""

from decimal import Decimal as D

import pytest

from rewards.selectors_stored_value import liability, liability_totals
from tests.members import factories
from tests.rewards.stored_value_helpers import fund, rule

pytestmark = pytest.mark.django_db


def test_the_totals_are_the_accounts_principal_and_bonus_as_the_full_report_says():
    first, second = factories.member(), factories.member()
    fund(first, "500.00", with_rule=rule())  # 500 principal + 50 bonus
    fund(second, "200.00")
    totals = liability_totals()
    assert (totals.principal, totals.bonus, totals.unclaimed_gifts) == (D("700.00"), D("50.00"), D("0.00"))
    assert totals.total == D("750.00")
    report = liability()
    assert (report.principal, report.bonus, report.unclaimed_gifts) == (
        totals.principal, totals.bonus, totals.unclaimed_gifts
    )  # fmt: skip


def test_an_empty_shop_owes_nothing(django_assert_num_queries):
    with django_assert_num_queries(2):
        assert liability_totals().total == D("0.00")
