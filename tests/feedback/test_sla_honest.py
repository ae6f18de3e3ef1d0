"""Issue 19: service levels that measure the customer's wait, one definition of "breached",
business hours, and priority from who the customer is."""

import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail

from feedback import admin as feedback_admin
from feedback import kpis, services, sla
from feedback.models import BusinessCalendar, PriorityRule, Team, Ticket
from feedback.priority import Standing, choose_priority
from feedback.services.service_levels import _breach_candidates
from members.models import Holiday
from tests.feedback.factories import ticket
from tests.members import factories as mf

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime.datetime(2026, 5, 6, 9, 0, tzinfo=SHANGHAI)  # a Wednesday
S = datetime.timedelta(seconds=1)
H = datetime.timedelta(hours=1)


def at(moment):
    return time_machine.travel(moment, tick=False)


# --- one definition of breached --------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("offset", "breached"), [(-S, False), (datetime.timedelta(0), True), (S, True)], ids=["before", "at", "after"]
)
def test_the_four_uses_of_breached_agree_at_the_due_time(offset, breached):
    """Queryset filter, the beat task's candidates, the KPI count and the admin badge: at the due
    instant an unanswered ticket is breached in all four, a second before in none."""
    with at(T0):
        made = ticket(channel=Ticket.Channel.WEB)  # first response due after 4 h
    due = made.first_response_due
    assert due == T0 + 4 * H
    now = due + offset
    made.refresh_from_db()
    in_queryset = Ticket.objects.breached(now).filter(pk=made.pk).exists()
    in_candidates = _breach_candidates(now).filter(pk=made.pk).exists()
    in_kpis = Ticket.objects.filter(pk=made.pk).filter(kpis.breached_condition(now)).exists()
    badge = str(feedback_admin.breach_badge(made, now))
    assert (in_queryset, in_candidates, in_kpis, "sla-breached" in badge) == (breached,) * 4
    assert Ticket.objects.about_to_breach(now).filter(pk=made.pk).exists() is (not breached)
    assert (sla.sla_status(made, now).state == "breached") is breached
    if offset == datetime.timedelta(0):
        assert "Overdue 0 s" in badge


@pytest.mark.django_db
def test_the_beat_task_flags_at_the_due_instant_once():
    with at(T0):
        made = ticket(channel=Ticket.Channel.WEB)
    assert services.flag_sla_breaches(now=made.first_response_due - S).first_response == 0
    assert services.flag_sla_breaches(now=made.first_response_due).first_response == 1
    assert services.flag_sla_breaches(now=made.first_response_due + S).first_response == 0


@pytest.mark.django_db
def test_answered_by_the_due_instant_is_met_in_the_kpis_and_the_api_state():
    with at(T0):
        made = ticket(channel=Ticket.Channel.WEB)
    made.first_response_at = made.first_response_due  # answered at the due instant itself
    Ticket.objects.filter(pk=made.pk).update(first_response_at=made.first_response_due)
    later = made.first_response_due + H
    assert not Ticket.objects.filter(pk=made.pk).filter(kpis.breached_condition(later)).exists()
    assert sla.sla_status(made, later).state == "met"


# --- the customer's wait ----------------------------------------------------------------------


@pytest.mark.django_db
def test_phone_ticket_entered_after_the_call_answered_within_three_rings_is_met_not_breached(support):
    lead = support
    team = Team.objects.create(name="热线", lead=lead)
    called = T0 - 10 * datetime.timedelta(minutes=1)
    with at(T0):  # typed in ten minutes after the call
        made = services.submit_feedback(
            kind=Ticket.Kind.COMPLAINT,
            message="花束送到时已经枯萎了。",
            channel=Ticket.Channel.PHONE,
            contacted_at=called,
            first_response_at=called + sla.ANSWERED_WITHIN["three_rings"],
            actor=support,
        )
        services.update_ticket(ticket=made, actor=support, team=team)
        made.refresh_from_db()
        assert made.first_response_due == called + 15 * S  # the seeds' three rings, from the call
        status = sla.sla_status(made, T0)
        assert (status.state, status.first_response_seconds) == ("met", 15)
        assert services.flag_sla_breaches().first_response == 0
    assert not Ticket.objects.breached(T0 + H).exists()
    assert not Ticket.objects.filter(kpis.breached_condition(T0 + H)).exists()
    assert mail.outbox == []
    call = made.events.get(kind="call")
    assert call.at == called + 15 * S and call.body_params == {"seconds": 15}


