"""Issue 20's fast paths of POST /purchases/, pinned: a retry answered from one lookup before any
transaction, the input checked by a serializer built once with the same 400s, the stores and tiers
held in each process and reloaded everywhere after a change."""

import datetime
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from loyalty_crm import local_cache
from members.models import Purchase, Store
from rewards.models import PurchasePosting, Tier
from tests.members import factories

pytestmark = pytest.mark.django_db

PURCHASES = "/api/v1/purchases/"


@pytest.fixture
def member():
    return factories.member()


def body(member, ref="FAST-1", **extra):
    data = {
        "member": member.member_no,
        "external_ref": ref,
        "ordered_at": "2026-01-10T10:00:00+08:00",
        "items": [{"sku": "ROSE-11", "name": "11枝红玫瑰", "category": "roses", "quantity": 2, "unit_price": "99.50"}],
    }
    return data | extra


def statements(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]


# --- a retry: one lookup, no transaction ----------------------------------------------------------


def test_a_retry_is_answered_from_one_lookup_without_a_transaction(api_staff, member):
    factories.store()
    first = api_staff.post(PURCHASES, body(member, store="sh-001"), format="json")
    assert first.status_code == 201
    with CaptureQueriesContext(connection) as queries:
        again = api_staff.post(PURCHASES, body(member, store="sh-001"), format="json")
    assert (again.status_code, again.json()) == (200, first.json())
    sql = statements(queries)
    # The token with its user and permissions (one query on PostgreSQL), then the member and the
    # posting of the reference together; no lock, no savepoint (the test's stand-in for BEGIN).
    assert len(sql) <= (2 if connection.vendor == "postgresql" else 3), "\n".join(sql)
    assert not [q for q in queries.captured_queries if q["sql"].startswith("SAVEPOINT")]
    assert not [s for s in sql if "FOR UPDATE" in s or "FOR NO KEY UPDATE" in s]


def test_a_retry_with_another_body_is_still_a_conflict(api_staff, member):
    api_staff.post(PURCHASES, body(member), format="json")
    response = api_staff.post(PURCHASES, body(member, total="150.00"), format="json")
    assert (response.status_code, response.json()["code"]) == (409, "idempotency_conflict")


def test_a_retry_naming_another_existing_member_is_a_conflict(api_staff, member):
    api_staff.post(PURCHASES, body(member), format="json")
    other = factories.member(name="李四")
    response = api_staff.post(PURCHASES, body(other), format="json")
    assert (response.status_code, response.json()["code"]) == (409, "idempotency_conflict")
    assert Purchase.objects.count() == 1


def test_a_retry_naming_an_unknown_member_answers_400_as_before(api_staff, member):
    api_staff.post(PURCHASES, body(member), format="json")
    response = api_staff.post(PURCHASES, body(member) | {"member": "M000"}, format="json")
    assert response.status_code == 400
    assert "M000" in response.json()["member"][0]


def test_a_retry_answers_with_the_tier_held_after_the_first_posting(api_staff, member):
    data = body(member)
    data["items"][0]["unit_price"] = "600.00"
    first = api_staff.post(PURCHASES, data, format="json").json()
    assert first["tier_changed"] and first["tier"]["code"] == "silver"
    assert api_staff.post(PURCHASES, data, format="json").json() == first


# --- the input: the same 400s as the serializer gave -----------------------------------------------


def test_an_unknown_member_is_named_together_with_the_other_errors_in_field_order(api_staff):
    response = api_staff.post(
        PURCHASES, {"member": "M000", "external_ref": "", "ordered_at": "x", "items": []}, format="json"
    )
    assert response.status_code == 400
    errors = response.json()
    assert list(errors) == ["member", "external_ref", "ordered_at", "items"]
    assert "M000" in errors["member"][0]


