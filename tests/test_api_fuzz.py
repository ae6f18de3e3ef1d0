"""The API against its own OpenAPI schema, fuzzed (issue 11, "Every request gets a 4xx").

Schemathesis reads `/api/schema/` and generates requests for every operation, valid and invalid
(wrong types, missing fields, odd strings, unknown ids), sends them to the Django WSGI app in this
process, and checks each answer: never a 5xx, a status code the schema declares, the declared
content type, and a body that matches the declared shape. Once with a manager's token (who may do
almost everything) and once with a store-staff token (who is refused much of it).

Bounded and reproducible: a few examples per operation (`FUZZ_EXAMPLES`), `derandomize=True`, no
example database. Run it alone with `pytest -m fuzz`.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from campaigns.models import Segment
from feedback.models import Ticket
from loyalty_crm.roles import MANAGER, STORE_STAFF
from loyalty_crm.wsgi import application
from tests.conftest import make_user, token_client
from tests.feedback import factories as ticket_factories
from tests.members import factories
from tests.rewards import catalogue_factories

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db]

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


def seed() -> dict:
    """A little of everything, so detail paths and lookups find rows as well as miss them."""
    store = factories.store("sh-001")
    factories.store("bj-001", "北京三里屯店", "北京")
    alice = catalogue_factories.funded_member(points=5000, name="Alice", home_store=store, tags=["VIP"])
    bob = factories.member(name="Bob", referral_code=alice.referral_code) if alice.referral_code else factories.member()
    purchase = factories.purchase(alice, total="300.00", ref="ORD-FUZZ-1", store=store)
    reward = catalogue_factories.reward(points_cost=100, stock=50)
    catalogue_factories.reward(name="¥20 券", kind="coupon", points_cost=50)
    ticket_factories.ticket(kind=Ticket.Kind.COMPLAINT, member_no=alice.member_no)
    Segment.objects.create(name="VIP", rules={"tags": ["VIP"]})
    return {"alice": alice, "bob": bob, "purchase": purchase, "reward": reward}


# The schema as integrators get it (it is public, and reading it touches no database).
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


@pytest.fixture(params=[MANAGER, STORE_STAFF], ids=["manager", "store_staff"])
def fuzz_token(request, db, wsgi_keeps_the_test_transaction):
    seed()
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
