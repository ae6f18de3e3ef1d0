"""Ticket history and member-record summaries: stored as codes, read in the reader's language."""

from __future__ import annotations

import datetime
import importlib
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core import mail
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from feedback import services, tasks
from feedback.event_texts import TEMPLATES as EVENT_TEMPLATES
from feedback.event_texts import EventText, render
from feedback.models import Team, Ticket, TicketEvent
from members import services as member_services
from members.models import Interaction, ServiceRecord
from members.summaries import TEMPLATES as SUMMARY_TEMPLATES
from members.summaries import Summary
from members.summaries import render as render_summary
from tests.feedback.factories import ticket
from tests.members import factories

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime.datetime(2026, 5, 4, 9, 0, tzinfo=SHANGHAI)
FEEDBACK_MIGRATION = importlib.import_module("feedback.migrations.0007_event_texts_from_body")
MEMBERS_MIGRATION = importlib.import_module("members.migrations.0011_record_summaries_from_text")


def in_language(language: str, thunk):
    with translation.override(language):
        return thunk()


# --- the renderers ---------------------------------------------------------------------------

EVENTS = [
    (
        EventText.FIELD_CHANGES,
        {"changes": [{"field": "kind", "old": "complaint", "new": "question"}]},
        "kind: Complaint → Question",
        "类型：投诉 → 咨询",
    ),
    (
        EventText.FIELD_CHANGES,
        {"changes": [{"field": "priority", "old": "normal", "new": "high"}, {"field": "team", "new": "售后"}]},
        "priority: Normal → High; team: — → 售后",
        None,
    ),
    (
        EventText.SLA_BREACH,
        {"first_response_due": "2026-05-04T13:00:00+08:00"},
        "First-response target missed: due 2026-05-04 13:00:00, no reply yet.",
        None,
    ),
    (EventText.SURVEY_ANSWERED, {"no": "FB-1", "score": 4}, "Satisfaction survey for FB-1: 4/5", None),
    (EventText.SURVEY_SENT, {}, "Satisfaction survey emailed to the customer.", None),
    (
        EventText.REPLY_RETRIED,
        {"code": "isv.BUSINESS_LIMIT_CONTROL"},
        "Sending a failed reply again (it had failed with isv.BUSINESS_LIMIT_CONTROL).",
        "重新发送一条发送失败的回复（上次失败原因代码：isv.BUSINESS_LIMIT_CONTROL）。",
    ),
    (
        EventText.ANSWERED_ON_CONTACT,
        {"seconds": 15},
        "Answered 15 s after the customer reached us.",
        "客户联系我们后 15 秒内已应答。",
    ),
    (
        EventText.TIER_REPRIORITISED,
        {"old": "normal", "new": "high", "tier": "gold", "rules": "Gold member"},
        "Priority Normal → High: the member's tier is now gold.",
        None,
    ),
    (
        EventText.TIER_ROUTED,
        {"old": "", "new": "会员服务", "tier": "gold", "rules": "Gold member"},
        "Team — → 会员服务: the member's tier is now gold.",
        None,
    ),
]  # fmt: skip


def test_every_event_code_but_note_has_a_sentence_and_a_test():
    own_renderers = {
        EventText.FIELD_CHANGES,
        EventText.SLA_BREACH,
        EventText.TIER_REPRIORITISED,
        EventText.TIER_ROUTED,
    }
    assert {*own_renderers, *EVENT_TEMPLATES} == set(EventText.values) - {"note"}
    assert {code for code, *_rest in EVENTS} == set(EventText.values) - {"note"}


@pytest.mark.parametrize(("code", "params", "english", "chinese"), EVENTS)
def test_each_event_code_renders_in_english_and_in_chinese(code, params, english, chinese):
    assert in_language("en", lambda: render(code, params)) == english
    rendered = in_language("zh-hans", lambda: render(code, params))
    assert rendered and rendered != english
    if chinese is not None:
        assert rendered == chinese


