"""Issue 20's replay target: a retry of the very body first posted through the API is answered from
its digest (`PurchasePosting.request_digest`) without validating the body again, with exactly the
answers the fingerprint path gives — the same 200 and body, the same 409 for any other body, the
same 400 and 403 — and postings made without the API (no digest) still answered by fingerprint."""

import datetime
import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from members.models import Purchase, Store
from members.services import PurchaseLine
from rewards import services
from rewards.api import views
from rewards.api.serializers import PostingOutputSerializer, posting_bodies
from rewards.models import PurchasePosting
from rewards.services.checkout import STORED_VALUE, Tender
from tests.members import factories

pytestmark = pytest.mark.django_db

PURCHASES = "/api/v1/purchases/"
BATCH = "/api/v1/purchases/batch/"


@pytest.fixture
def member():
    return factories.member()


@pytest.fixture
def store():
    return factories.store()


def body(member, ref="RE-1", **extra):
    data = {
        "member": member.member_no,
        "external_ref": ref,
        "ordered_at": "2026-01-10T10:00:00+08:00",
        "store": "sh-001",
        "items": [
            {"sku": "ROSE-11", "name": "11枝红玫瑰", "category": "roses", "quantity": 2, "unit_price": "99.50"},
            {"sku": "CARD-1", "quantity": 1, "unit_price": "10.00"},
        ],
    }
    return data | extra


def send(client, data, **headers):
    """POST `data` as JSON text exactly as given (a string is sent as it is written)."""
    text = data if isinstance(data, str) else json.dumps(data)
    return client.post(PURCHASES, text, content_type="application/json", **headers)


def statements(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]


def forbid_validation(monkeypatch):
    """From here on, fail the test if a body is validated (the digest path must not need it)."""
    monkeypatch.setattr(views.PURCHASE_INPUT, "validate", lambda data: pytest.fail("the body was validated"))


# --- the digest: kept by the API's posting, only there -----------------------------------------------


def test_an_api_posting_keeps_the_digest_of_its_body(api_staff, member, store):
    data = body(member)
    assert send(api_staff, data).status_code == 201
    posting = PurchasePosting.objects.get(purchase__external_ref="RE-1")
    assert posting.request_digest == services.request_digest(data)
    assert len(posting.request_digest) == 64


def test_the_digest_ignores_key_order_and_spacing_but_not_how_a_value_is_written(member):
    data = body(member)
    reordered = json.loads(json.dumps(dict(reversed(list(data.items()))), indent=4))
    assert services.request_digest(reordered) == services.request_digest(data)
    items = [dict(data["items"][0], unit_price="99.5"), data["items"][1]]
    assert services.request_digest(data | {"items": items}) != services.request_digest(data)


def test_a_posting_made_by_the_services_keeps_no_digest(member, store):
    result = services.post_purchase(
        member=member,
        external_ref="SVC-1",
        ordered_at=datetime.datetime(2026, 1, 10, 2, tzinfo=datetime.UTC),
        items=[PurchaseLine(sku="ROSE-11", quantity=1, unit_price=Decimal("99.50"))],
        store=store,
    )
    assert PurchasePosting.objects.get(purchase=result.purchase).request_digest == ""


# --- a retry of the same body -----------------------------------------------------------------------


def test_a_retry_with_the_keys_reordered_and_other_spacing_answers_the_first_answer(
    api_staff, member, store, monkeypatch
):
    data = body(member)
    first = send(api_staff, data)
    assert first.status_code == 201
    forbid_validation(monkeypatch)
    written_otherwise = json.dumps(dict(reversed(list(data.items()))), indent=3, ensure_ascii=False)
    with CaptureQueriesContext(connection) as queries:
        again = send(api_staff, written_otherwise)
    assert (again.status_code, again.json()) == (200, first.json())
    assert again["Content-Type"] == first["Content-Type"]
    # The token with its user and permissions, then the member and the posting together; nothing else.
    sql = statements(queries)
    assert len(sql) == (2 if connection.vendor == "postgresql" else 3), "\n".join(sql)
    assert not [q for q in queries.captured_queries if q["sql"].startswith("SAVEPOINT")]
    assert Purchase.objects.count() == 1