@pytest.mark.django_db
def test_phone_ticket_answered_after_three_rings_is_a_real_breach_and_alerts_the_lead(support):
    support.email = "lead@example.com"
    support.save()
    team = Team.objects.create(name="热线", lead=support)
    called = T0 - 10 * datetime.timedelta(minutes=1)
    with at(T0):
        made = services.submit_feedback(
            kind=Ticket.Kind.COMPLAINT, message="没人接电话。", channel=Ticket.Channel.PHONE, contacted_at=called
        )
        services.update_ticket(ticket=made, actor=support, team=team)
        assert services.flag_sla_breaches().notified == 1
    assert sla.sla_status(made, T0).state == "breached"
    assert mail.outbox[0].to == ["lead@example.com"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("contacted", "answered", "field"),
    [
        (T0 + H, None, "contacted_at"),  # in the future
        (T0 - H, T0 + H, "first_response_at"),  # answered in the future
        (T0 - H, T0 - 2 * H, "first_response_at"),  # answered before the contact
    ],
)
def test_times_entered_by_staff_are_checked(contacted, answered, field):
    from django.core.exceptions import ValidationError

    with at(T0), pytest.raises(ValidationError) as raised:
        ticket(channel=Ticket.Channel.PHONE, contacted_at=contacted, first_response_at=answered)
    assert field in raised.value.message_dict
    assert not Ticket.objects.exists()


# --- business hours ---------------------------------------------------------------------------

MON_FRI = sla.BusinessHours(weekdays=frozenset({1, 2, 3, 4, 5}), opens=datetime.time(9), closes=datetime.time(18))


def local(*args):
    return datetime.datetime(*args, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("start", "elapsed", "due"),
    [
        (local(2026, 5, 9, 22, 0), 4 * H, local(2026, 5, 11, 13, 0)),  # Saturday night → Monday 13:00
        (local(2026, 5, 8, 17, 0), 2 * H, local(2026, 5, 11, 10, 0)),  # Friday 17:00 → Monday 10:00
        (local(2026, 5, 6, 8, 0), 30 * S, local(2026, 5, 6, 9, 0, 30)),  # before opening
        (local(2026, 5, 6, 10, 0), 48 * H, local(2026, 5, 13, 13, 0)),  # 48 working hours: 8 + 9 + 9 + 9 + 9 + 4
        (local(2026, 5, 6, 17, 59), datetime.timedelta(0), local(2026, 5, 6, 17, 59)),
    ],
)
def test_business_time_skips_nights_and_weekends(start, elapsed, due):
    assert MON_FRI.add(start, elapsed) == due


def test_business_time_skips_public_days_off():
    hours = sla.BusinessHours(
        weekdays=MON_FRI.weekdays,
        opens=MON_FRI.opens,
        closes=MON_FRI.closes,
        days_off=frozenset({local(2026, 5, 11, 0).date()}),
    )
    assert hours.add(local(2026, 5, 9, 22, 0), 4 * H) == local(2026, 5, 12, 13, 0)


@pytest.mark.django_db
def test_ticket_of_a_mon_fri_team_filed_on_saturday_night_is_due_monday_morning_plus_the_target(support):
    calendar = BusinessCalendar.objects.create(name="工作日", weekdays="12345")
    Team.objects.create(name="会员服务", serves_vip=True, calendar=calendar)
    PriorityRule.objects.all().delete()
    PriorityRule.objects.create(name="Complaint", priority="normal", kind="complaint", vip=True)
    with at(local(2026, 5, 9, 22, 0)):
        made = ticket(channel=Ticket.Channel.WEB)  # 4 h first response, 48 h resolution
    assert made.team.name == "会员服务"
    assert made.first_response_due == local(2026, 5, 11, 13, 0)
    assert not Ticket.objects.breached(local(2026, 5, 10, 23, 0)).exists()  # Sunday: not breached


@pytest.mark.django_db
def test_public_holidays_from_the_holiday_data_do_not_count(support):
    Holiday.objects.all().delete()
    Holiday.objects.create(code="test-day", name="测试假日", rule="fixed", month=5, day=11, days_off=1)
    calendar = BusinessCalendar.objects.create(name="工作日", weekdays="12345")
    team = Team.objects.create(name="售后", calendar=calendar)
    with at(local(2026, 5, 9, 22, 0)):
        made = ticket(channel=Ticket.Channel.WEB, kind=Ticket.Kind.QUESTION)
        services.update_ticket(ticket=made, actor=support, team=team)  # the team's hours now count
    assert made.first_response_due == local(2026, 5, 12, 13, 0)


