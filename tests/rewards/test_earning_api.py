"""API: points preview, membership plans, a member's memberships."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rewards.models import MembershipPlan, MembershipSubscription
from tests.members import factories

pytestmark = pytest.mark.django_db
PREVIEW = "/api/v1/points/preview/"
PLANS = "/api/v1/membership-plans/"


@pytest.fixture
def member():
    return factories.member()


def memberships_url(member):
    return f"/api/v1/members/{member.member_no}/memberships/"


def basket(**extra):
    return {"items": [{"sku": "ROSE-11", "quantity": 2, "unit_price": "50.00"}], **extra}


# --- preview --------------------------------------------------------------------------------


@pytest.mark.parametrize("client", ["api_staff", "api_marketing", "api_support", "api_manager"])
def test_every_role_may_preview(request, client):
    response = request.getfixturevalue(client).post(PREVIEW, basket(), format="json")
    assert response.status_code == 200
    assert response.json() == {
        "points": 100,
        "paid": "100.00",
        "uncapped_points": 100,
        "capped_by": None,
        "rules": [
            {"id": response.json()["rules"][0]["id"], "name": "1 point per 1 yuan paid", "kind": "base",
             "rate": "1.00", "skus": [], "points": None}
        ],
    }  # fmt: skip


def test_preview_with_a_member_counts_the_plan_and_writes_nothing(api_staff, member):
    api_staff.post(memberships_url(member), {"plan": "annual-plus", "external_ref": "S-1"}, format="json")
    response = api_staff.post(PREVIEW, basket(member=member.member_no, total="80.00"), format="json").json()
    assert response["points"] == 120
    assert [(r["kind"], r["rate"], r["skus"]) for r in response["rules"]] == [
        ("base", "1.00", []),
        ("plan", "1.50", ["ROSE-11"]),
    ]
    assert not member.ledger.exists()


def test_preview_refuses_bad_input_with_field_errors(api_staff):
    response = api_staff.post(PREVIEW, {"items": [], "member": "M404", "store": "nowhere"}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"items", "member", "store"}


def test_preview_needs_a_login(api_anon):
    assert api_anon.post(PREVIEW, basket(), format="json").status_code == 401


def test_preview_needs_the_view_permission(db):
    from django.contrib.auth.models import User

    from tests.conftest import token_client

    nobody = User.objects.create_user("nobody", password="x")  # staff without a role
    assert token_client(nobody).post(PREVIEW, basket(), format="json").status_code == 403


# --- plans ----------------------------------------------------------------------------------


def test_plans_list_what_is_on_sale(api_staff):
    MembershipPlan.objects.create(code="old", name="Old", price="99.00", is_active=False)
    response = api_staff.get(PLANS)
    assert response.status_code == 200
    assert [p["code"] for p in response.json()["results"]] == ["annual-plus"]
    assert response.json()["results"][0] == {
        "code": "annual-plus",
        "name": "Annual plus",
        "price": "199.00",
        "duration_months": 12,
        "free_delivery": True,
        "points_multiplier": "1.50",
        "member_only_rewards": True,
        "priority_booking": "Priority booking for workshops and member events",
    }


def test_plans_need_a_login(api_anon):
    assert api_anon.get(PLANS).status_code == 401


# --- memberships ----------------------------------------------------------------------------


@pytest.mark.parametrize("client", ["api_staff", "api_manager"])
def test_staff_and_managers_sell_a_membership(request, client, member):
    response = request.getfixturevalue(client).post(
        memberships_url(member), {"plan": "annual-plus", "external_ref": "S-1"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["member"], body["plan"], body["price_paid"], body["status"], body["external_ref"]) == (
        member.member_no,
        {"code": "annual-plus", "name": "Annual plus"},
        "199.00",
        "active",
        "S-1",
    )


def test_selling_again_answers_200_and_another_member_409(api_staff, member):
    data = {"plan": "annual-plus", "external_ref": "S-1"}
    first = api_staff.post(memberships_url(member), data, format="json").json()
    again = api_staff.post(memberships_url(member), data, format="json")
    assert (again.status_code, again.json()["id"]) == (200, first["id"])
    other = api_staff.post(memberships_url(factories.member(name="别人")), data, format="json")
    assert (other.status_code, other.json()["code"]) == (409, "idempotency_conflict")


def test_a_plan_off_sale_answers_409(api_staff, member):
    MembershipPlan.objects.filter(code="annual-plus").update(is_active=False)
    response = api_staff.post(memberships_url(member), {"plan": "annual-plus", "external_ref": "S-1"}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "plan_not_on_sale")


def test_unknown_plan_and_missing_reference_answer_400(api_staff, member):
    response = api_staff.post(memberships_url(member), {"plan": "gold-club"}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"plan", "external_ref"}


def test_unknown_member_answers_404(api_staff):
    response = api_staff.post("/api/v1/members/M404/memberships/", {"plan": "annual-plus", "external_ref": "S"})
    assert response.status_code == 404


@pytest.mark.parametrize("client", ["api_marketing", "api_support"])
def test_marketing_and_support_read_but_cannot_sell(request, client, member):
    api = request.getfixturevalue(client)
    data = {"plan": "annual-plus", "external_ref": "S-1"}
    assert api.post(memberships_url(member), data, format="json").status_code == 403
    assert api.get(memberships_url(member)).status_code == 200
    assert not MembershipSubscription.objects.exists()


def test_memberships_need_a_login(api_anon, member):
    assert api_anon.get(memberships_url(member)).status_code == 401


def test_the_member_list_of_memberships_runs_a_fixed_number_of_queries(api_staff, member):
    api_staff.post(memberships_url(member), {"plan": "annual-plus", "external_ref": "S-0"}, format="json")
    with CaptureQueriesContext(connection) as few:
        assert api_staff.get(memberships_url(member)).status_code == 200
    for index in range(1, 10):
        api_staff.post(memberships_url(member), {"plan": "annual-plus", "external_ref": f"S-{index}"}, format="json")
    with CaptureQueriesContext(connection) as many:
        response = api_staff.get(memberships_url(member))
    assert response.json()["count"] == 10
    assert len(many) == len(few)
