import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from feedback.models import Ticket, TicketEvent
from tests.feedback.factories import ticket, ticket_in
from tests.feedback.helpers import png_upload
from tests.members import factories as mf

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/feedback/ticket/"


def change_url(made):
    return f"{CHANGELIST}{made.pk}/change/"


def logged_in(client, user):
    client.force_login(user)
    return client


def test_changelist_query_count_does_not_grow_with_tickets(client, support):
    from feedback.models import Team

    logged_in(client, support)
    shop = mf.store()
    member = mf.member(phone="13100131000")
    team = Team.objects.create(name="客服一组", lead=support)

    def add(count):
        for _i in range(count):
            made = ticket(store=shop, phone="13100131000")
            Ticket.objects.filter(pk=made.pk).update(assignee=support, team=team)

    add(3)
    with CaptureQueriesContext(connection) as few:
        assert client.get(CHANGELIST).status_code == 200
    add(27)
    with CaptureQueriesContext(connection) as many:
        response = client.get(CHANGELIST)
    assert response.status_code == 200 and member.tickets.count() == 30
    assert response.content.decode().count("sla-badge") == 30  # time to breach on every row
    assert len(many) == len(few)


def test_search_by_ticket_number_and_by_phone(client, support):
    logged_in(client, support)
    wanted = ticket(phone="13200132000")
    other = ticket(phone="13200132001")
    text = client.get(CHANGELIST, {"q": wanted.ticket_no}).content.decode()
    assert wanted.ticket_no in text and other.ticket_no not in text
    text = client.get(CHANGELIST, {"q": "132 0013 2000"}).content.decode()
    assert wanted.ticket_no in text and other.ticket_no not in text


def test_search_by_phone_finds_tickets_of_the_member(client, support):
    logged_in(client, support)
    member = mf.member(phone="13200132002")
    made = ticket(member_no=member.member_no)
    assert made.ticket_no in client.get(CHANGELIST, {"q": "13200132002"}).content.decode()


def test_queue_filters_mine_and_unassigned(client, support):
    logged_in(client, support)
    mine = ticket()
    Ticket.objects.filter(pk=mine.pk).update(assignee=support)
    free = ticket()
    text = client.get(CHANGELIST, {"queue": "mine"}).content.decode()
    assert mine.ticket_no in text and free.ticket_no not in text
    text = client.get(CHANGELIST, {"queue": "unassigned"}).content.decode()
    assert free.ticket_no in text and mine.ticket_no not in text


def test_assign_to_me_action(client, support):
    logged_in(client, support)
    made = ticket()
    response = client.post(CHANGELIST, {"action": "assign_to_me", "_selected_action": [made.pk]})
    assert response.status_code == 302
    made.refresh_from_db()
    assert made.assignee == support
    assert made.events.filter(kind=TicketEvent.Kind.UPDATE).exists()


def post_change(client, made, **fields):
    data = {
        "kind": made.kind,
        "priority": made.priority,
        "assignee": made.assignee_id or "",
        "team": made.team_id or "",
        "new_status": "",
        "reply": "",
        "internal_note": "",
        "_save": "Save",
        # The read-only history inline's management form, as the browser sends it.
        "events-TOTAL_FORMS": "0",
        "events-INITIAL_FORMS": "0",
    }
    data.update(fields)
    return client.post(change_url(made), data)


def test_status_change_in_admin_goes_through_the_workflow(client, support):
    logged_in(client, support)
    made = ticket()
    assert post_change(client, made, new_status="open").status_code == 302
    made.refresh_from_db()
    assert made.status == "open"
    assert made.events.filter(kind="status_change", actor=support).exists()


def test_forbidden_status_in_admin_shows_an_error(client, support):
    logged_in(client, support)
    made = ticket_in("open")
    response = post_change(client, made, new_status="closed")
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    made.refresh_from_db()
    assert made.status == "open"