@pytest.mark.django_db
def test_teams_without_a_calendar_work_round_the_clock():
    with at(local(2026, 5, 9, 22, 0)):
        made = ticket(channel=Ticket.Channel.WEB, kind=Ticket.Kind.QUESTION)
    assert made.first_response_due == local(2026, 5, 10, 2, 0)


# --- priority ---------------------------------------------------------------------------------


def rule(name, priority, **kwargs):
    return PriorityRule(name=name, priority=priority, **{"is_active": True, **kwargs})


RULES = [
    rule("Diamond member", "urgent", tier_code="diamond", vip=True),
    rule("Gold member", "high", tier_code="gold", vip=True),
    rule("High-value customer", "high", classification="high_value", vip=True),
    rule("Paid member", "high", paid_plan=True),
    rule("Suggestion", "low", kind="suggestion"),
    rule("Old rule", "urgent", kind="complaint", is_active=False),
]


@pytest.mark.parametrize(
    ("standing", "kind", "expected"),
    [
        (Standing(), "complaint", ("normal", "", False)),
        (Standing(), "suggestion", ("low", "Suggestion", False)),
        (Standing(tier_code="gold"), "suggestion", ("high", "Gold member", True)),
        (Standing(tier_code="gold", classification="high_value"), "complaint",
         ("high", "Gold member · High-value customer", True)),
        (Standing(tier_code="diamond", paid_plan="Annual plus"), "complaint", ("urgent", "Diamond member", True)),
        (Standing(paid_plan="Annual plus"), "question", ("high", "Paid member", False)),
    ],
)  # fmt: skip
def test_priority_rules(standing, kind, expected):
    choice = choose_priority(RULES, standing=standing, kind=kind)
    assert (choice.priority, choice.reason, choice.vip) == expected


@pytest.mark.django_db
def test_a_complaint_comes_before_a_suggestion_by_the_seeded_rules():
    assert ticket(kind=Ticket.Kind.COMPLAINT).priority == "normal"
    suggestion = ticket(kind=Ticket.Kind.SUGGESTION)
    assert (suggestion.priority, suggestion.priority_reason) == ("low", "Suggestion")


@pytest.mark.django_db
def test_a_paid_member_s_ticket_is_high_with_its_reason_through_the_rewards_hook():
    from rewards import services as reward_services
    from rewards.models import MembershipPlan

    member = mf.member(phone="13800138000")
    reward_services.buy_membership(
        member=member, plan=MembershipPlan.objects.get(code="annual-plus"), external_ref="SALE-VIP"
    )
    made = ticket(member_no=member.member_no, kind=Ticket.Kind.QUESTION)
    assert (made.priority, made.priority_reason) == ("high", "Paid member")
    assert made.first_response_due - made.contacted_at == 2 * H  # the seeded high-priority target


@pytest.mark.django_db
def test_a_gold_member_s_ticket_goes_to_the_member_service_team(monkeypatch):
    from feedback import priority

    team = Team.objects.create(name="会员服务", serves_vip=True)
    member = mf.member()
    monkeypatch.setattr(priority, "standing_of", lambda m: Standing(tier_code="gold") if m == member else Standing())
    made = ticket(member_no=member.member_no)
    assert (made.priority, made.priority_reason, made.team) == ("high", "Gold member", team)
    other = ticket()
    assert other.team is None


@pytest.mark.django_db
def test_without_a_member_service_team_vip_tickets_stay_unassigned(monkeypatch):
    from feedback import priority

    member = mf.member()
    monkeypatch.setattr(priority, "standing_of", lambda m: Standing(tier_code="gold"))
    made = ticket(member_no=member.member_no)
    assert (made.priority, made.team) == ("high", None)


@pytest.mark.django_db
def test_staff_changing_the_priority_clears_the_rules_reason(support):
    made = ticket(kind=Ticket.Kind.SUGGESTION)
    services.update_ticket(ticket=made, actor=support, priority="urgent")
    made.refresh_from_db()
    assert (made.priority, made.priority_reason) == ("urgent", "")