def test_an_unknown_store_answers_400_naming_it(api_staff, member):
    response = api_staff.post(PURCHASES, body(member, store="nowhere"), format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["store"]
    assert "nowhere" in response.json()["store"][0]


def test_a_body_that_is_json_null_or_a_list_answers_400_as_drf_words_it(api_staff):
    null = api_staff.post(PURCHASES, "null", content_type="application/json")
    assert (null.status_code, null.json()) == (400, {"non_field_errors": ["No data provided"]})
    listed = api_staff.post(PURCHASES, [], format="json")
    assert listed.status_code == 400
    assert listed.json()["non_field_errors"] == ["Invalid data. Expected a dictionary, but got list."]


def test_a_walk_in_with_an_empty_member_is_posted_without_points(api_staff):
    factories.product()
    response = api_staff.post(PURCHASES, body(type("M", (), {"member_no": ""}), ref="WALK-1"), format="json")
    assert response.status_code == 201
    assert response.json()["member"] is None and response.json()["points_earned"] == 0


# --- what each process holds: stores, tiers, partner offers -----------------------------------------


def test_a_store_created_after_a_posting_is_known_to_the_next_one(api_staff, member):
    factories.store()
    assert api_staff.post(PURCHASES, body(member, ref="S-1", store="sh-001"), format="json").status_code == 201
    assert api_staff.post(PURCHASES, body(member, ref="S-2", store="bj-001"), format="json").status_code == 400
    Store.objects.create(code="bj-001", name="北京国贸店")
    response = api_staff.post(PURCHASES, body(member, ref="S-2", store="bj-001"), format="json")
    assert response.status_code == 201
    assert Purchase.objects.get(external_ref="S-2").store.code == "bj-001"


def test_a_deleted_store_is_unknown_to_the_next_posting(api_staff, member):
    store = factories.store(code="tmp-1")
    assert api_staff.post(PURCHASES, body(member, ref="D-1", store="tmp-1"), format="json").status_code == 201
    Purchase.objects.filter(store=store).update(store=None)
    store.delete()
    response = api_staff.post(PURCHASES, body(member, ref="D-2", store="tmp-1"), format="json")
    assert response.status_code == 400 and "tmp-1" in response.json()["store"][0]


def test_a_change_made_by_another_process_is_seen_by_the_next_request(api_staff, member):
    factories.store()
    assert api_staff.post(PURCHASES, body(member, ref="P-1", store="sh-001"), format="json").status_code == 201
    # Another process renames the store's code: its receiver writes a new version to the shared
    # cache; this process still holds the old rows, which the version tells it to drop.
    Store.objects.filter(code="sh-001").update(code="sh-009")
    cache.set(local_cache.version_key("stores"), "changed elsewhere", None)
    assert api_staff.post(PURCHASES, body(member, ref="P-2", store="sh-001"), format="json").status_code == 400
    assert api_staff.post(PURCHASES, body(member, ref="P-2", store="sh-009"), format="json").status_code == 201


def test_a_saved_tier_is_seen_by_the_next_posting_through_the_api(api_staff, member):
    data = body(member, ref="T-1")
    data["items"][0]["unit_price"] = "50.00"
    assert api_staff.post(PURCHASES, data, format="json").json()["tier"]["code"] == "regular"
    silver = Tier.objects.get(code="silver")
    silver.threshold = Decimal("100.00")
    silver.save()
    data["external_ref"] = "T-2"
    answer = api_staff.post(PURCHASES, data, format="json").json()
    assert (answer["tier"]["code"], answer["tier_changed"]) == ("silver", True)


def test_partner_offers_saved_or_switched_off_are_seen_by_the_next_probe():
    from campaigns.selectors.partners import may_have_offers
    from tests.campaigns.referral_helpers import coupon_offer

    at = datetime.datetime(2026, 1, 10, 10, tzinfo=datetime.UTC)
    assert may_have_offers(total=Decimal("500.00"), at=at) is False  # none yet: held as such
    offer = coupon_offer("200.00")
    assert may_have_offers(total=Decimal("500.00"), at=at) is True
    offer.is_active = False
    offer.save()
    assert may_have_offers(total=Decimal("500.00"), at=at) is False
    offer.is_active = True
    offer.save()
    offer.partner.is_active = False
    offer.partner.save()
    assert may_have_offers(total=Decimal("500.00"), at=at) is False


def test_the_posting_of_a_new_reference_writes_one_posting(api_staff, member):
    assert api_staff.post(PURCHASES, body(member, ref="N-1"), format="json").status_code == 201
    assert PurchasePosting.objects.filter(purchase__external_ref="N-1").count() == 1
