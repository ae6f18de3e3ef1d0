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
    assert made.ticket_no in record.summary_text and record.details == "送错地址了"


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


def test_reply_emails_the_customer_and_sets_first_response_once(support, django_capture_on_commit_callbacks):
    made = ticket(email="kehu@example.com", language="zh-hans")
    with django_capture_on_commit_callbacks(execute=True):
        services.reply(ticket=made, body="非常抱歉，我们明天补送。", actor=support)
    made.refresh_from_db()
    first = made.first_response_at
    assert first is not None
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["kehu@example.com"] and made.ticket_no in sent.subject
    assert "非常抱歉" in sent.body
    with django_capture_on_commit_callbacks(execute=True):
        services.reply(ticket=made, body="已补送。", actor=support)
    made.refresh_from_db()
    assert made.first_response_at == first and len(mail.outbox) == 2
    assert made.events.filter(kind=TicketEvent.Kind.REPLY).count() == 2


def test_reply_without_email_goes_by_sms_not_email(support, django_capture_on_commit_callbacks):
    # Before: recorded as answered although nobody was told. Now: an SMS with the ticket's link.
    made = ticket(phone="13500135000")
    with django_capture_on_commit_callbacks(execute=True):
        event = services.reply(ticket=made, body="已电话联系", actor=support)
    made.refresh_from_db()
    assert mail.outbox == [] and event.delivery.channel == "sms" and made.first_response_at is not None


def test_reply_that_cannot_be_sent_is_recorded_as_failed(support, monkeypatch, django_capture_on_commit_callbacks):
    # Before: the reply was rolled back. Now: staff's words are kept, the delivery says it failed.
    made = ticket(email="kehu@example.com")

    def fail(self, fail_silently=False):
        raise OSError("SMTP down")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", fail)
    with django_capture_on_commit_callbacks(execute=True):
        services.reply(ticket=made, body="hello", actor=support)
    made.refresh_from_db()
    assert made.first_response_at is None
    assert made.events.get(kind="reply").delivery.status == "failed"


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
    assert "support" in event.body_text and event.actor == manager


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


# --- work_ticket: one update of a ticket, all or nothing ---------------------------------------


def test_work_ticket_refused_status_leaves_the_priority_and_everything_else_unchanged(support):
    made = ticket_in("open", email="kehu@example.com")
    events = made.events.count()
    with pytest.raises(services.InvalidTransition) as caught:
        services.work_ticket(
            ticket=made, actor=support, priority="urgent", assignee=support, reply="马上处理", internal_note="急",
            status="closed",
        )  # fmt: skip
    assert caught.value.code == "invalid_transition"
    made.refresh_from_db()
    assert (made.status, made.priority, made.assignee, made.first_response_at) == ("open", "normal", None, None)
    assert made.events.count() == events
    assert mail.outbox == []  # the customer is not told about an update that was not saved


def test_work_ticket_replies_and_resolves_in_one_call(support, django_capture_on_commit_callbacks):
    made = ticket_in("open", email="kehu@example.com")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        worked = services.work_ticket(ticket=made, actor=support, reply="已补送。", status="resolved", note="补送完成")
    assert (made.status, worked.status) == ("resolved", "resolved")  # the caller's object follows
    made.refresh_from_db()
    assert made.status == "resolved" and made.resolved_at is not None and made.first_response_at is not None
    assert "已补送。" in mail.outbox[0].body
    reply_event, status_event = made.events.order_by("pk")[2:4]
    assert (reply_event.kind, reply_event.body, reply_event.actor) == ("reply", "已补送。", support)
    assert (status_event.kind, status_event.from_status, status_event.to_status, status_event.body) == (
        "status_change", "open", "resolved", "补送完成",
    )  # fmt: skip
    assert len(callbacks) == 2  # the reply, then the satisfaction survey, after commit
    assert len(mail.outbox) == 2 and "/survey/" in mail.outbox[1].body


def test_work_ticket_audits_each_change_as_the_single_services_do(support, manager):
    made = ticket(email="kehu@example.com")
    services.work_ticket(
        ticket=made, actor=manager, kind="question", priority="high", assignee=support, reply="您好",
        internal_note="老顾客", status="open",
    )  # fmt: skip
    made.refresh_from_db()
    assert (made.kind, made.priority, made.assignee, made.status) == ("question", "high", support, "open")
    events = list(made.events.order_by("pk").values_list("kind", "actor"))
    assert events == [
        ("created", None),
        ("update", manager.pk),
        ("reply", manager.pk),
        ("internal_note", manager.pk),
        ("status_change", manager.pk),
    ]
    update = made.events.get(kind="update").body_text
    assert str(Ticket.Kind.QUESTION.label) in update and str(Ticket.Priority.HIGH.label) in update
    assert "support" in update


def test_work_ticket_with_nothing_changed_writes_no_event(support):
    made = ticket_in("open")
    services.update_ticket(ticket=made, actor=support, assignee=support)
    made.refresh_from_db()
    events, updated_at = made.events.count(), made.updated_at
    services.work_ticket(
        ticket=made, actor=support, kind=made.kind, priority=made.priority, assignee=support, status="open",
        note="没有变化", reply="   ", internal_note="",
    )  # fmt: skip
    services.work_ticket(ticket=made, actor=support)
    made.refresh_from_db()
    assert made.events.count() == events and made.updated_at == updated_at


def test_work_ticket_none_clears_the_assignee_and_unset_keeps_it(support):
    made = ticket()
    services.work_ticket(ticket=made, actor=support, assignee=support, status="open")
    services.work_ticket(ticket=made, actor=support, priority="high")
    made.refresh_from_db()
    assert (made.assignee, made.priority) == (support, "high")
    services.work_ticket(ticket=made, actor=support, assignee=None)
    made.refresh_from_db()
    assert made.assignee is None


def test_work_ticket_unsent_reply_keeps_the_update_and_records_the_failure(
    support, monkeypatch, django_capture_on_commit_callbacks
):
    # Before: an unsent email rolled the whole update back. Now sending comes after the commit:
    # the update and the reply are kept, the reply's delivery is failed, no first response.
    made = ticket(email="kehu@example.com")
    events = made.events.count()

    def fail(self, fail_silently=False):
        raise OSError("SMTP down")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", fail)
    with django_capture_on_commit_callbacks(execute=True):
        services.work_ticket(ticket=made, actor=support, priority="urgent", reply="您好", status="open")
    made.refresh_from_db()
    assert (made.status, made.priority, made.first_response_at) == ("open", "urgent", None)
    assert made.events.count() == events + 3
    assert made.events.get(kind="reply").delivery.status == "failed"


def test_work_ticket_refuses_an_unknown_priority_naming_the_field(support):
    made = ticket()
    with pytest.raises(ValidationError) as caught:
        services.work_ticket(ticket=made, actor=support, priority="asap", status="open")
    assert set(caught.value.message_dict) == {"priority"}
    made.refresh_from_db()
    assert made.status == "new"


@pytest.mark.postgres
def test_work_ticket_locks_the_ticket_row_before_it_writes(support):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    made = ticket()
    with CaptureQueriesContext(connection) as queries:
        services.work_ticket(ticket=made, actor=support, priority="high", internal_note="先看", status="open")
    statements = [q["sql"].upper() for q in queries if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE"))]
    first_write = next(i for i, sql in enumerate(statements) if sql.startswith(("UPDATE", "INSERT")))
    locks = [i for i, sql in enumerate(statements) if "FOR UPDATE" in sql and "FEEDBACK_TICKET" in sql]
    assert locks and locks[0] < first_write
    assert len(locks) == 1  # one lock for the whole update, not one per step
