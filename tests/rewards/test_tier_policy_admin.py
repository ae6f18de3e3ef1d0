"""The tier policy in the admin: managers change it, everyone else reads it; one row only."""

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from rewards.models import TIER_POLICY_CACHE_KEY, TierPolicy
from rewards.services.tiers import tier_policy

pytestmark = pytest.mark.django_db

CHANGE = reverse("admin:rewards_tierpolicy_change", args=[1])
VALID = {"basis": "window_spend", "window_months": "6", "grace_days": "14", "downgrade": "on"}


@pytest.fixture(autouse=True)
def forget_cached_policy():
    cache.delete(TIER_POLICY_CACHE_KEY)
    yield
    cache.delete(TIER_POLICY_CACHE_KEY)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_manager_changes_the_policy_and_postings_see_it_at_once(manager):
    assert tier_policy().basis == "lifetime_spend"
    response = client_for(manager).post(CHANGE, VALID)
    assert response.status_code == 302
    policy = TierPolicy.objects.get()
    assert (policy.basis, policy.window_months, policy.grace_days, policy.downgrade) == ("window_spend", 6, 14, True)
    assert (tier_policy().basis, tier_policy().grace_days) == ("window_spend", 14)


def test_a_window_of_0_months_is_refused_with_the_field_named(manager):
    response = client_for(manager).post(CHANGE, {**VALID, "window_months": "0"})
    assert response.status_code == 200
    assert "The window is 1 to 120 months." in response.content.decode()
    assert TierPolicy.objects.get().basis == "lifetime_spend"


def test_the_list_leads_to_the_only_policy(manager):
    response = client_for(manager).get(reverse("admin:rewards_tierpolicy_changelist"))
    assert (response.status_code, response["Location"]) == (302, CHANGE)


def test_no_one_adds_or_deletes_a_policy(manager, superuser):
    for user in (manager, superuser):
        client = client_for(user)
        assert client.get(reverse("admin:rewards_tierpolicy_add")).status_code == 403
        assert client.post(reverse("admin:rewards_tierpolicy_delete", args=[1]), {"post": "yes"}).status_code == 403
    assert TierPolicy.objects.count() == 1


@pytest.mark.parametrize("role", ["store_staff", "marketing", "support"])
def test_other_roles_read_the_policy_but_cannot_change_it(request, role):
    client = client_for(request.getfixturevalue(role))
    page = client.get(CHANGE)
    assert page.status_code == 200
    assert 'name="basis"' not in page.content.decode()  # read-only
    assert client.post(CHANGE, VALID).status_code == 403
    assert TierPolicy.objects.get().basis == "lifetime_spend"


def test_tier_history_list_is_searchable_by_member_number(manager):
    from tests.members import factories
    from tests.rewards.helpers import post

    member = factories.member()
    other = factories.member(name="other")
    post(member, "1000.00")
    post(other, "1000.00")
    response = client_for(manager).get(reverse("admin:rewards_tierhistory_changelist"), {"q": member.member_no})
    assert [row.member_id for row in response.context["cl"].result_list] == [member.pk]
    assert "Lifetime spend: 1,000.00" in response.content.decode()
