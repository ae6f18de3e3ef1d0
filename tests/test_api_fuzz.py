"""The API against its own OpenAPI schema, fuzzed (issue 11, "Every request gets a 4xx").

Schemathesis reads `/api/schema/` and generates requests for every operation, valid and invalid
(wrong types, missing fields, odd strings, unknown ids), sends them to the Django WSGI app in this
process, and checks each answer: never a 5xx, a status code the schema declares, the declared
content type, and a body that matches the declared shape. Once with a manager's token (who may do
almost everything) and once with a store-staff token (who is refused much of it).

Seeded: a few members, a purchase, rewards, a redemption, a coupon, a ticket, a segment and a draft
campaign; generated path parameters and body references are often pointed at them, so detail
paths and the services behind validation are reached, not only refused.

Bounded and reproducible: a few examples per operation (`FUZZ_EXAMPLES`, default 20; Schemathesis
adds its boundary and invalid-input cases), `derandomize=True`, no example database. Nothing leaves
the process: the test's transaction is never committed, so the `on_commit` hooks that enqueue
Celery tasks and send messages never run, and email goes to the in-memory backend (conftest).
Run it alone with `pytest -m fuzz`; on PostgreSQL too, where some inputs (NUL bytes) fail that
SQLite accepts.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import checks

from campaigns.models import Segment
from feedback.models import Ticket
from loyalty_crm.roles import MANAGER, STORE_STAFF
from loyalty_crm.wsgi import application
from rewards.models import Coupon, MembershipPlan
from tests.conftest import make_user, token_client
from tests.feedback import factories as ticket_factories
from tests.members import factories
from tests.rewards import catalogue_factories

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db]

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


# The seeded rows' keys, filled by `seeded` before any request is generated.
KNOWN: dict[str, object] = {}
# Which seeded key an `{id}` path parameter names, by the path's collection.
ID_OF_COLLECTION = {
    "purchases": "purchase",
    "rewards": "reward",
    "redemptions": "redemption",
    "campaigns": "campaign",
    "segments": "segment",
}
# Body (and query) fields that name a row, and the seeded key to offer for them.
KNOWN_FIELDS = {
    "member": "member_no",
    "member_no": "member_no",
    "store": "store",
    "reward": "reward",
    "template": "template",
    "coupon_template": "template",
    "segment": "segment",
    "plan": "plan",
    "coupon_code": "coupon",
    "sku": "sku",
}


def seed() -> dict:
    """A little of everything, so detail paths and lookups find rows as well as miss them."""
    from rewards.services import coupons, redemptions
    from tests.campaigns.helpers import campaign

    store = factories.store("sh-001")
    factories.store("bj-001", "北京三里屯店", "北京")
    alice = catalogue_factories.funded_member(points=5000, name="Alice", home_store=store, tags=["VIP"])
    factories.member(name="Bob", referral_code=alice.referral_code)
    purchase = factories.purchase(alice, total="300.00", ref="ORD-FUZZ-1", store=store)
    reward = catalogue_factories.reward(points_cost=100, stock=50)
    template = catalogue_factories.template()
    catalogue_factories.reward(name="¥20 券", kind="coupon", points_cost=50, coupon_template=template)
    redemption = redemptions.redeem_reward(member=alice, reward=reward, idempotency_key="fuzz-seed").redemption
    coupon = coupons.issue_coupon(template=template, member=alice, source=Coupon.Source.MANUAL)
    ticket = ticket_factories.ticket(kind=Ticket.Kind.COMPLAINT, member_no=alice.member_no)
    segment = Segment.objects.create(name="VIP", rules={"tags": ["VIP"]})
    draft = campaign(segment=segment)
    return {
        "member_no": alice.member_no,
        "store": store.code,
        "purchase": purchase.pk,
        "reward": reward.pk,
        "template": template.pk,
        "redemption": redemption.pk,
        "coupon": coupon.code,
        "code": coupon.code,
        "ticket_no": ticket.ticket_no,
        "segment": segment.pk,
        "campaign": draft.pk,
        "plan": MembershipPlan.objects.filter(is_active=True).values_list("code", flat=True).first(),
        "sku": factories.product().sku,
    }


# The schema as integrators get it (it is public, and reading it touches no database).
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


def _known_path_parameters(operation, parameters: dict) -> dict:
    known = dict(parameters)
    for name in parameters:
        if name == "id":
            key = ID_OF_COLLECTION.get(operation.path.split("/")[3])
        else:
            key = name
        if KNOWN.get(key) is not None:
            known[name] = KNOWN[key]
    return known


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    """The seeded row's parameters or the generated ones (Hypothesis tries the first first): the
    coverage phase already sends the unknown and malformed ones, so detail paths get found too."""
    if not path_parameters:
        return st.just(path_parameters)
    return st.sampled_from([_known_path_parameters(context.operation, path_parameters), path_parameters])


@schema.hook
def flatmap_body(context, body):
    """The body with its references pointing at seeded rows, or as generated: so the services
    behind the validation (posting, redeeming, …) are reached, not only refused."""
    if not isinstance(body, dict):
        return st.just(body)
    known = {field: KNOWN[key] for field, key in KNOWN_FIELDS.items() if field in body and KNOWN.get(key) is not None}
    items = body.get("items")
    if isinstance(items, list):
        known["items"] = [{**item, "sku": KNOWN["sku"]} if isinstance(item, dict) else item for item in items]
    if not known:
        return st.just(body)
    return st.sampled_from([{**body, **known}, body])


@pytest.fixture
def seeded(db):
    KNOWN.clear()
    KNOWN.update(seed())
    yield KNOWN
    KNOWN.clear()


@pytest.fixture(params=[MANAGER, STORE_STAFF], ids=["manager", "store_staff"])
def fuzz_token(request, seeded, wsgi_keeps_the_test_transaction):
    user = make_user(f"fuzz-{request.param}".replace(" ", "-"), request.param)
    client = token_client(user)
    return client._credentials["HTTP_AUTHORIZATION"]


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_every_generated_request_with_a_4xx_or_success_as_documented(case, fuzz_token):
    case.call_and_validate(headers={"Authorization": fuzz_token}, checks=CHECKS)
