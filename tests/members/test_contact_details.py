"""Contact data kept to the need (PIPL 最小必要): lists masked for every role, clear only on one
member's detail for holders of `members.view_contact_details`, each clear view recorded; lookup
by phone without the number in the URL; page size capped for users who may not export."""

from __future__ import annotations

import datetime
import io
import json

import pytest
import yaml
from django.core.management import call_command
from django.urls import reverse

from members import services
from members.models import ContactDetailView
from tests.members import factories

pytestmark = pytest.mark.django_db

MEMBERS = "/api/v1/members/"
LOOKUP = "/api/v1/members/lookup/"
ROLES = ["api_staff", "api_marketing", "api_support", "api_manager"]
CLEAR_ROLES = {"api_staff": "staff", "api_support": "support", "api_manager": "manager"}


@pytest.fixture
def customer():
    return factories.member(
        name="张伟",
        phone="13800138000",
        email="zhangwei@example.com",
        birthday=datetime.date(1990, 5, 20),
        home_store=factories.store(),
    )


def detail(member) -> str:
    return f"{MEMBERS}{member.member_no}/"


# --- lists -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_the_member_list_masks_phone_email_and_birthday_for_every_role(request, customer, role):
    client = request.getfixturevalue(role)

    response = client.get(MEMBERS, {"page_size": 200})

    assert response.status_code == 200
    (row,) = response.json()["results"]
    assert (row["phone"], row["email"], row["birthday"], row["contact_masked"]) == (
        "138****8000",
        "z***@example.com",
        "05-20",
        True,
    )
    assert "13800138000" not in response.content.decode() and "zhangwei@" not in response.content.decode()
    assert not ContactDetailView.objects.exists()  # a list shows nothing in clear, records nothing


@pytest.mark.parametrize("role", ROLES)
def test_exact_lookup_by_phone_in_the_query_keeps_working_for_every_role_and_is_masked(request, customer, role):
    client = request.getfixturevalue(role)
    factories.member(phone="13800138001")

    response = client.get(MEMBERS, {"phone": "+86 138 0013 8000"})

    assert [row["member_no"] for row in response.json()["results"]] == [customer.member_no]
    assert response.json()["results"][0]["phone"] == "138****8000"


def test_search_results_are_masked(api_staff, customer):
    response = api_staff.get(MEMBERS, {"search": "张伟"})

    assert response.json()["results"][0]["email"] == "z***@example.com"


# --- one member's detail ---------------------------------------------------------------------


@pytest.mark.parametrize("role", sorted(CLEAR_ROLES))
def test_the_detail_is_in_clear_for_roles_that_may_see_contact_details_and_each_view_is_recorded(
    request, customer, role
):
    client = request.getfixturevalue(role)

    response = client.get(detail(customer), REMOTE_ADDR="198.51.100.7")

    body = response.json()
    assert (body["phone"], body["email"], body["birthday"], body["contact_masked"]) == (
        "+8613800138000",
        "zhangwei@example.com",
        "1990-05-20",
        False,
    )
    view = ContactDetailView.objects.get()
    assert (view.member, view.username, view.user.username, view.channel, view.path, view.client_ip) == (
        customer,
        CLEAR_ROLES[role],
        CLEAR_ROLES[role],
        "api",
        detail(customer),
        "198.51.100.7",
    )


def test_each_clear_view_is_one_row(api_staff, customer):
    for _i in range(3):
        api_staff.get(detail(customer))

    assert ContactDetailView.objects.filter(member=customer, username="staff").count() == 3


