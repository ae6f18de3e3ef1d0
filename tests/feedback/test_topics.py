"""Ticket topics: explainable keyword suggestions (Chinese character n-grams, whole Latin words),
tagging, and complaints by topic and month with the top rising topic on the KPI page."""

import datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from feedback import topic_kpis, topics
from feedback.models import Ticket, TicketTopic, Topic
from feedback.services import tag_ticket
from tests.feedback.factories import ticket

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"}


def test_keywords_are_split_on_lines_and_either_comma():
    assert topics.parse_keywords("配送，迟到\n快递, Late ,,") == ["配送", "迟到", "快递", "late"]


def test_a_chinese_keyword_matches_inside_a_sentence_and_a_latin_one_only_as_a_word():
    assert topics.matched_words("花送到时已经枯萎了，配送也迟到", ["枯萎", "迟到", "价格"]) == ["枯萎", "迟到"]
    assert topics.matched_words("The chocolate was LATE", ["late"]) == ["late"]
    assert topics.matched_words("chocolate", ["late"]) == []
    assert topics.matched_words("ＡＢＣ全角", ["abc"]) == ["abc"]  # NFKC: full-width letters match


def test_suggestions_list_the_words_that_matched_most_first():
    delivery = Topic(name="Delivery", keywords="配送, 迟到")
    price = Topic(name="Price", keywords="贵")
    quality = Topic(name="Product quality", keywords="枯萎")
    found = topics.suggest("配送员迟到了，而且太贵", [price, quality, delivery])
    assert [(s.topic.name, s.words) for s in found] == [("Delivery", ["配送", "迟到"]), ("Price", ["贵"])]


@pytest.mark.django_db
def test_tagging_is_idempotent_and_remembers_who(support):
    made = ticket(kind="complaint", message="配送迟到")
    delivery = Topic.objects.get_or_create(name="Delivery", defaults={"keywords": "配送"})[0]
    tag_ticket(ticket=made, topics=[delivery], actor=support)
    tag_ticket(ticket=made, topics=[delivery], actor=None)
    row = TicketTopic.objects.get(ticket=made)
    assert row.topic == delivery and row.set_by == support
    assert delivery not in [s.topic for s in topics.suggestions_for(made)]  # already set: not suggested again


def _complaint_at(moment, topic, kind="complaint"):
    with time_machine.travel(moment, tick=False):
        made = ticket(kind=kind, message="x")
        tag_ticket(ticket=made, topics=[topic])
    return made


@pytest.mark.django_db
def test_complaints_by_topic_and_month_and_the_top_rising_topic():
    tz = timezone.get_current_timezone()
    now = datetime.datetime(2026, 6, 15, 12, tzinfo=tz)
    delivery = Topic.objects.get_or_create(name="Delivery")[0]
    price = Topic.objects.get_or_create(name="Price")[0]
    april, may = datetime.datetime(2026, 4, 10, tzinfo=tz), datetime.datetime(2026, 5, 10, tzinfo=tz)
    for _i in range(1):
        _complaint_at(april, delivery)
    for _i in range(4):
        _complaint_at(may, delivery)  # +3
    for _i in range(2):
        _complaint_at(april, price)
    for _i in range(3):
        _complaint_at(may, price)  # +1
    _complaint_at(may, price, kind="question")  # not a complaint: not counted
    for _i in range(9):
        _complaint_at(datetime.datetime(2026, 6, 2, tzinfo=tz), price)  # this month is not complete yet
    with time_machine.travel(now, tick=False):
        table = topic_kpis.complaints_by_topic(
            first_month=datetime.date(2026, 4, 1), last_month=datetime.date(2026, 6, 1)
        )
    rows = {row.topic.name: row.counts for row in table.rows}
    assert rows["Delivery"] == [1, 4, 0] and rows["Price"] == [2, 3, 9]
    assert table.rising.topic == delivery and (table.rising.before, table.rising.after) == (1, 4)
    assert table.rising.month == datetime.date(2026, 5, 1)


@pytest.mark.django_db
def test_no_rising_topic_when_nothing_grew():
    tz = timezone.get_current_timezone()
    price = Topic.objects.get_or_create(name="Price")[0]
    _complaint_at(datetime.datetime(2026, 4, 10, tzinfo=tz), price)
    with time_machine.travel(datetime.datetime(2026, 6, 15, tzinfo=tz), tick=False):
        table = topic_kpis.complaints_by_topic(
            first_month=datetime.date(2026, 4, 1), last_month=datetime.date(2026, 6, 1)
        )
    assert table.rising is None


@pytest.mark.django_db
def test_the_kpi_page_shows_complaints_by_topic_in_chinese(client, manager):
    delivery = Topic.objects.get_or_create(name="Delivery")[0]
    made = ticket(kind="complaint", message="配送迟到")
    tag_ticket(ticket=made, topics=[delivery])
    client.force_login(manager)
    page = client.get(reverse("admin:feedback_servicekpi_changelist"), **ZH)
    html = page.content.decode()
    assert page.status_code == 200 and "按主题统计的投诉" in html and f'data-topic="{delivery.pk}"' in html
    assert "配送" in html


@pytest.mark.django_db
def test_staff_add_a_topic_on_the_ticket_page(client, support):
    delivery = Topic.objects.get_or_create(name="Delivery", defaults={"keywords": "配送"})[0]
    made = ticket(kind="complaint", message="配送迟到")
    client.force_login(support)
    url = reverse("admin:feedback_ticket_change", args=[made.pk])
    page = client.get(url, **ZH)
    assert "topic-suggestion" in page.content.decode()
    data = {
        "kind": made.kind, "priority": made.priority, "assignee": "", "team": "", "new_status": "", "reply": "",
        "internal_note": "", "_save": "Save", "events-TOTAL_FORMS": "0", "events-INITIAL_FORMS": "0",
        "ticket_topics-TOTAL_FORMS": "1", "ticket_topics-INITIAL_FORMS": "0", "ticket_topics-0-topic": delivery.pk,
        "ticket_topics-0-ticket": made.pk, "record_only": "",
    }  # fmt: skip
    assert client.post(url, data).status_code == 302
    row = TicketTopic.objects.get(ticket=made)
    assert row.topic == delivery and row.set_by == support
    assert Ticket.objects.get(pk=made.pk).topics.get() == delivery
