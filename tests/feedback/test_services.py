import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from feedback import services
from feedback.models import Attachment, Ticket, TicketEvent
from loyalty_crm import crypto
from members.models import ServiceRecord
from tests.feedback.factories import ticket, ticket_in
from tests.feedback.helpers import png_upload, upload
from tests.members import factories as mf

pytestmark = pytest.mark.django_db


def media_files(settings):
    root = settings.MEDIA_ROOT / "feedback"
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def test_submission_creates_a_new_ticket_with_an_unguessable_number():
    made = ticket(kind="suggestion", message="  多开一家店吧  ")
    assert made.status == Ticket.Status.NEW
    assert made.message == "多开一家店吧"
    assert made.ticket_no.startswith("FB-") and len(made.ticket_no) == 13
    assert ticket().ticket_no != made.ticket_no
    assert made.events.get().kind == TicketEvent.Kind.CREATED


def test_contact_data_is_encrypted_at_rest_and_phone_searchable():
    made = ticket(contact_name="李雷", phone="138 0013 8000", email="Li@Example.COM")
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT contact_name, phone, email FROM feedback_ticket WHERE id = %s", [made.pk])
        raw = cursor.fetchone()
    assert all(value.startswith("v1$") for value in raw)
    made.refresh_from_db()
    assert (made.contact_name, made.phone, made.email) == ("李雷", "+8613800138000", "Li@example.com")
    assert made.phone_hash == crypto.lookup_hash("+8613800138000")
    assert list(Ticket.objects.with_phone("13800138000")) == [made]


def test_message_over_2000_characters_is_refused():
    with pytest.raises(ValidationError) as caught:
        ticket(message="字" * 2001)
    assert "message" in caught.value.message_dict
    assert Ticket.objects.count() == 0


def test_unknown_kind_and_bad_contact_data_are_all_named():
    with pytest.raises(ValidationError) as caught:
        ticket(kind="rant", phone="12", email="not-an-email")
    assert set(caught.value.message_dict) == {"kind", "phone", "email"}
    assert Ticket.objects.count() == 0


def test_photos_are_stored_reencoded_under_random_names(settings):
    made = ticket(photos=[png_upload("我的照片.png")])
    attachment = made.attachments.get()
    assert attachment.original_name == "我的照片.png"
    assert attachment.file.name.startswith("feedback/") and attachment.file.name.endswith(".png")
    assert "照片" not in attachment.file.name
    assert (attachment.width, attachment.height, attachment.content_type) == (40, 30, "image/png")
    assert media_files(settings) == [attachment.file.name.split("/")[-1]]


def test_a_refused_photo_stores_no_ticket_and_no_file(settings):
    with pytest.raises(ValidationError) as caught:
        ticket(photos=[png_upload("good.png"), upload("fake.png", b"text")])
    assert "fake.png" in " ".join(caught.value.message_dict["photos"])
    assert Ticket.objects.count() == 0 and Attachment.objects.count() == 0
    assert media_files(settings) == []


def test_files_are_deleted_when_saving_the_ticket_fails(settings, monkeypatch):
    member = mf.member(phone="13900139000")

    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services.member_services, "add_service_record", broken)
    with pytest.raises(RuntimeError):
        ticket(phone="13900139000", photos=[png_upload()])
    assert member.tickets.count() == 0 and Attachment.objects.count() == 0
    assert media_files(settings) == []


def test_member_found_by_phone_and_purchase_by_its_reference():
    member = mf.member(phone="13700137000")
    purchase = mf.purchase(member, ref="ORD-FB-1")
    made = ticket(phone="+86 137 0013 7000", purchase_ref="ORD-FB-1")
    assert (made.member, made.purchase, made.order_ref) == (member, purchase, "ORD-FB-1")


def test_member_found_by_member_number_and_by_email():
    by_no = mf.member(phone="13700137001")
    by_email = mf.member(phone="13700137002", email="rose@example.com")
    assert ticket(member_no=by_no.member_no).member == by_no
    assert ticket(email="ROSE@example.com").member == by_email


def test_another_members_purchase_is_not_linked():
    member = mf.member(phone="13700137003")
    other = mf.member(phone="13700137004")
    mf.purchase(other, ref="ORD-OTHER")
    made = ticket(phone="13700137003", purchase_ref="ORD-OTHER")
    assert made.member == member and made.purchase is None and made.order_ref == "ORD-OTHER"


def test_unmatched_contact_leaves_the_ticket_unlinked():
    made = ticket(phone="13600136000", member_no="M-NOPE")
    assert made.member is None


def test_linked_complaint_adds_a_service_record_to_the_profile():
    member = mf.member(phone="13700137005")
    made = ticket(kind="complaint", phone="13700137005", message="送错地址了")
    record = member.service_records.get()
    assert record.kind == ServiceRecord.Kind.COMPLAINT
    assert made.ticket_no in record.summary and record.details == "送错地址了"


