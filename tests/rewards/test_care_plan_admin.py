"""Care plans in the admin: selling, opening a claim (and its refusal), working it, the member
page's panel and the report (fixed queries)."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from members.models import ServiceRecord
from rewards.models import CarePlanClaim, CarePlanSale
from tests.members import factories
from tests.rewards import care_plan_helpers as h

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_store_staff_sell_a_plan_for_a_line_of_today(store_staff):
    member = factories.member()
    plan = h.plan(products=[factories.product()])
    item = h.bought(member, day=timezone.localdate())
    client = client_for(store_staff)
    url = reverse("admin:rewards_careplansale_add")
    page = client.get(url)
    key = page.context["form"].initial["key"]
    answer = client.post(url, {"member": member.member_no, "plan": plan.pk, "purchase_item": item.pk, "key": key})
    assert answer.status_code == 302
    assert CarePlanSale.objects.get().purchase_item == item


def test_a_claim_after_the_period_shows_the_reason_and_records_nothing(support):
    sale = h.sold()  # 1 May 2026, 7 days
    client = client_for(support)
    url = reverse("admin:rewards_careplansale_claim", args=[sale.pk])
    answer = client.post(url, {"description": "花枯萎了", "key": "CPC-1"})
    assert answer.status_code == 200
    assert "ended on" in answer.content.decode()
    assert not CarePlanClaim.objects.exists()


def test_support_opens_a_claim_and_settles_it_with_the_product(support):
    sale = h.sold(day=timezone.localdate())
    client = client_for(support)
    answer = client.post(
        reverse("admin:rewards_careplansale_claim", args=[sale.pk]), {"description": "花枯萎了", "key": "CPC-1"}
    )
    claim = CarePlanClaim.objects.get()
    assert answer.status_code == 302
    page = reverse("admin:rewards_careplanclaim_change", args=[claim.pk])
    assert client.get(page).status_code == 200
    assert client.post(page, {"action": "settle_product", "note": "已换新花束"}).status_code == 302
    claim.refresh_from_db()
    assert claim.status == CarePlanClaim.Status.SETTLED and claim.replacement_purchase_id
    assert ServiceRecord.objects.get(pk=claim.service_record_id).status == ServiceRecord.Status.DONE


def test_rejecting_needs_a_reason(support):
    sale = h.sold(day=timezone.localdate())
    from rewards import services

    claim = services.claim_care_plan(sale=sale, description="摔坏了", idempotency_key="C1").claim
    page = reverse("admin:rewards_careplanclaim_change", args=[claim.pk])
    answer = client_for(support).post(page, {"action": "reject", "note": ""})
    assert answer.status_code == 200
    claim.refresh_from_db()
    assert claim.status == CarePlanClaim.Status.OPEN


def test_the_member_page_shows_the_plans_with_claims_left(manager):
    sale = h.sold(day=timezone.localdate())
    html = client_for(manager).get(reverse("admin:members_member_change", args=[sale.member_id])).content.decode()
    assert 'id="care-plans-panel"' in html
    assert "鲜花养护计划" in html and "1 / 1" in html


def test_the_report_runs_the_same_queries_for_one_and_many_plans(manager):
    client = client_for(manager)
    url = reverse("admin:rewards_careplan_report")
    plan = h.plan(products=[factories.product()])
    h.sold(care_plan=plan)
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    vase = factories.product("VASE-1", "花瓶", "88.00")
    other = h.plan(code="vase-care", name="花瓶延保", products=[vase])
    for _ in range(3):
        h.sold(care_plan=plan)
        h.sold(care_plan=other, product=vase)
    with CaptureQueriesContext(connection) as many:
        html = client.get(url).content.decode()
    assert len(few) == len(many)
    assert "花瓶延保" in html


def test_only_managers_see_the_report(support):
    assert client_for(support).get(reverse("admin:rewards_careplan_report")).status_code == 403


@pytest.mark.parametrize("changelist", ["rewards_careplansale_changelist", "rewards_careplanclaim_changelist"])
def test_the_lists_of_plans_sold_and_claims_run_the_same_queries_for_few_and_many_rows(manager, changelist):
    from rewards import services

    client = client_for(manager)
    url = reverse(f"admin:{changelist}")
    plan = h.plan(products=[factories.product()], claims_allowed=5)
    sale = h.sold(care_plan=plan, day=timezone.localdate())
    services.claim_care_plan(sale=sale, description="枯萎", idempotency_key="C0")
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for index in range(4):
        services.claim_care_plan(
            sale=h.sold(care_plan=plan, day=timezone.localdate()), description="枯萎", idempotency_key=f"C{index + 1}"
        )
    with CaptureQueriesContext(connection) as many:
        html = client.get(url).content.decode()
    assert len(few) == len(many)
    assert html.count("鲜花养护计划") >= 5
