import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.members import factories
from tests.rewards.helpers import post

pytestmark = pytest.mark.django_db

READ_ONLY = ["pointsaccount", "ledgerentry", "pointslot", "tierhistory"]


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("model", [*READ_ONLY, "tier", "earnrule"])
def test_manager_sees_every_rewards_changelist(manager, model):
    assert client_for(manager).get(reverse(f"admin:rewards_{model}_changelist")).status_code == 200


@pytest.mark.parametrize("model", READ_ONLY)
def test_money_like_rows_cannot_be_added_even_by_managers(manager, model):
    assert client_for(manager).get(reverse(f"admin:rewards_{model}_add")).status_code == 403


def test_ledger_changelist_runs_the_same_queries_for_few_and_many_rows(manager):
    client = client_for(manager)
    member = factories.member()
    post(member, "10.00")
    url = reverse("admin:rewards_ledgerentry_changelist")
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for index in range(5):
        post(factories.member(name=f"m{index}"), "20.00")
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert len(many) == len(few)


def test_store_staff_cannot_change_earning_rules(store_staff):
    response = client_for(store_staff).get(reverse("admin:rewards_earnrule_add"))
    assert response.status_code == 403


def test_tier_page_lists_the_seeded_tiers(manager):
    response = client_for(manager).get(reverse("admin:rewards_tier_changelist"))
    assert [t.code for t in response.context["cl"].result_list] == ["regular", "silver", "gold", "diamond"]


def test_tier_thresholds_must_rise_with_rank(manager):
    from rewards.models import Tier

    gold = Tier.objects.get(code="gold")
    url = reverse("admin:rewards_tier_change", args=[gold.pk])
    data = {
        "code": "gold",
        "name": "Gold",
        "rank": 2,
        "threshold": "900.00",
        "discount_percent": "20.00",
        "benefits": "20% off",
    }
    response = client_for(manager).post(url, data)
    assert response.status_code == 200
    assert "Thresholds must rise with rank" in response.content.decode()
    gold.refresh_from_db()
    assert gold.threshold == 5000


def test_record_purchase_page_earns_points_through_the_loyalty_hook(client, db):
    from django.urls import reverse

    from loyalty_crm.roles import STORE_STAFF
    from rewards.models import LedgerEntry
    from tests.conftest import make_user
    from tests.members import factories as member_factories
    from tests.members.test_admin import purchase_post

    # force_login: the sign-in lockout's backend needs the request that `client.login` does not pass.
    client.force_login(make_user("counter", STORE_STAFF))
    member = member_factories.member()
    response = client.post(reverse("admin:members_purchase_add"), purchase_post(member))
    assert response.status_code == 302, response.content[:2000]
    # 2 × 199 + 10 − 2 = 406 yuan paid → 406 points at the default 1 point per yuan
    assert list(LedgerEntry.objects.filter(member=member).values_list("kind", "points")) == [("earn", 406)]
