"""The till's API (issue 13): points and coupon in the quote and at posting, walk-in sales,
409 insufficient_points, returns by line; fixed query counts for the quote and the posting."""

import pytest
from django.core.cache import cache
from django.db import connection

from members.models import Purchase, PurchaseItem
from rewards import selectors
from rewards.models import EARNING_CONFIG_CACHE_KEY, POINTS_PAYMENT_CACHE_KEY, Coupon, LedgerEntry, MembershipPlan
from rewards.services import adjust_points
from rewards.services import coupons as coupon_services
from tests.members import factories
from tests.rewards import catalogue_factories as cf
from tests.rewards.helpers import account_of, assert_ledger_invariants

pytestmark = pytest.mark.django_db

# What a quote and a posting cost, whatever the basket's size (the settings, rules and policies
# come from the cache once warm). 10 and 26 before issue 20; the tiers now come from the cache too,
# and a posting writes its ledger row with its lot and the account with the posting in one statement each.
# On PostgreSQL since the fast paths (issue 20): the token with its permissions in one query, the
# member's lock with the products, the purchase with its lines and a retry check with the member
# lookup in one statement each, the stores from each process's memory: 8 and 19.
POSTGRES = connection.vendor == "postgresql"
QUOTE_QUERIES = 8 if POSTGRES else 9
POST_QUERIES = 19 if POSTGRES else 23

QUOTE = "/api/v1/checkout/quote/"
PURCHASES = "/api/v1/purchases/"
AT = "2026-01-10T10:00:00+08:00"


@pytest.fixture(autouse=True)
def _forget_cached_points_payment():
    cache.delete(POINTS_PAYMENT_CACHE_KEY)
    yield
    cache.delete(POINTS_PAYMENT_CACHE_KEY)


@pytest.fixture
def a_plan_adds_points():
    """The same configuration whatever ran before (a flush removes the seeded plans): a plan
    with a points multiplier exists, so earning looks up the member's plan (one query)."""
    if not MembershipPlan.objects.filter(points_multiplier__gt=1).exists():
        MembershipPlan.objects.create(code="plus", name="Plus", price="99.00", points_multiplier="1.5")
    cache.delete(EARNING_CONFIG_CACHE_KEY)


def funded(points=1000):
    """A member holding exactly `points` (whatever a sign-up bonus gave them)."""
    member = factories.member()
    balance = selectors.points_summary(member).balance
    if points != balance:
        adjust_points(member=member, points=points - balance, reason="test funds", actor=None)
    return member


@pytest.fixture
def member():
    return funded()


def coupon_for(member, value="20.00"):
    return coupon_services.issue_coupon(template=cf.template(value=value), member=member, source=Coupon.Source.MANUAL)


ITEMS = [
    {"sku": "ROSE-11", "name": "11枝红玫瑰", "quantity": 2, "unit_price": "100.00"},
    {"sku": "LILY-3", "name": "百合", "quantity": 1, "unit_price": "100.00"},
]


def body(member, ref="TILL-1", **extra):
    data = {"external_ref": ref, "ordered_at": AT, "items": ITEMS}
    if member is not None:
        data["member"] = member.member_no
    return data | extra


def test_the_quote_answers_the_points_fields(api_staff, member):
    response = api_staff.post(QUOTE, {"member": member.member_no, "items": ITEMS, "points_to_use": 1500}, format="json")
    assert response.status_code == 200
    data = response.json()
    # 300 − 30 = 270; balance 1000 < the cap (¥135 = 13,500 points)
    assert {key: data[key] for key in ("total", "points_balance", "points_max", "points_used")} == {
        "total": "270.00",
        "points_balance": 1000,
        "points_max": 1000,
        "points_used": 1000,
    }
    assert (data["points_value"], data["amount_due"], data["points_to_earn"]) == ("10.00", "260.00", 260)
    assert "1000" in data["points_message"]
    assert data["tier_after"] == {"code": "regular", "name": "Regular"}


