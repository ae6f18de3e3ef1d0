"""Every request gets a 4xx, never a 5xx (issue 11): the input rules of `loyalty_crm.inputs`,
applied once — by the API's parsers (bodies), the middleware (paths, queries, cookies, headers,
Django forms), the project's date fields and filters — whatever the endpoint.

The NUL tests run on both databases; the 500s they guard against showed on PostgreSQL only
(`DataError: PostgreSQL text cannot contain NUL`), so CI's PostgreSQL run is the one that counts.
"""

from __future__ import annotations

import datetime
import io
import json

import django_filters
import pytest
from django import forms
from django.core.cache import cache
from django.urls import get_resolver
from django_filters.rest_framework import FilterSet as RestFilterSet
from rest_framework import serializers
from rest_framework.exceptions import ParseError

from feedback.models import Ticket
from loyalty_crm import inputs
from loyalty_crm.api import fields as api_fields
from loyalty_crm.api import filters as api_filters
from loyalty_crm.api.parsers import JSONParser
from members.models import Member, Purchase
from tests.feedback import factories as feedback_factories
from tests.members import factories

pytestmark = pytest.mark.django_db

NUL_MESSAGE = "Null characters are not allowed."
SURROGATE_MESSAGE = "The text is not valid Unicode (it holds a lone surrogate)."
FEEDBACK = "/api/v1/feedback/"
PURCHASES = "/api/v1/purchases/"
MEMBERS = "/api/v1/members/"
SEGMENTS = "/api/v1/segments/"


@pytest.fixture(autouse=True)
def _no_exceptions_raised_through_the_client(api_anon, api_staff, api_manager, api_support, api_marketing, client):
    """A 500 must show as a 500 response (what a client sees), not as an exception in the test."""
    for made in (api_anon, api_staff, api_manager, api_support, api_marketing, client):
        made.raise_request_exception = False


@pytest.fixture(autouse=True)
def _fresh_throttle():
    """The anonymous feedback endpoint is throttled per address, in the cache (Redis in CI)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def member():
    factories.product()
    factories.store()
    return factories.member()


def purchase_body(member, **extra):
    return {
        "member": member.member_no,
        "external_ref": "POS-1",
        "ordered_at": "2026-01-10T10:00:00+08:00",
        "items": [{"sku": "ROSE-11", "quantity": 1, "unit_price": "99.50"}],
    } | extra


# --- NUL in JSON bodies: the parser, with the key path ------------------------------------------


def test_anonymous_feedback_with_a_nul_store_answers_400_naming_store_and_stores_nothing(api_anon):
    response = api_anon.post(FEEDBACK, {"kind": "complaint", "message": "花谢了", "store": "\u0000"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"store": [NUL_MESSAGE]}
    assert not Ticket.objects.exists()


def test_a_nul_deep_in_a_json_body_is_named_by_its_key_path(api_staff, member):
    body = purchase_body(member)
    body["items"].append({"sku": "ROSE-\u0000", "quantity": 1, "unit_price": "1.00"})

    response = api_staff.post(PURCHASES, body, format="json")

    assert response.status_code == 400
    assert response.json() == {"items[1].sku": [NUL_MESSAGE]}
    assert not Purchase.objects.exists()


def test_a_nul_in_a_json_key_is_refused_too(api_staff, member):
    response = api_staff.post(PURCHASES, purchase_body(member) | {"note\u0000": "x"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"note\\u0000": [NUL_MESSAGE]}


@pytest.mark.parametrize(
    ("client_name", "method", "url", "body", "path"),
    [
        ("api_staff", "post", PURCHASES, {"member": "\u0000"}, "member"),
        ("api_staff", "post", PURCHASES, {"store": "\u0000"}, "store"),
        ("api_marketing", "post", "/api/v1/segments/", {"name": "x", "rules": {"tiers": ["\u0000"]}}, "rules.tiers[0]"),
        (
            "api_marketing",
            "post",
            "/api/v1/segments/",
            {"name": "x", "rules": {"stores": ["a\u0000"]}},
            "rules.stores[0]",
        ),
        ("api_staff", "post", "/api/v1/redemptions/", {"member": "\u0000", "reward": 1}, "member"),
        ("api_staff", "post", "/api/v1/coupons/validate/", {"code": "\u0000", "member": "M1"}, "code"),
    ],
)
def test_a_nul_in_a_related_field_lookup_answers_400_naming_it(request, member, client_name, method, url, body, path):
    api = request.getfixturevalue(client_name)
    response = getattr(api, method)(url, body, format="json")

    assert response.status_code == 400
    assert response.json() == {path: [NUL_MESSAGE]}


def test_a_lone_surrogate_in_a_json_lookup_answers_400_naming_the_key(api_staff, member):
    """`"\\ud800"` is valid JSON but has no UTF-8 form: the member lookup's SQL failed to encode (500)."""
    body = json.dumps(purchase_body(member)).replace(member.member_no, "\\ud800")

    response = api_staff.post(PURCHASES, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"member": [SURROGATE_MESSAGE]}
    assert not Purchase.objects.exists()