SUMMARIES = [
    (Summary.FEEDBACK, {"no": "FB-1"}, "送错地址了", "Feedback FB-1: 送错地址了"),
    (Summary.SATISFACTION_SURVEY, {"no": "FB-1", "score": 4}, "很快", "Satisfaction survey for FB-1: 4/5 — 很快"),
    (Summary.RECOMMENDATION_SURVEY, {"score": 9}, "", "Recommendation survey (NPS): 9/10"),
    (Summary.DATA_EXPORT, {}, "", "The member downloaded their data in the member centre"),
    (Summary.CARE_PLAN_CLAIM, {"plan": "鲜花养护计划"}, "花蔫了", "Care plan claim under “鲜花养护计划”: 花蔫了"),
    (Summary.DESIGNED_SURVEY, {"survey": "门店体验回访"}, "", "Survey answered: 门店体验回访"),
]


def test_every_summary_code_but_note_has_a_sentence_and_a_test():
    assert set(SUMMARY_TEMPLATES) == {code for code, *_rest in SUMMARIES} == set(Summary.values) - {"note"}


@pytest.mark.parametrize(("code", "params", "text", "english"), SUMMARIES)
def test_each_summary_code_renders_in_english_and_in_chinese(code, params, text, english):
    assert in_language("en", lambda: render_summary(code, params, text)) == english
    chinese = in_language("zh-hans", lambda: render_summary(code, params, text))
    assert chinese and chinese != english and (text in chinese)


def test_a_note_an_unknown_code_or_unfit_parameters_read_as_the_stored_text():
    assert render("note", {"no": "x"}, "typed") == "typed"
    assert render("later_code", {}, "typed") == "typed"
    assert render(EventText.SURVEY_ANSWERED, {"no": "FB-1"}, "typed") == "typed"
    assert render(EventText.FIELD_CHANGES, {"changes": "x"}, "") == ""
    assert render_summary(Summary.RECOMMENDATION_SURVEY, ["x"], "typed") == "typed"


# --- writers and readers ---------------------------------------------------------------------


def test_a_field_change_written_in_chinese_reads_in_each_readers_language_in_the_admin(manager, support):
    made = ticket()
    with translation.override("zh-hans"):
        services.update_ticket(ticket=made, actor=manager, kind=Ticket.Kind.QUESTION, assignee=support)
    event = made.events.get(kind=TicketEvent.Kind.UPDATE)
    assert (event.body_code, event.body) == (EventText.FIELD_CHANGES, "")
    assert event.body_params == {
        "changes": [
            {"field": "kind", "old": "complaint", "new": "question"},
            {"field": "assignee", "old": "", "new": "support"},
        ]
    }
    client = Client()
    client.force_login(manager)
    url = f"/admin/feedback/ticket/{made.pk}/change/"
    english = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    chinese = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "kind: Complaint → Question; assignee: — → support" in english
    assert "类型：投诉 → 咨询" in chinese and "kind: Complaint" not in chinese
    assert "类型：投诉 → 咨询" not in english


def test_a_survey_answer_written_in_chinese_reads_in_english_in_the_members_api(api_manager):
    member = factories.member()
    with translation.override("zh-hans"):
        interaction = member_services.add_interaction(
            member=member,
            kind=Interaction.Kind.CAMPAIGN_RESPONSE,
            channel=Interaction.Channel.WEB,
            summary="很好",
            summary_code=Summary.RECOMMENDATION_SURVEY,
            summary_params={"score": 9},
        )
    url = f"/api/v1/members/{member.member_no}/interactions/"
    english = api_manager.get(url, HTTP_ACCEPT_LANGUAGE="en").json()["results"][0]
    chinese = api_manager.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").json()["results"][0]
    assert (english["summary"], english["summary_code"], english["summary_params"]) == (
        "Recommendation survey (NPS): 9/10 — 很好",
        "recommendation_survey",
        {"score": 9},
    )
    assert chinese["summary"] == in_language("zh-hans", lambda: interaction.summary_text) != english["summary"]
    assert chinese["summary"].endswith("— 很好")


