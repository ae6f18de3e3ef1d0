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