def test_a_nul_plan_in_a_membership_purchase_answers_400(api_staff, member):
    response = api_staff.post(f"{MEMBERS}{member.member_no}/memberships/", {"plan": "\u0000"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"plan": [NUL_MESSAGE]}


def test_a_nul_assignee_in_a_json_ticket_patch_answers_400(api_support):
    ticket = feedback_factories.ticket()

    response = api_support.patch(f"/api/v1/tickets/{ticket.ticket_no}/", {"assignee": "\u0000"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"assignee": [NUL_MESSAGE]}


def test_a_nul_assignee_in_a_form_encoded_ticket_patch_answers_400(api_support):
    ticket = feedback_factories.ticket()

    response = api_support.patch(
        f"/api/v1/tickets/{ticket.ticket_no}/", "assignee=%00", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 400
    assert response.json() == {"assignee": [NUL_MESSAGE]}


def test_a_nul_in_a_multipart_feedback_field_answers_400(api_anon):
    response = api_anon.post(
        FEEDBACK, {"kind": "complaint", "message": "花谢了", "store": "\u0000"}, format="multipart"
    )

    assert response.status_code == 400
    assert response.json() == {"store": [NUL_MESSAGE]}
    assert not Ticket.objects.exists()


# --- NUL in paths, queries, cookies, headers and Django forms: the middleware -----------------


def test_a_nul_in_a_path_parameter_answers_400_naming_the_parameter(api_staff, member):
    for url in (f"{MEMBERS}%00/", f"{MEMBERS}%00/points/", f"{MEMBERS}M%001/ledger/"):
        response = api_staff.get(url)
        assert (response.status_code, response.json()) == (400, {"member_no": [NUL_MESSAGE]}), url


def test_a_nul_in_any_query_parameter_answers_400_naming_it(api_staff, member):
    response = api_staff.get(f"{MEMBERS}?ordering=%00")

    assert response.status_code == 400
    assert response.json() == {"ordering": [NUL_MESSAGE]}


def test_a_nul_in_the_token_header_answers_400_not_a_database_error(member):
    from rest_framework.test import APIClient

    api = APIClient(raise_request_exception=False)
    response = api.get(MEMBERS, HTTP_AUTHORIZATION="Token abc\x00def")

    assert response.status_code == 400
    assert response.json() == {"Authorization": [NUL_MESSAGE]}


def test_a_nul_in_the_session_cookie_answers_400(client):
    client.cookies["sessionid"] = "abcdefghijkl\x00mnop"

    response = client.get("/admin/")

    assert response.status_code == 400
    assert "sessionid" in response.content.decode()


def test_admin_campaign_preview_with_a_nul_member_answers_a_400_page(client, superuser):
    from tests.campaigns import helpers as campaign_helpers

    campaign = campaign_helpers.campaign()
    client.force_login(superuser)

    response = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/?preview=%00")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "preview" in page and NUL_MESSAGE in page


def test_admin_search_with_a_nul_answers_400(client, superuser):
    client.force_login(superuser)

    assert client.get("/admin/members/member/?q=%00").status_code == 400


def test_public_feedback_form_with_a_nul_store_answers_a_400_page_and_stores_nothing(client):
    factories.store()

    response = client.post("/feedback/", {"kind": "complaint", "message": "花谢了", "store": "\x00"})

    assert response.status_code == 400
    assert "store" in response.content.decode()
    assert not Ticket.objects.exists()


def test_the_400_page_speaks_the_browsers_language(client, superuser):
    client.force_login(superuser)

    response = client.get("/admin/members/member/?q=%00", HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert response.status_code == 400
    assert "请求" in response.content.decode()


# --- JSON nesting depth and body size -----------------------------------------------------------


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_json_nested_a_thousand_levels_answers_400_on_the_anonymous_endpoint(api_anon):
    response = api_anon.post(FEEDBACK, nested(1000), content_type="application/json")

    assert response.status_code == 400
    assert "nested more than 32 levels" in response.json()["detail"]


def test_json_nested_a_thousand_levels_inside_an_object_answers_400_on_an_authenticated_endpoint(api_staff):
    body = '{"member": "M1", "items": ' + nested(1000) + "}"

    response = api_staff.post(PURCHASES, body, content_type="application/json")

    assert response.status_code == 400
    assert "nested more than 32 levels" in response.json()["detail"]


def parse(text: str):
    return JSONParser().parse(io.BytesIO(text.encode()), "application/json", {})


def test_the_parser_accepts_the_setting_s_depth_and_refuses_one_more(settings):
    settings.API_JSON_MAX_DEPTH = 5
    assert parse(nested(5)) == [[[[[]]]]]
    assert parse(json.dumps({"a": [{"b": [1]}]})) == {"a": [{"b": [1]}]}  # four levels
    with pytest.raises(ParseError, match="nested more than 5 levels"):
        parse(nested(6))
    with pytest.raises(ParseError):
        parse(json.dumps({"a": [{"b": [{"c": [1]}]}]}))  # six levels of containers
    with pytest.raises(ParseError):
        parse(nested(100_000))  # beyond the interpreter's recursion limit


def test_a_json_body_above_the_upload_limit_is_still_refused_with_400(api_anon, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"kind": "complaint", "message": "长" * 2000})

    response = api_anon.post(FEEDBACK, body, content_type="application/json")

    assert response.status_code == 400
    assert "larger than 1000 bytes" in response.json()["detail"]
    assert not Ticket.objects.exists()


# --- dates and times: the project's fields and filters -----------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2020-01-01T00:00:00+16:00", "UTC offset"),
        ("2020-01-01T00:00:00-16:00", "UTC offset"),
        ("2020-01-01T00:00:00+08:00:30", "UTC offset"),
        ("0099-01-01T00:00:00", "before 1900"),
        ("1899-12-31T23:00:00Z", "before 1900"),
        ("1900-06-01T00:00:00+08:00", "no whole-minute UTC offset"),  # Shanghai's local mean time
        ("9999-12-31T23:59:59-10:00", "out of range"),
    ],
)
def test_every_datetime_filter_answers_400_naming_it(api_staff, member, value, message):
    response = api_staff.get(MEMBERS, {"registered_after": value})

    assert response.status_code == 400
    assert list(response.json()) == ["registered_after"]
    assert message in response.json()["registered_after"][0]


def test_a_datetime_filter_with_an_offset_postgresql_accepts_still_filters(api_staff, member):
    response = api_staff.get(MEMBERS, {"registered_after": "2020-01-01T00:00:00+15:59"})

    assert response.status_code == 200
    assert response.json()["count"] == 1


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2020-01-01T00:00:00+16:00", "UTC offset"),
        ("0099-12-31T23:59:59", "before 1900"),
        ("1900-06-01T00:00:00+08:00", "no whole-minute UTC offset"),
    ],
)
def test_every_datetime_serializer_field_answers_400_naming_it(api_staff, member, value, message):
    response = api_staff.post(PURCHASES, purchase_body(member, ordered_at=value), format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["ordered_at"]
    assert message in response.json()["ordered_at"][0]
    assert not Purchase.objects.exists()


def test_a_datetime_from_1901_in_shanghai_is_accepted(api_staff, member):
    response = api_staff.post(PURCHASES, purchase_body(member, ordered_at="1901-01-01T00:00:00+08:00"), format="json")

    assert response.status_code == 201
    ordered_at = Purchase.objects.get().ordered_at
    assert ordered_at == datetime.datetime(1901, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=8)))


