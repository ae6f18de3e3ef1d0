"""Admin for earning rules, promotions, limits, bonuses and paid membership."""

import datetime

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from rewards import services
from rewards.models import (
    ActivityBonus,
    BonusAward,
    EarningSettings,
    EarnRule,
    MembershipPlan,
    MembershipSubscription,
    Promotion,
    Tier,
)
from rewards.services.earning import earning_config
from tests.members import factories

pytestmark = pytest.mark.django_db
NEW = ["promotion", "earningsettings", "activitybonus", "bonusaward", "membershipplan", "membershipsubscription"]


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("role", ["manager", "store_staff", "marketing", "support"])
@pytest.mark.parametrize("model", NEW)
def test_every_role_sees_the_new_changelists(request, role, model):
    user = request.getfixturevalue(role)
    assert client_for(user).get(reverse(f"admin:rewards_{model}_changelist")).status_code == 200


def promotion_form(**overrides):
    now = timezone.localtime()
    data = {
        "name": "Mother's Day double points",
        "kind": "multiplier",
        "multiplier": "2",
        "bonus_points": "",
        "starts_at_0": now.date().isoformat(),
        "starts_at_1": "00:00:00",
        "ends_at_0": (now.date() + datetime.timedelta(days=3)).isoformat(),
        "ends_at_1": "00:00:00",
        "channels": ["store", "wechat"],
        "is_active": "on",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize("role", ["manager", "marketing"])
def test_managers_and_marketing_create_promotions(request, role):
    store = factories.store()
    response = client_for(request.getfixturevalue(role)).post(
        reverse("admin:rewards_promotion_add"), promotion_form(stores=[store.pk])
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    promo = Promotion.objects.get()
    assert (promo.channels, list(promo.stores.all())) == (["store", "wechat"], [store])


@pytest.mark.parametrize("role", ["store_staff", "support"])
def test_store_staff_and_support_cannot_create_promotions(request, role):
    response = client_for(request.getfixturevalue(role)).post(reverse("admin:rewards_promotion_add"), promotion_form())
    assert response.status_code == 403
    assert not Promotion.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"ends_at_0": "2020-01-01"}, "ends_at"),
        ({"multiplier": ""}, "multiplier"),
        ({"kind": "bonus"}, "bonus_points"),
        ({"kind": "bonus", "bonus_points": "50"}, "multiplier"),
    ],
)
def test_the_promotion_form_names_what_is_wrong(manager, overrides, field):
    response = client_for(manager).post(reverse("admin:rewards_promotion_add"), promotion_form(**overrides))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not Promotion.objects.exists()


def test_a_tier_rule_needs_a_tier_and_nothing_else(manager):
    url = reverse("admin:rewards_earnrule_add")
    data = {"name": "Gold 1.2x", "kind": "tier", "rate": "1.2", "is_active": "on"}
    response = client_for(manager).post(url, data)
    assert "tier" in response.context["adminform"].form.errors
    gold = Tier.objects.get(code="gold")
    response = client_for(manager).post(url, {**data, "tier": gold.pk, "category": factories.category().pk})
    assert "category" in response.context["adminform"].form.errors
    assert client_for(manager).post(url, {**data, "tier": gold.pk}).status_code == 302
    assert EarnRule.objects.get(kind="tier").tier == gold


def test_managers_change_the_limits_but_cannot_add_a_second_row_or_delete_it(manager, store_staff):
    row = EarningSettings.objects.get()
    client = client_for(manager)
    assert client.get(reverse("admin:rewards_earningsettings_add")).status_code == 403
    change = reverse("admin:rewards_earningsettings_change", args=[row.pk])
    response = client.post(change, {"min_spend": "10.00", "max_points_per_purchase": "500", "max_points_per_day": ""})
    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.min_spend, row.max_points_per_purchase, row.max_points_per_day) == (10, 500, None)
    assert client_for(store_staff).post(change, {"min_spend": "0"}).status_code == 403
    assert client.post(reverse("admin:rewards_earningsettings_delete", args=[row.pk])).status_code == 403


