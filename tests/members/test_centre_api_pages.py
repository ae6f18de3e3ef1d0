"""The member-scoped API's card, points, coupons, rewards and wallet (/api/v1/me/, issue 15)."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from rewards import services
from rewards.models import Coupon, Redemption, RewardKind
from rewards.services import stored_value
from rewards.services.coupons import issue_coupon
from rewards.services.redemptions import redeem_reward
from tests.members import factories
from tests.members.centre_pages_helpers import member_api
from tests.rewards import catalogue_factories as cf
from tests.rewards.helpers import next_ref, post
from tests.rewards.stored_value_helpers import fund, rule

pytestmark = pytest.mark.django_db

GETS = [
    "/api/v1/me/",
    "/api/v1/me/points/",
    "/api/v1/me/coupons/",
    "/api/v1/me/rewards/",
    "/api/v1/me/wallet/",
    "/api/v1/me/wallet/entries/",
]


@pytest.fixture
def member():
    return factories.member(name="林小雨")


@pytest.fixture
def api(member):
    return member_api(member, HTTP_ACCEPT_LANGUAGE="en")


def _coupon(member, **kwargs):
    return issue_coupon(template=cf.template(**kwargs), member=member, source=Coupon.Source.MANUAL, reason="t")


def test_me_gives_number_name_tier_points_stored_value_and_next_tier(member, api):
    post(member, "552.20")
    fund(member, "500.00", with_rule=rule("500.00", "100.00"))
    body = api.get("/api/v1/me/").json()
    assert body["member_no"] == member.member_no and body["name"] == "林小雨"
    assert body["tier"]["code"] == "regular" and body["benefits"] == ["10% off"]
    assert body["points_balance"] == 552
    assert body["stored_value"] == {"principal": "500.00", "bonus": "100.00", "total": "600.00"}
    assert body["next_tier"]["code"] == "silver" and body["next_tier"]["missing"] == "447.80"
    assert body["next_tier"]["text"] == "Spend ¥447.80 more to reach Silver"


def test_the_next_tier_reads_in_chinese_for_a_chinese_client(member):
    post(member, "552.20")
    client = member_api(member)
    body = client.get("/api/v1/me/", HTTP_ACCEPT_LANGUAGE="zh-CN").json()
    assert body["tier"]["name"] != "Regular"  # 普通会员 from the catalogue


def test_points_give_balance_expiring_and_a_paginated_history_with_codes_and_member_text(member, api):
    post(member, "120.00", ref="PO-1")
    for _i in range(21):
        services.adjust_points(member=member, points=1, reason="goodwill", actor=None)
    body = api.get("/api/v1/me/points/").json()
    assert body["balance"] == 141
    assert body["expiring"][0]["points"] == 141
    history = body["history"]
    assert history["count"] == 22 and len(history["results"]) == 20 and history["next"].endswith("page=2")
    last = api.get("/api/v1/me/points/?page=2").json()["history"]["results"]
    assert len(last) == 2 and last[-1]["code"] == "purchase" and last[-1]["text"] == "Points earned on a purchase"
    assert history["results"][0]["text"] == "Points adjusted by the shop"


def test_coupons_filter_by_status_and_refuse_an_unknown_status(member, api):
    valid = _coupon(member, name="有效")
    used = _coupon(member, name="已用")
    Coupon.objects.filter(pk=used.pk).update(status=Coupon.Status.REDEEMED, redeemed_at=timezone.now())
    expired = _coupon(member, name="过期")
    Coupon.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - datetime.timedelta(hours=1))
    assert [c["code"] for c in api.get("/api/v1/me/coupons/?status=valid").json()["results"]] == [valid.code]
    assert [c["code"] for c in api.get("/api/v1/me/coupons/?status=used").json()["results"]] == [used.code]
    assert [c["code"] for c in api.get("/api/v1/me/coupons/?status=expired").json()["results"]] == [expired.code]
    assert api.get("/api/v1/me/coupons/").json()["count"] == 3
    bad = api.get("/api/v1/me/coupons/?status=lost")
    assert bad.status_code == 400 and "status" in bad.json()


def test_rewards_say_whether_available_and_why_not(member, api):
    services.adjust_points(member=member, points=180, reason="test", actor=None)
    ok = cf.reward(name="小花束", points_cost=100)
    short = cf.reward(name="大花束", points_cost=500)
    body = api.get("/api/v1/me/rewards/").json()
    by_id = {r["id"]: r for r in body["results"]}
    assert by_id[ok.pk]["available"] is True and by_id[ok.pk]["reason"] == ""
    assert by_id[short.pk]["available"] is False
    assert by_id[short.pk]["reason_code"] == "insufficient_points" and by_id[short.pk]["points_missing"] == 320
    assert by_id[short.pk]["reason"] == "320 more points needed"


def test_redeeming_answers_201_then_200_for_a_retry_with_the_coupons(member, api):
    services.adjust_points(member=member, points=500, reason="test", actor=None)
    reward = cf.reward(kind=RewardKind.COUPON, points_cost=200)
    first = api.post("/api/v1/me/redemptions/", {"reward": reward.pk, "idempotency_key": "abc"}, format="json")
    again = api.post("/api/v1/me/redemptions/", {"reward": reward.pk, "idempotency_key": "abc"}, format="json")
    assert first.status_code == 201 and again.status_code == 200
    assert first.json() == again.json()
    assert first.json()["points_spent"] == 200 and first.json()["points_balance"] == 300
    assert len(first.json()["coupons"]) == 1 and Redemption.objects.count() == 1
    other = api.post(
        "/api/v1/me/redemptions/", {"reward": reward.pk, "quantity": 2, "idempotency_key": "abc"}, format="json"
    )
    assert other.status_code == 409 and other.json()["code"] == "idempotency_conflict"


def test_two_members_may_choose_the_same_key(member, api):
    other = cf.funded_member(points=500, name="别人")
    services.adjust_points(member=member, points=500, reason="test", actor=None)
    reward = cf.reward(points_cost=10)
    assert (
        member_api(other)
        .post("/api/v1/me/redemptions/", {"reward": reward.pk, "idempotency_key": "1"}, format="json")
        .status_code
        == 201
    )
    assert (
        api.post("/api/v1/me/redemptions/", {"reward": reward.pk, "idempotency_key": "1"}, format="json").status_code
        == 201
    )


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        ({"points_cost": 900}, "insufficient_points"),
        ({"points_cost": 10, "stock": 0}, "out_of_stock"),
        ({"points_cost": 10, "min_tier": "gold"}, "reward_unavailable"),
        ({"points_cost": 10, "per_member_limit": 1, "_twice": True}, "reward_limit_reached"),
    ],
)
def test_refusals_are_409_with_their_code_and_write_nothing(member, api, setup, code):
    services.adjust_points(member=member, points=500, reason="test", actor=None)
    twice = setup.pop("_twice", False)
    reward = cf.reward(**setup)
    if twice:
        api.post("/api/v1/me/redemptions/", {"reward": reward.pk, "idempotency_key": "one"}, format="json")
    response = api.post("/api/v1/me/redemptions/", {"reward": reward.pk, "idempotency_key": "two"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == code and response.json()["detail"]
    assert Redemption.objects.count() == (1 if twice else 0)


@pytest.mark.parametrize(
    "body",
    [{}, {"reward": 999999, "idempotency_key": "k"}, {"reward": "x", "idempotency_key": "k"}, {"reward": 1}],
)
def test_bad_redemption_input_is_a_400_naming_the_field(api, body):
    cf.reward(points_cost=10)
    response = api.post("/api/v1/me/redemptions/", body, format="json")
    assert response.status_code == 400


def test_the_wallet_and_a_gift_claim_once(member, api):
    buyer = factories.member(name="送礼人")
    fund(buyer, "500.00")
    code = stored_value.send_gift(
        buyer=buyer, recipient_phone=member.phone, amount="66.00", external_ref=next_ref("G")
    ).code
    first = api.post("/api/v1/me/wallet/gift-claims/", {"code": code}, format="json")
    again = api.post("/api/v1/me/wallet/gift-claims/", {"code": code}, format="json")
    assert first.status_code == 201 and first.json()["amount"] == "66.00" and first.json()["already_claimed"] is False
    assert again.status_code == 200 and again.json()["already_claimed"] is True and again.json()["total"] == "66.00"
    wallet = api.get("/api/v1/me/wallet/").json()
    assert wallet["principal"] == "66.00" and wallet["entries"][0]["text"] == "Gift received"
    stolen = member_api(factories.member(name="第三人")).post("/api/v1/me/wallet/gift-claims/", {"code": code})
    assert stolen.status_code == 409 and stolen.json()["code"] in {"gift_already_claimed", "gift_not_yours"}
    unknown = api.post("/api/v1/me/wallet/gift-claims/", {"code": "ZZZZ"}, format="json")
    assert unknown.status_code == 409 and unknown.json()["code"] == "gift_unknown"
    assert api.post("/api/v1/me/wallet/gift-claims/", {}, format="json").status_code == 400


def test_another_members_coupon_redemption_and_wallet_row_are_404(member, api):
    other = cf.funded_member(points=500, name="别人")
    fund(other, "100.00")
    coupon = _coupon(other)
    redemption = redeem_reward(member=other, reward=cf.reward(points_cost=10), idempotency_key="theirs").redemption
    entry = other.stored_value_entries.first()
    assert api.get(f"/api/v1/me/coupons/{coupon.code}/").status_code == 404
    assert api.get(f"/api/v1/me/redemptions/{redemption.pk}/").status_code == 404
    assert api.get(f"/api/v1/me/wallet/entries/{entry.pk}/").status_code == 404
    theirs = member_api(other)
    assert theirs.get(f"/api/v1/me/coupons/{coupon.code}/").status_code == 200
    assert theirs.get(f"/api/v1/me/redemptions/{redemption.pk}/").status_code == 200
    assert theirs.get(f"/api/v1/me/wallet/entries/{entry.pk}/").status_code == 200


@pytest.mark.parametrize("url", GETS)
def test_a_staff_token_or_no_session_is_refused(url, api_manager, superuser):
    assert api_manager.get(url).status_code in (401, 403)
    staff_session = APIClient()
    staff_session.force_login(superuser)
    assert staff_session.get(url).status_code in (401, 403)
    assert APIClient().get(url).status_code in (401, 403)
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Member not-a-token")
    assert bad.get(url).status_code == 401


@pytest.mark.parametrize("url", GETS)
def test_the_api_runs_the_same_queries_for_1_or_50_rows(url):
    counts = []
    for n in (1, 50):
        member = factories.member(name=f"m{n}")
        post(member, "300.00")
        for _i in range(n):
            services.adjust_points(member=member, points=5, reason="g", actor=None)
            _coupon(member)
            fund(member, "4.00")
        fund(member, "200.00")
        client = member_api(member)
        client.get(url)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1] <= 16


def test_the_schema_lists_the_me_endpoints(api_manager):
    schema = api_manager.get("/api/schema/?format=json").json()
    for path in ("/api/v1/me/", "/api/v1/me/points/", "/api/v1/me/redemptions/", "/api/v1/me/wallet/gift-claims/"):
        assert path in schema["paths"]


def test_wrong_gift_codes_are_limited_per_member_per_hour(member, api, settings, monkeypatch, client):
    from loyalty_crm.centre import limits

    settings.GIFT_CLAIM_HOURLY_FAILURES = 3
    clock = {"now": 1_800_001_200.0}  # a fixed instant, 1,200 s into its hour window
    monkeypatch.setattr(limits.time, "time", lambda: clock["now"])
    buyer = factories.member(name="送礼人")
    fund(buyer, "500.00")
    code = stored_value.send_gift(
        buyer=buyer, recipient_phone=member.phone, amount="20.00", external_ref=next_ref("G")
    ).code
    for _i in range(3):
        assert api.post("/api/v1/me/wallet/gift-claims/", {"code": "WRONG1"}, format="json").status_code == 409
    limited = api.post("/api/v1/me/wallet/gift-claims/", {"code": code}, format="json")
    assert limited.status_code == 429 and limited.json()["code"] == "gift_claims_limited"
    assert limited["Retry-After"] == "2400"
    assert api.get("/api/v1/me/wallet/").json()["principal"] == "0.00"  # nothing claimed while limited
    other = member_api(factories.member(name="别人"))
    assert other.post("/api/v1/me/wallet/gift-claims/", {"code": "WRONG2"}, format="json").status_code == 409
    clock["now"] += 2400  # the next hour
    assert api.post("/api/v1/me/wallet/gift-claims/", {"code": code}, format="json").status_code == 201


def test_the_wallet_history_pages_through_every_row(member, api):
    for _i in range(25):
        fund(member, "1.00")
    first = api.get("/api/v1/me/wallet/entries/").json()
    assert first["count"] == 25 and len(first["results"]) == 20 and first["previous"] is None
    second = api.get(first["next"]).json()
    assert len(second["results"]) == 5 and second["next"] is None
    ids = [row["id"] for row in first["results"] + second["results"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 25
    assert api.get("/api/v1/me/wallet/entries/?page=99").json()["results"] == second["results"]  # the last page
