"""The member's own profile API under /api/v1/me/ (member sessions only)."""

from __future__ import annotations

import datetime

import pytest

from feedback import services as feedback_services
from members import services
from members.models import AccountClosureRequest, ConsentEvent, ConsentSource, Interaction
from members.summaries import Summary
from tests.conftest import token_client
from tests.feedback import factories as ticket_factories
from tests.members import factories
from tests.members.centre_helpers import member_api
from tests.rewards.helpers import post

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    ("get", "/api/v1/me/profile/"),
    ("patch", "/api/v1/me/profile/"),
    ("get", "/api/v1/me/consents/"),
    ("patch", "/api/v1/me/consents/"),
    ("get", "/api/v1/me/purchases/"),
    ("get", "/api/v1/me/tickets/"),
    ("get", "/api/v1/me/export/"),
    ("post", "/api/v1/me/closure-request/"),
]


@pytest.fixture
def member():
    return factories.member(name="王小明", phone="13800138000", consents={"marketing_sms": True})


@pytest.fixture
def api(member):
    return member_api(member)


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_a_staff_token_is_refused(method, url, manager):
    response = getattr(token_client(manager), method)(url, {}, format="json")

    assert response.status_code in (401, 403)


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_no_credentials_are_refused(method, url, api_anon):
    assert getattr(api_anon, method)(url, {}, format="json").status_code == 401


def test_profile_shows_the_phone_masked(api, member):
    body = api.get("/api/v1/me/profile/").json()

    assert body["member_no"] == member.member_no
    assert body["phone"] == "138****8000"
    assert body["birthday_editable"] is True


def test_profile_patch_changes_name_email_and_sets_the_birthday_once(api, member):
    response = api.patch(
        "/api/v1/me/profile/", {"name": "王晓明", "email": "w@example.com", "birthday": "1990-05-20"}, format="json"
    )

    assert response.status_code == 200, response.json()
    member.refresh_from_db()
    assert (member.name, member.email, member.birthday) == ("王晓明", "w@example.com", datetime.date(1990, 5, 20))
    assert member.history.order_by("-history_id").first().history_change_reason == services.MEMBER_CENTRE_REASON

    again = api.patch("/api/v1/me/profile/", {"birthday": "1991-01-01"}, format="json")

    assert again.status_code == 400 and "birthday" in again.json()


@pytest.mark.parametrize("field", ["phone", "status", "notes", "member_no"])
def test_profile_patch_refuses_fields_the_member_may_not_change(api, member, field):
    response = api.patch("/api/v1/me/profile/", {field: "13900000000"}, format="json")

    assert response.status_code == 400 and field in response.json()
    member.refresh_from_db()
    assert member.phone == "+8613800138000"


def test_consents_get_and_patch_use_the_members_api_topic_names(api, member):
    before = api.get("/api/v1/me/consents/").json()
    response = api.patch("/api/v1/me/consents/", {"marketing_sms": False, "marketing_email": True}, format="json")

    assert before["marketing_sms"] is True and before["marketing_email"] is False
    assert response.status_code == 200
    assert (response.json()["marketing_sms"], response.json()["marketing_email"]) == (False, True)
    sources = set(ConsentEvent.objects.filter(member=member).exclude(source="admin").values_list("source", flat=True))
    assert sources == {ConsentSource.MEMBER_CENTRE}
    assert response.json()["history"][0]["source"] == "member_centre"


@pytest.mark.parametrize("body", [{"data_processing": False}, {"marketing_fax": True}, {}, {"marketing_sms": "maybe"}])
def test_consents_patch_refuses_unknown_or_empty_changes(api, member, body):
    assert api.patch("/api/v1/me/consents/", body, format="json").status_code == 400
    assert services.consent_state(member)["marketing_sms"] is True


def test_purchases_are_the_members_own_with_points(api, member):
    mine = post(member, "120.00")
    post(factories.member(name="李四"), "300.00")

    body = api.get("/api/v1/me/purchases/").json()

    assert body["count"] == 1
    assert body["results"][0]["external_ref"] == mine.purchase.external_ref
    assert body["results"][0]["points_earned"] == mine.points_earned
    assert body["results"][0]["items"][0]["quantity"] == 1


def test_tickets_show_public_replies_never_internal_notes(api, member, support):
    ticket = ticket_factories.ticket(member_no=member.member_no)
    feedback_services.add_note(ticket=ticket, body="内部备注", actor=support)
    feedback_services.reply(ticket=ticket, body="已为您补送", actor=support, record_only=True)
    ticket_factories.ticket(member_no=factories.member(name="李四").member_no)

    body = api.get("/api/v1/me/tickets/").json()

    assert body["count"] == 1
    assert [reply["body"] for reply in body["results"][0]["replies"]] == ["已为您补送"]


def test_export_is_the_existing_export_and_is_recorded(api, member):
    response = api.get("/api/v1/me/export/")

    assert response.status_code == 200
    assert response.json()["member_no"] == member.member_no
    assert response["Content-Disposition"].startswith("attachment;")
    assert Interaction.objects.filter(member=member, summary_code=Summary.DATA_EXPORT).count() == 1


def test_closure_request_is_created_once(api, member):
    first = api.post("/api/v1/me/closure-request/", {"reason": "不再需要"}, format="json")
    second = api.post("/api/v1/me/closure-request/", {}, format="json")

    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"] and first.json()["status"] == "requested"
    assert AccountClosureRequest.objects.filter(member=member).count() == 1


def test_a_session_ends_when_staff_confirm_the_closure(api, member, manager):
    request = services.request_account_closure(member=member)
    services.confirm_account_closure(request=request, actor=manager)

    assert api.get("/api/v1/me/profile/").status_code == 401


def test_schema_lists_the_me_endpoints(api_manager):
    import yaml

    schema = yaml.safe_load(api_manager.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi").content)

    for method, url in ENDPOINTS:
        assert method in schema["paths"][url]
