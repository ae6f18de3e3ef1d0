"""Service-level targets: which applies, the deadlines they give, recomputation, queues, the badge."""

import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from feedback import services, sla
from feedback.models import SlaTarget, Ticket
from tests.feedback.factories import ticket

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime.datetime(2026, 5, 4, 9, 0, tzinfo=SHANGHAI)
S, M, H = datetime.timedelta(seconds=1), datetime.timedelta(minutes=1), datetime.timedelta(hours=1)


def made_at(moment, **kwargs) -> Ticket:
    with time_machine.travel(moment, tick=False):
        return ticket(**kwargs)


# --- the seeded defaults ----------------------------------------------------------------------


def test_seeded_defaults_follow_the_seeds_service_standards():
    rows = {(t.kind, t.channel, t.priority): (t.first_response, t.resolution) for t in SlaTarget.objects.all()}
    assert rows[("", "", "")] == (4 * H, 48 * H)  # email and web form
    assert rows[("", "wechat", "")][0] == 30 * S  # "online within 30 seconds"
    assert rows[("", "phone", "")][0] == 15 * S  # "within three rings"
    assert rows[("", "", "urgent")] == (1 * H, 8 * H)


def test_web_form_ticket_gets_4h_and_48h_deadlines_on_creation():
    made = made_at(T0, channel=Ticket.Channel.WEB)
    assert made.first_response_due == T0 + 4 * H
    assert made.resolution_due == T0 + 48 * H
    # Warning window: the last 25% of the target, at most 1 hour.
    assert made.first_response_warn_at == T0 + 3 * H
    assert made.resolution_warn_at == T0 + 47 * H


def test_wechat_ticket_must_be_answered_within_30_seconds():
    made = made_at(T0, channel=Ticket.Channel.WECHAT)
    assert made.first_response_due == T0 + 30 * S
    assert made.first_response_warn_at == T0 + datetime.timedelta(seconds=22.5)


# --- choosing the target ----------------------------------------------------------------------


def target(kind="", channel="", priority="", first=H, resolution=10 * H, pk=None):
    return SlaTarget(kind=kind, channel=channel, priority=priority, first_response=first, resolution=resolution, pk=pk)


def test_most_specific_target_wins():
    targets = [
        target(first=4 * H),
        target(channel="phone", first=15 * S),
        target(kind="complaint", channel="phone", priority="urgent", first=5 * S),
    ]
    chosen = sla.choose_target(targets, kind="complaint", channel="phone", priority="urgent")
    assert chosen.first_response == 5 * S
    chosen = sla.choose_target(targets, kind="praise", channel="phone", priority="urgent")
    assert chosen.first_response == 15 * S
    chosen = sla.choose_target(targets, kind="praise", channel="web", priority="low")
    assert chosen.first_response == 4 * H


def test_equally_specific_targets_the_stricter_wins():
    targets = [target(priority="high", first=2 * H), target(channel="wechat", first=30 * S)]
    assert sla.choose_target(targets, kind="question", channel="wechat", priority="high").first_response == 30 * S


def test_no_matching_target_means_no_deadlines():
    assert sla.choose_target([target(channel="phone")], kind="praise", channel="web", priority="low") is None
    assert sla.deadlines(None, start=T0) == sla.Deadlines()


def test_warning_window_is_configurable(settings):
    settings.FEEDBACK_SLA_WARNING_FRACTION = 0.5
    settings.FEEDBACK_SLA_WARNING_MAX_SECONDS = 600
    assert sla.warning_window(4 * H) == 10 * M
    assert sla.warning_window(10 * M) == 5 * M


# --- recomputation ----------------------------------------------------------------------------


def test_priority_change_recomputes_the_deadlines_from_creation(support):
    made = made_at(T0)
    with time_machine.travel(T0 + 10 * M, tick=False):
        services.update_ticket(ticket=made, actor=support, priority=Ticket.Priority.URGENT)
    made.refresh_from_db()
    assert made.first_response_due == T0 + 1 * H
    assert made.resolution_due == T0 + 8 * H
    assert "priority" in made.events.get(kind="update").body_text


def test_kind_change_recomputes_the_deadlines(support):
    SlaTarget.objects.create(kind="complaint", first_response=20 * M, resolution=6 * H)
    made = made_at(T0, kind=Ticket.Kind.QUESTION)
    assert made.first_response_due == T0 + 4 * H
    services.update_ticket(ticket=made, actor=support, kind=Ticket.Kind.COMPLAINT)
    made.refresh_from_db()
    assert (made.kind, made.first_response_due, made.resolution_due) == ("complaint", T0 + 20 * M, T0 + 6 * H)


def test_unknown_kind_is_refused(support):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.update_ticket(ticket=ticket(), actor=support, kind="rant")


def test_lowering_priority_after_a_breach_clears_the_flag(support):
    made = made_at(T0, channel=Ticket.Channel.WEB)
    services.update_ticket(ticket=made, actor=support, priority=Ticket.Priority.URGENT)
    with time_machine.travel(T0 + 2 * H, tick=False):
        services.flag_sla_breaches()
        made.refresh_from_db()
        assert made.first_response_breached_at is not None
        services.update_ticket(ticket=made, actor=support, priority=Ticket.Priority.NORMAL)
    made.refresh_from_db()
    assert made.first_response_due == T0 + 4 * H and made.first_response_breached_at is None


def test_first_reply_stamps_first_response_at_and_moves_the_badge_to_resolution(
    support, django_capture_on_commit_callbacks
):
    made = made_at(T0, email="kehu@example.com")
    with time_machine.travel(T0 + 30 * M, tick=False), django_capture_on_commit_callbacks(execute=True):
        services.reply(ticket=made, body="收到", actor=support)
    made.refresh_from_db()
    assert made.first_response_at == T0 + 30 * M
    assert made.next_due() == (made.resolution_due, made.resolution_warn_at)
    assert sla.time_to_breach(made, T0 + 1 * H) == 47 * H


# --- time to breach ---------------------------------------------------------------------------


def test_time_to_breach_is_negative_once_missed():
    made = made_at(T0)
    assert sla.time_to_breach(made, T0 + 1 * H) == 3 * H
    assert sla.time_to_breach(made, T0 + 5 * H) == -1 * H


def test_time_to_breach_is_none_when_resolved(support):
    made = made_at(T0)
    services.change_status(ticket=made, to="open", actor=support)
    services.change_status(ticket=made, to="resolved", actor=support)
    assert sla.time_to_breach(made, T0) is None


@pytest.mark.parametrize(
    ("delta", "text"),
    [(-(1 * H + 5 * M), "−1 h 5 min"), (3 * 24 * H + 4 * H, "3 d 4 h"), (45 * S, "45 s"), (7 * M, "7 min")],
)
def test_format_delta(delta, text):
    assert sla.format_delta(delta) == text


# --- queues -----------------------------------------------------------------------------------


def test_about_to_breach_and_breached_querysets():
    calm = made_at(T0)  # first response due 13:00, warning from 12:00
    soon = made_at(T0 - 3 * H - 10 * M)  # due 09:50: warning since 08:50
    late = made_at(T0 - 5 * H)  # due 08:00: breached
    now = T0 + 1 * M
    assert set(Ticket.objects.about_to_breach(now)) == {soon}
    assert set(Ticket.objects.breached(now)) == {late}
    assert calm not in Ticket.objects.about_to_breach(now)


def test_answered_ticket_leaves_the_first_response_queues(support):
    late = made_at(T0 - 5 * H)
    services.record_call(ticket=late, actor=support, note="抱歉久等")
    assert late not in Ticket.objects.breached(T0)
