"""Issue 19 through the API and the admin: staff create tickets with the customer's wait; the
queue opens on open tickets ordered by time to breach and says why a ticket is prioritised."""

import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from feedback import services
from feedback.models import Ticket
from tests.feedback.factories import ticket, ticket_in

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
TICKETS = "/api/v1/tickets/"
CHANGELIST = "/admin/feedback/ticket/"
H = datetime.timedelta(hours=1)
M = datetime.timedelta(minutes=1)


def aged(delta, **kwargs) -> Ticket:
    with time_machine.travel(timezone.now() - delta, tick=False):
        return ticket(**kwargs)


# --- API ------------------------------------------------------------------------------------------


def test_staff_create_a_phone_ticket_typed_after_the_call_and_it_is_met(api_support):
    called = timezone.now() - 10 * M
    body = {
        "kind": "complaint",
        "message": "花束送到时已经枯萎了。",
        "phone": "13800138000",
        "channel": "phone",
        "contacted_at": called.isoformat(),
        "first_response_at": (called + datetime.timedelta(seconds=15)).isoformat(),
    }
    response = api_support.post(TICKETS, body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["channel"] == "phone"
    assert datetime.datetime.fromisoformat(data["contacted_at"]) == called.replace(microsecond=called.microsecond)
    assert data["sla"]["state"] == "met" and data["sla"]["first_response_seconds"] == 15
    assert data["sla"]["due_at"] is not None  # the resolution target runs on
    assert Ticket.objects.get(ticket_no=data["ticket_no"]).first_response_at is not None


def test_ticket_created_now_is_ok_with_its_due_time(api_support):
    response = api_support.post(TICKETS, {"kind": "question", "message": "营业到几点？"}, format="json")
    assert response.status_code == 201
    data = response.json()
    assert data["channel"] == "api" and data["sla"]["state"] == "ok"
    assert data["sla"]["first_response_seconds"] is None
    due = datetime.datetime.fromisoformat(data["sla"]["due_at"])
    assert due - datetime.datetime.fromisoformat(data["contacted_at"]) == 4 * H


@pytest.mark.parametrize(
    ("contacted", "answered", "field"),
    [
        (H, None, "contacted_at"),
        (-H, 2 * H, "first_response_at"),
        (-H, -2 * H, "first_response_at"),
    ],
)
def test_impossible_times_answer_400_naming_the_field(api_support, contacted, answered, field):
    now = timezone.now()
    body = {"kind": "complaint", "message": "x", "channel": "phone", "contacted_at": (now + contacted).isoformat()}
    if answered is not None:
        body["first_response_at"] = (now + answered).isoformat()
    response = api_support.post(TICKETS, body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Ticket.objects.exists()


def test_store_staff_may_record_tickets_marketing_may_not(api_staff, api_marketing):
    body = {"kind": "question", "message": "有玫瑰吗？", "channel": "store"}
    assert api_staff.post(TICKETS, body, format="json").status_code == 201
    assert api_marketing.post(TICKETS, body, format="json").status_code == 403


def test_the_list_shows_sla_and_priority_reason_in_fixed_queries(api_support, django_assert_num_queries):
    ticket(kind=Ticket.Kind.SUGGESTION)
    response = api_support.get(TICKETS)
    few = None
    with CaptureQueriesContext(connection) as queries:
        response = api_support.get(TICKETS)
    few = len(queries)
    row = response.json()["results"][0]
    assert row["priority_reason"] == "Suggestion" and row["sla"]["state"] == "ok"
    for _i in range(5):
        ticket()
    with django_assert_num_queries(few):
        api_support.get(TICKETS)


# --- admin --------------------------------------------------------------------------------------


def test_queue_opens_on_open_tickets_ordered_by_time_to_breach(client, support):
    warned = aged(3 * H + 30 * M)  # due in 30 min: warning
    overdue_a_little = aged(4 * H + 5 * M)
    overdue_most = aged(5 * H + 1 * M + 5 * datetime.timedelta(seconds=1))
    fresh = aged(0 * H)
    done = ticket_in("resolved", actor=support)
    client.force_login(support)
    text = client.get(CHANGELIST).content.decode()
    order = [text.index(t.ticket_no) for t in (overdue_most, overdue_a_little, warned, fresh)]
    assert order == sorted(order)
    assert done.ticket_no not in text
    assert "Overdue 1 h 1 min" in text
    assert done.ticket_no in client.get(f"{CHANGELIST}?queue=all").content.decode()


def test_queue_shows_why_a_ticket_is_prioritised_in_chinese(client, support):
    ticket(kind=Ticket.Kind.SUGGESTION)
    client.force_login(support)
    text = client.get(CHANGELIST, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert 'class="priority-reason"' in text


def test_queue_query_count_is_fixed(client, support):
    client.force_login(support)
    ticket(kind=Ticket.Kind.SUGGESTION)
    with CaptureQueriesContext(connection) as queries:
        client.get(CHANGELIST)
    few = len(queries)
    for _i in range(10):
        aged(5 * H, kind=Ticket.Kind.SUGGESTION)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(CHANGELIST).status_code == 200
    assert len(queries) == few


def add_form(**overrides):
    data = {
        "kind": "complaint",
        "channel": "phone",
        "contacted_at": "",
        "answered": "three_rings",
        "answered_at": "",
        "message": "花束送到时已经枯萎了。",
        "contact_name": "",
        "phone": "13800138000",
        "email": "",
        "member_no": "",
        "order_ref": "",
        "store": "",
    }
    return {**data, **overrides}


def test_admin_phone_ticket_answered_within_three_rings_is_met(client, support):
    client.force_login(support)
    called = timezone.localtime(timezone.now() - 20 * M).replace(second=0, microsecond=0)
    response = client.post(f"{CHANGELIST}add/", add_form(contacted_at=called.strftime("%Y-%m-%dT%H:%M")))
    assert response.status_code == 302, response.content.decode()[:3000]
    made = Ticket.objects.get()
    assert made.contacted_at == called
    assert made.first_response_at == called + datetime.timedelta(seconds=15)
    assert services.flag_sla_breaches().first_response == 0
    assert made.events.filter(kind="call").exists()


def test_admin_phone_ticket_must_say_how_soon_it_was_answered(client, support):
    client.force_login(support)
    response = client.post(f"{CHANGELIST}add/", add_form(answered=""))
    assert response.status_code == 200
    assert "Say how soon the customer was answered" in response.content.decode()
    assert not Ticket.objects.exists()


def test_admin_not_answered_yet_leaves_the_first_response_open(client, support):
    client.force_login(support)
    response = client.post(f"{CHANGELIST}add/", add_form(answered="not_yet"))
    assert response.status_code == 302
    assert Ticket.objects.get().first_response_at is None
