"""The monthly review's stored-value section (issue 16, "the monthly review shows it"): hand-computed
figures per month from known top-ups and payments, on the page, in the CSV and the PDF, only for
those who may read the liability, at a fixed number of queries (two more than without it)."""

import datetime
import io
from decimal import Decimal

import pypdf
import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns import reports
from rewards.services import stored_value
from tests.members import factories
from tests.rewards.helpers import next_ref
from tests.rewards.stored_value_helpers import fund, rule

pytestmark = pytest.mark.django_db
D = Decimal
URL = "/admin/campaigns/campaign/monthly-report/"
TODAY = datetime.date(2026, 3, 15)


def at(year, month, day):
    return timezone.make_aware(datetime.datetime(year, month, day, 12, 0))


def pay(member, amount):
    return stored_value.pay_from_balance(member=member, amount=D(amount), external_ref=next_ref("PAY"))


@pytest.fixture
def ledger():
    """December 2025: a tops up ¥200 (before the review's range). January: b tops up ¥500 with a
    +¥100 rule. February: b pays ¥120 (¥100 principal, ¥20 bonus), a pays ¥50. March: nothing."""
    a, b = factories.member(), factories.member()
    bonus_rule = rule("500.00", "100.00")
    with time_machine.travel(at(2025, 12, 20), tick=False):
        fund(a, "200.00")
    with time_machine.travel(at(2026, 1, 10), tick=False):
        fund(b, "500.00", with_rule=bonus_rule)
    with time_machine.travel(at(2026, 2, 5), tick=False):
        pay(b, "120.00")
    with time_machine.travel(at(2026, 2, 20), tick=False):
        pay(a, "50.00")


def figures(month):
    return (
        month.stored_value_topped_up,
        month.stored_value_spent,
        month.stored_value_principal_owed,
        month.stored_value_bonus_owed,
    )


def test_monthly_figures_from_known_top_ups_and_payments(ledger):
    jan, feb, mar = reports.monthly_report(months=3, today=TODAY, stored_value=True)
    assert figures(jan) == (D("500.00"), D("0.00"), D("700.00"), D("100.00"))
    assert figures(feb) == (D("0.00"), D("170.00"), D("550.00"), D("80.00"))
    assert figures(mar) == (D("0.00"), D("0.00"), D("550.00"), D("80.00"))


def test_without_the_flag_the_review_reads_no_stored_value(ledger):
    with CaptureQueriesContext(connection) as without:
        (month,) = reports.monthly_report(months=1, today=TODAY)
    with CaptureQueriesContext(connection) as with_it:
        reports.monthly_report(months=1, today=TODAY, stored_value=True)
    assert figures(month) == (None, None, None, None)
    assert len(with_it) == len(without) + 2
    assert not any("stored" in query["sql"] for query in without.captured_queries)


def test_managers_see_the_section_on_the_page_and_in_the_csv(client, manager, ledger):
    client.force_login(manager)
    with time_machine.travel(at(2026, 3, 15), tick=False):
        page = client.get(URL).content.decode()
        csv = client.get(URL, {"format": "csv"}).content.decode("utf-8-sig").strip().splitlines()
    assert "stored-value-review" in page and "¥550.00" in page and "¥170.00" in page
    assert csv[0].endswith(
        ",Topped up,Spent,Principal owed at month end,Bonus owed at month end"  # the screen's headers
    )
    february = next(line for line in csv if line.startswith("2026-02,"))
    assert february.endswith(",0.00,170.00,550.00,80.00")


def test_marketing_sees_the_review_without_the_liability(client, marketing, ledger):
    client.force_login(marketing)
    with time_machine.travel(at(2026, 3, 15), tick=False):
        page = client.get(URL)
        csv = client.get(URL, {"format": "csv"}).content.decode("utf-8-sig")
    assert page.status_code == 200 and "stored-value-review" not in page.content.decode()
    assert "Topped up" not in csv and "Principal owed" not in csv


def test_the_pdf_carries_the_section_for_managers(client, manager, ledger):
    client.force_login(manager)
    with time_machine.travel(at(2026, 3, 15), tick=False):
        response = client.get(URL, {"format": "pdf"}, HTTP_ACCEPT_LANGUAGE="en")
    reader = pypdf.PdfReader(io.BytesIO(response.content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Stored value" in text and "Principal owed at month end" in text
    assert "2026-02\n¥0.00\n¥170.00\n¥550.00\n¥80.00" in text


def test_the_page_runs_a_fixed_number_of_queries(client, manager, marketing, ledger):
    def count(user):
        client.force_login(user)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(URL).status_code == 200
        return len(queries)

    before = count(manager)
    for _i in range(3):  # more members, top-ups and payments: the same queries
        member = factories.member()
        fund(member, "300.00")
        pay(member, "30.00")
    assert count(manager) == before
    assert count(manager) == count(marketing) + 2  # the section's two documented queries
