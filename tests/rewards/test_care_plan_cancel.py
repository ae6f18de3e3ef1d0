"""Cancelling a sold care plan: refunded before any claim, refused after one (`care_plan_claimed`),
once whatever the retries; managers only, in the admin and the API."""

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from rewards import selectors_care_plans
from rewards.errors import CarePlanCancelled, CarePlanClaimed
from rewards.models import CarePlanSale
from rewards.services import care_plans as care_plan_services
from tests.members import factories
from tests.rewards import care_plan_helpers as h

pytestmark = pytest.mark.django_db


@pytest.fixture
def sale():
    member = factories.member()
    plan = h.plan(products=[factories.product()], claims_allowed=2)
    return h.sold(member, plan, day=timezone.localdate())


def claim(sale, key="CLAIM-1"):
    return care_plan_services.claim_care_plan(sale=sale, description="花枯萎了", idempotency_key=key).claim


def test_a_plan_without_claims_is_cancelled_and_its_price_recorded_as_refunded(sale, manager):
    result = care_plan_services.cancel_care_plan_sale(sale=sale, reason="顾客不需要了", actor=manager)
    assert result.cancelled
    sale.refresh_from_db()
    assert sale.status == CarePlanSale.Status.CANCELLED
    assert sale.refunded_amount == Decimal("19.90") == sale.price_paid
    assert sale.cancel_reason == "顾客不需要了"
    assert sale.cancelled_by == manager and sale.cancelled_at is not None
    assert sale.claims_left == 0


def test_cancelling_again_changes_nothing(sale):
    first = care_plan_services.cancel_care_plan_sale(sale=sale, reason="顾客不需要了").sale
    again = care_plan_services.cancel_care_plan_sale(sale=sale, reason="another reason")
    assert not again.cancelled
    assert again.sale.cancelled_at == first.cancelled_at
    assert again.sale.cancel_reason == "顾客不需要了"
    assert again.sale.refunded_amount == Decimal("19.90")


def test_a_plan_with_a_claim_is_refused_and_stays_as_it_was(sale):
    claim(sale)
    with pytest.raises(CarePlanClaimed) as refused:
        care_plan_services.cancel_care_plan_sale(sale=sale, reason="顾客不需要了")
    assert refused.value.code == "care_plan_claimed"
    sale.refresh_from_db()
    assert sale.status == CarePlanSale.Status.ACTIVE and sale.refunded_amount == 0


def test_a_claim_rejected_since_does_not_count(sale):
    rejected = claim(sale)
    care_plan_services.reject_care_plan_claim(claim=rejected, reason="不在保障范围")
    assert care_plan_services.cancel_care_plan_sale(sale=sale, reason="顾客不需要了").cancelled


def test_a_reason_is_required(sale):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        care_plan_services.cancel_care_plan_sale(sale=sale, reason="  ")
    assert "reason" in refused.value.message_dict
    sale.refresh_from_db()
    assert sale.status == CarePlanSale.Status.ACTIVE


def test_a_cancelled_plan_takes_no_claim_and_is_neither_running_nor_reminded(sale):
    care_plan_services.cancel_care_plan_sale(sale=sale, reason="顾客不需要了")
    with pytest.raises(CarePlanCancelled):
        claim(sale)
    [row] = selectors_care_plans.member_care_plans(sale.member)
    assert not row.active and row.claims_left == 0
    assert selectors_care_plans.care_plan_end_dates(sale.ends_on, sale.ends_on) == []
    assert not selectors_care_plans.members_with_care_plans_ending(sale.ends_on).exists()
    assert selectors_care_plans.care_plans_ending(sale.member, sale.ends_on) == []


def test_the_report_counts_revenue_net_of_refunds():
    member = factories.member()
    plan = h.plan(products=[factories.product()])
    kept = h.sold(member, plan, day=timezone.localdate())
    refunded = h.sold(member, plan, day=timezone.localdate())
    care_plan_services.cancel_care_plan_sale(sale=refunded, reason="顾客不需要了")
    [row] = selectors_care_plans.care_plan_report()
    assert row.sold == 2
    assert row.revenue == kept.price_paid == Decimal("19.90")  # 2 × 19.90 − 19.90