def test_linked_praise_adds_no_service_record():
    member = mf.member(phone="13700137006")
    ticket(kind="praise", phone="13700137006")
    assert member.service_records.count() == 0


# --- workflow ------------------------------------------------------------------------------

ALLOWED = [
    ("new", "open"),
    ("open", "waiting"),
    ("waiting", "open"),
    ("open", "resolved"),
    ("waiting", "resolved"),
    ("resolved", "closed"),
    ("resolved", "open"),
    ("closed", "open"),
]
ALL = [(a, b) for a in Ticket.Status.values for b in Ticket.Status.values if a != b]


@pytest.mark.parametrize(("start", "to"), ALLOWED)
def test_allowed_transition_changes_status_and_is_recorded(start, to, support):
    made = ticket_in(start)
    services.change_status(ticket=made, to=to, actor=support)
    made.refresh_from_db()
    assert made.status == to
    event = made.events.filter(kind=TicketEvent.Kind.STATUS_CHANGE).last()
    assert (event.from_status, event.to_status, event.actor) == (start, to, support)


@pytest.mark.parametrize(("start", "to"), [pair for pair in ALL if pair not in ALLOWED])
def test_forbidden_transition_is_refused(start, to, support):
    made = ticket_in(start)
    events = made.events.count()
    with pytest.raises(services.InvalidTransition) as caught:
        services.change_status(ticket=made, to=to, actor=support)
    assert caught.value.code == "invalid_transition"
    made.refresh_from_db()
    assert made.status == start and made.events.count() == events


def test_resolving_stamps_resolved_at_and_reopening_clears_it(support):
    made = ticket_in("resolved")
    assert made.resolved_at is not None
    services.change_status(ticket=made, to="open", actor=support)
    assert made.resolved_at is None


def test_reply_emails_the_customer_and_sets_first_response_once(support):
    made = ticket(email="kehu@example.com", language="zh-hans")
    services.reply(ticket=made, body="非常抱歉，我们明天补送。", actor=support)
    first = made.first_response_at
    assert first is not None
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["kehu@example.com"] and made.ticket_no in sent.subject
    assert "非常抱歉" in sent.body
    services.reply(ticket=made, body="已补送。", actor=support)
    made.refresh_from_db()
    assert made.first_response_at == first and len(mail.outbox) == 2
    assert made.events.filter(kind=TicketEvent.Kind.REPLY).count() == 2


def test_reply_without_email_is_recorded_but_not_sent(support):
    made = ticket(phone="13500135000")
    services.reply(ticket=made, body="已电话联系", actor=support)
    assert mail.outbox == [] and made.first_response_at is not None


def test_reply_that_cannot_be_sent_is_not_recorded(support, settings, monkeypatch):
    made = ticket(email="kehu@example.com")

    def fail(self, fail_silently=False):
        raise OSError("SMTP down")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", fail)
    with pytest.raises(services.ReplyNotSent):
        services.reply(ticket=made, body="hello", actor=support)
    made.refresh_from_db()
    assert made.first_response_at is None and not made.events.filter(kind="reply").exists()


def test_internal_note_is_recorded_and_never_sent(support):
    made = ticket(email="kehu@example.com")
    services.add_note(ticket=made, body="客户是老顾客", actor=support)
    assert mail.outbox == []
    assert made.events.filter(kind=TicketEvent.Kind.INTERNAL_NOTE, body="客户是老顾客").exists()


def test_empty_reply_is_refused(support):
    with pytest.raises(ValidationError):
        services.reply(ticket=ticket(), body="  ", actor=support)


def test_update_ticket_changes_priority_and_assignee_with_history(support, manager):
    made = ticket()
    services.update_ticket(ticket=made, actor=manager, priority="urgent", assignee=support)
    made.refresh_from_db()
    assert (made.priority, made.assignee) == ("urgent", support)
    event = made.events.get(kind=TicketEvent.Kind.UPDATE)
    assert "support" in event.body and event.actor == manager


def test_update_ticket_refuses_status_and_unknown_priority(support):
    made = ticket()
    with pytest.raises(ValidationError):
        services.update_ticket(ticket=made, actor=support, status="closed")
    with pytest.raises(ValidationError):
        services.update_ticket(ticket=made, actor=support, priority="asap")


def test_erasing_a_member_anonymises_their_tickets_and_deletes_photos(db, django_capture_on_commit_callbacks):
    from django.core.files.storage import default_storage

    from members import services as member_services

    member = mf.member(name="黄小姐", phone="13900139111")
    made = ticket(kind="complaint", message="花束送到时已经枯萎了", phone="13900139111", photos=[png_upload()])
    assert made.member == member
    stored = made.attachments.get().file.name
    with django_capture_on_commit_callbacks(execute=True):
        member_services.erase_member(member=member)
    made.refresh_from_db()
    assert made.message == "—"
    assert (made.phone, made.email, made.contact_name, made.phone_hash) == ("", "", "", "")
    assert made.kind == "complaint"  # still counted in complaint figures
    assert not made.attachments.exists()
    assert not default_storage.exists(stored)
