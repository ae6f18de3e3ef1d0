import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from members.models import Purchase
from rewards import services
from rewards.models import LedgerEntry, MembershipPlan
from tests.members import factories
from tests.rewards.helpers import account_of, assert_ledger_invariants, post

pytestmark = pytest.mark.django_db

PURCHASES = "/api/v1/purchases/"


@pytest.fixture
def member():
    return factories.member()


def body(member, ref="POS-1", **extra):
    data = {
        "member": member.member_no,
        "external_ref": ref,
        "ordered_at": "2026-01-10T10:00:00+08:00",
        "items": [{"sku": "ROSE-11", "name": "11枝红玫瑰", "category": "roses", "quantity": 2, "unit_price": "99.50"}],
    }
    return data | extra


# --- POST /purchases/ ------------------------------------------------------------------------


def test_post_purchase_answers_201_with_the_contract_fields(api_staff, member):
    response = api_staff.post(PURCHASES, body(member), format="json")
    assert response.status_code == 201
    purchase = Purchase.objects.get()
    assert response.json() == {
        "id": purchase.pk,
        "member": member.member_no,
        "external_ref": "POS-1",
        "total": "199.00",
        "points_earned": 199,
        "points_balance": 199,
        "tier": {"code": "regular", "name": "Regular"},
        "tier_changed": False,
        # Not priced at the till (no coupon, no points): nothing of the till's discounts.
        "tier_discount": "0.00",
        "coupon_discount": "0.00",
        "points_used": 0,
        "points_value": "0.00",
        # No stored value given as a tender: none used, and no balance read.
        "stored_value_used": "0.00",
        "stored_value_principal": "0.00",
        "stored_value_bonus": "0.00",
        "stored_value_balance": None,
    }


def test_post_purchase_again_answers_200_with_the_first_answer(api_staff, member):
    first = api_staff.post(PURCHASES, body(member), format="json").json()
    services.adjust_points(member=member, points=5, reason="between the retries", actor=None)
    again = api_staff.post(PURCHASES, body(member), format="json")
    assert again.status_code == 200
    assert again.json() == first
    assert account_of(member).balance == 204