def test_a_retry_written_differently_but_meaning_the_same_is_answered_by_fingerprint(api_staff, member, store):
    data = body(member)
    first = send(api_staff, data)
    items = [dict(data["items"][0], unit_price="99.5", quantity=2), dict(data["items"][1], unit_price=10)]
    same_instant = "2026-01-10T02:00:00Z"
    again = send(api_staff, data | {"items": list(reversed(items)), "ordered_at": same_instant, "channel": "store"})
    assert (again.status_code, again.json()) == (200, first.json())
    assert Purchase.objects.count() == 1


OTHER_STORE = "bj-001"


@pytest.mark.parametrize(
    "change",
    [
        {"ordered_at": "2026-01-10T10:00:01+08:00"},
        {"total": "150.00"},
        {"channel": "online"},
        {"payment_method": "cash"},
        {"store": OTHER_STORE},
        {"store": None},
        {
            "items": [
                {"sku": "ROSE-11", "name": "11枝红玫瑰", "category": "roses", "quantity": 2, "unit_price": "99.50"}
            ]
        },
        {"item0": {"quantity": 3}},
        {"item0": {"unit_price": "99.00"}},
        {"item0": {"sku": "ROSE-33"}},
        {"item0": {"name": "33枝"}},
        {"item0": {"category": "lilies"}},
        {"item0": {"discount": "1.00"}},
    ],
    ids=lambda change: next(iter(change)) + ("." + next(iter(change["item0"])) if "item0" in change else ""),
)
def test_a_retry_changing_any_field_is_a_conflict_as_before(api_staff, member, store, change):
    Store.objects.create(code=OTHER_STORE, name="北京国贸店")
    data = body(member)
    assert send(api_staff, data).status_code == 201
    changed = json.loads(json.dumps(data))
    if "item0" in change:
        changed["items"][0].update(change["item0"])
    else:
        changed.update(change)
    response = send(api_staff, changed)
    assert (response.status_code, response.json()["code"]) == (409, "idempotency_conflict")
    assert Purchase.objects.count() == 1


def test_a_retry_naming_another_member_is_a_conflict_and_an_unknown_one_a_400(api_staff, member, store):
    assert send(api_staff, body(member)).status_code == 201
    other = factories.member(name="李四")
    conflict = send(api_staff, body(other))
    assert (conflict.status_code, conflict.json()["code"]) == (409, "idempotency_conflict")
    unknown = send(api_staff, body(member) | {"member": "M000"})
    assert unknown.status_code == 400 and "M000" in unknown.json()["member"][0]


def test_a_retry_after_its_store_changed_code_answers_400_as_before(api_staff, member, store):
    assert send(api_staff, body(member)).status_code == 201
    store.code = "sh-002"
    store.save()  # the stores held in each process are dropped (members.apps)
    response = send(api_staff, body(member))
    assert response.status_code == 400 and "sh-001" in response.json()["store"][0]


def test_a_retry_of_an_invalid_body_is_still_a_400(api_staff, member, store):
    assert send(api_staff, body(member)).status_code == 201
    response = send(api_staff, body(member, items=[]))
    assert response.status_code == 400 and "items" in response.json()


def test_a_walk_in_retry_answers_the_first_answer(api_staff, monkeypatch):
    data = body(type("WalkIn", (), {"member_no": None})(), ref="RE-WALK")
    del data["store"]
    first = send(api_staff, data)
    assert first.status_code == 201 and first.json()["member"] is None
    forbid_validation(monkeypatch)
    again = send(api_staff, data)
    assert (again.status_code, again.json()) == (200, first.json())


# --- the answer's language ----------------------------------------------------------------------------


@pytest.mark.parametrize(("first_language", "retry_language"), [("en", "zh-hans"), ("zh-hans", "en")])
def test_a_retry_names_the_tier_in_its_own_language(api_staff, member, store, first_language, retry_language):
    data = body(member)
    data["items"][0]["unit_price"] = "600.00"  # crosses Silver's line
    first = send(api_staff, data, HTTP_ACCEPT_LANGUAGE=first_language)
    again = send(api_staff, data, HTTP_ACCEPT_LANGUAGE=retry_language)
    names = {"en": "Silver", "zh-hans": "银卡会员"}
    assert first.json()["tier"] == {"code": "silver", "name": names[first_language]}
    assert again.json()["tier"] == {"code": "silver", "name": names[retry_language]}
    assert again.status_code == 200
    assert {**again.json(), "tier": None} == {**first.json(), "tier": None}
    assert again["Content-Language"] == retry_language