def test_managers_switch_earning_on_the_stored_value_bonus_share(manager):
    """Issue 16: the managed setting is off by default and a manager switches it on in the admin;
    the cached earning config follows at once."""
    row = EarningSettings.objects.get()
    assert row.earn_on_stored_value_bonus is False
    assert earning_config().bonus_share_earns is False
    change = reverse("admin:rewards_earningsettings_change", args=[row.pk])
    data = {"min_spend": "0.00", "max_points_per_purchase": "", "max_points_per_day": ""}
    response = client_for(manager).post(change, {**data, "earn_on_stored_value_bonus": "on"})
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.earn_on_stored_value_bonus is True
    assert earning_config().bonus_share_earns is True


def test_negative_minimum_spend_is_refused(manager):
    row = EarningSettings.objects.get()
    response = client_for(manager).post(
        reverse("admin:rewards_earningsettings_change", args=[row.pk]), {"min_spend": "-1"}
    )
    assert response.status_code == 200
    assert "min_spend" in response.context["adminform"].form.errors


def test_managers_change_bonus_points_and_nobody_adds_bonuses(manager, store_staff):
    review = ActivityBonus.objects.get(kind="review")
    url = reverse("admin:rewards_activitybonus_change", args=[review.pk])
    assert client_for(manager).post(url, {"points": "30", "limit": "monthly", "is_active": "on"}).status_code == 302
    review.refresh_from_db()
    assert review.points == 30
    assert client_for(store_staff).post(url, {"points": "999", "limit": "once"}).status_code == 403
    assert client_for(manager).get(reverse("admin:rewards_activitybonus_add")).status_code == 403


# --- award a bonus by hand ------------------------------------------------------------------


def test_a_manager_awards_a_bonus_by_hand_once_per_period(manager):
    member = factories.member()
    url = reverse("admin:rewards_bonusaward_award")
    client = client_for(manager)
    assert f'href="{url}"' in client.get(reverse("admin:rewards_bonusaward_changelist")).content.decode()
    response = client.post(url, {"member": member.member_no, "kind": "event", "reference": "Spring workshop"})
    assert response.status_code == 302
    award = BonusAward.objects.get()
    assert (award.member, award.points, award.actor, award.entry.actor) == (member, 50, manager, manager)
    again = client.post(url, {"member": member.member_no, "kind": "event"})
    assert again.status_code == 200
    assert "already received this bonus" in again.content.decode()
    assert BonusAward.objects.count() == 1


def test_the_award_form_names_an_unknown_member(manager):
    response = client_for(manager).post(reverse("admin:rewards_bonusaward_award"), {"member": "M404", "kind": "event"})
    assert response.status_code == 200
    assert "member" in response.context["form"].errors


@pytest.mark.parametrize("role", ["store_staff", "marketing", "support"])
def test_only_managers_award_bonuses_by_hand(request, role):
    member = factories.member()
    client = client_for(request.getfixturevalue(role))
    url = reverse("admin:rewards_bonusaward_award")
    assert client.get(url).status_code == 403
    assert client.post(url, {"member": member.member_no, "kind": "event"}).status_code == 403
    assert url not in client.get(reverse("admin:rewards_bonusaward_changelist")).content.decode()
    assert not BonusAward.objects.exists()


# --- memberships ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["store_staff", "manager"])
def test_store_staff_and_managers_sell_a_membership_through_the_service(request, role):
    user = request.getfixturevalue(role)
    member = factories.member()
    plan = MembershipPlan.objects.get(code="annual-plus")
    response = client_for(user).post(
        reverse("admin:rewards_membershipsubscription_add"),
        {"member": member.member_no, "plan": plan.pk, "external_ref": "TILL-1", "starts_on": ""},
    )
    assert response.status_code == 302
    sub = MembershipSubscription.objects.get()
    assert (sub.member, sub.sold_by, sub.starts_on, sub.price_paid) == (member, user, timezone.localdate(), plan.price)