def test_the_recorded_address_is_the_client_behind_a_trusted_proxy(settings, api_support, customer):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]

    api_support.get(detail(customer), REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.9")

    assert ContactDetailView.objects.get().client_ip == "203.0.113.9"


def test_marketing_gets_the_detail_masked_and_nothing_is_recorded(api_marketing, customer):
    body = api_marketing.get(detail(customer)).json()

    assert (body["phone"], body["email"], body["birthday"], body["contact_masked"]) == (
        "138****8000",
        "z***@example.com",
        "05-20",
        True,
    )
    assert not ContactDetailView.objects.exists()


def test_writes_answer_with_contact_data_masked_and_record_nothing(api_staff, customer):
    created = api_staff.post(MEMBERS, {"name": "李华", "phone": "13912345678"}, format="json").json()
    patched = api_staff.patch(detail(customer), {"name": "张伟伟"}, format="json").json()

    assert created["phone"] == "139****5678"
    assert (patched["phone"], patched["email"]) == ("138****8000", "z***@example.com")
    assert not ContactDetailView.objects.exists()


def test_the_detail_runs_one_more_query_in_clear_than_masked_the_recording(api_staff, api_marketing, customer):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count(client):
        client.get(detail(customer))
        with CaptureQueriesContext(connection) as queries:
            client.get(detail(customer))
        return [q["sql"] for q in queries.captured_queries]

    clear, masked = count(api_staff), count(api_marketing)
    inserts = [sql for sql in clear if sql.startswith("INSERT")]
    assert len(inserts) == 1 and "members_contactdetailview" in inserts[0]
    assert len(clear) == len(masked) + 1


# --- the member's own data export ------------------------------------------------------------


def test_the_data_export_lists_who_saw_the_contact_details_and_when(api_staff, api_support, api_marketing, customer):
    api_staff.get(detail(customer))
    api_marketing.get(detail(customer))  # masked: not a clear view
    api_support.get(detail(customer))
    out = io.StringIO()

    call_command("export_member", customer.member_no, stdout=out)

    views = json.loads(out.getvalue())["contact_detail_views"]
    assert [(v["by"], v["channel"]) for v in views] == [("staff", "api"), ("support", "api")]
    recorded = ContactDetailView.objects.order_by("at", "id").first().at
    assert datetime.datetime.fromisoformat(views[0]["at"]) == recorded


# --- POST /api/v1/members/lookup/ ------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_lookup_by_phone_in_the_body_answers_the_member_masked_for_every_role(request, customer, role):
    client = request.getfixturevalue(role)

    response = client.post(LOOKUP, {"phone": "+86 138-0013-8000"}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["member_no"], body["phone"], body["email"], body["contact_masked"]) == (
        customer.member_no,
        "138****8000",
        "z***@example.com",
        True,
    )
    assert not ContactDetailView.objects.exists()


def test_lookup_of_a_phone_nobody_has_is_404(api_staff, customer):
    response = api_staff.post(LOOKUP, {"phone": "13900000000"}, format="json")

    assert response.status_code == 404
    assert "phone" in response.json()["detail"]


@pytest.mark.parametrize(
    "body", [{"phone": "12345"}, {"phone": "not a phone"}, {"phone": ""}, {}, {"phone": "\u0000"}, {"phone": ["1"]}]
)
def test_lookup_of_a_malformed_or_missing_phone_is_400_naming_the_field(api_staff, customer, body):
    response = api_staff.post(LOOKUP, body, format="json")

    assert response.status_code == 400
    assert "phone" in response.json()


def test_lookup_is_refused_to_anonymous_and_to_staff_without_a_role(api_anon, customer):
    from tests.conftest import make_user, token_client

    assert api_anon.post(LOOKUP, {"phone": "13800138000"}, format="json").status_code == 401
    nobody = token_client(make_user("nobody"))
    assert nobody.post(LOOKUP, {"phone": "13800138000"}, format="json").status_code == 403


def test_lookup_is_in_the_schema_as_a_post_with_its_answers(api_manager):
    schema = yaml.safe_load(api_manager.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi").content)

    operation = schema["paths"]["/api/v1/members/lookup/"]
    assert set(operation) & {"get", "post", "put", "patch", "delete"} == {"post"}
    assert {"200", "400", "404"} <= set(operation["post"]["responses"])
    properties = schema["components"]["schemas"]["Member"]["properties"]
    assert properties["phone"]["nullable"] and properties["phone"]["type"] == "string"
    assert "format" not in properties["birthday"]  # "MM-DD" when masked is not a date


# --- page size -------------------------------------------------------------------------------


@pytest.fixture
def many_members():
    for _i in range(130):
        factories.member()


@pytest.mark.parametrize("role", ["api_staff", "api_marketing", "api_support"])
def test_page_size_above_100_is_capped_for_users_who_may_not_export(request, many_members, role):
    response = request.getfixturevalue(role).get(MEMBERS, {"page_size": 200})

    body = response.json()
    assert response.status_code == 200
    assert (body["count"], len(body["results"])) == (130, 100)
    assert "page_size=200" in body["next"]  # the next page continues where this one stopped
    assert len(request.getfixturevalue(role).get(body["next"]).json()["results"]) == 30


def test_managers_who_may_export_page_up_to_200(api_manager, many_members):
    assert len(api_manager.get(MEMBERS, {"page_size": 200}).json()["results"]) == 130


def test_page_sizes_up_to_100_are_served_as_asked(api_staff, many_members):
    assert len(api_staff.get(MEMBERS, {"page_size": 100}).json()["results"]) == 100
    assert len(api_staff.get(MEMBERS, {"page_size": 7}).json()["results"]) == 7


# --- admin -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["store_staff", "marketing", "support", "manager"])
def test_the_admin_member_list_is_masked_for_every_role(request, client, customer, role):
    client.force_login(request.getfixturevalue(role))

    text = client.get(reverse("admin:members_member_changelist")).text

    assert "138****8000" in text
    assert "13800138000" not in text and "zhangwei@example.com" not in text


def test_the_admin_search_by_phone_finds_the_member_for_marketing_masked(client, marketing, customer):
    client.force_login(marketing)

    response = client.get(reverse("admin:members_member_changelist"), {"q": "138 0013 8000"})

    assert list(response.context["cl"].result_list) == [customer]
    assert "138****8000" in response.text


def test_the_admin_member_page_in_clear_is_recorded_once_per_page_and_in_the_export(client, store_staff, customer):
    client.force_login(store_staff)

    response = client.get(reverse("admin:members_member_change", args=[customer.pk]))

    assert "+8613800138000" in response.text and "zhangwei@example.com" in response.text
    view = ContactDetailView.objects.get()
    assert (view.username, view.channel) == ("staff", "admin")
    out = io.StringIO()
    call_command("export_member", customer.member_no, stdout=out)
    assert [v["by"] for v in json.loads(out.getvalue())["contact_detail_views"]] == ["staff"]


def test_a_member_page_shown_again_with_errors_is_recorded_although_the_page_rolls_back(client, store_staff, customer):
    client.force_login(store_staff)

    response = client.post(reverse("admin:members_member_change", args=[customer.pk]), {"email": "not an email"})

    assert response.status_code == 200 and response.context["adminform"].form.errors
    assert "+8613800138000" in response.text  # the profile panel, in clear
    assert ContactDetailView.objects.filter(member=customer, username="staff").count() == 1


def test_an_old_version_of_the_profile_is_refused_to_editors_who_may_not_see_contact_details(client, customer):
    from django.contrib.auth.models import Permission

    from tests.conftest import make_user

    editor = make_user("editor")
    editor.user_permissions.set(
        Permission.objects.filter(content_type__app_label="members", codename__in=["view_member", "change_member"])
    )
    client.force_login(editor)
    version = customer.history.first()

    url = reverse("admin:members_member_simple_history", args=[customer.pk, version.history_id])

    assert client.get(url).status_code == 403
    assert not ContactDetailView.objects.exists()


def test_an_old_version_shown_to_store_staff_is_recorded(client, store_staff, customer):
    client.force_login(store_staff)
    version = customer.history.first()

    response = client.get(reverse("admin:members_member_simple_history", args=[customer.pk, version.history_id]))

    assert response.status_code == 200
    assert ContactDetailView.objects.filter(username="staff", channel="admin").count() == 1


def test_reveal_contact_details_records_nothing_for_an_anonymous_user(customer):
    from django.contrib.auth.models import AnonymousUser

    assert services.reveal_contact_details(user=AnonymousUser(), member=customer, channel="api") is False
    assert not ContactDetailView.objects.exists()