# --- selling again after a cancellation ---


def sell_again(sale, key="SALE-AGAIN", **kwargs):
    return care_plan_services.sell_care_plan(
        member=sale.member, plan=sale.plan, purchase_item=sale.purchase_item, idempotency_key=key, **kwargs
    )


def test_a_cancelled_plan_can_be_sold_again_for_the_same_line(sale):
    care_plan_services.cancel_care_plan_sale(sale=sale, reason="收银员选错了计划")
    again = sell_again(sale)
    assert again.created and again.sale.pk != sale.pk
    assert again.sale.status == CarePlanSale.Status.ACTIVE and again.sale.claims_left == 2
    assert again.sale.purchase_item_id == sale.purchase_item_id and again.sale.plan_id == sale.plan_id
    sale.refresh_from_db()
    assert sale.status == CarePlanSale.Status.CANCELLED  # the cancelled sale stays as it was
    assert claim(again.sale).sale_id == again.sale.pk
    [running] = [row for row in selectors_care_plans.member_care_plans(sale.member) if row.active]
    assert running.sale.pk == again.sale.pk


def test_the_plan_sold_again_is_still_once_per_line(sale):
    from rewards.errors import AlreadyCovered

    care_plan_services.cancel_care_plan_sale(sale=sale, reason="收银员选错了计划")
    sell_again(sale)
    with pytest.raises(AlreadyCovered):
        sell_again(sale, key="SALE-THIRD")
    assert CarePlanSale.objects.filter(purchase_item=sale.purchase_item).count() == 2


def test_the_cancelled_sale_s_key_still_answers_the_cancelled_sale(sale):
    care_plan_services.cancel_care_plan_sale(sale=sale, reason="收银员选错了计划")
    retry = sell_again(sale, key=sale.idempotency_key)
    assert not retry.created and retry.sale.pk == sale.pk and retry.sale.is_cancelled


def test_the_database_allows_one_running_sale_per_plan_and_line(sale):
    from django.db import IntegrityError, transaction

    fields = {
        "plan": sale.plan,
        "member": sale.member,
        "purchase_item": sale.purchase_item,
        "starts_on": sale.starts_on,
        "ends_on": sale.ends_on,
        "price_paid": sale.price_paid,
        "claims_allowed": sale.claims_allowed,
    }
    with pytest.raises(IntegrityError), transaction.atomic():
        CarePlanSale.objects.create(idempotency_key="RAW-1", **fields)
    care_plan_services.cancel_care_plan_sale(sale=sale, reason="收银员选错了计划")
    CarePlanSale.objects.create(idempotency_key="RAW-2", **fields)  # beside a cancelled one: allowed
    with pytest.raises(IntegrityError), transaction.atomic():
        CarePlanSale.objects.create(idempotency_key="RAW-3", **fields)


def test_the_api_sells_a_cancelled_plan_again_with_201(sale, api_manager):
    care_plan_services.cancel_care_plan_sale(sale=sale, reason="收银员选错了计划")
    body = {
        "member": sale.member.member_no,
        "plan": sale.plan.pk,
        "purchase_item": sale.purchase_item.pk,
        "idempotency_key": "SALE-API-AGAIN",
    }
    answer = api_manager.post("/api/v1/care-plans/sales/", body, format="json")
    assert answer.status_code == 201, answer.json()
    assert answer.json()["status"] == "active" and answer.json()["id"] != sale.pk
    refused = api_manager.post("/api/v1/care-plans/sales/", {**body, "idempotency_key": "SALE-API-3"}, format="json")
    assert refused.status_code == 409 and refused.json()["code"] == "already_covered"


# --- admin ---