def test_selling_with_a_reference_used_for_another_member_shows_the_conflict(manager):
    plan = MembershipPlan.objects.get(code="annual-plus")
    services.buy_membership(member=factories.member(), plan=plan, external_ref="TILL-1")
    response = client_for(manager).post(
        reverse("admin:rewards_membershipsubscription_add"),
        {"member": factories.member(name="别人").member_no, "plan": plan.pk, "external_ref": "TILL-1"},
    )
    assert response.status_code == 200
    assert "already used for another sale" in response.content.decode()
    assert MembershipSubscription.objects.count() == 1


@pytest.mark.parametrize("role", ["marketing", "support"])
def test_marketing_and_support_cannot_sell(request, role):
    response = client_for(request.getfixturevalue(role)).get(reverse("admin:rewards_membershipsubscription_add"))
    assert response.status_code == 403


def test_memberships_are_read_only_in_the_admin(manager):
    plan = MembershipPlan.objects.get(code="annual-plus")
    sub = services.buy_membership(member=factories.member(), plan=plan, external_ref="TILL-1").subscription
    url = reverse("admin:rewards_membershipsubscription_change", args=[sub.pk])
    client_for(manager).post(url, {"status": "expired", "price_paid": "0"})
    sub.refresh_from_db()
    assert (sub.status, sub.price_paid) == ("active", plan.price)


def test_managers_cancel_through_the_action_and_store_staff_cannot(manager, store_staff):
    plan = MembershipPlan.objects.get(code="annual-plus")
    sub = services.buy_membership(member=factories.member(), plan=plan, external_ref="TILL-1").subscription
    url = reverse("admin:rewards_membershipsubscription_changelist")
    data = {"action": "cancel_action", "_selected_action": [sub.pk]}
    client_for(store_staff).post(url, data)
    sub.refresh_from_db()
    assert sub.status == "active"
    assert client_for(manager).post(url, data).status_code == 302
    sub.refresh_from_db()
    assert (sub.status, sub.cancelled_by) == ("cancelled", manager)


def test_managers_edit_plans_but_cannot_delete_them(manager, store_staff):
    plan = MembershipPlan.objects.get(code="annual-plus")
    assert client_for(manager).get(reverse("admin:rewards_membershipplan_delete", args=[plan.pk])).status_code == 403
    response = client_for(store_staff).post(reverse("admin:rewards_membershipplan_add"), {"code": "x"})
    assert response.status_code == 403


def test_a_plan_multiplier_below_one_is_refused(manager):
    response = client_for(manager).post(
        reverse("admin:rewards_membershipplan_add"),
        {"code": "cheap", "name": "Cheap", "price": "10.00", "duration_months": "12", "points_multiplier": "0.5"},
    )
    assert response.status_code == 200
    assert not MembershipPlan.objects.filter(code="cheap").exists()


# --- fixed query counts ---------------------------------------------------------------------


def make_rows(model: str, count: int, offset: int) -> None:
    plan = MembershipPlan.objects.get(code="annual-plus")
    now = timezone.now()
    for index in range(offset, offset + count):
        if model == "promotion":
            promo = Promotion.objects.create(
                name=f"P{index}", kind="bonus", bonus_points=5, starts_at=now, ends_at=now + datetime.timedelta(days=1)
            )
            promo.stores.set([factories.store(code=f"s{index}", name=f"店{index}")])
        elif model == "bonusaward":
            services.award_bonus(member=factories.member(name=f"m{index}"), kind="review")
        elif model == "membershipsubscription":
            services.buy_membership(member=factories.member(name=f"m{index}"), plan=plan, external_ref=f"T{index}")
        elif model == "membershipplan":
            MembershipPlan.objects.create(code=f"p{index}", name=f"Plan {index}", price=index)


@pytest.mark.parametrize("model", ["promotion", "bonusaward", "membershipsubscription", "membershipplan"])
def test_changelists_run_the_same_queries_for_3_and_30_rows(manager, model):
    client = client_for(manager)
    url = reverse(f"admin:rewards_{model}_changelist")
    make_rows(model, 3, 0)
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    make_rows(model, 27, 3)
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    assert len(many) == len(few), "\n".join(q["sql"] for q in many.captured_queries)
