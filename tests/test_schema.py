"""The OpenAPI schema at /api/schema/ and the Swagger UI at /api/docs/ (docs/api.md "Conventions")."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml
from django.conf import settings
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db

MEMBER_PATHS = {
    "/api/v1/members/": {"get", "post"},
    "/api/v1/members/{member_no}/": {"get", "patch"},
    "/api/v1/members/{member_no}/service-records/": {"get", "post"},
    "/api/v1/members/{member_no}/preferences/": {"get", "post"},
    "/api/v1/members/{member_no}/interactions/": {"get", "post"},
    "/api/v1/members/{member_no}/purchases/": {"get"},
}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture
def schema(api_manager):
    response = api_manager.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_schema_is_valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)  # the OpenAPI 3.0 JSON Schema drf-spectacular ships


def test_schema_is_also_served_as_json(api_manager):
    response = api_manager.get("/api/schema/?format=json")

    assert response.status_code == 200
    assert "/api/v1/members/" in response.json()["paths"]


@pytest.mark.parametrize(("path", "methods"), MEMBER_PATHS.items())
def test_schema_lists_each_members_path_with_exactly_its_methods(schema, path, methods):
    assert set(schema["paths"][path]) & HTTP_METHODS == methods


def test_schema_documents_the_member_list_filters(schema):
    names = {p["name"] for p in schema["paths"]["/api/v1/members/"]["get"]["parameters"]}

    assert {"phone", "external_id", "tier", "search", "page", "page_size"} <= names


def test_schema_addresses_members_by_member_no_never_by_id(schema):
    member_paths = [path for path in schema["paths"] if path.startswith("/api/v1/members/")]

    assert not [path for path in member_paths if re.search(r"\{(id|pk)\}", path)]


def test_schema_shows_money_as_decimal_strings(schema):
    item = schema["components"]["schemas"]["PurchaseItem"]["properties"]

    assert item["unit_price"]["type"] == "string"
    assert item["unit_price"]["format"] == "decimal"


def test_schema_declares_token_authentication(schema):
    assert schema["components"]["securitySchemes"]["tokenAuth"]["type"] == "apiKey"


def test_spectacular_validates_without_warnings(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", tmp_path / "s.yaml"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr and "Error" not in result.stderr, result.stderr


def test_docs_page_loads_swagger_ui_from_the_sidecar_not_a_cdn(api_manager):
    response = api_manager.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert not re.search(r"https?://(?!testserver)", html.replace("http://testserver", "")), html


def test_sidecar_swagger_assets_are_served(client):
    from django.contrib.staticfiles import finders

    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")


# --- the schema tells the truth (issue 11) ------------------------------------------------------

# Fields that are null when the relation is empty; the schema said they never were.
NULLABLE_FIELDS = [
    ("Member", "referred_by"),
    ("Member", "store"),
    ("Ticket", "member"),
    ("Ticket", "purchase"),
    ("Ticket", "store"),
    ("Ticket", "assignee"),
    ("LedgerEntry", "purchase"),
    ("LedgerEntry", "actor"),
    ("Interaction", "staff"),
    ("Purchase", "store"),
    # found by the same scan (test_every_field_read_through_a_nullable_relation_is_nullable)
    ("ServiceRecord", "staff"),
    ("PurchaseItem", "category"),
    ("Membership", "sold_by"),
    ("Campaign", "created_by"),
    ("Segment", "created_by"),
]
API_SERIALIZER_MODULES = [
    "members.api.serializers",
    "rewards.api.serializers",
    "rewards.api.catalogue_serializers",
    "feedback.api.serializers",
    "campaigns.api.serializers",
    "campaigns.api.referral_views",
]


@pytest.mark.parametrize(("component", "field"), NULLABLE_FIELDS)
def test_fields_that_can_be_null_are_declared_nullable(schema, component, field):
    assert schema["components"]["schemas"][component]["properties"][field].get("nullable") is True


def _nullable_step(model, attrs: list[str]) -> str | None:
    for attr in attrs:
        try:
            field = model._meta.get_field(attr)
        except Exception:  # a property or method: not a relation the ORM can leave empty
            return None
        if field.is_relation and not field.concrete:
            return None  # a reverse relation renders as a list, never null
        if field.null:
            return f"{model.__name__}.{attr}"
        if not field.is_relation:
            return None
        model = field.related_model
    return None


def test_every_field_read_through_a_nullable_relation_is_nullable():
    """Any ModelSerializer field whose source passes a nullable column (`store`, `actor.username`)
    can render null, so it must say `allow_null=True` (the schema's `nullable`)."""
    import importlib
    import inspect

    from rest_framework import serializers

    undeclared = []
    for module_name in API_SERIALIZER_MODULES:
        module = importlib.import_module(module_name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if not issubclass(cls, serializers.ModelSerializer) or cls.__module__ != module_name:
                continue
            for field_name, field in cls().fields.items():
                if field.allow_null or isinstance(field, serializers.SerializerMethodField):
                    continue
                step = _nullable_step(cls.Meta.model, field.source_attrs)
                if step:
                    undeclared.append(f"{name}.{field_name} (through {step})")

    assert not undeclared


@pytest.fixture
def fuzz_schema(manager, wsgi_keeps_the_test_transaction):
    """The served schema, loaded by Schemathesis to validate real answers against it."""
    import schemathesis

    from loyalty_crm.wsgi import application

    return schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


def conforms(fuzz_schema, user, method: str, path: str, **path_parameters):
    """Call the operation as `user` and validate the answer against the schema (raises if not)."""
    from rest_framework.authtoken.models import Token
    from schemathesis import checks

    token, _created = Token.objects.get_or_create(user=user)
    case = fuzz_schema[path][method].Case(path_parameters=path_parameters)
    response = case.call(headers={"Authorization": f"Token {token.key}"})
    assert response.status_code == 200, response.text
    case.validate_response(response, checks=[checks.response_schema_conformance])
    return response.json()


def test_answers_with_empty_relations_conform_to_the_schema(fuzz_schema, manager):
    from feedback.models import Ticket
    from members import services as member_services
    from members.models import Member
    from rewards import services as reward_services
    from tests.feedback import factories as ticket_factories
    from tests.members import factories

    walk_in = factories.member(name="No Store")  # no home store, no referrer
    factories.purchase(walk_in)  # no store; earns points with no actor
    reward_services.adjust_points(member=walk_in, points=10, reason="goodwill", actor=None)
    member_services.add_interaction(member=walk_in, kind="call", channel="phone", summary="asked about points")
    ticket_factories.ticket(kind=Ticket.Kind.SUGGESTION)  # anonymous: no member, purchase, store, assignee
    no = Member.objects.get(pk=walk_in.pk).member_no

    member = conforms(fuzz_schema, manager, "GET", "/api/v1/members/{member_no}/", member_no=no)
    ledger = conforms(fuzz_schema, manager, "GET", "/api/v1/members/{member_no}/ledger/", member_no=no)
    purchases = conforms(fuzz_schema, manager, "GET", "/api/v1/members/{member_no}/purchases/", member_no=no)
    interactions = conforms(fuzz_schema, manager, "GET", "/api/v1/members/{member_no}/interactions/", member_no=no)
    tickets = conforms(fuzz_schema, manager, "GET", "/api/v1/tickets/")

    assert member["store"] is None and member["referred_by"] is None
    assert {row["actor"] for row in ledger["results"]} == {None}
    assert None in {row["purchase"] for row in ledger["results"]}
    assert purchases["results"][0]["store"] is None
    assert interactions["results"][0]["staff"] is None
    ticket = tickets["results"][0]
    assert [ticket["member"], ticket["purchase"], ticket["store"], ticket["assignee"]] == [None] * 4


def test_quiet_hours_are_declared_as_the_hh_mm_strings_they_are(schema, fuzz_schema, manager):
    import datetime

    from campaigns import services as campaign_services

    declared = schema["components"]["schemas"]["QuietHours"]["properties"]["start"]
    campaign_services.update_contact_policy(quiet_hours_start=datetime.time(21, 0), quiet_hours_end=datetime.time(9, 0))

    body = conforms(fuzz_schema, manager, "GET", "/api/v1/contact-policy/")

    assert "format" not in declared
    assert re.fullmatch(declared["pattern"], body["quiet_hours"]["start"])
    assert body["quiet_hours"] == {"start": "21:00", "end": "09:00"}


def test_a_recurring_campaigns_time_is_declared_as_hh_mm_too(schema):
    declared = schema["components"]["schemas"]["Recurrence"]["properties"]["time"]

    assert "format" not in declared
    assert re.fullmatch(declared["pattern"], "10:00") and not re.fullmatch(declared["pattern"], "10:00:00")


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def _body_of(answer) -> str:
    return answer["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]


# Anonymous operations (AllowAny): nothing to forbid, so no 403.
OPEN_PATHS = {"/api/v1/feedback/", "/api/v1/me/otp/", "/api/v1/me/session/", "/api/v1/me/join/"}


def test_every_operation_documents_the_errors_drf_gives_around_it(schema):
    missing = []
    for path, method, operation in _operations(schema):
        responses = operation["responses"]
        expected = {"401": "ErrorDetail"}
        if "requestBody" in operation or operation.get("parameters"):
            expected["400"] = "ValidationError"
        if "requestBody" in operation:
            expected["415"] = "ErrorDetail"
        if "{" in path or any(p["name"] == "page" for p in operation.get("parameters", [])):
            expected["404"] = "ErrorDetail"
        if path not in OPEN_PATHS:
            expected["403"] = "ErrorDetail"
        for code, body in expected.items():
            if code not in responses or _body_of(responses[code]) != body:
                missing.append(f"{method.upper()} {path} {code}")

    assert not missing


def test_the_throttled_feedback_form_documents_429_and_no_403(schema):
    responses = schema["paths"]["/api/v1/feedback/"]["post"]["responses"]

    assert _body_of(responses["429"]) == "ErrorDetail"
    assert "403" not in responses


@pytest.mark.parametrize(
    ("path", "method", "codes"),
    [
        ("/api/v1/purchases/", "post", {"idempotency_conflict", "member_erased"}),
        ("/api/v1/purchases/{id}/refund/", "post", {"idempotency_conflict", "already_refunded"}),
        ("/api/v1/members/{member_no}/points/adjust/", "post", {"insufficient_points", "member_erased"}),
        ("/api/v1/members/{member_no}/memberships/", "post", {"idempotency_conflict", "plan_not_on_sale"}),
        ("/api/v1/members/{member_no}/", "patch", {"member_erased"}),
        ("/api/v1/members/{member_no}/interactions/", "post", {"member_erased"}),
        ("/api/v1/tickets/{ticket_no}/", "patch", {"invalid_transition"}),
        ("/api/v1/campaigns/{id}/launch/", "post", {"invalid_transition"}),
        ("/api/v1/redemptions/", "post", {"insufficient_points", "out_of_stock"}),
        ("/api/v1/coupons/{code}/redeem/", "post", {"coupon_invalid"}),
    ],
)
def test_operations_whose_services_refuse_document_409_with_the_codes(schema, path, method, codes):
    answer = schema["paths"][path][method]["responses"]["409"]

    assert _body_of(answer) == "Conflict"
    assert codes <= set(re.findall(r"`([a-z_]+)`", answer["description"]))


def test_conflict_is_a_code_and_a_detail(schema):
    conflict = schema["components"]["schemas"]["Conflict"]

    assert set(conflict["required"]) == {"code", "detail"}


@pytest.mark.parametrize("path", ["/api/v1/rewards/abc/", "/api/v1/tickets/0.01/", "/api/v1/nothing-here/"])
def test_an_api_path_no_route_matches_answers_json_404_as_documented(api_manager, path):
    response = api_manager.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_a_page_no_route_matches_outside_the_api_is_still_html(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