def test_staff_still_need_to_type_a_summary(api_manager):
    member = factories.member()
    url = f"/api/v1/members/{member.member_no}/interactions/"
    response = api_manager.post(url, {"kind": "call", "channel": "phone", "summary": ""}, format="json")
    assert response.status_code == 400 and "summary" in response.json()
    with pytest.raises(Exception, match="summary"):
        member_services.add_service_record(member=member, kind=ServiceRecord.Kind.REPAIR, summary=" ")


@pytest.mark.parametrize(
    ("staff_language", "expected", "other"),
    [
        ("en", "First-response target missed", "首次回复已超时"),
        ("zh-hans", "首次回复已超时", "First-response target missed"),
    ],
)
def test_the_sla_alert_email_is_in_the_staff_language_whatever_is_active(settings, staff_language, expected, other):
    settings.FEEDBACK_STAFF_LANGUAGE = staff_language
    agent = User.objects.create_user(username="agent", email="agent@example.com", is_staff=True)
    with time_machine.travel(T0, tick=False):
        made = ticket(channel=Ticket.Channel.WEB)
    services.update_ticket(ticket=made, actor=None, assignee=agent, team=Team.objects.create(name="售后"))
    active = "zh-hans" if staff_language == "en" else "en"
    with time_machine.travel(T0 + datetime.timedelta(hours=4, seconds=1), tick=False), translation.override(active):
        assert tasks.flag_sla_breaches()["notified"] == 1
    body = mail.outbox[-1].body
    assert expected in body and other not in body
    event = made.events.get(kind=TicketEvent.Kind.SLA_BREACH)
    assert (event.body_code, event.body) == (EventText.SLA_BREACH, "")
    assert in_language("en", lambda: event.body_text).startswith("First-response target missed: due 2026-05-04 13:00")


# --- the data migrations ---------------------------------------------------------------------

OLD_EVENTS = [
    # (kind, stored text, code, params, typed text left in `body`)
    ("update", "kind: Complaint → Question", "field_changes",
     {"changes": [{"field": "kind", "old": "complaint", "new": "question"}]}, ""),
    ("update", "类型：投诉 → 咨询; 负责人：— → support", "field_changes",
     {"changes": [{"field": "kind", "old": "complaint", "new": "question"},
                  {"field": "assignee", "old": "", "new": "support"}]}, ""),
    ("sla_breach", "First-response target missed: due 2026-05-04 13:00:00, no reply yet. "
     "Resolution target missed: due 2026-05-06 09:00:00.", "sla_breach",
     {"first_response_due": "2026-05-04T13:00:00+08:00", "resolution_due": "2026-05-06T09:00:00+08:00"}, ""),
    ("survey", "Satisfaction survey for FB-1: 4/5 — 很快", "survey_answered", {"no": "FB-1", "score": 4}, "很快"),
    ("survey", "Satisfaction survey emailed to the customer.", "survey_sent", {}, ""),
    # A note a person typed that reads like a change stays the note.
    ("internal_note", "kind: Complaint → Question", "note", {}, "kind: Complaint → Question"),
    ("update", "whatever: a → b", "note", {}, "whatever: a → b"),
]  # fmt: skip


def historical(app: str, migration, model: str):
    name = migration.__name__.rsplit(".", 1)[1]
    return MigrationLoader(connection).project_state((app, name)).apps.get_model(app, model)


def chinese_of(english: str) -> str:
    return in_language("zh-hans", lambda: translation.gettext(english))


