"""POST /api/v1/purchases/batch/: a till's offline sync, answered purchase by purchase."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from members.models import Purchase
from members.services import erase_member
from rewards.models import LedgerEntry, PointsLot, PurchasePosting, TierHistory
from tests.members import factories
from tests.rewards.helpers import account_of, assert_ledger_invariants

pytestmark = pytest.mark.django_db

BATCH = "/api/v1/purchases/batch/"
PURCHASES = "/api/v1/purchases/"


def item(member, ref, price="99.50", *, day=10, quantity=2, **extra):
    data = {
        "member": member if isinstance(member, str) else member.member_no,
        "external_ref": ref,
        "ordered_at": f"2026-01-{day:02d}T10:00:00+08:00",
        "items": [
            {"sku": "ROSE-11", "name": "11枝红玫瑰", "category": "roses", "quantity": quantity, "unit_price": price}
        ],
    }
    return data | extra


@pytest.fixture
def member():
    return factories.member()


def test_a_batch_answers_201_per_purchase_with_the_single_postings_fields(api_staff, member):
    response = api_staff.post(BATCH, [item(member, "B-1"), item(member, "B-2", day=11)], format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["replayed"], body["refused"]) == (2, 0, 0)
    first, second = body["results"]
    assert (first["index"], first["external_ref"], first["status"]) == (0, "B-1", 201)
    assert first["purchase"]["points_earned"] == 199
    assert second["purchase"]["points_balance"] == 398
    assert set(first["purchase"]) == set(api_staff.post(PURCHASES, item(member, "ONE", day=12), format="json").json())
    assert account_of(member).balance == 199 * 3
    assert_ledger_invariants(member)


def test_the_same_batch_again_answers_200_with_the_first_answers_and_writes_nothing(api_staff, member):
    batch = [item(member, "B-1"), item(member, "B-2", day=11)]
    first = api_staff.post(BATCH, batch, format="json").json()
    rows = LedgerEntry.objects.count()
    again = api_staff.post(BATCH, batch, format="json").json()
    assert [r["status"] for r in again["results"]] == [200, 200]
    assert [r["purchase"] for r in again["results"]] == [r["purchase"] for r in first["results"]]
    assert (again["created"], again["replayed"]) == (0, 2)
    assert LedgerEntry.objects.count() == rows
    assert Purchase.objects.count() == 2


def test_a_purchase_posted_alone_is_answered_200_in_a_batch_and_the_reverse(api_staff, member):
    alone = api_staff.post(PURCHASES, item(member, "P-1"), format="json").json()
    batched = api_staff.post(BATCH, [item(member, "P-1"), item(member, "P-2", day=11)], format="json").json()
    assert batched["results"][0] == {"index": 0, "external_ref": "P-1", "status": 200, "purchase": alone}
    retry = api_staff.post(PURCHASES, item(member, "P-2", day=11), format="json")
    assert (retry.status_code, retry.json()) == (200, batched["results"][1]["purchase"])
    assert PurchasePosting.objects.count() == 2


def test_bad_purchases_get_their_own_answer_and_never_refuse_the_others(api_staff, member):
    erased = factories.member(name="李四")
    erase_member(member=erased)
    api_staff.post(PURCHASES, item(member, "TAKEN"), format="json")
    batch = [
        item(member, "OK-1", day=11),
        item("M999999", "UNKNOWN"),  # no such member
        item(member, "NEG", price="-1.00"),  # a negative amount
        "not a purchase",  # malformed
        item(member, "TAKEN", price="10.00"),  # reused with another body
        item(erased, "ERASED"),  # refused by members inside the posting
        item(member, "TOTAL", total="999.00"),  # refused by members: total above the lines
        item(member, "COUPON", coupon_code="SPRING"),  # till pricing is not batched
        item(member, "OK-2", day=12),
    ]
    body = api_staff.post(BATCH, batch, format="json").json()
    results = body["results"]
    assert [r["status"] for r in results] == [201, 400, 400, 400, 409, 409, 400, 400, 201]
    assert [r["index"] for r in results] == list(range(len(batch)))
    assert "M999999" in results[1]["errors"]["member"][0]
    assert "unit_price" in str(results[2]["errors"]["items"])
    assert results[3]["external_ref"] is None and "non_field_errors" in results[3]["errors"]
    assert results[4]["code"] == "idempotency_conflict"
    assert results[5]["code"] == "member_erased"
    assert "total" in results[6]["errors"]
    assert "coupon_code" in results[7]["errors"]
    assert (body["created"], body["replayed"], body["refused"]) == (2, 0, 7)
    assert set(Purchase.objects.values_list("external_ref", flat=True)) == {"TAKEN", "OK-1", "OK-2"}
    assert account_of(member).balance == 199 * 3
    assert_ledger_invariants(member)


def test_a_reference_twice_in_one_batch_is_posted_once(api_staff, member):
    batch = [item(member, "D-1"), item(member, "D-1"), item(member, "D-1", price="5.00")]
    results = api_staff.post(BATCH, batch, format="json").json()["results"]
    assert [r["status"] for r in results] == [201, 200, 409]
    assert results[1]["purchase"] == results[0]["purchase"]
    assert results[2]["code"] == "idempotency_conflict"
    assert Purchase.objects.count() == 1 and account_of(member).balance == 199


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ({"purchases": []}, "JSON list"),
        ([], "empty"),
        ("text", "JSON list"),
    ],
)
def test_a_body_that_is_not_a_list_of_purchases_answers_400(api_staff, payload, words):
    response = api_staff.post(BATCH, payload, format="json")
    assert response.status_code == 400
    assert words in response.json()["non_field_errors"][0]


def test_more_than_500_purchases_answer_400_naming_the_limit(api_staff, member):
    response = api_staff.post(BATCH, [item(member, f"X-{i}") for i in range(501)], format="json")
    assert response.status_code == 400
    assert "500" in response.json()["non_field_errors"][0] and "501" in response.json()["non_field_errors"][0]
    assert not Purchase.objects.exists()


def test_marketing_cannot_post_a_batch(api_marketing, member):
    assert api_marketing.post(BATCH, [item(member, "B-1")], format="json").status_code == 403


def test_a_batch_equals_posting_one_by_one(api_staff):
    """Twins: the same stream of purchases (crossing tiers) posted one by one and as one batch give
    the same ledger rows, lots, balances, tiers and tier history."""
    one, two = factories.member(name="甲"), factories.member(name="乙")
    prices = ["300.00", "450.00", "120.00", "2600.00", "80.00", "9000.00", "15.50"]

    def stream(member, prefix):
        return [item(member, f"{prefix}-{i}", price, day=1 + i, quantity=1) for i, price in enumerate(prices)]

    singles = [api_staff.post(PURCHASES, data, format="json").json() for data in stream(one, "S")]
    batched = api_staff.post(BATCH, stream(two, "B"), format="json").json()["results"]

    def strip(answer):
        return {k: v for k, v in answer.items() if k not in ("id", "member", "external_ref")}

    assert [strip(r["purchase"]) for r in batched] == [strip(s) for s in singles]

    def picture(member):
        account = account_of(member)
        return (
            account.balance,
            account.lifetime_earned,
            account.lifetime_spend,
            account.tier.code,
            list(
                LedgerEntry.objects.filter(member=member)
                .order_by("pk")
                .values_list("kind", "points", "balance_after", "reason_code")
            ),
            list(PointsLot.objects.filter(account__member=member).order_by("pk").values_list("points", "expires_on")),
            list(TierHistory.objects.filter(member=member).order_by("pk").values_list("to_tier__code", "reason")),
        )

    assert picture(two) == picture(one)
    assert picture(one)[3] == "gold"


def test_a_batch_runs_a_fixed_number_of_queries(api_staff):
    factories.product()
    people = [factories.member(name=f"客{i}") for i in range(30)]
    api_staff.post(BATCH, [item(people[0], "WARM")], format="json")

    def run(count, prefix):
        batch = [item(people[i % len(people)], f"{prefix}-{i}", day=1 + i % 20) for i in range(count)]
        with CaptureQueriesContext(connection) as queries:
            response = api_staff.post(BATCH, batch, format="json")
        assert response.json()["created"] == count
        return len(queries)

    assert run(3, "S") == run(60, "L")