def test_reused_reference_with_another_body_answers_409(api_staff, member):
    api_staff.post(PURCHASES, body(member), format="json")
    response = api_staff.post(PURCHASES, body(member, total="150.00"), format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_conflict"


def test_unknown_member_answers_400_naming_it(api_staff):
    response = api_staff.post(PURCHASES, body(type("M", (), {"member_no": "M000"})), format="json")
    assert response.status_code == 400
    assert "M000" in response.json()["member"][0]


def test_negative_price_answers_400(api_staff, member):
    data = body(member)
    data["items"][0]["unit_price"] = "-1.00"
    response = api_staff.post(PURCHASES, data, format="json")
    assert response.status_code == 400
    assert "unit_price" in str(response.json()["items"])
    assert not Purchase.objects.exists()


def test_purchase_without_items_answers_400(api_staff, member):
    response = api_staff.post(PURCHASES, body(member, items=[]), format="json")
    assert response.status_code == 400
    assert "items" in response.json()


def test_total_above_the_lines_answers_400_from_the_service(api_staff, member):
    response = api_staff.post(PURCHASES, body(member, total="500.00"), format="json")
    assert response.status_code == 400
    assert "total" in response.json()


def test_crossing_a_threshold_shows_the_new_tier(api_staff, member):
    data = body(member)
    data["items"][0]["unit_price"] = "600.00"
    response = api_staff.post(PURCHASES, data, format="json").json()
    assert (response["tier"], response["tier_changed"]) == ({"code": "silver", "name": "Silver"}, True)


def test_tier_name_is_translated(api_staff, member):
    data = body(member)
    data["items"][0]["unit_price"] = "600.00"
    response = api_staff.post(PURCHASES, data, format="json", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.json()["tier"]["code"] == "silver"  # the name follows the zh-hans catalogue when it has one


def test_posting_runs_a_fixed_number_of_queries(api_staff, member):
    factories.product()
    api_staff.post(PURCHASES, body(member, ref="WARM-UP"), format="json")  # opens the account, token cache
    with CaptureQueriesContext(connection) as queries:
        response = api_staff.post(PURCHASES, body(member, ref="POS-2"), format="json")
    assert response.status_code == 201
    # 3 for the token with its user, the permissions (one query: loyalty_crm.api.authentication) and
    # the member; 15 for the posting itself (2 of them the savepoint the test's transaction turns the
    # posting's transaction into, 1 the paid plan in force, 1 the category of the line's label). The
    # partner-offer probe runs after commit (not captured inside the test's transaction).
    # 24 at first; 21 after `imports` stopped re-reading the lines and dropped a savepoint; 18 with
    # plain-SQL reads and the purchase inserted with ON CONFLICT DO NOTHING (no savepoint of its own).
    assert len(queries) <= 18, "\n".join(q["sql"] for q in queries.captured_queries)


def test_posting_reads_named_columns_never_select_star(api_staff, member):
    services.buy_membership(member=member, plan=MembershipPlan.objects.get(code="annual-plus"), external_ref="S-1")
    api_staff.post(PURCHASES, body(member, ref="WARM-UP"), format="json")
    with CaptureQueriesContext(connection) as queries:
        assert api_staff.post(PURCHASES, body(member, ref="POS-2"), format="json").status_code == 201
    star = [q["sql"] for q in queries.captured_queries if "SELECT * " in q["sql"].upper()]
    assert not star, "\n".join(star)


def test_replay_runs_few_queries(api_staff, member):
    api_staff.post(PURCHASES, body(member), format="json")
    with CaptureQueriesContext(connection) as queries:
        assert api_staff.post(PURCHASES, body(member), format="json").status_code == 200
    assert len(queries) <= 7, "\n".join(q["sql"] for q in queries.captured_queries)


def test_anonymous_cannot_post(api_anon, member):
    assert api_anon.post(PURCHASES, body(member), format="json").status_code == 401


@pytest.mark.parametrize("client", ["api_marketing", "api_support"])
def test_marketing_and_support_cannot_post_purchases(request, client, member):
    assert request.getfixturevalue(client).post(PURCHASES, body(member), format="json").status_code == 403


# --- refunds ---------------------------------------------------------------------------------


def refund_url(purchase_id):
    return f"{PURCHASES}{purchase_id}/refund/"


def test_refund_answers_201_with_points_reversed(api_staff, member):
    purchase_id = api_staff.post(PURCHASES, body(member), format="json").json()["id"]
    response = api_staff.post(refund_url(purchase_id), {"external_ref": "R-1", "amount": "99.50"}, format="json")
    assert response.status_code == 201
    assert response.json() == {
        "amount": "99.50",
        "points_reversed": 99,
        "points_returned": 0,
        "stored_value_returned": "0.00",  # nothing of it was paid from stored value
        "points_balance": 100,
        "tier": {"code": "regular", "name": "Regular"},
    }


def test_refund_retry_answers_200_and_reverses_once(api_staff, member):
    purchase_id = api_staff.post(PURCHASES, body(member), format="json").json()["id"]
    api_staff.post(refund_url(purchase_id), {"external_ref": "R-1"}, format="json")
    again = api_staff.post(refund_url(purchase_id), {"external_ref": "R-1"}, format="json")
    assert again.status_code == 200
    assert account_of(member).balance == 0


def test_refund_above_what_is_left_answers_409_refund_exceeds_purchase(api_staff, member):
    purchase_id = api_staff.post(PURCHASES, body(member), format="json").json()["id"]
    api_staff.post(refund_url(purchase_id), {"external_ref": "R-1", "amount": "100.00"}, format="json")
    response = api_staff.post(refund_url(purchase_id), {"external_ref": "R-2", "amount": "100.00"}, format="json")
    assert response.status_code == 409
    assert response.json() == {
        "code": "refund_exceeds_purchase",
        "detail": "Only 99.00 of purchase POS-1 is left to refund.",
    }
    assert Purchase.objects.get(pk=purchase_id).refunded_total == Decimal("100.00")


def test_refund_of_a_fully_refunded_purchase_answers_409(api_staff, member):
    purchase_id = api_staff.post(PURCHASES, body(member), format="json").json()["id"]
    api_staff.post(refund_url(purchase_id), {"external_ref": "R-1"}, format="json")
    response = api_staff.post(refund_url(purchase_id), {"external_ref": "R-2"}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "already_refunded")


def test_refund_of_an_unknown_purchase_answers_404(api_staff):
    assert api_staff.post(refund_url(999999), {"external_ref": "R-1"}, format="json").status_code == 404


def test_marketing_cannot_refund(api_marketing, member):
    purchase = post(member).purchase
    assert api_marketing.post(refund_url(purchase.pk), {"external_ref": "R-1"}, format="json").status_code == 403


# --- points, ledger, adjust, tiers -----------------------------------------------------------


def test_points_summary_shows_balance_and_what_expires_next(api_support, member):
    post(member, "120.00", ordered_at=timezone.now() - datetime.timedelta(hours=1))
    response = api_support.get(f"/api/v1/members/{member.member_no}/points/")
    assert response.status_code == 200
    data = response.json()
    expires = datetime.date(timezone.localdate().year + 1, 12, 31).isoformat()
    assert (data["balance"], data["lifetime_earned"], data["lifetime_spend"]) == (120, 120, "120.00")
    assert data["expiring"] == [{"points": 120, "expires_on": expires}]


def test_points_summary_of_a_member_without_points(api_staff, member):
    data = api_staff.get(f"/api/v1/members/{member.member_no}/points/").json()
    assert (data["balance"], data["expiring"], data["tier"]["code"]) == (0, [], "regular")


def test_points_of_an_unknown_member_answers_404(api_staff):
    assert api_staff.get("/api/v1/members/M404/points/").status_code == 404


def test_ledger_lists_newest_first_paginated(api_staff, member):
    post(member, "10.00")
    post(member, "20.00")
    data = api_staff.get(f"/api/v1/members/{member.member_no}/ledger/", {"page_size": 1}).json()
    assert data["count"] == 2
    assert [row["points"] for row in data["results"]] == [20]
    assert data["next"]


def test_ledger_needs_the_view_permission(api_anon, member):
    assert api_anon.get(f"/api/v1/members/{member.member_no}/ledger/").status_code == 401


def test_manager_adjusts_points_with_a_reason(api_manager, manager, member):
    url = f"/api/v1/members/{member.member_no}/points/adjust/"
    response = api_manager.post(url, {"points": 30, "reason": "Goodwill"}, format="json")
    assert response.status_code == 201
    assert response.json()["points_balance"] == 30
    assert LedgerEntry.objects.get().actor == manager
    assert_ledger_invariants(member)


def test_adjustment_without_reason_answers_400(api_manager, member):
    url = f"/api/v1/members/{member.member_no}/points/adjust/"
    assert api_manager.post(url, {"points": 30}, format="json").status_code == 400


def test_deduction_beyond_the_balance_answers_409(api_manager, member):
    url = f"/api/v1/members/{member.member_no}/points/adjust/"
    response = api_manager.post(url, {"points": -1, "reason": "typo"}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "insufficient_points")


@pytest.mark.parametrize("client", ["api_staff", "api_marketing", "api_support"])
def test_only_managers_adjust_points(request, client, member):
    url = f"/api/v1/members/{member.member_no}/points/adjust/"
    response = request.getfixturevalue(client).post(url, {"points": 30, "reason": "x"}, format="json")
    assert response.status_code == 403
    assert not LedgerEntry.objects.exists()


def test_tiers_are_listed_in_order_with_thresholds_and_benefits(api_staff):
    response = api_staff.get("/api/v1/tiers/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(t["code"], t["name"], t["threshold"]) for t in rows] == [
        ("regular", "Regular", "0.00"),
        ("silver", "Silver", "1000.00"),
        ("gold", "Gold", "5000.00"),
        ("diamond", "Diamond", "20000.00"),
    ]
    assert rows[3]["free_delivery"] is True
    assert rows[3]["benefits"] == "25% off, free delivery"


def test_tiers_need_a_login(api_anon):
    assert api_anon.get("/api/v1/tiers/").status_code == 401


# --- the members API shows real points and tiers ----------------------------------------------


def test_member_detail_shows_the_real_balance_and_tier(api_staff, member):
    post(member, "1500.00")
    data = api_staff.get(f"/api/v1/members/{member.member_no}/").json()
    assert (data["points_balance"], data["tier"]) == (1500, {"code": "silver", "name": "Silver"})


def test_member_list_filters_by_tier_without_duplicates(api_staff, member):
    other = factories.member(name="李四")
    post(member, "1500.00")
    post(member, "10.00")
    silver = api_staff.get("/api/v1/members/", {"tier": "silver"}).json()
    regular = api_staff.get("/api/v1/members/", {"tier": "regular"}).json()
    assert [m["member_no"] for m in silver["results"]] == [member.member_no]
    assert [m["member_no"] for m in regular["results"]] == [other.member_no]


def test_member_with_points_then_refunded_returns_to_regular_in_the_list(api_staff, member):
    result = post(member, "1500.00")
    services.refund_purchase(purchase=result.purchase, external_ref="R-1", amount=Decimal("600.00"))
    regular = api_staff.get("/api/v1/members/", {"tier": "regular"}).json()
    assert [m["member_no"] for m in regular["results"]] == [member.member_no]


def test_posting_for_an_erased_member_answers_409(api_staff, member):
    from members.services import erase_member

    erase_member(member=member)
    response = api_staff.post(PURCHASES, body(member), format="json")
    assert (response.status_code, response.json()["code"]) == (409, "member_erased")


def test_refund_needs_an_external_ref(api_staff, member):
    purchase = post(member).purchase
    response = api_staff.post(refund_url(purchase.pk), {}, format="json")
    assert response.status_code == 400
    assert "external_ref" in response.json()
