"""API of the catalogue, redemptions, coupons and checkout: contract fields, every status code, roles."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rewards.models import Coupon, Redemption, Reward, RewardKind
from rewards.services import coupons as coupon_services
from rewards.services.redemptions import redeem_reward
from tests.conftest import token_client
from tests.members import factories
from tests.rewards import catalogue_factories as cf
from tests.rewards.helpers import account_of, post

pytestmark = pytest.mark.django_db

REWARDS = "/api/v1/rewards/"
REDEMPTIONS = "/api/v1/redemptions/"
VALIDATE = "/api/v1/coupons/validate/"
QUOTE = "/api/v1/checkout/quote/"


def redeem_body(member, reward, key="K-1", **extra):
    return {"member": member.member_no, "reward": reward.pk, "idempotency_key": key} | extra


# --- rewards ----------------------------------------------------------------------------------


def test_manager_creates_a_reward(api_manager):
    response = api_manager.post(REWARDS, {"name": "香薰蜡烛", "kind": "product", "points_cost": 300, "stock": 20})
    assert response.status_code == 201
    reward = Reward.objects.get()
    assert response.json()["id"] == reward.pk
    assert (reward.name, reward.points_cost, reward.stock, reward.is_active) == ("香薰蜡烛", 300, 20, True)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "x", "kind": "product", "points_cost": 0, "stock": 1}, "points_cost"),
        ({"name": "x", "kind": "product", "points_cost": 10, "stock": -1}, "stock"),
        ({"name": "x", "kind": "gift", "points_cost": 10, "stock": 1}, "kind"),
        ({"name": "x", "kind": "coupon", "points_cost": 10, "stock": 1}, "coupon_template"),
        ({"kind": "product", "points_cost": 10}, "name"),
    ],
)
def test_bad_reward_is_refused_with_the_field_named(api_manager, body, field):
    response = api_manager.post(REWARDS, body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Reward.objects.exists()


def test_manager_patches_only_what_is_sent(api_manager):
    reward = cf.reward(points_cost=100, stock=5)
    redeem_reward(member=cf.funded_member(1000), reward=reward, idempotency_key="x")  # stock 4
    response = api_manager.patch(f"{REWARDS}{reward.pk}/", {"points_cost": 150}, format="json")
    assert response.status_code == 200
    reward.refresh_from_db()
    assert (reward.points_cost, reward.stock) == (150, 4)
    assert response.json()["stock"] == 4


@pytest.mark.parametrize("client_name", ["api_staff", "api_marketing", "api_support"])
def test_only_managers_create_or_change_rewards(request, client_name):
    client = request.getfixturevalue(client_name)
    reward = cf.reward()
    assert client.get(REWARDS).status_code == 200
    assert client.post(REWARDS, {"name": "x", "kind": "product", "points_cost": 1}).status_code == 403
    assert client.patch(f"{REWARDS}{reward.pk}/", {"stock": 1}, format="json").status_code == 403


def test_anonymous_gets_401_everywhere(api_anon):
    reward = cf.reward()
    for method, url in [
        ("get", REWARDS),
        ("post", REWARDS),
        ("patch", f"{REWARDS}{reward.pk}/"),
        ("get", REDEMPTIONS),
        ("post", REDEMPTIONS),
        ("post", f"{REDEMPTIONS}1/cancel/"),
        ("post", VALIDATE),
        ("post", "/api/v1/coupons/ABC/redeem/"),
        ("post", "/api/v1/coupons/"),
        ("post", QUOTE),
    ]:
        assert getattr(api_anon, method)(url, {}, format="json").status_code == 401, (method, url)


def test_reward_list_filters_by_kind_and_by_what_a_member_may_redeem(api_staff):
    member = cf.funded_member(150)
    cheap = cf.reward(name="cheap", points_cost=100)
    cf.reward(name="dear", points_cost=500)
    cf.reward(name="gone", stock=0)
    cf.reward(name="off", is_active=False)
    cf.reward(name="gold only", min_tier="gold")
    coupon = cf.reward(name="coupon", kind=RewardKind.COUPON, points_cost=120)
    names = lambda response: [r["name"] for r in response.json()["results"]]  # noqa: E731
    assert names(api_staff.get(REWARDS, {"kind": "coupon"})) == ["coupon"]
    assert sorted(names(api_staff.get(REWARDS, {"member": member.member_no}))) == ["cheap", "coupon", "dear"]
    affordable = api_staff.get(REWARDS, {"member": member.member_no, "affordable": "true"})
    assert sorted(names(affordable)) == sorted([cheap.name, coupon.name])
    assert api_staff.get(REWARDS, {"member": "M0000000000"}).status_code == 400


def test_reward_list_runs_the_same_queries_for_few_and_many(api_staff):
    cf.reward(name="for everyone")
    cf.reward(name="silver only", min_tier="silver")
    member = cf.funded_member(10)
    with CaptureQueriesContext(connection) as few:
        api_staff.get(REWARDS, {"member": member.member_no})
    for index in range(20):
        cf.reward(name=f"r{index}", min_tier="gold" if index % 2 else None)
    with CaptureQueriesContext(connection) as many:
        response = api_staff.get(REWARDS, {"member": member.member_no})
    assert response.status_code == 200
    assert len(many) == len(few)


# --- redemptions ------------------------------------------------------------------------------


def test_redemption_answers_201_with_the_contract_fields(api_staff):
    member = cf.funded_member(500)
    reward = cf.reward(points_cost=120, stock=3)
    response = api_staff.post(REDEMPTIONS, redeem_body(member, reward, quantity=2), format="json")
    assert response.status_code == 201
    body = response.json()
    redemption = Redemption.objects.get()
    assert body["id"] == redemption.pk
    assert (body["points_spent"], body["points_balance"], body["coupon"], body["status"]) == (
        240,
        260,
        None,
        "completed",
    )
    assert redemption.actor.username == "staff"


def test_coupon_redemption_returns_the_coupon(api_staff):
    member = cf.funded_member(500)
    reward = cf.reward(kind=RewardKind.COUPON, points_cost=100, coupon_template=cf.template(valid_days=30))
    body = api_staff.post(REDEMPTIONS, redeem_body(member, reward), format="json").json()
    coupon = Coupon.objects.get()
    assert body["coupon"]["code"] == coupon.code
    assert (body["coupon"]["kind"], body["coupon"]["value"], body["coupon"]["status"]) == ("amount", "20.00", "issued")
    assert body["coupon"]["expires_at"]
    assert [c["code"] for c in body["coupons"]] == [coupon.code]


def test_same_key_same_body_answers_200_with_the_first_answer(api_staff):
    member = cf.funded_member(500)
    reward = cf.reward(kind=RewardKind.COUPON, points_cost=100)
    first = api_staff.post(REDEMPTIONS, redeem_body(member, reward), format="json").json()
    again = api_staff.post(REDEMPTIONS, redeem_body(member, reward), format="json")
    assert again.status_code == 200
    assert again.json() == first
    assert account_of(member).balance == 400


def test_same_key_different_body_is_409_idempotency_conflict(api_staff):
    member = cf.funded_member(500)
    reward = cf.reward()
    api_staff.post(REDEMPTIONS, redeem_body(member, reward), format="json")
    response = api_staff.post(REDEMPTIONS, redeem_body(member, reward, quantity=2), format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_conflict"


@pytest.mark.parametrize(
    "points, reward_kwargs, code",
    [
        (50, {"points_cost": 100}, "insufficient_points"),
        (500, {"stock": 0}, "out_of_stock"),
        (500, {"is_active": False}, "reward_unavailable"),
        (500, {"min_tier": "diamond"}, "reward_unavailable"),
    ],
)
def test_refused_redemptions_are_409_and_change_nothing(api_staff, points, reward_kwargs, code):
    member = cf.funded_member(points)
    reward = cf.reward(**reward_kwargs)
    response = api_staff.post(REDEMPTIONS, redeem_body(member, reward), format="json")
    assert response.status_code == 409
    assert response.json()["code"] == code
    assert response.json()["detail"]
    assert account_of(member).balance == points
    assert not Redemption.objects.exists()


@pytest.mark.parametrize(
    "change, field",
    [
        ({"member": "M0000000000"}, "member"),
        ({"reward": 999999}, "reward"),
        ({"quantity": 0}, "quantity"),
        ({"idempotency_key": ""}, "idempotency_key"),
    ],
)
def test_bad_redemption_input_is_400_naming_the_field(api_staff, change, field):
    member = cf.funded_member(500)
    response = api_staff.post(REDEMPTIONS, redeem_body(member, cf.reward()) | change, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_marketing_and_support_cannot_redeem(api_marketing, api_support):
    member = cf.funded_member(500)
    reward = cf.reward()
    for client in (api_marketing, api_support):
        assert client.post(REDEMPTIONS, redeem_body(member, reward), format="json").status_code == 403
        assert client.get(REDEMPTIONS).status_code == 200


def test_redemption_list_and_detail(api_support):
    member = cf.funded_member(1000)
    result = redeem_reward(member=member, reward=cf.reward(kind=RewardKind.COUPON), idempotency_key="a")
    redeem_reward(member=cf.funded_member(1000, name="b"), reward=cf.reward(name="other"), idempotency_key="b")
    listed = api_support.get(REDEMPTIONS, {"member": member.member_no}).json()
    assert [r["id"] for r in listed["results"]] == [result.redemption.pk]
    detail = api_support.get(f"{REDEMPTIONS}{result.redemption.pk}/").json()
    assert detail["coupon"]["code"] == result.coupon.code


def test_redemption_list_runs_the_same_queries_for_few_and_many(api_manager):
    def add(count):
        for index in range(count):
            reward = cf.reward(name=f"r{index}", kind=RewardKind.COUPON)
            redeem_reward(member=cf.funded_member(1000, name=f"m{index}"), reward=reward, idempotency_key=cf.next_key())

    add(3)
    with CaptureQueriesContext(connection) as few:
        api_manager.get(REDEMPTIONS)
    add(10)
    with CaptureQueriesContext(connection) as many:
        assert api_manager.get(REDEMPTIONS).json()["count"] == 13
    assert len(many) == len(few)


def test_manager_cancels_a_redemption(api_manager):
    member = cf.funded_member(300)
    redemption = redeem_reward(member=member, reward=cf.reward(stock=1), idempotency_key="c").redemption
    response = api_manager.post(f"{REDEMPTIONS}{redemption.pk}/cancel/", {"reason": "mistake"}, format="json")
    assert response.status_code == 200
    assert response.json() == {
        "id": redemption.pk,
        "status": "cancelled",
        "points_returned": 100,
        "points_balance": 300,
    }
    again = api_manager.post(f"{REDEMPTIONS}{redemption.pk}/cancel/", {}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "already_cancelled")
    assert api_manager.post(f"{REDEMPTIONS}999999/cancel/", {}, format="json").status_code == 404


def test_cancel_is_refused_when_the_coupon_was_used(api_manager):
    member = cf.funded_member(300)
    result = redeem_reward(member=member, reward=cf.reward(kind=RewardKind.COUPON), idempotency_key="u")
    coupon_services.redeem_coupon(code=result.coupon.code, member=member, external_ref="ORD-1")
    response = api_manager.post(f"{REDEMPTIONS}{result.redemption.pk}/cancel/", {}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "coupon_used")


def test_only_managers_cancel(api_staff, api_marketing, api_support):
    member = cf.funded_member(300)
    redemption = redeem_reward(member=member, reward=cf.reward(), idempotency_key="p").redemption
    for client in (api_staff, api_marketing, api_support):
        assert client.post(f"{REDEMPTIONS}{redemption.pk}/cancel/", {}, format="json").status_code == 403
    assert Redemption.objects.get().status == "completed"


# --- coupons ----------------------------------------------------------------------------------


def coupon_of(member, **template):
    return coupon_services.issue_coupon(template=cf.template(**template), member=member, source="manual")


def test_validate_answers_valid_and_discount(api_staff):
    member = factories.member()
    coupon = coupon_of(member, value="20.00", min_spend="100.00")
    body = {"code": coupon.code, "member": member.member_no, "order_total": "120.00"}
    response = api_staff.post(VALIDATE, body, format="json")
    assert response.status_code == 200
    assert response.json() == {"valid": True, "discount": "20.00", "reason": "", "detail": "", "free_delivery": False}
    short = api_staff.post(VALIDATE, body | {"order_total": "99.00"}, format="json").json()
    assert (short["valid"], short["discount"], short["reason"]) == (False, "0.00", "below_min_spend")
    unknown = api_staff.post(VALIDATE, body | {"code": "ZZZZZZZZZZZZ"}, format="json").json()
    assert (unknown["valid"], unknown["reason"]) == (False, "unknown")


def test_validate_needs_a_known_member_and_a_total(api_staff):
    response = api_staff.post(VALIDATE, {"code": "X", "member": "M0000000000"}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"member", "order_total"}


def test_redeem_answers_201_then_200_for_the_same_order_then_409_for_another(api_staff):
    member = factories.member()
    coupon = coupon_of(member)
    url = f"/api/v1/coupons/{coupon.code}/redeem/"
    first = api_staff.post(url, {"member": member.member_no, "external_ref": "ORD-1"}, format="json")
    assert first.status_code == 201
    assert (first.json()["status"], first.json()["redeemed_ref"]) == ("redeemed", "ORD-1")
    assert api_staff.post(url, {"member": member.member_no, "external_ref": "ORD-1"}, format="json").status_code == 200
    other = api_staff.post(url, {"member": member.member_no, "external_ref": "ORD-2"}, format="json")
    assert other.status_code == 409
    assert other.json()["code"] == "coupon_invalid"
    assert "already used" in other.json()["detail"]


@pytest.mark.parametrize("case", ["foreign", "void", "unknown"])
def test_redeem_refuses_with_coupon_invalid_and_says_why(api_staff, case):
    member = factories.member()
    coupon = coupon_of(factories.member(name="别人") if case == "foreign" else member)
    if case == "void":
        coupon_services.void_coupon(coupon=coupon)
    code = "ZZZZZZZZZZZZ" if case == "unknown" else coupon.code
    response = api_staff.post(
        f"/api/v1/coupons/{code}/redeem/", {"member": member.member_no, "external_ref": "O"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "coupon_invalid"
    assert {"foreign": "another member", "void": "voided", "unknown": "No coupon"}[case] in response.json()["detail"]


def test_marketing_and_support_cannot_accept_coupons(api_marketing, api_support):
    member = factories.member()
    coupon = coupon_of(member)
    for client in (api_marketing, api_support):
        response = client.post(
            f"/api/v1/coupons/{coupon.code}/redeem/", {"member": member.member_no, "external_ref": "O"}, format="json"
        )
        assert response.status_code == 403
        assert (
            client.post(VALIDATE, {"code": coupon.code, "member": member.member_no, "order_total": "1"}).status_code
            == 200
        )


def test_marketing_issues_a_coupon_store_staff_cannot(api_marketing, api_staff):
    member = factories.member()
    template = cf.template(per_member_limit=1)
    body = {"template": template.pk, "member": member.member_no}
    assert api_staff.post("/api/v1/coupons/", body, format="json").status_code == 403
    response = api_marketing.post("/api/v1/coupons/", body, format="json")
    assert response.status_code == 201
    assert response.json()["code"] == Coupon.objects.get().code
    assert Coupon.objects.get().issued_by.username == "marketer"
    again = api_marketing.post("/api/v1/coupons/", body, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "coupon_limit_reached")


def test_coupon_list_filters_by_member_with_fixed_queries(api_support):
    member = factories.member()
    template = cf.template()
    coupon_services.issue_coupon(template=template, member=member, source="manual")
    with CaptureQueriesContext(connection) as few:
        api_support.get("/api/v1/coupons/")
    for index in range(10):
        coupon_services.issue_coupon(template=template, member=factories.member(name=f"x{index}"), source="manual")
    with CaptureQueriesContext(connection) as many:
        api_support.get("/api/v1/coupons/")
    assert len(many) == len(few)
    listed = api_support.get("/api/v1/coupons/", {"member": member.member_no}).json()
    assert listed["count"] == 1
    assert api_support.get("/api/v1/coupon-templates/").json()["count"] == 1


# --- checkout quote ---------------------------------------------------------------------------


def test_quote_answers_money_as_two_place_strings(api_staff):
    member = factories.member()
    coupon = coupon_of(member, value="30.00", min_spend="100.00")
    body = {
        "member": member.member_no,
        "items": [{"sku": "ROSE-11", "quantity": 2, "unit_price": "56.00"}],
        "coupon_code": coupon.code.lower(),
    }
    response = api_staff.post(QUOTE, body, format="json")
    assert response.status_code == 200
    assert response.json() == {
        "subtotal": "112.00",
        "tier": {"code": "regular", "name": "Regular"},
        "tier_discount": "11.20",
        "coupon_discount": "30.00",
        "total": "70.80",
        "points_to_earn": 70,
        "free_delivery": False,
        "coupon": {"code": coupon.code, "valid": True, "reason": "", "detail": ""},
        # No points asked: all of the total is paid in money.
        "points_balance": 0,
        "points_max": 0,
        "points_used": 0,
        "points_value": "0.00",
        "amount_due": "70.80",
        "points_message": "",
        "tier_after": {"code": "regular", "name": "Regular"},
        # No `tenders`: no stored value used, its balance not read.
        "stored_value_balance": None,
        "stored_value_used": "0.00",
        "stored_value_principal": "0.00",
        "stored_value_bonus": "0.00",
        "stored_value_message": "",
    }
    coupon.refresh_from_db()
    assert coupon.status == "issued"  # a quote changes nothing


def test_quote_for_a_diamond_member_without_coupon(api_support):
    member = factories.member()
    post(member, "20000.00")
    body = {"member": member.member_no, "items": [{"sku": "A", "quantity": 1, "unit_price": "100.00"}]}
    response = api_support.post(QUOTE, body, format="json").json()
    assert (response["tier_discount"], response["total"], response["free_delivery"], response["coupon"]) == (
        "25.00",
        "75.00",
        True,
        None,
    )


def test_quote_refuses_bad_input(api_staff):
    member = factories.member()
    response = api_staff.post(QUOTE, {"member": member.member_no, "items": []}, format="json")
    assert response.status_code == 400
    assert "items" in response.json()
    bad_price = {"member": member.member_no, "items": [{"sku": "A", "quantity": 1, "unit_price": "-1"}]}
    assert api_staff.post(QUOTE, bad_price, format="json").status_code == 400


def test_user_without_roles_is_forbidden(db):
    from tests.conftest import make_user

    client = token_client(make_user("nobody"))
    member = cf.funded_member(100)
    reward = cf.reward()
    assert client.get(REWARDS).status_code == 403
    assert client.post(REDEMPTIONS, redeem_body(member, reward), format="json").status_code == 403
    assert client.post(VALIDATE, {"code": "X", "member": member.member_no, "order_total": "1"}).status_code == 403
    body = {"member": member.member_no, "items": [{"sku": "A", "quantity": 1, "unit_price": "1"}]}
    assert client.post(QUOTE, body, format="json").status_code == 403
    assert Decimal(account_of(member).balance) == 100


# --- schema -----------------------------------------------------------------------------------

CATALOGUE_PATHS = {
    "/api/v1/rewards/": {"get", "post"},
    "/api/v1/rewards/{id}/": {"get", "patch"},
    "/api/v1/redemptions/": {"get", "post"},
    "/api/v1/redemptions/{id}/": {"get"},
    "/api/v1/redemptions/{id}/cancel/": {"post"},
    "/api/v1/coupons/": {"get", "post"},
    "/api/v1/coupons/validate/": {"post"},
    "/api/v1/coupons/{code}/redeem/": {"post"},
    "/api/v1/coupon-templates/": {"get"},
    "/api/v1/checkout/quote/": {"post"},
}


def test_schema_documents_every_catalogue_path_and_its_409s(api_manager):
    import yaml

    schema = yaml.safe_load(api_manager.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi").content)
    methods = {"get", "post", "patch", "put", "delete"}
    for path, expected in CATALOGUE_PATHS.items():
        assert set(schema["paths"][path]) & methods == expected, path
    assert {"201", "200", "409"} <= set(schema["paths"]["/api/v1/redemptions/"]["post"]["responses"])
    assert "409" in schema["paths"]["/api/v1/coupons/{code}/redeem/"]["post"]["responses"]
    quote = schema["components"]["schemas"]["QuoteOutput"]["properties"]
    assert quote["total"]["format"] == "decimal"