def test_the_quote_prices_a_walk_in(api_staff):
    response = api_staff.post(QUOTE, {"member": None, "items": ITEMS, "coupon_code": "X"}, format="json")
    assert response.status_code == 200
    data = response.json()
    assert (data["tier"], data["tier_discount"], data["amount_due"], data["points_to_earn"]) == (
        None,
        "0.00",
        "300.00",
        0,
    )
    assert data["coupon"]["reason"] == "walk_in"


@pytest.mark.parametrize("points", [-1, "many", 1.5, 10**12])
def test_bad_points_to_use_answer_400(api_staff, member, points):
    response = api_staff.post(
        QUOTE, {"member": member.member_no, "items": ITEMS, "points_to_use": points}, format="json"
    )
    assert response.status_code == 400
    assert "points_to_use" in response.json()
    response = api_staff.post(PURCHASES, body(member, points_to_use=points), format="json")
    assert response.status_code == 400
    assert not Purchase.objects.exists()


def test_posting_with_points_and_a_coupon_answers_the_new_fields(api_staff, member):
    coupon = coupon_for(member)
    response = api_staff.post(PURCHASES, body(member, coupon_code=coupon.code, points_to_use=500), format="json")
    assert response.status_code == 201
    data = response.json()
    # 300 − 30 − 20 = 250; 500 points = ¥5; paid 245, earned 245
    assert {
        key: data[key]
        for key in ("total", "tier_discount", "coupon_discount", "points_used", "points_value", "points_earned")
    } == {
        "total": "245.00",
        "tier_discount": "30.00",
        "coupon_discount": "20.00",
        "points_used": 500,
        "points_value": "5.00",
        "points_earned": 245,
    }
    assert data["points_balance"] == 1000 - 500 + 245
    again = api_staff.post(PURCHASES, body(member, coupon_code=coupon.code, points_to_use=500), format="json")
    assert (again.status_code, again.json()) == (200, data)
    conflict = api_staff.post(PURCHASES, body(member, coupon_code=coupon.code, points_to_use=600), format="json")
    assert (conflict.status_code, conflict.json()["code"]) == (409, "idempotency_conflict")
    assert_ledger_invariants(member)


def test_a_used_coupon_answers_409_and_writes_nothing(api_staff, member):
    coupon = coupon_for(member)
    assert api_staff.post(PURCHASES, body(member, coupon_code=coupon.code), format="json").status_code == 201
    response = api_staff.post(PURCHASES, body(member, ref="TILL-2", coupon_code=coupon.code), format="json")
    assert (response.status_code, response.json()["code"]) == (409, "coupon_invalid")
    assert not Purchase.objects.filter(external_ref="TILL-2").exists()


def test_points_beyond_the_balance_answer_409_insufficient_points_and_write_nothing(api_staff, member):
    entries = LedgerEntry.objects.count()
    response = api_staff.post(PURCHASES, body(member, points_to_use=1200), format="json")
    assert (response.status_code, response.json()["code"]) == (409, "insufficient_points")
    assert not Purchase.objects.exists()
    assert LedgerEntry.objects.count() == entries
    assert account_of(member).balance == 1000


def test_points_below_the_minimum_answer_400_naming_the_field(api_staff, member):
    response = api_staff.post(PURCHASES, body(member, points_to_use=50), format="json")
    assert response.status_code == 400
    assert "points_to_use" in response.json()


def test_a_walk_in_sale_has_no_member_and_earns_nothing(api_staff):
    entries = LedgerEntry.objects.count()
    response = api_staff.post(PURCHASES, body(None, ref="WALK-1"), format="json")
    assert response.status_code == 201
    data = response.json()
    assert (data["member"], data["tier"], data["points_earned"], data["total"]) == (None, None, 0, "300.00")
    assert Purchase.objects.get(external_ref="WALK-1").member_id is None
    assert LedgerEntry.objects.count() == entries
    explicit = api_staff.post(PURCHASES, body(None, ref="WALK-2") | {"member": None}, format="json")
    assert explicit.status_code == 201
    refused = api_staff.post(PURCHASES, body(None, ref="WALK-3", points_to_use=100), format="json")
    assert refused.status_code == 400


