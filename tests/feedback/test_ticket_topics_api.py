"""Topics through `set_ticket_topics`: exactly the topics given, one history event; the tickets API
shows them and filters by them (`?topic=`), and PATCH sets them; the admin list filters by topic."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from feedback.event_texts import EventText
from feedback.models import TicketEvent, TicketTopic, Topic
from feedback.services import set_ticket_topics, tag_ticket
from tests.feedback.factories import ticket

pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/tickets/"


@pytest.fixture
def delivery():
    return Topic.objects.get_or_create(name="Delivery", defaults={"keywords": "配送"})[0]


@pytest.fixture
def quality():
    return Topic.objects.get_or_create(name="Product quality", defaults={"keywords": "枯萎"})[0]


def topic_events(made):
    return list(TicketEvent.objects.filter(ticket=made, body_code=EventText.FIELD_CHANGES).order_by("pk"))


def test_set_ticket_topics_adds_removes_and_keeps_who_set_a_kept_one(support, manager, delivery, quality):
    made = ticket(message="配送迟到，花也枯萎了")
    tag_ticket(ticket=made, topics=[delivery], actor=support)
    rows = set_ticket_topics(ticket=made, topics=[delivery, quality], actor=manager)
    assert [(row.topic.name, row.set_by) for row in rows] == [("Delivery", support), ("Product quality", manager)]
    rows = set_ticket_topics(ticket=made, topics=[quality], actor=manager)
    assert [row.topic.name for row in rows] == ["Product quality"]
    events = topic_events(made)
    assert [e.body_params["changes"][0] for e in events] == [
        {"field": "topics", "old": "Delivery", "new": "Delivery, Product quality"},
        {"field": "topics", "old": "Delivery, Product quality", "new": "Product quality"},
    ]
    with translation.override("en"):
        assert events[1].body_text == "topics: Delivery, Product quality → Product quality"


def test_setting_the_same_topics_again_writes_nothing(delivery):
    made = ticket()
    set_ticket_topics(ticket=made, topics=[delivery])
    set_ticket_topics(ticket=made, topics=[delivery])
    assert len(topic_events(made)) == 1


def test_an_inactive_topic_cannot_be_added(delivery):
    delivery.is_active = False
    delivery.save()
    made = ticket()
    with pytest.raises(ValidationError) as refused:
        set_ticket_topics(ticket=made, topics=[delivery])
    assert "topics" in refused.value.message_dict
    assert not TicketTopic.objects.filter(ticket=made).exists()


def test_the_api_shows_topics_and_filters_by_them(api_support, delivery, quality):
    late = ticket(message="配送迟到")
    wilted = ticket(message="花枯萎了")
    plain = ticket(message="谢谢")
    set_ticket_topics(ticket=late, topics=[delivery])
    set_ticket_topics(ticket=wilted, topics=[quality, delivery])
    rows = {row["ticket_no"]: row for row in api_support.get(TICKETS).json()["results"]}
    assert rows[late.ticket_no]["topics"] == [{"id": delivery.pk, "name": "Delivery"}]
    assert rows[wilted.ticket_no]["topics"] == [
        {"id": delivery.pk, "name": "Delivery"},
        {"id": quality.pk, "name": "Product quality"},
    ]
    assert rows[plain.ticket_no]["topics"] == []
    found = api_support.get(TICKETS, {"topic": delivery.pk}).json()
    assert found["count"] == 2  # each ticket once, though the one with two topics joins twice
    assert {row["ticket_no"] for row in found["results"]} == {late.ticket_no, wilted.ticket_no}
    assert [row["ticket_no"] for row in api_support.get(TICKETS, {"topic": quality.pk}).json()["results"]] == [
        wilted.ticket_no
    ]
    detail = api_support.get(f"{TICKETS}{wilted.ticket_no}/").json()
    assert [topic["id"] for topic in detail["topics"]] == [delivery.pk, quality.pk]


def test_an_unknown_topic_in_the_filter_is_a_400(api_support):
    assert api_support.get(TICKETS, {"topic": 999999}).status_code == 400
    assert api_support.get(TICKETS, {"topic": "x"}).status_code == 400


def test_patch_sets_the_topics(api_support, delivery, quality):
    made = ticket()
    answer = api_support.patch(f"{TICKETS}{made.ticket_no}/", {"topics": [quality.pk]}, format="json")
    assert answer.status_code == 200, answer.json()
    assert answer.json()["topics"] == [{"id": quality.pk, "name": "Product quality"}]
    assert api_support.patch(f"{TICKETS}{made.ticket_no}/", {"topics": [99999]}, format="json").status_code == 400
    answer = api_support.patch(f"{TICKETS}{made.ticket_no}/", {"topics": []}, format="json")
    assert answer.json()["topics"] == []


def test_the_list_with_topics_runs_fixed_queries(api_support, delivery, quality):
    set_ticket_topics(ticket=ticket(), topics=[delivery])
    api_support.get(TICKETS)
    with CaptureQueriesContext(connection) as queries:
        api_support.get(TICKETS)
    few = len(queries)
    for _i in range(5):
        set_ticket_topics(ticket=ticket(), topics=[delivery, quality])
    with CaptureQueriesContext(connection) as queries:
        api_support.get(TICKETS)
    assert len(queries) == few


def test_the_admin_list_filters_by_topic(client, support, delivery):
    tagged = ticket(message="配送迟到")
    other = ticket(message="谢谢")
    set_ticket_topics(ticket=tagged, topics=[delivery])
    client.force_login(support)
    text = client.get(reverse("admin:feedback_ticket_changelist"), {"queue": "all", "topics__id__exact": delivery.pk})
    assert text.status_code == 200
    html = text.content.decode()
    assert tagged.ticket_no in html and other.ticket_no not in html


def test_the_ticket_page_sets_topics_through_the_service(client, support, delivery, quality):
    made = ticket(message="配送迟到")
    set_ticket_topics(ticket=made, topics=[delivery])
    row = TicketTopic.objects.get(ticket=made)
    client.force_login(support)
    data = {
        "kind": made.kind, "priority": made.priority, "assignee": "", "team": "", "new_status": "", "reply": "",
        "internal_note": "", "_save": "Save", "events-TOTAL_FORMS": "0", "events-INITIAL_FORMS": "0",
        "ticket_topics-TOTAL_FORMS": "2", "ticket_topics-INITIAL_FORMS": "1",
        "ticket_topics-0-id": row.pk, "ticket_topics-0-ticket": made.pk, "ticket_topics-0-topic": delivery.pk,
        "ticket_topics-0-DELETE": "on",
        "ticket_topics-1-ticket": made.pk, "ticket_topics-1-topic": quality.pk, "record_only": "",
    }  # fmt: skip
    answer = client.post(reverse("admin:feedback_ticket_change", args=[made.pk]), data)
    assert answer.status_code == 302
    assert [r.topic for r in TicketTopic.objects.filter(ticket=made)] == [quality]
    assert TicketTopic.objects.get(ticket=made).set_by == support
    assert topic_events(made)[-1].body_params["changes"][0]["new"] == "Product quality"
    assert topic_events(made)[-1].actor == support