def test_a_date_before_1900_answers_400_naming_the_field(api_staff, member):
    response = api_staff.patch(f"{MEMBERS}{member.member_no}/", {"birthday": "1899-12-31"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"birthday": ["Dates before 1900 are not accepted."]}
    member.refresh_from_db()
    assert member.birthday is None


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


PROJECT_APPS = ("loyalty_crm", "members", "rewards", "campaigns", "feedback")


def _project(classes):
    assert get_resolver().url_patterns  # imports every view module, and their serializers and filters
    return sorted(
        {cls for cls in classes if cls.__module__.split(".")[0] in PROJECT_APPS}, key=lambda c: c.__qualname__
    )


def _fields(serializer, prefix=""):
    for name, field in serializer.fields.items():
        yield f"{prefix}{name}", field
        child = getattr(field, "child", None)
        if isinstance(field, serializers.BaseSerializer):
            inner = child if isinstance(field, serializers.ListSerializer) else field
            if isinstance(inner, serializers.Serializer):
                yield from _fields(inner, f"{prefix}{name}.")
        elif child is not None:
            yield f"{prefix}{name}[]", child


def test_every_serializer_of_the_project_reads_dates_through_the_project_fields():
    found = _project(_subclasses(serializers.BaseSerializer))
    assert len(found) > 50  # the walk found the API's serializers
    bare = [
        f"{cls.__module__}.{cls.__qualname__}.{name}"
        for cls in found
        if not issubclass(cls, serializers.ListSerializer)
        for name, field in _fields(cls())
        if isinstance(field, serializers.DateTimeField | serializers.DateField)
        and not isinstance(field, api_fields.DateTimeField | api_fields.DateField)
    ]
    assert bare == []


def test_a_model_serializer_maps_model_dates_to_the_project_fields_by_default():
    class Probe(serializers.ModelSerializer):
        class Meta:
            model = Member
            fields = ["registered_at", "updated_at"]

    assert {type(field) for field in Probe().fields.values()} == {api_fields.DateTimeField}


def test_every_filter_of_the_project_reads_dates_through_the_project_fields():
    found = _project(_subclasses(django_filters.FilterSet))
    assert found
    bare = [
        f"{cls.__qualname__}.{name}"
        for cls in found
        for name, declared in cls.base_filters.items()
        if issubclass(declared.field_class, forms.DateField | forms.DateTimeField)
        and not issubclass(
            declared.field_class, api_filters.IsoDateTimeField | api_filters.DateTimeField | api_filters.DateField
        )
    ]
    assert bare == []


def test_a_generated_filterset_maps_model_dates_to_the_project_filters_by_default():
    class Probe(RestFilterSet):
        class Meta:
            model = Member
            fields = {"registered_at": ["gte"], "updated_at": ["lt"]}

    assert {type(f) for f in Probe.base_filters.values()} == {api_filters.IsoDateTimeFilter}

    class PlainProbe(django_filters.FilterSet):
        class Meta:
            model = Purchase
            fields = {"ordered_at": ["gte"]}

    assert {type(f) for f in PlainProbe.base_filters.values()} == {api_filters.DateTimeFilter}


# --- the rules themselves ------------------------------------------------------------------------


def test_text_problem_path_names_keys_and_indexes():
    nul = (NUL_MESSAGE,)
    assert inputs.text_problem_path({"a": [1, {"b": "ok"}, {"c": "x\x00"}]}) == ("a[2].c", *nul)
    assert inputs.text_problem_path([["\x00"]]) == ("[0][0]", *nul)
    assert inputs.text_problem_path("\x00") == ("", *nul)
    assert inputs.text_problem_path({"a": {"k\x00": 1}}) == ("a.k\\u0000", *nul)
    assert inputs.text_problem_path({"a": ["fine", "好", 1, None, True]}) is None
    assert inputs.text_problem_path({"a": "\ud800"}) == (
        "a",
        "The text is not valid Unicode (it holds a lone surrogate).",
    )


def test_json_depth_counts_containers_not_scalars():
    assert not inputs.json_too_deep("text", 0)
    assert not inputs.json_too_deep({"a": [1]}, 2)
    assert inputs.json_too_deep({"a": [[1]]}, 2)


def test_a_nul_in_a_form_posted_to_the_api_by_a_signed_in_user_answers_400(store_staff, member):
    """Session authentication reads the form (for the CSRF token) through the API's parsers too."""
    from django.test import Client

    browser = Client(enforce_csrf_checks=True, raise_request_exception=False)
    browser.force_login(store_staff)
    secret = "a" * 32
    browser.cookies["csrftoken"] = secret

    response = browser.post(PURCHASES, {"csrfmiddlewaretoken": secret, "member": "\x00", "external_ref": "POS-1"})

    assert response.status_code == 400
    assert response.json() == {"member": [NUL_MESSAGE]}