def test_returning_lines_gives_back_money_and_points_as_paid(api_staff, member):
    posted = api_staff.post(PURCHASES, body(member, points_to_use=600), format="json").json()
    rose, lily = PurchaseItem.objects.filter(purchase_id=posted["id"]).order_by("pk")
    response = api_staff.post(
        f"{PURCHASES}{posted['id']}/refund/",
        {"external_ref": "RET-1", "lines": [{"item": lily.pk, "quantity": 1}]},
        format="json",
    )
    assert response.status_code == 201
    data = response.json()
    # 300 − 30 = 270; 600 points = ¥6; paid 264; the lily is a third: ¥88 and 200 points
    assert (data["amount"], data["points_returned"], data["points_reversed"]) == ("88.00", 200, 88)
    again = api_staff.post(
        f"{PURCHASES}{posted['id']}/refund/",
        {"external_ref": "RET-1", "lines": [{"item": lily.pk, "quantity": 1}]},
        format="json",
    )
    assert (again.status_code, again.json()) == (200, data)
    over = api_staff.post(
        f"{PURCHASES}{posted['id']}/refund/",
        {"external_ref": "RET-2", "lines": [{"item": lily.pk, "quantity": 1}]},
        format="json",
    )
    assert over.status_code == 400
    both = api_staff.post(
        f"{PURCHASES}{posted['id']}/refund/",
        {"external_ref": "RET-3", "amount": "1.00", "lines": [{"item": rose.pk, "quantity": 1}]},
        format="json",
    )
    assert both.status_code == 400
    assert_ledger_invariants(member)


@pytest.mark.parametrize("lines", [[], [{"item": 1}], [{"item": 1, "quantity": 0}], "x", [{"item": -4, "quantity": 1}]])
def test_malformed_return_lines_answer_400(api_staff, member, lines):
    posted = api_staff.post(PURCHASES, body(member), format="json").json()
    response = api_staff.post(
        f"{PURCHASES}{posted['id']}/refund/", {"external_ref": "RET-X", "lines": lines}, format="json"
    )
    assert response.status_code == 400


# --- fixed query counts -------------------------------------------------------------------------


def test_the_quote_with_points_and_a_coupon_runs_a_fixed_number_of_queries(
    api_staff, member, django_assert_num_queries, a_plan_adds_points
):
    coupon = coupon_for(member)
    payload = {"member": member.member_no, "items": ITEMS, "coupon_code": coupon.code, "points_to_use": 500}
    api_staff.post(QUOTE, payload, format="json")  # warms the caches (settings, rules, policy)
    with django_assert_num_queries(QUOTE_QUERIES):
        response = api_staff.post(QUOTE, payload, format="json")
    assert response.json()["points_used"] == 500
    bigger = payload | {"items": ITEMS * 5}
    with django_assert_num_queries(QUOTE_QUERIES):
        api_staff.post(QUOTE, bigger, format="json")


def test_posting_with_points_and_a_coupon_runs_a_fixed_number_of_queries(
    api_staff, django_assert_num_queries, a_plan_adds_points
):
    members = [funded(), funded()]
    coupons = [coupon_for(one) for one in members]
    api_staff.post(QUOTE, {"member": members[0].member_no, "items": ITEMS}, format="json")  # warm caches
    for index, (one, coupon) in enumerate(zip(members, coupons, strict=True)):
        # The second basket has four times the lines (and stays below Silver: no tier change).
        items = ITEMS if index == 0 else [line | {"unit_price": "40.00"} for line in ITEMS * 4]
        with django_assert_num_queries(POST_QUERIES):
            response = api_staff.post(
                PURCHASES,
                body(one, ref=f"TILL-Q{index}", items=items, coupon_code=coupon.code, points_to_use=500),
                format="json",
            )
        assert response.status_code == 201, response.json()
