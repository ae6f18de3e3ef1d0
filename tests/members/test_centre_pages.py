"""The member centre's card, points, coupons, rewards and wallet pages (/m/, issue 15)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from rewards import services
from rewards.ledger_reasons import Reason
from rewards.models import Coupon, Redemption, RewardKind, StoredValueGift
from rewards.services import stored_value
from rewards.services.redemptions import redeem_reward
from tests.members import factories
from tests.members.centre_pages_helpers import external_urls, member_client, page_weight
from tests.rewards import catalogue_factories as cf
from tests.rewards.helpers import next_ref, post
from tests.rewards.stored_value_helpers import fund, rule

pytestmark = pytest.mark.django_db

PAGES = ["/m/", "/m/card/", "/m/points/", "/m/coupons/", "/m/rewards/", "/m/wallet/"]


@pytest.fixture
def member():
    return factories.member(name="林小雨")


def en(member):
    return member_client(member, HTTP_ACCEPT_LANGUAGE="en")


# --- the card ---


def test_the_card_shows_name_tier_points_and_both_codes_of_the_member_number(member):
    post(member, "300.00")
    response = en(member).get("/m/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "林小雨" in html and member.member_no in html
    assert "Regular" in html and "10% off" in html
    assert ">300<" in html.replace(" ", "")
    assert html.count("<svg") >= 2  # the QR code and the Code-128 barcode, inline
    assert 'class="receipt-barcode"' in html
    assert "Spend ¥700.00 more to reach Silver" in html


def test_the_card_shows_the_stored_value_only_when_there_is_an_account(member):
    assert "Stored value" not in en(member).get("/m/").content.decode().split('<nav class="mc-panel')[0]
    fund(member, "500.00", with_rule=rule("500.00", "100.00"))
    assert "¥600.00" in en(member).get("/m/").content.decode()


def test_the_show_card_view_is_large_and_asks_for_the_wake_lock(member):
    html = en(member).get("/m/card/").content.decode()
    assert "mcp-qr-large" in html and "data-wake-lock" in html
    assert "/static/centre/card.js" in html


def test_a_chinese_browser_gets_the_centre_in_chinese_and_others_in_english(member):
    zh = member_client(member, HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").get("/m/").content.decode()
    assert '<html lang="zh-hans">' in zh
    assert "普通会员" in zh or "普通" in zh  # the tier's name, translated
    english = member_client(member, HTTP_ACCEPT_LANGUAGE="en-US").get("/m/").content.decode()
    assert '<html lang="en">' in english


# --- points ---


def test_points_history_reads_in_member_words_not_the_staffs(member):
    post(member, "120.00", ref="PO-7781")
    html = en(member).get("/m/points/").content.decode()
    assert "Points earned on a purchase" in html
    assert "PO-7781" not in html  # the staff's "Purchase PO-7781"


def test_points_history_is_paginated(member):
    for _n in range(25):
        services.adjust_points(member=member, points=10, reason="goodwill", actor=None)
    client = en(member)
    first = client.get("/m/points/").content.decode()
    second = client.get("/m/points/?page=2").content.decode()
    assert first.count("Points adjusted by the shop") == 20
    assert second.count("Points adjusted by the shop") == 5
    assert client.get("/m/points/?page=zzz").status_code == 200


def test_points_show_what_expires_and_the_year_end_clearing_in_december(member):
    with time_machine.travel(datetime.datetime(2026, 12, 6, 10, tzinfo=datetime.UTC), tick=False):
        services.adjust_points(member=member, points=50, reason="goodwill", actor=None)
        # Points earned last year clear on 31 December this year (the default policy).
    with time_machine.travel(datetime.datetime(2025, 3, 1, 10, tzinfo=datetime.UTC), tick=False):
        services.adjust_points(member=member, points=80, reason="old", actor=None)
    with time_machine.travel(datetime.datetime(2026, 12, 6, 10, tzinfo=datetime.UTC), tick=False):
        html = en(member).get("/m/points/").content.decode()
    assert "Year-end clearing" in html
    assert "80 points will be cleared on 2026-12-31" in html
    assert "2027-12-31" in html


def test_no_year_end_note_outside_december(member):
    with time_machine.travel(datetime.datetime(2026, 6, 6, 10, tzinfo=datetime.UTC), tick=False):
        services.adjust_points(member=member, points=50, reason="goodwill", actor=None)
        html = en(member).get("/m/points/").content.decode()
    assert "Year-end clearing" not in html


# --- coupons ---


def _coupon(member, **kwargs):
    from rewards.services.coupons import issue_coupon

    return issue_coupon(template=cf.template(**kwargs), member=member, source=Coupon.Source.MANUAL, reason="test")


def test_coupons_are_grouped_valid_used_expired(member):
    valid = _coupon(member, name="春季¥20券")
    expired = _coupon(member, name="过期券")
    Coupon.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - datetime.timedelta(days=1))
    html = en(member).get("/m/coupons/").content.decode()
    ready = html.split('id="used"')[0]
    assert valid.code in ready and "春季¥20券" in ready
    assert "过期券" in html.split('id="expired"')[1]


def test_a_valid_coupon_shows_its_code_as_qr_on_its_own_page(member):
    coupon = _coupon(member)
    html = en(member).get(f"/m/coupons/{coupon.code}/").content.decode()
    assert coupon.code in html and "<svg" in html and "Show this code to the cashier" in html


def test_another_members_coupon_is_not_found(member):
    other = factories.member(name="别人")
    theirs = _coupon(other)
    assert en(member).get(f"/m/coupons/{theirs.code}/").status_code == 404
    assert en(member).get("/m/coupons/NO-SUCH-CODE/").status_code == 404


# --- rewards ---


def test_rewards_split_into_redeemable_now_and_not_yet_with_the_reason(member):
    services.adjust_points(member=member, points=180, reason="test", actor=None)
    cf.reward(name="小花束", points_cost=100)
    cf.reward(name="大花束", points_cost=500)
    cf.reward(name="金卡专享", points_cost=50, min_tier="gold")
    cf.reward(name="已兑完", points_cost=10, stock=0)
    html = en(member).get("/m/rewards/").content.decode()
    now, later = html.split("Not yet")
    assert "小花束" in now and 'name="idempotency_key"' in now
    assert "大花束" in later and "320 more points needed" in later
    assert "金卡专享" in later and "For Gold members and above" in later
    assert "已兑完" in later and "All gone" in later


def test_redeeming_shows_the_coupon_at_once_and_a_double_submit_is_one_redemption(member):
    services.adjust_points(member=member, points=500, reason="test", actor=None)
    reward = cf.reward(name="¥20券", kind=RewardKind.COUPON, points_cost=200)
    client = en(member)
    first = client.post(f"/m/rewards/{reward.pk}/redeem/", {"idempotency_key": "k-1"})
    again = client.post(f"/m/rewards/{reward.pk}/redeem/", {"idempotency_key": "k-1"})
    assert first.status_code == 302 and again["Location"] == first["Location"]
    assert Redemption.objects.filter(member=member).count() == 1
    page = client.get(first["Location"]).content.decode()
    coupon = Coupon.objects.get(member=member)
    assert coupon.code in page and "You used 200 points. 300 points left." in page


@pytest.mark.parametrize(
    ("setup", "says"),
    [
        ({"points_cost": 900}, "You need 400 more points for “礼物”."),
        ({"points_cost": 10, "stock": 0}, "Sorry, “礼物” is all gone."),
        ({"points_cost": 10, "min_tier": "gold"}, "“礼物” cannot be redeemed at the moment."),
        ({"points_cost": 10, "per_member_limit": 1, "_twice": True}, "as often as allowed"),
    ],
)
def test_a_refused_redemption_is_explained_in_plain_words(member, setup, says):
    services.adjust_points(member=member, points=500, reason="test", actor=None)
    twice = setup.pop("_twice", False)
    reward = cf.reward(name="礼物", **setup)
    client = en(member)
    if twice:
        client.post(f"/m/rewards/{reward.pk}/redeem/", {"idempotency_key": "first"})
    response = client.post(f"/m/rewards/{reward.pk}/redeem/", {"idempotency_key": "second"}, follow=True)
    assert response.status_code == 200
    assert says in response.content.decode()
    assert Redemption.objects.filter(member=member).count() == (1 if twice else 0)


def test_redeeming_without_a_key_or_an_unknown_reward_is_a_clear_4xx_or_message(member):
    reward = cf.reward(points_cost=10)
    client = en(member)
    response = client.post(f"/m/rewards/{reward.pk}/redeem/", {}, follow=True)
    assert "The form has expired" in response.content.decode()
    assert client.post("/m/rewards/999999/redeem/", {"idempotency_key": "x"}).status_code == 404
    assert client.get(f"/m/rewards/{reward.pk}/redeem/").status_code == 405


def test_another_members_redemption_is_not_found(member):
    other = cf.funded_member(points=500, name="别人")
    reward = cf.reward(points_cost=10)
    theirs = redeem_reward(member=other, reward=reward, idempotency_key=cf.next_key()).redemption
    assert en(member).get(f"/m/rewards/redemptions/{theirs.pk}/").status_code == 404
    assert en(other).get(f"/m/rewards/redemptions/{theirs.pk}/").status_code == 200


# --- wallet ---


def test_the_wallet_shows_principal_bonus_the_bonus_end_and_history_in_member_words(member):
    fund(member, "500.00", with_rule=rule("500.00", "100.00", bonus_expires_after_days=30))
    html = en(member).get("/m/wallet/").content.decode()
    assert "¥600.00" in html and "¥500.00" in html and "¥100.00" in html
    assert "Bonus usable until" in html
    assert "Top-up" in html and "Bonus for topping up" in html
    assert "+¥500.00" in html


def test_the_wallet_history_has_pages(member):
    for _i in range(25):
        fund(member, "1.00")
    client = en(member)
    first = client.get("/m/wallet/").content.decode()
    assert "Page 1 of 2" in first and first.count("+¥1.00") == 20
    second = client.get("/m/wallet/?page=2").content.decode()
    assert "Page 2 of 2" in second and second.count("+¥1.00") == 5


def _gift_for(member, amount="88.00"):
    buyer = factories.member(name="送礼人")
    fund(buyer, "500.00")
    return stored_value.send_gift(
        buyer=buyer, recipient_phone=member.phone, amount=amount, external_ref=next_ref("GIFT")
    ).code


def test_claiming_a_gift_adds_it_once_and_a_second_submit_is_harmless(member):
    code = _gift_for(member)
    client = en(member)
    first = client.post("/m/wallet/", {"code": code.lower()}, follow=True)
    assert "¥88.00 has been added to your balance." in first.content.decode()
    again = client.post("/m/wallet/", {"code": code}, follow=True)
    assert again.status_code == 200 and "already in your balance" in again.content.decode()
    assert StoredValueGift.objects.get(claimed_by=member).amount == Decimal("88.00")
    assert member.stored_value_account.principal == Decimal("88.00")


def test_a_gift_for_someone_else_or_an_unknown_code_is_explained(member):
    stranger = factories.member(name="陌生人")
    code = _gift_for(stranger)
    client = en(member)
    response = client.post("/m/wallet/", {"code": code})
    assert response.status_code == 400 and "sent to another phone number" in response.content.decode()
    response = client.post("/m/wallet/", {"code": "NOPE-NOPE"})
    assert response.status_code == 400 and "No gift has this code" in response.content.decode()
    assert client.post("/m/wallet/", {"code": ""}).status_code == 400


def test_the_page_stops_taking_gift_codes_after_too_many_wrong_ones(member, settings, monkeypatch):
    from loyalty_crm.centre import limits

    settings.GIFT_CLAIM_HOURLY_FAILURES = 2
    monkeypatch.setattr(limits.time, "time", lambda: 1_800_000_000.0)  # a fixed instant in its hour
    code = _gift_for(member)
    client = en(member)
    for _i in range(2):
        assert client.post("/m/wallet/", {"code": "NOPE-NOPE"}).status_code == 400
    response = client.post("/m/wallet/", {"code": code})
    assert response.status_code == 429 and "Too many wrong gift codes" in response.content.decode()
    assert not StoredValueGift.objects.filter(claimed_by=member).exists()


# --- quality: own data only, fixed queries, weight, no external URLs ---


def _rich(member, n: int):
    post(member, "3000.00")
    for _i in range(n):
        services.adjust_points(member=member, points=5, reason="goodwill", actor=None)
        _coupon(member)
    fund(member, "500.00", with_rule=rule("500.00", "50.00", name=f"r{n}{member.pk}"))
    for i in range(n):
        cf.reward(name=f"奖励{i}", points_cost=10 * (i + 1))


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize("url", PAGES)
def test_each_page_runs_the_same_queries_for_1_or_50_rows(url, django_assert_max_num_queries):
    small, big = factories.member(name="一"), factories.member(name="五十")
    _rich(small, 1)
    _rich(big, 50)
    small_client, big_client = en(small), en(big)
    small_client.get(url), big_client.get(url)  # warm the caches (policies, settings)
    assert _queries(small_client, url) == _queries(big_client, url)
    with django_assert_max_num_queries(16):
        big_client.get(url)


@pytest.mark.parametrize("url", PAGES)
def test_each_page_weighs_under_100_kb_with_its_css_and_js_and_links_nothing_external(url):
    member = factories.member(name="五十")
    _rich(member, 50)
    html = member_client(member, HTTP_ACCEPT_LANGUAGE="zh-CN").get(url).content.decode()
    assert page_weight(html) < 100 * 1024
    assert external_urls(html) == []


def test_the_pages_show_nothing_of_another_member(member):
    other = factories.member(name="隔壁老王")
    post(other, "999.00", ref="OTHER-1")
    _coupon(other, name="别人的券")
    fund(other, "300.00")
    client = en(member)
    for url in PAGES:
        html = client.get(url).content.decode()
        assert "隔壁老王" not in html and other.member_no not in html and "别人的券" not in html


# --- wording, sign-in and forms ---


@pytest.mark.parametrize("code", [code for code, _label in Reason.choices])
def test_every_ledger_reason_has_a_member_sentence_without_staff_references(code):
    from rewards import member_words

    params = {"ref": "PO-1", "purchase": "PO-1", "reward": "花束", "quantity": 1, "date": "2026-12-31"}
    params |= {"bonus": "sign_up", "name": "春季活动", "member_no": "M123"}
    text = member_words.points_text(kind="earn", reason_code=code, reason_params=params)
    assert text and "PO-1" not in text and "M123" not in text


def test_a_visitor_without_a_session_is_sent_to_sign_in():
    from django.test import Client
    from django.urls import NoReverseMatch, reverse

    try:
        login = reverse("centre:login")
    except NoReverseMatch:
        pytest.skip("the sign-in page (centre:login) is another branch's")
    response = Client().get("/m/points/")
    assert response.status_code == 302 and response["Location"].startswith(login)


def test_forms_need_the_csrf_token(member):
    from django.conf import settings as django_settings
    from django.test import Client

    from loyalty_crm.centre.session import start_session

    client = Client(enforce_csrf_checks=True)
    client.cookies[django_settings.MEMBER_SESSION_COOKIE_NAME] = start_session(member)
    reward = cf.reward(points_cost=10)
    assert client.post(f"/m/rewards/{reward.pk}/redeem/", {"idempotency_key": "k"}).status_code == 403
    assert client.post("/m/wallet/", {"code": "X"}).status_code == 403