def test_reply_from_the_change_page_emails_and_records(client, support, django_capture_on_commit_callbacks):
    logged_in(client, support)
    made = ticket(email="kehu@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        assert post_change(client, made, reply="我们已经安排补送。", internal_note="老顾客").status_code == 302
    made.refresh_from_db()
    assert made.first_response_at is not None and len(mail.outbox) == 1
    assert set(made.events.values_list("kind", flat=True)) >= {"reply", "internal_note"}


def test_change_page_shows_history_and_photo_thumbnails(client, support):
    logged_in(client, support)
    made = ticket(photos=[png_upload()])
    text = client.get(change_url(made)).content.decode()
    assert f'src="/feedback/attachments/{made.attachments.get().pk}/"' in text
    assert "history" in text.lower()


def test_store_staff_record_a_complaint_in_store(client, store_staff):
    logged_in(client, store_staff)
    member = mf.member(phone="13300133000")
    response = client.post(
        "/admin/feedback/ticket/add/",
        {"kind": "complaint", "channel": "store", "message": "包装破了", "phone": "13300133000", "_save": "Save"},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    made = Ticket.objects.get()
    assert made.member == member and made.channel == "store"
    assert member.service_records.filter(kind="complaint").exists()


def test_store_staff_cannot_change_tickets(client, store_staff):
    logged_in(client, store_staff)
    made = ticket()
    post_change(client, made, new_status="open")
    made.refresh_from_db()
    assert made.status == "new"


# --- attachment view -------------------------------------------------------------------------


def test_attachment_view_serves_the_photo_to_support(client, support):
    made = ticket(photos=[png_upload()])
    response = logged_in(client, support).get(f"/feedback/attachments/{made.attachments.get().pk}/")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")


def test_attachment_view_redirects_anonymous_to_login(client):
    made = ticket(photos=[png_upload()])
    response = client.get(f"/feedback/attachments/{made.attachments.get().pk}/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_attachment_view_is_forbidden_without_the_permission(client, store_staff):
    made = ticket(photos=[png_upload()])
    assert logged_in(client, store_staff).get(f"/feedback/attachments/{made.attachments.get().pk}/").status_code == 403


def test_media_files_are_not_served_by_url(client, support):
    made = ticket(photos=[png_upload()])
    assert logged_in(client, support).get("/media/" + made.attachments.get().file.name).status_code == 404


def test_a_status_refused_after_the_form_was_loaded_shows_next_to_new_status_and_saves_nothing(support):
    """Another user resolved the ticket while this form (loaded on "open") was being filled in."""
    from feedback import services
    from feedback.admin import TicketChangeForm

    made = ticket_in("open", email="kehu@example.com")
    loaded = Ticket.objects.get(pk=made.pk)
    services.change_status(ticket=made, to="resolved", actor=support)
    events = made.events.count()
    form = TicketChangeForm(
        data={"kind": made.kind, "priority": "urgent", "assignee": support.pk, "team": "", "new_status": "waiting",
              "reply": "正在处理", "internal_note": "加急"},
        instance=loaded,
    )  # fmt: skip
    form.actor = support
    assert not form.is_valid()
    assert "cannot become" in " ".join(form.errors["new_status"])
    made.refresh_from_db()
    assert (made.status, made.priority, made.assignee) == ("resolved", "normal", None)
    assert made.events.count() == events
    assert mail.outbox == []  # the reply was neither recorded nor emailed


def test_an_unsent_reply_is_saved_and_shown_failed_in_red_with_retry(
    client, support, monkeypatch, django_capture_on_commit_callbacks
):
    # Before: an unsent email refused the whole update. Now the update and the reply are saved
    # (sending comes after commit) and the history shows the failure with "Retry sending".
    logged_in(client, support)
    made = ticket(email="kehu@example.com")

    def fail(self, fail_silently=False):
        raise OSError("SMTP down")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", fail)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_change(client, made, priority="urgent", reply="您好", new_status="open")
    assert response.status_code == 302
    made.refresh_from_db()
    assert (made.status, made.priority, made.first_response_at) == ("open", "urgent", None)
    text = client.get(change_url(made)).content.decode()
    assert "reply-failed" in text and "#b42318" in text and "OSError" in text and "reply-retry" in text


def test_the_ticket_page_records_that_it_showed_the_contact_data(client, support):
    from members.models import ContactDetailView
    from tests.feedback.factories import ticket

    made = ticket(phone="13800138000", contact_name="王先生")
    client.force_login(support)
    response = client.get(f"/admin/feedback/ticket/{made.pk}/change/")
    assert response.status_code == 200
    (view,) = ContactDetailView.objects.all()
    assert (view.user, view.member, view.channel) == (support, None, "admin")
    assert made.ticket_no in view.subject
