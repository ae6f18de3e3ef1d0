"""A member upgraded to a VIP tier gets their queued open tickets moved to the member-service team,
with the move in the history; tickets someone is working, a team a person chose and a downgrade
leave the team as it was (docs/rules/feedback.md, "Priority and routing")."""

import datetime
import zoneinfo
from decimal import Decimal

import pytest
from django.utils import timezone, translation

from feedback import services
from feedback.event_texts import EventText
from feedback.models import BusinessCalendar, Team, Ticket, TicketEvent
from feedback.priority import Standing
from feedback.services.priorities import reprioritise_member_tickets
from members.services import PurchaseLine
from rewards import services as reward_services
from tests.feedback.factories import ticket, ticket_in
from tests.members import factories as mf

pytestmark = pytest.mark.django_db

H = datetime.timedelta(hours=1)
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def buy(member, ref: str, amount: str):
    return reward_services.post_purchase(
        member=member,
        external_ref=ref,
        ordered_at=timezone.now(),
        items=[PurchaseLine(sku="BOUQUET", quantity=1, unit_price=Decimal(amount))],
    )


def routed(made):
    return list(TicketEvent.objects.filter(ticket=made, body_code=EventText.TIER_ROUTED))


@pytest.fixture
def vip_team():
    return Team.objects.create(name="会员服务", serves_vip=True)


def test_an_upgrade_to_gold_moves_the_queued_ticket_to_the_member_service_team(
    vip_team, django_capture_on_commit_callbacks
):
    member = mf.member()
    queued = ticket(member_no=member.member_no, kind=Ticket.Kind.QUESTION)
    waiting = ticket_in("waiting", member_no=member.member_no, kind=Ticket.Kind.QUESTION)
    done = ticket_in("resolved", member_no=member.member_no, kind=Ticket.Kind.QUESTION)
    assert queued.team is None and waiting.team is None
    with django_capture_on_commit_callbacks(execute=True):
        assert buy(member, "POS-GOLD", "5000.00").tier.code == "gold"
    for made in (queued, waiting):
        made.refresh_from_db()
        assert (made.team, made.priority, made.assignee) == (vip_team, "high", None)
        [event] = routed(made)
        assert event.kind == TicketEvent.Kind.UPDATE and event.actor is None
        assert event.body_params == {"old": "", "new": "会员服务", "tier": "gold", "rules": "Gold member"}
        with translation.override("en"):
            assert event.body_text == "Team — → 会员服务: the member's tier is now gold."
    done.refresh_from_db()
    assert done.team is None and routed(done) == []


def test_the_move_takes_the_member_service_team_s_business_hours(monkeypatch):
    import time_machine

    from feedback import priority

    calendar = BusinessCalendar.objects.create(name="工作日", weekdays="12345")  # 09:00-18:00
    Team.objects.create(name="会员服务", serves_vip=True, calendar=calendar)
    member = mf.member()
    saturday_night = datetime.datetime(2026, 5, 9, 22, 0, tzinfo=SHANGHAI)
    with time_machine.travel(saturday_night, tick=False):
        made = ticket(member_no=member.member_no, kind=Ticket.Kind.QUESTION, channel=Ticket.Channel.WEB)
        assert made.first_response_due == saturday_night + 4 * H  # no team: round the clock
        monkeypatch.setattr(priority, "standing_of", lambda m: Standing(tier_code="gold"))
        assert reprioritise_member_tickets(member_ids=[member.pk]) == 1
    made.refresh_from_db()
    assert (made.team.name, made.priority) == ("会员服务", "high")
    # 2 hours of the team's time from Saturday night: Monday 11:00
    assert made.first_response_due == datetime.datetime(2026, 5, 11, 11, 0, tzinfo=SHANGHAI)


def test_a_ticket_someone_is_working_stays_with_its_agent_and_team(vip_team, support, monkeypatch):
    from feedback import priority

    member = mf.member()
    made = ticket(member_no=member.member_no, kind=Ticket.Kind.QUESTION)
    services.update_ticket(ticket=made, actor=support, assignee=support)
    monkeypatch.setattr(priority, "standing_of", lambda m: Standing(tier_code="gold"))
    assert reprioritise_member_tickets(member_ids=[member.pk]) == 1  # the priority still follows
    made.refresh_from_db()
    assert (made.assignee, made.team, made.priority) == (support, None, "high")
    assert routed(made) == []


