"""The post-resolution satisfaction survey automation with frozen time: N days after a member's
ticket was resolved, once per ticket, through the outbox (consent), with a working NPS link."""

from __future__ import annotations

import datetime
import re

import pytest
import time_machine
from django.core import mail

from campaigns import automation_rules
from campaigns.models import Automation, OutboxMessage, SkipReason, SmsLog
from campaigns.services import automations
from feedback import services as feedback_services
from feedback.models import SurveyResponse, Ticket
from tests.campaigns.helpers import drain, member, no_quiet_hours
from tests.feedback.factories import ticket

pytestmark = pytest.mark.django_db
SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))
KIND = Automation.Kind.SATISFACTION_SURVEY


def at(year, month, day, hour=12):
    return datetime.datetime(year, month, day, hour, 0, tzinfo=SHANGHAI)


def survey_automation(**changes) -> Automation:
    found = Automation.objects.get(kind=KIND)
    automations.update_automation(automation=found, enabled=True, **changes)
    found.refresh_from_db()
    return found


def resolved_ticket(customer, when: datetime.datetime) -> Ticket:
    with time_machine.travel(when, tick=False):
        made = ticket(member_no=customer.member_no) if customer else ticket(phone="13500139999")
        feedback_services.change_status(ticket=made, to="open", actor=None)
        feedback_services.change_status(ticket=made, to="resolved", actor=None)
    made.refresh_from_db()
    return made


def run(when: datetime.datetime) -> int:
    with time_machine.travel(when, tick=False):
        queued = automations.run_automations()[KIND]
        drain()
    return queued


def survey_path(text: str) -> str:
    return re.search(r"https?://[^/\s]+(/survey/nps/[^/\s]+/)", text).group(1)


def test_seeded_switched_off_with_three_days():
    found = Automation.objects.get(kind=KIND)
    assert not found.enabled and found.days_before == 3 and found.campaign is None
    assert automations.run_automations() == {}


def test_survey_goes_n_days_after_resolution_once_and_its_link_records_an_answer(client):
    no_quiet_hours()
    survey_automation()
    alice = member(name="Alice", sms_consent=True)
    made = resolved_ticket(alice, at(2026, 5, 4, 16))
    assert made.member == alice
    assert run(at(2026, 5, 6)) == 0  # two days after: not yet
    assert run(at(2026, 5, 7)) == 1
    assert run(at(2026, 5, 7, 15)) == 0
    assert run(at(2026, 5, 8)) == 0
    sms = SmsLog.objects.get()
    assert "Alice您好" in sms.text and made.ticket_no in sms.text
    path = survey_path(sms.text)
    with time_machine.travel(at(2026, 5, 8, 20), tick=False):  # the customer answers the next evening
        page = client.get(path, HTTP_ACCEPT_LANGUAGE="zh-CN")
        assert page.status_code == 200 and page.content.decode().count('name="score"') == 11
        assert client.post(path, {"score": "9", "comment": "很满意"}).status_code == 200
        assert client.get(path).status_code == 410  # single use
    answer = SurveyResponse.objects.get()
    assert (answer.kind, answer.score, answer.member, answer.channel) == ("nps", 9, alice, "sms")
    occurrence = Automation.objects.get(kind=KIND).occurrences.get()
    assert occurrence.key == made.ticket_no and occurrence.on == datetime.date(2026, 5, 4)


def test_each_ticket_is_surveyed_once_and_each_message_has_its_own_link():
    no_quiet_hours(frequency_cap_messages=10)
    survey_automation(days_before=1)
    alice = member(name="Alice", sms_consent=True)
    first = resolved_ticket(alice, at(2026, 5, 4))
    second = resolved_ticket(alice, at(2026, 5, 4, 13))
    assert run(at(2026, 5, 5)) == 2
    assert run(at(2026, 5, 6)) == 0
    texts = list(SmsLog.objects.order_by("pk").values_list("text", flat=True))
    assert len(texts) == 2
    for made in (first, second):
        assert sum(made.ticket_no in text for text in texts) == 1
    assert survey_path(texts[0]) != survey_path(texts[1])


def test_no_consent_is_skipped_and_gets_no_link():
    no_quiet_hours()
    found = survey_automation(days_before=0)
    resolved_ticket(member(name="NoConsent"), at(2026, 5, 4, 9))
    assert run(at(2026, 5, 4)) == 1
    message = OutboxMessage.objects.get(campaign_id=found.campaign_id)
    assert (message.status, message.skip_reason) == (OutboxMessage.Status.SKIPPED, SkipReason.NO_CONSENT)
    assert not SmsLog.objects.exists()
    assert run(at(2026, 5, 5)) == 0  # not queued again


def test_tickets_without_a_member_or_reopened_are_not_surveyed():
    no_quiet_hours()
    found = survey_automation(days_before=0)
    resolved_ticket(None, at(2026, 5, 4, 9))
    reopened = resolved_ticket(member(name="Reopened", sms_consent=True), at(2026, 5, 4, 9))
    with time_machine.travel(at(2026, 5, 4, 10), tick=False):
        feedback_services.change_status(ticket=reopened, to="open", actor=None)
    assert run(at(2026, 5, 4, 11)) == 0
    assert not OutboxMessage.objects.filter(campaign_id=found.campaign_id).exists()


def test_missed_days_are_caught_up_within_a_week():
    no_quiet_hours()
    survey_automation()  # 3 days after
    caught = resolved_ticket(member(name="Caught", sms_consent=True), at(2026, 5, 4))
    resolved_ticket(member(name="TooOld", sms_consent=True), at(2026, 4, 20))
    assert run(at(2026, 5, 12)) == 1  # beat down from 5/7 to 5/11: 5/4 + 3 days is caught up
    assert caught.ticket_no in SmsLog.objects.get().text


def test_disabled_automation_sends_nothing():
    no_quiet_hours()
    resolved_ticket(member(name="Alice", sms_consent=True), at(2026, 5, 4))
    with time_machine.travel(at(2026, 5, 7), tick=False):
        assert KIND not in automations.run_automations()
    assert not SmsLog.objects.exists()


def test_by_email_the_tracked_link_leads_to_the_survey(client):
    no_quiet_hours()
    survey_automation(
        channel="email",
        subject="{{ member.name }}，请为我们评分",
        body="感谢您的反馈 {{ ticket_no }}：{{ survey_link }}",
    )
    alice = member(name="Alice", email_consent=True)
    resolved_ticket(alice, at(2026, 5, 4))
    mail.outbox.clear()
    assert run(at(2026, 5, 7)) == 1
    sent = mail.outbox[-1]
    assert sent.to == [alice.email]
    tracked = re.search(r"https?://[^/\s]+(/c/c/[^/\s]+/)", sent.body).group(1)
    with time_machine.travel(at(2026, 5, 7, 13), tick=False):
        redirect = client.get(tracked)
        assert redirect.status_code == 302 and "/survey/nps/" in redirect["Location"]
        path = survey_path(redirect["Location"])
        assert client.post(path, {"score": "10"}).status_code == 200
    assert SurveyResponse.objects.get().channel == "email"


def test_the_survey_link_variable_is_no_warning():
    assert (
        automation_rules.check_automation_templates(kind=KIND, subject="", body="{{ survey_link }} {{ ticket_no }}")
        == []
    )
    assert automation_rules.check_automation_templates(kind="birthday", subject="", body="{{ survey_link }}") != []
