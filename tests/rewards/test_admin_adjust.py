"""The manager-only "Adjust points" page and action of the points account admin."""

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from rewards.models import LedgerEntry
from tests.members import factories
from tests.rewards.helpers import account_of, assert_ledger_invariants, post

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def account():
    member = factories.member()
    post(member, "100.00")
    return account_of(member)


def adjust_url(account) -> str:
    return reverse("admin:rewards_pointsaccount_adjust", args=[account.pk])


def test_store_staff_gets_403_on_the_adjust_page_by_direct_url(store_staff, account):
    client = client_for(store_staff)
    assert client.get(adjust_url(account)).status_code == 403
    assert client.post(adjust_url(account), {"points": 50, "reason": "x"}).status_code == 403
    assert LedgerEntry.objects.filter(kind="adjustment").count() == 0


def test_manager_sees_the_adjust_form(manager, account):
    response = client_for(manager).get(adjust_url(account))
    assert response.status_code == 200
    assert 'name="reason"' in response.content.decode()


def test_account_page_links_to_the_adjust_page_for_managers_only(manager, store_staff, account):
    change = reverse("admin:rewards_pointsaccount_change", args=[account.pk])
    assert adjust_url(account) in client_for(manager).get(change).content.decode()
    assert adjust_url(account) not in client_for(store_staff).get(change).content.decode()


def test_manager_adjustment_writes_a_ledger_row_with_reason_and_actor(manager, account):
    response = client_for(manager).post(adjust_url(account), {"points": "-30", "reason": "damaged bouquet"})
    assert response.status_code == 302
    entry = LedgerEntry.objects.filter(member=account.member).first()
    assert (entry.kind, entry.points, entry.reason, entry.actor) == ("adjustment", -30, "damaged bouquet", manager)
    assert account_of(account.member).balance == 70
    assert_ledger_invariants(account.member)


def test_success_message_gives_the_new_balance(manager, account):
    response = client_for(manager).post(adjust_url(account), {"points": "15", "reason": "goodwill"}, follow=True)
    [message] = list(get_messages(response.wsgi_request))
    assert "+15 points" in str(message) and "115" in str(message)


def test_zero_points_are_refused(manager, account):
    response = client_for(manager).post(adjust_url(account), {"points": "0", "reason": "nothing"})
    assert response.status_code == 200
    assert response.context["form"].errors["points"]
    assert not LedgerEntry.objects.filter(kind="adjustment").exists()


def test_a_reason_is_required(manager, account):
    response = client_for(manager).post(adjust_url(account), {"points": "10", "reason": "  "})
    assert response.status_code == 200
    assert response.context["form"].errors["reason"]
    assert not LedgerEntry.objects.filter(kind="adjustment").exists()


def test_removing_more_than_the_balance_shows_insufficient_points(manager, account):
    response = client_for(manager).post(adjust_url(account), {"points": "-500", "reason": "too much"})
    assert response.status_code == 200
    assert "The member has 100 points; 500 are needed." in response.content.decode()
    assert account_of(account.member).balance == 100
    assert not LedgerEntry.objects.filter(kind="adjustment").exists()


def test_adjust_page_of_an_unknown_account_is_404(manager):
    assert client_for(manager).get(reverse("admin:rewards_pointsaccount_adjust", args=[999999])).status_code == 404


def test_action_opens_the_adjust_page_for_one_selected_account(manager, account):
    response = client_for(manager).post(
        reverse("admin:rewards_pointsaccount_changelist"),
        {"action": "adjust_points_action", "_selected_action": [account.pk]},
    )
    assert response.status_code == 302
    assert response["Location"] == adjust_url(account)


def test_action_refuses_several_accounts(manager, account):
    other = factories.member(name="李四")
    post(other, "10.00")
    response = client_for(manager).post(
        reverse("admin:rewards_pointsaccount_changelist"),
        {"action": "adjust_points_action", "_selected_action": [account.pk, account_of(other).pk]},
        follow=True,
    )
    assert "Select exactly one account to adjust." in response.content.decode()


def test_action_is_not_offered_to_store_staff(store_staff, account):
    response = client_for(store_staff).get(reverse("admin:rewards_pointsaccount_changelist"))
    assert response.status_code == 200
    assert "adjust_points_action" not in response.content.decode()
