"""The purchase summary behind the segment keys on purchases (issue 18: counts at 1M members under
2 s): on PostgreSQL the database keeps `PurchaseSummary` equal to what the counted lines say
through postings, refunds, returns, a walk-in purchase given to a member, edits and deletions,
with no statement of the posting's own; and the keys read from it pick the same members as the
lines do."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Exists, F, OuterRef
from django.test.utils import CaptureQueriesContext

from campaigns import segments
from campaigns.segments import segment_members
from members import services as member_services
from members.models import Category, Member, Product, Purchase, PurchaseItem, PurchaseSummary
from tests.campaigns.test_segment_behaviour import local
from tests.members import factories

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

_refs = iter(range(1, 10_000))


def expected_rows() -> set[tuple]:
    """(member, category, product, last ordered) from the counted lines, worked out in Python."""
    latest: dict[tuple, datetime.datetime] = {}
    for line in PurchaseItem.objects.select_related("purchase"):
        purchase = line.purchase
        counted = purchase.total > purchase.refunded_total and line.quantity > line.returned_quantity
        if purchase.member_id is None or not counted or (line.category_id is None and line.product_id is None):
            continue
        key = (purchase.member_id, line.category_id, line.product_id)
        latest[key] = max(latest.get(key, purchase.ordered_at), purchase.ordered_at)
    return {(*key, when) for key, when in latest.items()}


def summary_rows() -> set[tuple]:
    return set(PurchaseSummary.objects.values_list("member_id", "category_id", "product_id", "last_ordered_at"))


def buy(member, *skus: str, days_ago: int) -> Purchase:
    return member_services.record_purchase(
        member=member,
        external_ref=f"SUM-{next(_refs):05d}",
        ordered_at=local(days_ago),
        items=[
            member_services.PurchaseLine(sku=sku, quantity=2, unit_price=Product.objects.get(sku=sku).unit_price)
            for sku in skus
        ],
    )


@pytest.fixture
def catalogue(db):
    flowers = Category.objects.create(code="flowers", name="鲜花")
    roses = Category.objects.create(code="roses", name="玫瑰", parent=flowers)
    plants = Category.objects.create(code="plants", name="绿植")
    Product.objects.create(sku="ROSE-11", name="11枝红玫瑰", category=roses, unit_price=Decimal("199.00"))
    Product.objects.create(sku="POT-1", name="绿萝", category=plants, unit_price=Decimal("59.00"))
    return {"flowers": flowers, "roses": roses, "plants": plants}


def test_a_posting_upserts_the_latest_date_without_a_statement_of_its_own(catalogue):
    ann = factories.member(name="Ann")
    buy(ann, "ROSE-11", days_ago=40)
    with CaptureQueriesContext(connection) as with_summary:
        buy(ann, "ROSE-11", "POT-1", days_ago=10)
    buy(ann, "ROSE-11", days_ago=60)  # older: the latest date stays
    roses, plants = catalogue["roses"].pk, catalogue["plants"].pk
    rose, pot = Product.objects.get(sku="ROSE-11").pk, Product.objects.get(sku="POT-1").pk
    assert summary_rows() == {(ann.pk, roses, rose, local(10)), (ann.pk, plants, pot, local(10))}
    assert summary_rows() == expected_rows()
    assert not any("purchasesummary" in query["sql"] for query in with_summary.captured_queries)


def test_refunds_returns_and_deletions_take_rows_away_or_move_them_back(catalogue):
    ann = factories.member(name="Ann")
    old = buy(ann, "ROSE-11", days_ago=50)
    recent = buy(ann, "ROSE-11", "POT-1", days_ago=5)
    rose_line = recent.lines[0]
    # Roses brought back: the last counted roses are the old purchase's; the pot stays.
    member_services.record_refund(purchase=recent, amount=Decimal("0.00"), returned={rose_line.pk: 2})
    assert (ann.pk, catalogue["roses"].pk, rose_line.product_id, local(50)) in summary_rows()
    assert summary_rows() == expected_rows()
    # The old purchase refunded in full: no counted roses at all.
    member_services.record_refund(purchase=old, amount=old.total)
    assert {row[1] for row in summary_rows()} == {catalogue["plants"].pk}
    assert summary_rows() == expected_rows()
    # A line moved to another category, then the recent purchase deleted: nothing left.
    PurchaseItem.objects.filter(pk=recent.lines[1].pk).update(category=catalogue["flowers"])
    assert {row[1] for row in summary_rows()} == {catalogue["flowers"].pk}
    PurchaseItem.objects.filter(purchase=recent).delete()
    Purchase.objects.filter(pk=recent.pk).delete()
    assert summary_rows() == expected_rows() == set()


def test_a_walk_in_purchase_given_to_a_member_counts_for_them(catalogue):
    ann = factories.member(name="Ann")
    walk_in = buy(None, "POT-1", days_ago=3)
    assert summary_rows() == set()  # a walk-in sale is no member's
    member_services.claim_walk_in_purchase(purchase=walk_in, member=ann)
    assert (
        summary_rows()
        == expected_rows()
        == {(ann.pk, catalogue["plants"].pk, Product.objects.get(sku="POT-1").pk, local(3))}
    )


def test_a_bulk_posting_and_the_rebuild_give_the_same_rows(catalogue):
    members = [factories.member(name=f"M{i}") for i in range(4)]
    member_services.record_purchases(
        drafts=[
            member_services.PurchaseDraft(
                member=member,
                external_ref=f"BULK-{i}-{k}",
                ordered_at=local(days_ago),
                items=[member_services.PurchaseLine(sku=sku, quantity=1, unit_price=Decimal("10.00"))],
            )
            for i, member in enumerate(members)
            for k, (sku, days_ago) in enumerate((("ROSE-11", 30 + i), ("POT-1", 2), ("ROSE-11", 7 + i)))
        ]
    )
    rows = summary_rows()
    assert rows == expected_rows() and len(rows) == 8
    assert {when for member, category, _product, when in rows if category == catalogue["roses"].pk} == {
        local(7 + i) for i in range(4)
    }
    PurchaseSummary.objects.all().delete()
    assert member_services.rebuild_purchase_summary() == 8
    assert summary_rows() == rows


RULES = [
    {"bought_product": {"product": "ROSE-11"}},
    {"bought_product": {"product": "ROSE-11", "within_days": 30}},
    {"bought_category": {"category": "flowers"}},
    {"bought_category": {"category": "flowers", "within_days": 30}},
    {"bought_category": {"category": "plants", "within_days": 3}},
    {"not_bought_category_days": {"category": "flowers", "days": 30}},
    {"not_bought_category_days": {"category": "plants", "days": 10}},
]


def from_the_lines(rules: dict) -> set[str]:
    """The same key read from the purchase lines (the SQLite form of `_bought`)."""
    members = Member.objects.active()
    counted = PurchaseItem.objects.filter(
        purchase__member_id=OuterRef("pk"),
        purchase__total__gt=F("purchase__refunded_total"),
        quantity__gt=F("returned_quantity"),
    )
    for key, rule in rules.items():
        if key == "bought_product":
            lines = counted.filter(product__sku=rule["product"])
        else:
            lines = counted.filter(category_id__in=segments._category_ids([rule["category"]]))
        days = rule.get("within_days", rule.get("days"))
        recent = lines.filter(purchase__ordered_at__gte=segments._days_ago(days)) if days else lines
        if key == "not_bought_category_days":
            members = members.filter(Exists(lines) & ~Exists(recent))
        else:
            members = members.filter(Exists(recent))
    return set(members.values_list("name", flat=True))


@pytest.mark.parametrize("rules", RULES, ids=lambda rules: str(rules))
def test_the_keys_read_from_the_summary_pick_whom_the_lines_pick(catalogue, rules):
    ann, ben, cat, dan = (factories.member(name=name) for name in ("Ann", "Ben", "Cat", "Dan"))
    buy(ann, "ROSE-11", days_ago=20)
    buy(ann, "POT-1", days_ago=200)
    buy(ben, "ROSE-11", days_ago=45)
    refunded = buy(ben, "ROSE-11", days_ago=2)
    member_services.record_refund(purchase=refunded, amount=refunded.total)
    buy(cat, "POT-1", days_ago=3)
    returned = buy(cat, "ROSE-11", days_ago=1)
    member_services.record_refund(purchase=returned, amount=Decimal("0.00"), returned={returned.lines[0].pk: 2})
    buy(dan, "ROSE-11", "POT-1", days_ago=60)
    member_services.update_member(member=dan, status=Member.Status.FROZEN)
    expected = {
        str({"bought_product": {"product": "ROSE-11"}}): {"Ann", "Ben"},
        str({"bought_product": {"product": "ROSE-11", "within_days": 30}}): {"Ann"},
        str({"bought_category": {"category": "flowers"}}): {"Ann", "Ben"},
        str({"bought_category": {"category": "flowers", "within_days": 30}}): {"Ann"},
        str({"bought_category": {"category": "plants", "within_days": 3}}): {"Cat"},
        str({"not_bought_category_days": {"category": "flowers", "days": 30}}): {"Ben"},
        str({"not_bought_category_days": {"category": "plants", "days": 10}}): {"Ann"},
    }[str(rules)]
    picked = set(segment_members(rules).values_list("name", flat=True))
    assert picked == from_the_lines(rules) == expected
    with CaptureQueriesContext(connection) as queries:
        segment_members(rules).count()
    assert "members_purchasesummary" in queries.captured_queries[-1]["sql"]