def test_the_feedback_migration_turns_old_sentences_in_both_languages_into_codes():
    made = ticket()
    # The Chinese rows as the catalogue wrote them (the catalogue, not this test, says the words).
    rows = list(OLD_EVENTS)
    kind_zh = chinese_of("kind: %(old)s → %(new)s") % {
        "old": chinese_of("Complaint"),
        "new": chinese_of("Question"),
    }
    assignee_zh = chinese_of("assignee: %(old)s → %(new)s") % {"old": "—", "new": "support"}
    rows[1] = (rows[1][0], f"{kind_zh}; {assignee_zh}", *rows[1][2:])
    sent_zh = chinese_of("Satisfaction survey emailed to the customer.")
    rows.append(("survey", sent_zh, "survey_sent", {}, ""))
    before = made.events.order_by("-id").values_list("id", flat=True)[0]
    for kind, text, *_rest in rows:
        TicketEvent.objects.create(ticket=made, kind=kind, body=text)
    ticket_model = historical("feedback", FEEDBACK_MIGRATION, "Ticket")
    event_model = historical("feedback", FEEDBACK_MIGRATION, "TicketEvent")
    assert FEEDBACK_MIGRATION.convert_rows(event_model, ticket_model) == len([r for r in rows if r[2] != "note"])
    stored = list(TicketEvent.objects.filter(id__gt=before).order_by("id"))
    assert [(e.body_code, e.body_params, e.body) for e in stored] == [(c, p, t) for _k, _s, c, p, t in rows]
    assert in_language("en", lambda: stored[0].body_text) == "kind: Complaint → Question"
    assert in_language("zh-hans", lambda: stored[1].body_text) == rows[1][1]
    assert FEEDBACK_MIGRATION.convert_rows(event_model, ticket_model) == 0  # safe to run again
    FEEDBACK_MIGRATION.backwards(MigrationLoader(connection).project_state().apps, None)
    assert list(TicketEvent.objects.filter(id__gt=before).order_by("id").values_list("body_code", "body"))[:5] == [
        ("note", "kind: Complaint → Question"),
        ("note", "kind: Complaint → Question; assignee: — → support"),
        ("note", rows[2][1]),
        ("note", "Satisfaction survey for FB-1: 4/5 — 很快"),
        ("note", "Satisfaction survey emailed to the customer."),
    ]


def test_the_members_migration_turns_old_summaries_in_both_languages_into_codes():
    member = factories.member()
    feedback_zh = chinese_of("Feedback %(no)s: %(text)s") % {"no": "FB-2", "text": "送错地址了"}
    nps_zh = chinese_of("Recommendation survey (NPS): %(score)d/10") % {"score": 9}
    records = [
        ("complaint", "Feedback FB-1: Wilted: a mess", "feedback", {"no": "FB-1"}, "Wilted: a mess"),
        ("complaint", feedback_zh, "feedback", {"no": "FB-2"}, "送错地址了"),
        ("repair", "Feedback FB-3: typed by staff", "note", {}, "Feedback FB-3: typed by staff"),
    ]
    interactions = [
        ("other", "Satisfaction survey for FB-1: 5/5", "satisfaction_survey", {"no": "FB-1", "score": 5}, ""),
        ("campaign_response", f"{nps_zh} — 不错", "recommendation_survey", {"score": 9}, "不错"),
        ("call", "Recommendation survey (NPS): 9/10", "note", {}, "Recommendation survey (NPS): 9/10"),
    ]
    for kind, text, *_rest in records:
        ServiceRecord.objects.create(member=member, kind=kind, summary=text)
    for kind, text, *_rest in interactions:
        Interaction.objects.create(member=member, kind=kind, channel="web", summary=text)
    record_model = historical("members", MEMBERS_MIGRATION, "ServiceRecord")
    interaction_model = historical("members", MEMBERS_MIGRATION, "Interaction")
    assert MEMBERS_MIGRATION.convert_rows(record_model) == 2
    assert MEMBERS_MIGRATION.convert_rows(interaction_model) == 2
    assert [(r.summary_code, r.summary_params, r.summary) for r in member.service_records.order_by("id")] == [
        (c, p, t) for _k, _s, c, p, t in records
    ]
    assert [(i.summary_code, i.summary_params, i.summary) for i in member.interactions.order_by("id")] == [
        (c, p, t) for _k, _s, c, p, t in interactions
    ]
    assert in_language("zh-hans", lambda: member.service_records.order_by("id")[1].summary_text) == feedback_zh
    assert (MEMBERS_MIGRATION.convert_rows(record_model), MEMBERS_MIGRATION.convert_rows(interaction_model)) == (0, 0)
    MEMBERS_MIGRATION.backwards(MigrationLoader(connection).project_state().apps, None)
    assert list(member.service_records.order_by("id").values_list("summary_code", "summary")) == [
        ("note", "Feedback FB-1: Wilted: a mess"),
        ("note", "Feedback FB-2: 送错地址了"),
        ("note", "Feedback FB-3: typed by staff"),
    ]
    assert list(member.interactions.order_by("id").values_list("summary")) == [
        ("Satisfaction survey for FB-1: 5/5",),
        ("Recommendation survey (NPS): 9/10 — 不错",),
        ("Recommendation survey (NPS): 9/10",),
    ]


