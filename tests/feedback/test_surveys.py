"""CSAT after resolution and NPS for consenting members: signed, expiring, single-use links."""

import datetime
import re
import threading

import pytest
import time_machine
from django.core import mail, signing
from django.db import connections
from django.test import Client

from feedback import services, surveys
from feedback.models import SurveyResponse, Ticket, TicketEvent
from members import services as member_services
from members.models import Interaction
from tests.feedback.factories import ticket, ticket_in
from tests.members import factories as mf

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"}


def resolved(django_capture_on_commit_callbacks, actor=None, **kwargs) -> Ticket:
    made = ticket(**kwargs)
    services.change_status(ticket=made, to="open", actor=actor)
    with django_capture_on_commit_callbacks(execute=True):
        services.change_status(ticket=made, to="resolved", actor=actor)
    return made


def resolved_ticket(**kwargs) -> Ticket:
    """A ticket a CSAT link may be answered for (its resolution's email is not sent here)."""
    return ticket_in("resolved", **kwargs)


def path_of(link: str) -> str:
    return re.sub(r"^https?://[^/]+", "", link)


def link_in(message) -> str:
    return path_of(re.search(r"https?://\S+/survey/\S+/", message.body).group(0))


# --- sending ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_resolving_emails_the_customer_a_survey_link(django_capture_on_commit_callbacks, support):
    made = resolved(django_capture_on_commit_callbacks, support, email="kehu@example.com", language="zh-hans")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["kehu@example.com"] and made.ticket_no in message.subject
    assert link_in(message).startswith("/survey/")
    assert made.events.filter(kind=TicketEvent.Kind.SURVEY).exists()


@pytest.mark.django_db
def test_no_survey_without_an_email(django_capture_on_commit_callbacks, support):
    resolved(django_capture_on_commit_callbacks, support, phone="13500135111")
    assert mail.outbox == []


@pytest.mark.django_db
def test_failed_survey_email_keeps_the_ticket_resolved(django_capture_on_commit_callbacks, support, monkeypatch):
    def down(self, fail_silently=False):
        raise OSError("SMTP down")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", down)
    made = resolved(django_capture_on_commit_callbacks, support, email="kehu@example.com")
    made.refresh_from_db()
    assert made.status == "resolved"


# --- the CSAT page ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_good_link_shows_a_chinese_form_and_records_one_answer(client):
    member = mf.member(phone="13500135000", email="kehu@example.com")
    shop = mf.store()
    made = resolved_ticket(email="kehu@example.com", store=shop)
    assert made.member == member
    url = path_of(surveys.csat_survey_link(made))
    page = client.get(url, **ZH)
    text = page.content.decode()
    assert page.status_code == 200 and '<html lang="zh-hans">' in text and made.ticket_no in text
    assert 'name="score"' in text and 'name="viewport"' in text
    response = client.post(url, {"score": "4", "comment": "处理很快"}, **ZH)
    assert response.status_code == 200 and "fb-survey-done" in response.content.decode()
    answer = SurveyResponse.objects.get()
    assert (answer.kind, answer.score, answer.comment, answer.ticket, answer.member, answer.store) == (
        "csat",
        4,
        "处理很快",
        made,
        member,
        shop,
    )
    interaction = member.interactions.get()
    assert interaction.channel == Interaction.Channel.WEB and "4/5" in interaction.summary_text
    assert made.events.filter(
        kind=TicketEvent.Kind.SURVEY, body_code=TicketEvent.Text.SURVEY_ANSWERED, body_params__score=4
    ).exists()


@pytest.mark.django_db
def test_reused_link_gets_an_already_answered_page(client):
    made = resolved_ticket(email="kehu@example.com")
    url = path_of(surveys.csat_survey_link(made))
    assert client.post(url, {"score": "5"}).status_code == 200
    for response in (client.get(url), client.post(url, {"score": "1"})):
        assert response.status_code == 410
        assert 'data-reason="answered"' in response.content.decode()
    # A second link for the same ticket is the same survey: still answered once.
    assert client.get(path_of(surveys.csat_survey_link(made))).status_code == 410
    assert SurveyResponse.objects.get().score == 5


