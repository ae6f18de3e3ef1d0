"""The beat task that flags missed targets: once per breach, notifying assignee and team lead."""

import datetime
import threading
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core import mail
from django.db import connections

from feedback import services, tasks
from feedback.models import SlaTarget, Team, Ticket, TicketEvent
from tests.feedback.factories import ticket

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime.datetime(2026, 5, 4, 9, 0, tzinfo=SHANGHAI)
H = datetime.timedelta(hours=1)


def staffer(name, email):
    return User.objects.create_user(username=name, email=email, is_staff=True)


def breaching_ticket(*, assignee=None, team=None, actor=None) -> Ticket:
    with time_machine.travel(T0, tick=False):
        made = ticket(channel=Ticket.Channel.WEB)  # first response due 13:00, resolution in 48 h
    if assignee or team:
        services.update_ticket(ticket=made, actor=actor, assignee=assignee, team=team)
    return made


@pytest.mark.django_db
def test_task_flags_a_missed_first_response_once_and_notifies_assignee_and_lead():
    lead = staffer("lead", "lead@example.com")
    agent = staffer("agent", "agent@example.com")
    team = Team.objects.create(name="售后", lead=lead)
    made = breaching_ticket(assignee=agent, team=team)
    with time_machine.travel(T0 + 3 * H, tick=False):
        assert tasks.flag_sla_breaches() == {"first_response": 0, "resolution": 0, "notified": 0}
    with time_machine.travel(T0 + 4 * H + datetime.timedelta(seconds=1), tick=False):
        assert tasks.flag_sla_breaches() == {"first_response": 1, "resolution": 0, "notified": 1}
        assert tasks.flag_sla_breaches() == {"first_response": 0, "resolution": 0, "notified": 0}
    made.refresh_from_db()
    assert made.first_response_breached_at == T0 + 4 * H + datetime.timedelta(seconds=1)
    assert made.resolution_breached_at is None
    assert made.events.filter(kind=TicketEvent.Kind.SLA_BREACH).count() == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert sorted(message.to) == ["agent@example.com", "lead@example.com"]
    assert made.ticket_no in message.subject
    assert f"/admin/feedback/ticket/{made.pk}/change/" in message.body


@pytest.mark.django_db
def test_resolution_breach_is_a_second_breach_with_its_own_notification():
    agent = staffer("agent", "agent@example.com")
    made = breaching_ticket(assignee=agent)
    with time_machine.travel(T0 + 5 * H, tick=False):
        tasks.flag_sla_breaches()
    with time_machine.travel(T0 + 49 * H, tick=False):
        assert tasks.flag_sla_breaches()["resolution"] == 1
        tasks.flag_sla_breaches()
    made.refresh_from_db()
    assert made.resolution_breached_at == T0 + 49 * H
    assert len(mail.outbox) == 2
    assert made.events.filter(kind=TicketEvent.Kind.SLA_BREACH).count() == 2


@pytest.mark.django_db
def test_answered_or_resolved_tickets_are_not_flagged(support):
    answered = breaching_ticket()
    services.record_call(ticket=answered, actor=support, note="已电话处理")
    resolved = breaching_ticket()
    services.change_status(ticket=resolved, to="open", actor=support)
    services.change_status(ticket=resolved, to="resolved", actor=support)
    with time_machine.travel(T0 + 5 * H, tick=False):
        assert tasks.flag_sla_breaches()["first_response"] == 0
    assert not TicketEvent.objects.filter(kind=TicketEvent.Kind.SLA_BREACH).exists()


@pytest.mark.django_db
def test_unassigned_breach_is_flagged_without_email():
    made = breaching_ticket()
    with time_machine.travel(T0 + 5 * H, tick=False):
        assert tasks.flag_sla_breaches() == {"first_response": 1, "resolution": 0, "notified": 0}
    made.refresh_from_db()
    assert made.first_response_breached_at is not None and mail.outbox == []


@pytest.mark.django_db
def test_failed_email_leaves_the_breach_for_the_next_run(monkeypatch):
    agent = staffer("agent", "agent@example.com")
    made = breaching_ticket(assignee=agent)

    def down(self, fail_silently=False):
        raise OSError("SMTP down")

    with time_machine.travel(T0 + 5 * H, tick=False):
        monkeypatch.setattr("django.core.mail.EmailMessage.send", down)
        with pytest.raises(OSError):
            tasks.flag_sla_breaches()
        made.refresh_from_db()
        assert made.first_response_breached_at is None
        assert not made.events.filter(kind=TicketEvent.Kind.SLA_BREACH).exists()
        monkeypatch.undo()
        assert tasks.flag_sla_breaches()["notified"] == 1
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_beat_schedule_runs_the_task_every_minute():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="feedback.flag_sla_breaches")
    assert task.enabled and (task.interval.every, task.interval.period) == (1, "minutes")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_flag_and_notify_each_breach_once():
    SlaTarget.objects.get_or_create(
        kind="", channel="", priority="", defaults={"first_response": 4 * H, "resolution": 48 * H}
    )
    agent = staffer("agent", "agent@example.com")
    made = [breaching_ticket(assignee=agent) for _i in range(12)]
    results, errors = [], []
    barrier = threading.Barrier(4, timeout=20)

    def run():
        try:
            barrier.wait()
            results.append(services.flag_sla_breaches(now=T0 + 5 * H))
        except Exception as error:  # the test inspects every thread's outcome
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(r.first_response for r in results) == 12
    assert sum(r.notified for r in results) == 12
    assert len(mail.outbox) == 12
    assert TicketEvent.objects.filter(kind=TicketEvent.Kind.SLA_BREACH).count() == 12
    assert Ticket.objects.filter(pk__in=[t.pk for t in made], first_response_breached_at__isnull=True).count() == 0
