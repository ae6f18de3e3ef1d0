"""API: a member's referrals (staff) and accepting a partner's code at checkout — status codes,
permissions per role and fixed query counts."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.models import PartnerCode
from tests.campaigns.referral_helpers import accept_pool, post_committed, programme, referred_pair
from tests.members import factories

pytestmark = pytest.mark.django_db


def referrals_url(member_no: str) -> str:
    return f"/api/v1/members/{member_no}/referrals/"


def test_referrals_list_the_code_and_each_referred_members_status(api_staff, django_capture_on_commit_callbacks):
    referrer, bought = referred_pair()
    waiting = factories.member(name="还没买", referral_code=referrer.referral_code)
    post_committed(django_capture_on_commit_callbacks, bought, "300.00")
    response = api_staff.get(referrals_url(referrer.member_no))
    assert response.status_code == 200
    body = response.json()
    assert body["member_no"] == referrer.member_no
    assert body["referral_code"] == referrer.referral_code
    assert body["referred_by"] is None
    assert (body["referred_count"], body["rewarded_count"]) == (2, 1)
    rows = {row["member_no"]: row for row in body["referrals"]}
    assert rows[bought.member_no]["status"] == "rewarded"
    assert (rows[bought.member_no]["referrer_points"], rows[bought.member_no]["referred_points"]) == (200, 100)
    assert rows[bought.member_no]["rewarded_at"]
    assert rows[waiting.member_no] == {
        "member_no": waiting.member_no,
        "registered_at": rows[waiting.member_no]["registered_at"],
        "status": "pending",
        "rewarded_at": None,
        "referrer_points": 0,
        "referred_points": 0,
    }
    assert api_staff.get(referrals_url(bought.member_no)).json()["referred_by"] == referrer.member_no


def test_not_rewarded_status_when_the_programme_was_off(api_manager, django_capture_on_commit_callbacks):
    programme(is_active=False)
    referrer, referred = referred_pair()
    post_committed(django_capture_on_commit_callbacks, referred)
    body = api_manager.get(referrals_url(referrer.member_no)).json()
    assert [row["status"] for row in body["referrals"]] == ["not_rewarded"]


def test_referrals_of_an_unknown_member_is_404(api_staff):
    assert api_staff.get(referrals_url("NOSUCH")).status_code == 404


@pytest.mark.parametrize(("client", "status"), [("api_anon", 401), ("api_marketing", 200), ("api_support", 200)])
def test_referrals_permissions(request, client, status):
    referrer, _referred = referred_pair()
    assert request.getfixturevalue(client).get(referrals_url(referrer.member_no)).status_code == status


def test_referrals_need_the_referral_reward_permission(django_user_model):
    from django.contrib.auth.models import Permission

    from tests.conftest import token_client

    user = django_user_model.objects.create_user("viewer", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_member"))
    referrer, _referred = referred_pair()
    assert token_client(user).get(referrals_url(referrer.member_no)).status_code == 403


def test_referrals_run_the_same_queries_for_3_and_30_referred_members(api_staff, django_capture_on_commit_callbacks):
    referrer = factories.member(name="达人")

    def add(count):
        for _index in range(count):
            member = factories.member(referral_code=referrer.referral_code)
            post_committed(django_capture_on_commit_callbacks, member)

    add(3)
    api_staff.get(referrals_url(referrer.member_no))
    with CaptureQueriesContext(connection) as few:
        assert len(api_staff.get(referrals_url(referrer.member_no)).json()["referrals"]) == 3
    add(27)
    with CaptureQueriesContext(connection) as many:
        assert len(api_staff.get(referrals_url(referrer.member_no)).json()["referrals"]) == 30
    assert len(many) == len(few)


# --- partner codes -------------------------------------------------------------------------


def redeem_url(code: str) -> str:
    return f"/api/v1/partner-codes/{code}/redeem/"


@pytest.fixture
def partner_code(db):
    pool = accept_pool()
    return PartnerCode.objects.create(pool=pool, code="BANK2026AAAA")


def test_redeem_partner_code_gives_a_coupon_then_used_by_the_quote(api_staff, partner_code):
    member = factories.member()
    response = api_staff.post(
        redeem_url("bank-2026-aaaa"), {"member": member.member_no, "external_ref": "ORD-1"}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["partner"], body["partner_code"], body["external_ref"]) == ("街角咖啡", "BANK2026AAAA", "ORD-1")
    coupon = body["coupon"]
    assert (coupon["member"], coupon["source"], coupon["value"], coupon["status"]) == (
        member.member_no,
        "partner",
        "30.00",
        "issued",
    )
    quote = api_staff.post(
        "/api/v1/checkout/quote/",
        {
            "member": member.member_no,
            "items": [{"sku": "ROSE-11", "quantity": 1, "unit_price": "300.00"}],
            "coupon_code": coupon["code"],
        },
        format="json",
    )
    assert quote.status_code == 200, quote.json()
    assert quote.json()["coupon_discount"] == "30.00"
    # The same member and order again: the first answer, 200.
    again = api_staff.post(
        redeem_url("BANK2026AAAA"), {"member": member.member_no, "external_ref": "ORD-1"}, format="json"
    )
    assert again.status_code == 200
    assert again.json()["coupon"]["code"] == coupon["code"]


def test_redeem_used_or_unknown_code_is_409_coupon_invalid(api_staff, partner_code):
    member = factories.member()
    api_staff.post(redeem_url(partner_code.code), {"member": member.member_no, "external_ref": "ORD-1"}, format="json")
    for code, ref in [(partner_code.code, "ORD-2"), ("UNKNOWN", "ORD-3")]:
        response = api_staff.post(redeem_url(code), {"member": member.member_no, "external_ref": ref}, format="json")
        assert response.status_code == 409
        assert response.json()["code"] == "coupon_invalid"
        assert response.json()["detail"]


def test_redeem_bad_input_is_400_naming_the_field(api_staff, partner_code):
    response = api_staff.post(redeem_url(partner_code.code), {"member": "NOSUCH"}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"member", "external_ref"}
    assert PartnerCode.objects.get().status == "available"


@pytest.mark.parametrize(
    ("client", "status"), [("api_anon", 401), ("api_support", 403), ("api_marketing", 403), ("api_manager", 201)]
)
def test_redeem_partner_code_permissions(request, client, status, partner_code):
    member = factories.member()
    response = request.getfixturevalue(client).post(
        redeem_url(partner_code.code), {"member": member.member_no, "external_ref": "ORD-1"}, format="json"
    )
    assert response.status_code == status