def test_a_team_a_person_chose_is_kept(vip_team, support, monkeypatch):
    from feedback import priority

    after_sales = Team.objects.create(name="售后")
    member = mf.member()
    chosen = ticket(member_no=member.member_no, kind=Ticket.Kind.QUESTION)
    services.update_ticket(ticket=chosen, actor=support, team=after_sales)
    cleared = ticket(member_no=member.member_no, kind=Ticket.Kind.QUESTION)
    services.update_ticket(ticket=cleared, actor=support, team=after_sales)
    services.update_ticket(ticket=cleared, actor=support, team=None)  # a person took it out of any team
    monkeypatch.setattr(priority, "standing_of", lambda m: Standing(tier_code="gold"))
    reprioritise_member_tickets(member_ids=[member.pk])
    chosen.refresh_from_db()
    cleared.refresh_from_db()
    assert (chosen.team, cleared.team) == (after_sales, None)
    assert routed(chosen) == routed(cleared) == []


def test_a_priority_set_by_staff_is_kept_and_the_ticket_still_moves(vip_team, support, monkeypatch):
    from feedback import priority

    member = mf.member()
    made = ticket(member_no=member.member_no, kind=Ticket.Kind.QUESTION)
    services.update_ticket(ticket=made, actor=support, priority="low")
    monkeypatch.setattr(priority, "standing_of", lambda m: Standing(tier_code="gold"))
    assert reprioritise_member_tickets(member_ids=[member.pk]) == 1
    made.refresh_from_db()
    assert (made.priority, made.team) == ("low", vip_team)
    assert not TicketEvent.objects.filter(ticket=made, body_code=EventText.TIER_REPRIORITISED).exists()
    assert len(routed(made)) == 1


def test_without_a_member_service_team_nothing_moves(monkeypatch):
    from feedback import priority

    member = mf.member()
    made = ticket(member_no=member.member_no, kind=Ticket.Kind.QUESTION)
    monkeypatch.setattr(priority, "standing_of", lambda m: Standing(tier_code="gold"))
    assert reprioritise_member_tickets(member_ids=[member.pk]) == 1
    made.refresh_from_db()
    assert (made.priority, made.team) == ("high", None)
    assert routed(made) == []


def test_a_silver_upgrade_matches_no_vip_rule_and_moves_nothing(vip_team, django_capture_on_commit_callbacks):
    member = mf.member()
    made = ticket(member_no=member.member_no, kind=Ticket.Kind.QUESTION)
    with django_capture_on_commit_callbacks(execute=True):
        assert buy(member, "POS-SILVER", "1000.00").tier.code == "silver"
    made.refresh_from_db()
    assert made.team is None and routed(made) == []


def test_a_downgrade_leaves_the_ticket_with_the_member_service_team(vip_team, django_capture_on_commit_callbacks):
    member = mf.member()
    with django_capture_on_commit_callbacks(execute=True):
        bought = buy(member, "POS-GOLD", "5000.00")
    made = ticket(member_no=member.member_no, kind=Ticket.Kind.QUESTION)
    assert made.team == vip_team
    with django_capture_on_commit_callbacks(execute=True):
        reward_services.refund_purchase(purchase=bought.purchase, external_ref="RET-1")
    made.refresh_from_db()
    assert (made.priority, made.team) == ("normal", vip_team)
    assert routed(made) == []


def test_running_again_moves_nothing_more(vip_team, monkeypatch):
    from feedback import priority

    member = mf.member()
    made = ticket(member_no=member.member_no, kind=Ticket.Kind.QUESTION)
    monkeypatch.setattr(priority, "standing_of", lambda m: Standing(tier_code="gold"))
    assert reprioritise_member_tickets(member_ids=[member.pk]) == 1
    assert reprioritise_member_tickets(member_ids=[member.pk]) == 0
    made.refresh_from_db()
    assert made.team == vip_team and len(routed(made)) == 1