def test_the_ticket_api_detail_answers_the_history_in_the_requests_language(api_support, manager):
    made = ticket()
    with translation.override("zh-hans"):
        services.update_ticket(ticket=made, actor=manager, priority=Ticket.Priority.HIGH)
    url = f"/api/v1/tickets/{made.ticket_no}/"
    english = api_support.get(url, HTTP_ACCEPT_LANGUAGE="en").json()["history"]
    chinese = api_support.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").json()["history"]
    update = english[-1]
    assert (update["kind"], update["body"], update["body_code"], update["note"], update["actor"]) == (
        "update",
        "priority: Normal → High",
        "field_changes",
        "",
        "manager",
    )
    assert update["body_params"] == {"changes": [{"field": "priority", "old": "normal", "new": "high"}]}
    assert chinese[-1]["body"] == in_language("zh-hans", lambda: made.events.get(kind="update").body_text)
    assert chinese[-1]["body"] != update["body"]
    assert "history" not in api_support.get("/api/v1/tickets/").json()["results"][0]


def test_the_ticket_api_detail_costs_the_same_queries_with_a_long_history(api_support, manager, support):
    made = ticket()
    url = f"/api/v1/tickets/{made.ticket_no}/"
    api_support.get(url)
    with CaptureQueriesContext(connection) as short:
        api_support.get(url)
    services.update_ticket(ticket=made, actor=manager, priority=Ticket.Priority.HIGH, assignee=support)
    services.add_note(ticket=made, body="查看中", actor=support)
    services.change_status(ticket=made, to="open", actor=support)
    with CaptureQueriesContext(connection) as long:
        response = api_support.get(url)
    assert len(response.json()["history"]) == 4
    assert len(long) == len(short)


def test_the_member_page_and_record_list_show_summaries_in_the_readers_language(manager):
    member = factories.member()
    with translation.override("zh-hans"):
        member_services.add_service_record(
            member=member,
            kind=ServiceRecord.Kind.COMPLAINT,
            summary="送错地址了",
            summary_code=Summary.FEEDBACK,
            summary_params={"no": "FB-7"},
        )
    chinese_text = in_language("zh-hans", lambda: member.service_records.get().summary_text)
    assert chinese_text != "Feedback FB-7: 送错地址了"
    client = Client()
    client.force_login(manager)
    for url in (f"/admin/members/member/{member.pk}/change/", "/admin/members/servicerecord/"):
        english = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        chinese = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
        assert "Feedback FB-7: 送错地址了" in english and chinese_text not in english
        assert chinese_text in chinese


def test_the_admin_add_forms_still_require_a_typed_summary(manager):
    from members.forms import InteractionAddForm, ServiceRecordAddForm

    member = factories.member()
    for form_class, data in (
        (InteractionAddForm, {"member": member.pk, "kind": "call", "channel": "phone", "direction": "inbound"}),
        (ServiceRecordAddForm, {"member": member.pk, "kind": "repair"}),
    ):
        form = form_class(data={**data, "summary": ""})
        assert form.fields["summary"].required
        assert not form.is_valid() and "summary" in form.errors