# --- postings made without the API: no digest, answered by fingerprint ---------------------------------


def test_a_retry_of_a_posting_made_by_the_services_answers_the_first_answer(api_staff, member, store):
    data = body(member)
    result = services.post_purchase(
        member=member,
        external_ref="RE-1",
        ordered_at=datetime.datetime(2026, 1, 10, 2, tzinfo=datetime.UTC),
        items=[
            PurchaseLine(sku="ROSE-11", name="11枝红玫瑰", category="roses", quantity=2, unit_price=Decimal("99.50")),
            PurchaseLine(sku="CARD-1", quantity=1, unit_price=Decimal("10.00")),
        ],
        store=store,
    )
    again = send(api_staff, data, HTTP_ACCEPT_LANGUAGE="en")
    assert again.status_code == 200
    with translation.override("en"):
        assert again.json() == PostingOutputSerializer(result).data
    assert PurchasePosting.objects.get().request_digest == ""  # a retry writes nothing
    conflict = send(api_staff, body(member, total="150.00"))
    assert (conflict.status_code, conflict.json()["code"]) == (409, "idempotency_conflict")


def test_a_retry_of_a_batch_posting_answers_the_first_answer(api_staff, member, store):
    data = body(member, ref="RE-BATCH")
    batch = api_staff.post(BATCH, [data], format="json")
    assert batch.status_code == 200 and batch.json()["results"][0]["status"] == 201
    assert PurchasePosting.objects.get().request_digest == ""
    again = send(api_staff, data)
    assert (again.status_code, again.json()) == (200, batch.json()["results"][0]["purchase"])


# --- stored value: the payment permission is checked on a retry as on the first request ----------------


def test_a_retry_paying_from_stored_value_needs_the_payment_permission_as_before(api_staff, member, store):
    from tests.conftest import token_client
    from tests.rewards.stored_value_helpers import fund, rule
    from tests.test_stored_value_tender import staff_without_stored_value_payment

    fund(member, "500.00", with_rule=rule("500.00", "100.00"))
    data = body(member, tenders=[{"kind": "stored_value", "amount": "120.00"}])
    first = send(api_staff, data)
    assert first.status_code == 201, first.content
    assert send(api_staff, data).json() == first.json()
    refused = send(token_client(staff_without_stored_value_payment()), data)
    assert refused.status_code == 403
    assert Purchase.objects.count() == 1


# --- the answer's rendering --------------------------------------------------------------------------------


def test_a_posting_answer_is_built_as_the_serializer_renders_it(api_staff, member, store):
    from tests.rewards.stored_value_helpers import fund, rule

    fund(member, "500.00", with_rule=rule("500.00", "100.00"))
    new = services.post_purchase(
        member=member,
        external_ref="R-1",
        ordered_at=datetime.datetime(2026, 1, 10, 2, tzinfo=datetime.UTC),
        items=[PurchaseLine(sku="ROSE-11", quantity=1, unit_price=Decimal("600.00"))],
        store=store,
        tenders=[Tender(STORED_VALUE, Decimal("120.00"))],
    )
    walk_in = services.post_purchase(
        member=None,
        external_ref="R-2",
        ordered_at=datetime.datetime(2026, 1, 10, 2, tzinfo=datetime.UTC),
        items=[PurchaseLine(sku="ROSE-11", quantity=1, unit_price=Decimal("10.00"))],
    )
    for result in (new, walk_in):
        generic = PostingOutputSerializer(result).data
        assert posting_bodies([result])[0] == generic
        assert list(posting_bodies([result])[0]) == list(generic)
    assert posting_bodies([new])[0]["stored_value_used"] == "120.00"
    assert posting_bodies([walk_in])[0]["tier"] is None