def client_for(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def test_a_manager_cancels_from_the_list_action_and_the_page(sale, manager):
    client = client_for(manager)
    changelist = reverse("admin:rewards_careplansale_changelist")
    chosen = client.post(changelist, {"action": "cancel_and_refund", "_selected_action": [sale.pk]})
    page = reverse("admin:rewards_careplansale_cancel", args=[sale.pk])
    assert chosen.status_code == 302 and chosen["Location"] == page
    assert client.get(page).status_code == 200
    answer = client.post(page, {"reason": "顾客不需要了"})
    assert answer.status_code == 302
    sale.refresh_from_db()
    assert sale.status == CarePlanSale.Status.CANCELLED


def test_the_admin_shows_the_refusal_after_a_claim(sale, manager):
    claim(sale)
    answer = client_for(manager).post(
        reverse("admin:rewards_careplansale_cancel", args=[sale.pk]), {"reason": "顾客不需要了"}
    )
    assert answer.status_code == 200
    assert "has a claim" in answer.content.decode()
    sale.refresh_from_db()
    assert sale.status == CarePlanSale.Status.ACTIVE


def test_store_staff_may_not_cancel(sale, store_staff):
    client = client_for(store_staff)
    page = reverse("admin:rewards_careplansale_cancel", args=[sale.pk])
    assert client.post(page, {"reason": "顾客不需要了"}).status_code == 403
    listing = client.get(reverse("admin:rewards_careplansale_changelist"))
    assert "cancel_and_refund" not in listing.content.decode()
    sale.refresh_from_db()
    assert sale.status == CarePlanSale.Status.ACTIVE


# --- API ---


def cancel_url(sale):
    return f"/api/v1/care-plans/sales/{sale.pk}/cancel/"


def test_the_api_cancels_then_answers_the_same_again(sale, api_manager):
    answer = api_manager.post(cancel_url(sale), {"reason": "顾客不需要了"}, format="json")
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert body["status"] == "cancelled"
    assert body["refunded_amount"] == "19.90"
    assert body["cancel_reason"] == "顾客不需要了"
    assert body["claims_left"] == 0
    again = api_manager.post(cancel_url(sale), {"reason": "顾客不需要了"}, format="json")
    assert again.status_code == 200 and again.json() == body


def test_the_api_refuses_after_a_claim_with_the_code(sale, api_manager):
    claim(sale)
    answer = api_manager.post(cancel_url(sale), {"reason": "顾客不需要了"}, format="json")
    assert answer.status_code == 409
    assert answer.json()["code"] == "care_plan_claimed"


def test_the_api_needs_a_reason_and_the_permission(sale, api_manager, api_staff):
    assert api_manager.post(cancel_url(sale), {}, format="json").status_code == 400
    assert api_staff.post(cancel_url(sale), {"reason": "x"}, format="json").status_code == 403
    assert (
        api_manager.post("/api/v1/care-plans/sales/999999/cancel/", {"reason": "x"}, format="json").status_code == 404
    )


# --- member centre ---


def test_the_member_centre_shows_a_cancelled_plan_as_ended_and_cancelled(sale):
    from tests.members.centre_pages_helpers import member_api, member_client

    care_plan_services.cancel_care_plan_sale(sale=sale, reason="顾客不需要了")
    [row] = member_api(sale.member).get("/api/v1/me/care-plans/").json()
    assert (row["status"], row["active"], row["claims_left"], row["days_left"]) == ("cancelled", False, 0, 0)
    html = member_client(sale.member, HTTP_ACCEPT_LANGUAGE="en").get("/m/care-plans/").content.decode()
    assert 'class="mcp-cancelled"' in html and 'id="care-plans-ended"' in html


def test_the_receipt_shows_a_cancelled_plan_as_refunded_and_the_one_sold_again_as_covering(sale, manager):
    care_plan_services.cancel_care_plan_sale(sale=sale, reason="收银员选错了计划")
    again = sell_again(sale).sale
    client = Client()
    client.force_login(manager)
    purchase = sale.purchase_item.purchase
    response = client.get(reverse("admin:till_receipt", args=[purchase.pk]), HTTP_ACCEPT_LANGUAGE="en")
    text = response.content.decode()
    assert response.status_code == 200
    assert text.count("receipt-care-plan-cancelled") == 1
    assert f"¥{sale.price_paid:.2f} refunded" in text
    assert f"covers until {again.ends_on:%Y-%m-%d}" in text
    assert text.count("covers until") == 1  # the cancelled plan no longer reads as cover
