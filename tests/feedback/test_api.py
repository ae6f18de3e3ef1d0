import pytest
from django.core.cache import cache

from feedback.api.views import FeedbackThrottle
from feedback.models import Attachment, Ticket
from tests.feedback.factories import ticket, ticket_in
from tests.feedback.helpers import png_upload, upload

pytestmark = pytest.mark.django_db
SUBMIT = "/api/v1/feedback/"
TICKETS = "/api/v1/tickets/"


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()
    yield
    cache.clear()


def test_anonymous_json_submission_answers_201_with_ticket_no(api_anon):
    response = api_anon.post(
        SUBMIT, {"kind": "question", "message": "营业到几点？", "phone": "13800138000"}, format="json"
    )
    assert response.status_code == 201
    assert Ticket.objects.get().ticket_no == response.json()["ticket_no"]
    assert Ticket.objects.get().channel == Ticket.Channel.API


def test_multipart_submission_stores_photos(api_anon):
    response = api_anon.post(
        SUBMIT,
        {"kind": "complaint", "message": "破损", "photos": [png_upload("a.png"), png_upload("b.png")]},
        format="multipart",
    )
    assert response.status_code == 201
    assert Attachment.objects.filter(ticket__ticket_no=response.json()["ticket_no"]).count() == 2


def test_invalid_submission_answers_400_with_field_errors(api_anon):
    response = api_anon.post(SUBMIT, {"kind": "rant", "message": ""}, format="json")
    assert response.status_code == 400
    assert {"kind", "message"} <= set(response.json())


def test_fake_photo_answers_400_naming_the_file(api_anon, settings):
    response = api_anon.post(
        SUBMIT, {"kind": "complaint", "message": "x", "photos": [upload("fake.png", b"text")]}, format="multipart"
    )
    assert response.status_code == 400
    assert "fake.png" in str(response.json()["photos"])
    assert Ticket.objects.count() == 0


def test_service_refusal_answers_400(api_anon):
    response = api_anon.post(SUBMIT, {"kind": "complaint", "message": "x", "phone": "12"}, format="json")
    assert response.status_code == 400 and "phone" in response.json()


def test_anonymous_submissions_are_throttled_with_retry_after(api_anon, monkeypatch):
    monkeypatch.setattr(FeedbackThrottle, "rate", "2/hour")
    for _i in range(2):
        assert api_anon.post(SUBMIT, {"kind": "praise", "message": "好"}, format="json").status_code == 201
    response = api_anon.post(SUBMIT, {"kind": "praise", "message": "好"}, format="json")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert Ticket.objects.count() == 2


def test_tickets_list_needs_authentication(api_anon):
    assert api_anon.get(TICKETS).status_code == 401


@pytest.mark.parametrize("client_name", ["api_staff", "api_marketing"])
def test_tickets_list_is_forbidden_to_store_staff_and_marketing(client_name, request):
    assert request.getfixturevalue(client_name).get(TICKETS).status_code == 403


def test_support_lists_and_filters_tickets(api_support):
    ticket(kind="praise")
    complaint = ticket(kind="complaint")
    response = api_support.get(TICKETS, {"kind": "complaint"})
    assert response.status_code == 200
    assert [row["ticket_no"] for row in response.json()["results"]] == [complaint.ticket_no]


def test_the_tickets_list_masks_the_contact_data_and_one_ticket_shows_it(api_support):
    made = ticket(phone="13800138000", email="zhangwei@example.com")

    row = api_support.get(TICKETS).json()["results"][0]
    detail = api_support.get(f"{TICKETS}{made.ticket_no}/").json()

    assert (row["phone"], row["email"]) == ("138****8000", "z***@example.com")
    assert (detail["phone"], detail["email"]) == ("+8613800138000", "zhangwei@example.com")


def test_a_ticket_shown_in_clear_is_recorded_and_the_list_is_not(api_support, support):
    from members.models import ContactDetailView
    from tests.members import factories as member_factories

    member = member_factories.member()
    made = ticket(phone="13800138000", email="zhangwei@example.com", member_no=member.member_no)
    bare = ticket(contact_name="王先生")

    api_support.get(TICKETS)
    assert not ContactDetailView.objects.exists()  # the list masks: nothing shown in clear
    api_support.get(f"{TICKETS}{made.ticket_no}/", REMOTE_ADDR="203.0.113.9")
    api_support.get(f"{TICKETS}{bare.ticket_no}/")  # no contact data: nothing to record

    (view,) = ContactDetailView.objects.all()
    assert (view.user, view.username, view.member, view.channel) == (support, support.username, member, "api")
    assert made.ticket_no in view.subject and view.path == f"{TICKETS}{made.ticket_no}/"


def test_tickets_filter_by_status(api_manager):
    ticket_in("open")
    fresh = ticket()
    response = api_manager.get(TICKETS, {"status": "new"})
    assert [row["ticket_no"] for row in response.json()["results"]] == [fresh.ticket_no]


def test_support_patches_status_priority_and_assignee(api_support, support):
    made = ticket()
    response = api_support.patch(
        f"{TICKETS}{made.ticket_no}/", {"status": "open", "priority": "high", "assignee": "support"}, format="json"
    )
    assert response.status_code == 200, response.json()
    made.refresh_from_db()
    assert (made.status, made.priority, made.assignee) == ("open", "high", support)
    assert response.json()["status"] == "open"


def test_forbidden_transition_answers_409(api_support):
    made = ticket()
    response = api_support.patch(f"{TICKETS}{made.ticket_no}/", {"status": "closed"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "invalid_transition"


def test_store_staff_cannot_patch(api_staff):
    made = ticket()
    assert api_staff.patch(f"{TICKETS}{made.ticket_no}/", {"priority": "urgent"}, format="json").status_code == 403


def test_ticket_detail_shows_contact_data_to_support(api_support):
    made = ticket(email="kehu@example.com", photos=[png_upload()])
    body = api_support.get(f"{TICKETS}{made.ticket_no}/").json()
    assert body["email"] == "kehu@example.com"
    assert body["attachments"][0].endswith(f"/feedback/attachments/{made.attachments.get().pk}/")


def test_schema_documents_the_feedback_endpoints(api_anon):
    from django.test import Client

    text = Client().get("/api/schema/").content.decode()
    assert "/api/v1/feedback/" in text and "/api/v1/tickets/{ticket_no}/" in text


def test_forbidden_transition_leaves_the_other_changes_of_the_patch_unsaved(api_support):
    made = ticket_in("open")
    events = made.events.count()
    response = api_support.patch(
        f"{TICKETS}{made.ticket_no}/", {"priority": "urgent", "assignee": "support", "status": "closed"}, format="json"
    )
    assert response.status_code == 409 and response.json()["code"] == "invalid_transition"
    made.refresh_from_db()
    assert (made.status, made.priority, made.assignee) == ("open", "normal", None)
    assert made.events.count() == events


def test_patching_the_current_status_with_a_note_changes_nothing(api_support):
    made = ticket_in("open")
    events = made.events.count()
    response = api_support.patch(f"{TICKETS}{made.ticket_no}/", {"status": "open", "note": "仍在处理"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "open"
    assert made.events.count() == events
