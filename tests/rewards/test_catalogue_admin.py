"""Back office of the catalogue: permissions, fixed query counts, the "Redeem a reward" page, actions."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from rewards.models import Coupon, CouponTemplate, Redemption, Reward, RewardKind
from rewards.services import coupons as coupon_services
from rewards.services.redemptions import redeem_reward
from tests.rewards import catalogue_factories as cf
from tests.rewards.helpers import account_of

pytestmark = pytest.mark.django_db

MODELS = ["reward", "coupontemplate", "coupon", "redemption"]
REDEEM = "admin:rewards_redemption_add"


def client_for(user, language="en") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


def add_rows(count: int) -> None:
    for index in range(count):
        template = cf.template(name=f"t{CouponTemplate.objects.count()}")
        reward = cf.reward(name=f"r{Reward.objects.count()}", kind=RewardKind.COUPON, coupon_template=template)
        member = cf.funded_member(1000, name=f"m{index}")
        redeem_reward(member=member, reward=reward, idempotency_key=cf.next_key())


@pytest.mark.parametrize("model", MODELS)
def test_changelist_runs_the_same_queries_for_3_and_30_rows(manager, model):
    client = client_for(manager)
    url = reverse(f"admin:rewards_{model}_changelist")
    add_rows(3)
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    add_rows(27)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert len(response.context["cl"].result_list) >= 3
    assert len(many) == len(few)


@pytest.mark.parametrize("role", ["store_staff", "marketing", "support", "manager"])
def test_every_role_sees_the_catalogue_but_only_managers_change_it(request, role):
    client = client_for(request.getfixturevalue(role))
    reward = cf.reward()
    for model in MODELS:
        assert client.get(reverse(f"admin:rewards_{model}_changelist")).status_code == 200
    expected = 200 if role == "manager" else 403
    assert client.get(reverse("admin:rewards_reward_add")).status_code == expected
    assert client.get(reverse("admin:rewards_coupontemplate_add")).status_code == expected
    page = client.get(reverse("admin:rewards_reward_change", args=[reward.pk]))
    assert page.status_code == 200
    assert ('name="_save"' in page.content.decode()) == (role == "manager")


def test_coupons_and_redemptions_are_never_added_or_deleted_in_the_admin(manager):
    client = client_for(manager)
    assert client.get(reverse("admin:rewards_coupon_add")).status_code == 403
    cf.funded_member(0)
    result = redeem_reward(member=cf.funded_member(500), reward=cf.reward(), idempotency_key="k")
    assert client.get(reverse("admin:rewards_redemption_delete", args=[result.redemption.pk])).status_code == 403


def test_manager_edit_of_a_reward_keeps_stock_a_redemption_took_meanwhile(manager):
    reward = cf.reward(points_cost=100, stock=5)
    client = client_for(manager)
    url = reverse("admin:rewards_reward_change", args=[reward.pk])
    form = {
        "name": "新名字",
        "kind": "product",
        "description": "",
        "points_cost": "100",
        "stock": "5",  # what the manager's page showed
        "is_active": "on",
        "valid_from_0": "",
        "valid_from_1": "",
        "valid_until_0": "",
        "valid_until_1": "",
        "min_tier": "",
        "coupon_template": "",
        "per_member_limit": "",
        "initial-stock": "5",
    }
    redeem_reward(member=cf.funded_member(500), reward=reward, idempotency_key="meanwhile")  # stock 4
    response = client.post(url, form)
    assert response.status_code == 302, response.content[:3000]
    reward.refresh_from_db()
    assert (reward.name, reward.stock) == ("新名字", 4)


def test_reward_admin_refuses_a_coupon_reward_without_template(manager):
    response = client_for(manager).post(
        reverse("admin:rewards_reward_add"),
        {"name": "券", "kind": "coupon", "points_cost": "10", "is_active": "on"},
    )
    assert response.status_code == 200
    assert "A coupon reward needs the coupon template it issues." in response.content.decode()
    assert not Reward.objects.exists()


# --- the "Redeem a reward" page ---------------------------------------------------------------


def test_member_page_links_to_redeem_for_staff_who_may_redeem(store_staff, support):
    member = cf.funded_member(100)
    url = reverse("admin:members_member_change", args=[member.pk])
    staff_page = client_for(store_staff).get(url).content.decode()
    assert f"{reverse(REDEEM)}?member={member.pk}" in staff_page
    assert "Redeem a reward" in staff_page
    assert "Redeem a reward" not in client_for(support).get(url).content.decode()


def test_redeem_page_shows_the_members_balance(store_staff):
    member = cf.funded_member(420)
    cf.reward(name="玫瑰花束", points_cost=100, stock=3)
    page = client_for(store_staff).get(reverse(REDEEM), {"member": member.pk})
    assert page.status_code == 200
    html = page.content.decode()
    assert re.search(r'id="redeem-balance">420<', html)
    assert "玫瑰花束 — 100 points (3 left)" in html
    assert member.member_no in html


def redeem_form(client, member, reward, quantity=1, key="page-key-1"):
    return client.post(
        reverse(REDEEM), {"member": member.pk, "reward": reward.pk, "quantity": quantity, "idempotency_key": key}
    )


def test_store_staff_redeems_a_reward_and_sees_the_new_balance(store_staff):
    member = cf.funded_member(420)
    reward = cf.reward(points_cost=100, stock=3)
    client = client_for(store_staff)
    response = redeem_form(client, member, reward, quantity=2)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse(REDEEM)}?member={member.pk}"
    page = client.get(response["Location"]).content.decode()
    assert f"member {member.member_no} now has 220 points" in page
    assert re.search(r'id="redeem-balance">220<', page)
    redemption = Redemption.objects.get()
    assert (redemption.quantity, redemption.actor) == (2, store_staff)
    # The same form sent again (a double click) redeems nothing more.
    assert redeem_form(client, member, reward, quantity=2).status_code == 302
    assert account_of(member).balance == 220


def test_redeem_page_shows_the_coupon_code(store_staff):
    member = cf.funded_member(420)
    reward = cf.reward(kind=RewardKind.COUPON, points_cost=100)
    client = client_for(store_staff)
    page = client.get(redeem_form(client, member, reward)["Location"]).content.decode()
    assert Coupon.objects.get().code in page


@pytest.mark.parametrize(
    "points, stock, english, chinese",
    [
        (50, 3, "The member has 50 points; 100 are needed.", "会员当前有 50 积分，需要 100 积分。"),
        (500, 0, "Only 0 of “花瓶” left; 1 asked for.", "“花瓶”仅剩 0 件，需要 1 件。"),
    ],
)
def test_redeem_page_explains_a_refusal_in_english_and_chinese(store_staff, points, stock, english, chinese):
    member = cf.funded_member(points)
    reward = cf.reward(name="花瓶", points_cost=100, stock=stock)
    for language, message in (("en", english), ("zh-hans", chinese)):
        response = redeem_form(client_for(store_staff, language), member, reward)
        assert response.status_code == 200
        assert message in response.content.decode()
    assert account_of(member).balance == points
    assert not Redemption.objects.exists()


def test_roles_without_redeem_permission_cannot_open_the_page(marketing, support):
    member = cf.funded_member(500)
    reward = cf.reward()
    for user in (marketing, support):
        client = client_for(user)
        assert client.get(reverse(REDEEM)).status_code == 403
        assert redeem_form(client, member, reward).status_code == 403
    assert not Redemption.objects.exists()


# --- actions ----------------------------------------------------------------------------------


def test_manager_cancels_redemptions_with_the_action(manager):
    member = cf.funded_member(300)
    redemption = redeem_reward(member=member, reward=cf.reward(stock=2), idempotency_key="a").redemption
    response = client_for(manager).post(
        reverse("admin:rewards_redemption_changelist"),
        {"action": "cancel_selected", "_selected_action": [redemption.pk]},
        follow=True,
    )
    assert "100 points back" in response.content.decode()
    redemption.refresh_from_db()
    assert redemption.status == "cancelled"
    assert account_of(member).balance == 300


def test_store_staff_has_no_cancel_action(store_staff):
    member = cf.funded_member(300)
    redemption = redeem_reward(member=member, reward=cf.reward(), idempotency_key="a").redemption
    client = client_for(store_staff)
    page = client.get(reverse("admin:rewards_redemption_changelist"))
    assert "cancel_selected" not in page.content.decode()
    client.post(
        reverse("admin:rewards_redemption_changelist"),
        {"action": "cancel_selected", "_selected_action": [redemption.pk]},
    )
    redemption.refresh_from_db()
    assert redemption.status == "completed"


def test_manager_voids_coupons_and_a_used_one_is_reported(manager):
    member = cf.funded_member(0)
    template = cf.template()
    issued = coupon_services.issue_coupon(template=template, member=member, source="manual")
    used = coupon_services.issue_coupon(template=template, member=member, source="manual")
    coupon_services.redeem_coupon(code=used.code, member=member, external_ref="ORD-1")
    response = client_for(manager).post(
        reverse("admin:rewards_coupon_changelist"),
        {"action": "void_selected", "_selected_action": [issued.pk, used.pk]},
        follow=True,
    )
    html = response.content.decode()
    assert "1 coupons voided." in html
    assert f"{used.code}: The coupon {used.code} was already used" in html
    assert dict(Coupon.objects.values_list("code", "status")) == {issued.code: "void", used.code: "redeemed"}


def test_coupon_search_finds_a_code_typed_loosely(support):
    member = cf.funded_member(0)
    coupon = coupon_services.issue_coupon(template=cf.template(), member=member, source="manual")
    coupon_services.issue_coupon(template=cf.template(name="b"), member=member, source="manual")
    typed = f"{coupon.code[:6].lower()}-{coupon.code[6:]}"
    response = client_for(support).get(reverse("admin:rewards_coupon_changelist"), {"q": typed})
    assert [c.code for c in response.context["cl"].result_list] == [coupon.code]


def test_member_autocomplete_on_the_redeem_page_works_for_store_staff(store_staff):
    member = cf.funded_member(10, name="周一鸣")
    response = client_for(store_staff).get(
        reverse("admin:autocomplete"),
        {"app_label": "rewards", "model_name": "redemption", "field_name": "member", "term": member.member_no},
    )
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [str(member.pk)]