@pytest.mark.django_db
def test_tampered_link_gets_a_400_page(client):
    made = ticket()
    token = surveys.csat_token(made)
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "nonsense", token + "x"):
        response = client.get(f"/survey/{bad}/", **ZH)
        assert response.status_code == 400
        assert 'data-reason="invalid"' in response.content.decode()
    forged = signing.dumps({"t": made.ticket_no}, salt="something else")
    assert client.get(f"/survey/{forged}/").status_code == 400
    assert client.post(f"/survey/{forged}/", {"score": "5"}).status_code == 400
    assert SurveyResponse.objects.count() == 0


@pytest.mark.django_db
def test_a_ticket_link_does_not_open_the_nps_survey(client):
    made = ticket()
    assert client.get(f"/survey/nps/{surveys.csat_token(made)}/").status_code == 400


@pytest.mark.django_db
def test_expired_link_gets_a_410_page(client, settings):
    settings.FEEDBACK_SURVEY_MAX_AGE_DAYS = 14
    made = resolved_ticket()
    url = path_of(surveys.csat_survey_link(made))
    with time_machine.travel(datetime.datetime.now(tz=datetime.UTC) + datetime.timedelta(days=13)):
        assert client.get(url).status_code == 200
    with time_machine.travel(datetime.datetime.now(tz=datetime.UTC) + datetime.timedelta(days=15)):
        response = client.post(url, {"score": "3"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 410 and "expired" in response.content.decode()
    assert SurveyResponse.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("score", ["0", "6", "x", ""])
def test_score_out_of_range_is_refused_with_a_message(client, score):
    made = resolved_ticket()
    response = client.post(path_of(surveys.csat_survey_link(made)), {"score": score, "comment": "留言"}, **ZH)
    assert response.status_code == 400 and "fb-error" in response.content.decode()
    assert "留言" in response.content.decode()
    assert SurveyResponse.objects.count() == 0


@pytest.mark.django_db
def test_service_refuses_a_bad_score_directly():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        surveys.record_survey_response(token=surveys.csat_token(resolved_ticket()), kind="csat", score=9)
    assert "score" in caught.value.message_dict


@pytest.mark.django_db
def test_survey_page_needs_a_csrf_token():
    made = resolved_ticket()
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(path_of(surveys.csat_survey_link(made)), {"score": "5"}).status_code == 403


@pytest.mark.django_db
def test_answer_of_an_erased_member_is_kept_without_a_profile_record():
    member = mf.member(phone="13500135002")
    made = resolved_ticket(phone="13500135002")
    member_services.erase_member(member=member)
    answer = surveys.record_survey_response(token=surveys.csat_token(made), kind="csat", score=2)
    assert answer.member is None and not Interaction.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_answers_sent_at_once_record_one():
    made = resolved_ticket(email="kehu@example.com")
    token = surveys.csat_token(made)
    outcomes = [None, None]
    barrier = threading.Barrier(2, timeout=20)

    def answer(index, score):
        try:
            barrier.wait()
            outcomes[index] = surveys.record_survey_response(token=token, kind="csat", score=score)
        except Exception as error:  # each thread's outcome is inspected below
            outcomes[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=answer, args=(i, i + 4)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert SurveyResponse.objects.count() == 1
    assert sum(isinstance(o, SurveyResponse) for o in outcomes) == 1
    assert sum(isinstance(o, surveys.SurveyAlreadyAnswered) for o in outcomes) == 1


# --- NPS --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_nps_goes_only_to_members_who_consented_on_that_channel():
    member = mf.member(phone="13500135003", email="nps@example.com")
    assert surveys.send_nps_survey(member=member, channel="email").reason == "no_consent"
    member_services.set_consents(member=member, consents={"marketing_sms": True})
    assert surveys.send_nps_survey(member=member, channel="email").reason == "no_consent"
    assert mail.outbox == []
    member_services.set_consents(member=member, consents={"marketing_email": True})
    result = surveys.send_nps_survey(member=member, channel="email")
    assert result.sent and result.reason == "sent"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["nps@example.com"]
    assert "/survey/nps/" in mail.outbox[0].body


@pytest.mark.django_db
def test_withdrawn_consent_stops_nps():
    member = mf.member(phone="13500135004", email="nps2@example.com")
    member_services.set_consents(member=member, consents={"marketing_email": True})
    member_services.set_consents(member=member, consents={"marketing_email": False})
    assert not surveys.send_nps_survey(member=member, channel="email").sent


@pytest.mark.django_db
def test_nps_by_sms_uses_the_callers_channel():
    member = mf.member(phone="13500135005")
    member_services.set_consents(member=member, consents={"marketing_sms": True})
    sent = []
    result = surveys.send_nps_survey(member=member, channel="sms", deliver=lambda m, text: sent.append((m, text)))
    assert result.sent and sent[0][0] == member and result.link in sent[0][1]
    with pytest.raises(ValueError):
        surveys.send_nps_survey(member=member, channel="sms")


@pytest.mark.django_db
def test_nps_without_email_address_is_not_sent():
    member = mf.member(phone="13500135006")
    member_services.set_consents(member=member, consents={"marketing_email": True})
    assert surveys.send_nps_survey(member=member, channel="email").reason == "no_address"


@pytest.mark.django_db
def test_nps_page_records_score_and_an_interaction(client):
    shop = mf.store()
    member = mf.member(phone="13500135007", home_store=shop)
    url = path_of(surveys.nps_survey_link(member=member))
    text = client.get(url, **ZH).content.decode()
    assert text.count('name="score"') == 11
    assert client.post(url, {"score": "9", "comment": "会推荐"}).status_code == 200
    answer = SurveyResponse.objects.get()
    assert (answer.kind, answer.score, answer.member, answer.store) == ("nps", 9, member, shop)
    assert member.interactions.get().kind == Interaction.Kind.CAMPAIGN_RESPONSE
    assert client.get(url).status_code == 410
    # Each invitation is its own link: a new one can be answered.
    assert client.post(path_of(surveys.nps_survey_link(member=member)), {"score": "10"}).status_code == 200


@pytest.mark.django_db
def test_survey_answered_signal_is_sent_on_commit(django_capture_on_commit_callbacks):
    from feedback.signals import survey_answered

    received = []

    def listener(sender, response, **kwargs):
        received.append(response)

    survey_answered.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            answer = surveys.record_survey_response(token=surveys.csat_token(resolved_ticket()), kind="csat", score=5)
    finally:
        survey_answered.disconnect(listener)
    assert received == [answer]


# --- only resolved or closed tickets are rated -----------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["new", "open", "waiting"])
def test_a_ticket_not_resolved_yet_gets_a_409_page_and_stores_nothing(client, status):
    made = ticket_in(status, email="kehu@example.com")
    url = path_of(surveys.csat_survey_link(made))
    page = client.get(url, **ZH)
    assert page.status_code == 409
    text = page.content.decode()
    assert 'data-reason="not_resolved"' in text and "尚未解决" in text
    response = client.post(url, {"score": "5", "comment": "还没处理"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 409 and "not resolved yet" in response.content.decode()
    assert SurveyResponse.objects.count() == 0
    assert not made.events.filter(kind=TicketEvent.Kind.SURVEY).exists()


@pytest.mark.django_db
def test_the_service_refuses_an_answer_for_a_ticket_not_resolved():
    with pytest.raises(surveys.SurveyTicketNotResolved):
        surveys.record_survey_response(token=surveys.csat_token(ticket_in("open")), kind="csat", score=5)
    assert SurveyResponse.objects.count() == 0


@pytest.mark.django_db
def test_a_closed_ticket_may_still_be_rated(client):
    made = ticket_in("closed", email="kehu@example.com")
    url = path_of(surveys.csat_survey_link(made))
    assert client.get(url).status_code == 200
    assert client.post(url, {"score": "4"}).status_code == 200
    assert SurveyResponse.objects.get().ticket == made


@pytest.mark.django_db
def test_a_link_sent_before_the_ticket_was_reopened_waits_for_its_next_resolution(client):
    made = resolved_ticket(email="kehu@example.com")
    url = path_of(surveys.csat_survey_link(made))
    services.change_status(ticket=made, to="open", actor=None)
    assert client.post(url, {"score": "1"}).status_code == 409
    services.change_status(ticket=made, to="resolved", actor=None)
    assert client.post(url, {"score": "4"}).status_code == 200
    assert SurveyResponse.objects.get().score == 4
