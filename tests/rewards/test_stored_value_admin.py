"""Stored value in the back office: the top-up, adjustment and cash-out pages, the rules, the
liability report and the member page's panel."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from members.models import StaffProfile
from rewards.models import StoredValueAccount, StoredValueEntry, TopUp, TopUpRule
from rewards.services import stored_value
from tests.members import factories
from tests.rewards.stored_value_helpers import balances, fund, rule

pytestmark = pytest.mark.django_db
D = Decimal


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def member():
    return factories.member(name="储值会员")


def top_up_url(member) -> str:
    return reverse("admin:rewards_storedvalueaccount_top_up", args=[member.pk])


def test_store_staff_top_up_with_a_rule_at_their_store_and_a_resent_form_writes_once(store_staff, member):
    store = factories.store()
    StaffProfile.objects.create(user=store_staff, store=store)
    offer = rule("500.00", "100.00")
    client = client_for(store_staff)
    page = client.get(top_up_url(member))
    assert page.status_code == 200
    ref = page.context["form"]["external_ref"].value()
    body = {"amount": "500.00", "rule": offer.pk, "payment_method": "wechat_pay", "external_ref": ref}
    response = client.post(top_up_url(member), body)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:members_member_change", args=[member.pk])
    assert client.post(top_up_url(member), body).status_code == 302  # the same form again
    top_up = TopUp.objects.get()
    assert (top_up.rule, top_up.store, top_up.actor, top_up.payment_method) == (offer, store, store_staff, "wechat_pay")
    assert balances(member) == (D("500.00"), D("100.00"))


def test_a_rule_the_amount_does_not_reach_is_shown_on_the_form_and_nothing_is_written(store_staff, member):
    body = {"amount": "100.00", "rule": rule().pk, "payment_method": "cash", "external_ref": "ADMIN-X"}
    response = client_for(store_staff).post(top_up_url(member), body)
    assert response.status_code == 200
    assert "needs at least ¥500.00" in response.content.decode()
    assert not TopUp.objects.exists()


def test_only_holders_of_the_permission_open_the_top_up_page(marketing, support, member):
    for user in (marketing, support):
        assert client_for(user).get(top_up_url(member)).status_code == 403


def test_managers_adjust_with_a_reason_and_store_staff_may_not(manager, store_staff, member):
    fund(member, "100.00")
    account = StoredValueAccount.objects.get(member=member)
    url = reverse("admin:rewards_storedvalueaccount_adjust", args=[account.pk])
    body = {"principal_delta": "-10.00", "bonus_delta": "", "reason": "till miscount", "external_ref": "ADMIN-A"}
    assert client_for(store_staff).post(url, body).status_code == 403
    assert client_for(manager).post(url, body | {"reason": ""}).status_code == 200
    assert client_for(manager).post(url, body).status_code == 302
    entry = StoredValueEntry.objects.get(kind="adjustment")
    assert (entry.principal_delta, entry.reason, entry.actor) == (D("-10.00"), "till miscount", manager)
    below = client_for(manager).post(url, body | {"principal_delta": "-100.00", "external_ref": "ADMIN-B"})
    assert below.status_code == 200 and "below zero" in below.content.decode()


def test_managers_cash_out_after_confirming(manager, store_staff, member):
    fund(member, "300.00", with_rule=rule("300.00", "30.00"))
    account = StoredValueAccount.objects.get(member=member)
    url = reverse("admin:rewards_storedvalueaccount_cash_out", args=[account.pk])
    assert client_for(store_staff).get(url).status_code == 403
    assert client_for(manager).post(url, {"external_ref": "ADMIN-C"}).status_code == 200  # not confirmed
    assert client_for(manager).post(url, {"external_ref": "ADMIN-C", "confirm": "on"}).status_code == 302
    assert balances(member) == (D("0.00"), D("0.00"))


def test_the_account_page_links_to_each_page_its_user_may_open(manager, store_staff, member):
    fund(member, "10.00")
    account = StoredValueAccount.objects.get(member=member)
    change = reverse("admin:rewards_storedvalueaccount_change", args=[account.pk])
    adjust = reverse("admin:rewards_storedvalueaccount_adjust", args=[account.pk])
    as_manager = client_for(manager).get(change).content.decode()
    as_staff = client_for(store_staff).get(change).content.decode()
    assert top_up_url(member) in as_manager and top_up_url(member) in as_staff
    assert adjust in as_manager and adjust not in as_staff


def test_managers_edit_top_up_rules_and_nobody_deletes_them(manager, store_staff):
    offer = rule()
    change = reverse("admin:rewards_topuprule_change", args=[offer.pk])
    body = {"name": "充500送60", "pay_amount": "500.00", "bonus_amount": "60.00", "points": "0", "is_active": "on"}
    assert client_for(manager).post(change, body).status_code == 302
    assert TopUpRule.objects.get().bonus_amount == D("60.00")
    assert client_for(store_staff).post(change, body | {"bonus_amount": "999"}).status_code == 403
    delete = reverse("admin:rewards_topuprule_delete", args=[offer.pk])
    assert client_for(manager).post(delete, {"post": "yes"}).status_code == 403


def test_the_liability_report_is_for_managers_and_linked_from_the_admin_home(manager, store_staff, member):
    fund(member, "500.00", with_rule=rule(), store=factories.store())
    stored_value.pay_from_balance(member=member, amount="110.00", external_ref="P-1")
    url = reverse("admin:rewards_storedvalueliability_changelist")
    page = client_for(manager).get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "¥440.00" in html and "<svg" in html and "上海南京西路店" in html
    assert url in client_for(manager).get(reverse("admin:index")).content.decode()
    assert client_for(store_staff).get(url).status_code == 403
    assert url not in client_for(store_staff).get(reverse("admin:index")).content.decode()


def test_the_member_page_shows_the_stored_value_panel_in_fixed_queries(store_staff, marketing, member):
    member_page = reverse("admin:members_member_change", args=[member.pk])
    client = client_for(store_staff)
    empty = client.get(member_page).content.decode()
    assert 'id="wallet-panel"' in empty and top_up_url(member) in empty
    fund(member, "500.00", with_rule=rule(bonus_expires_after_days=90), external_ref="TU-SHOWN")
    with CaptureQueriesContext(connection) as few:
        client.get(member_page)
    for index in range(4):
        fund(member, "10.00", store=factories.store())
        stored_value.pay_from_balance(member=member, amount="1.00", external_ref=f"P-{index}")
    with CaptureQueriesContext(connection) as many:
        html = client.get(member_page).content.decode()
    assert len(many) == len(few)
    assert '<dd class="m360-wallet-total"><span class="m360-number">¥586.00</span></dd>' in html
    assert "TU-SHOWN" in html
    assert 'id="wallet-panel"' not in client_for(marketing).get(member_page).content.decode()
