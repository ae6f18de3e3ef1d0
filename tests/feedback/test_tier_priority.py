"""A member's open tickets follow their tier: a tier change (sent by `rewards` after commit)
applies the priority rules again, recomputes the service-level deadlines and records why; staff's
own priority, and tickets already resolved, are left alone."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone, translation

from feedback import services
from feedback.event_texts import EventText
from feedback.models import Ticket, TicketEvent
from feedback.services.priorities import reprioritise_member_tickets
from members.services import PurchaseLine
from members.signals import tiers_changed
from rewards import services as reward_services
from tests.feedback.factories import ticket, ticket_in
from tests.members import factories as mf

pytestmark = pytest.mark.django_db

H = datetime.timedelta(hours=1)


def buy(member, ref: str, amount: str):
    return reward_services.post_purchase(
        member=member,
        external_ref=ref,
        ordered_at=timezone.now(),
        items=[PurchaseLine(sku="BOUQUET", quantity=1, unit_price=Decimal(amount))],
    )


def tier_events(made):
    return list(TicketEvent.objects.filter(ticket=made, body_code=EventText.TIER_REPRIORITISED))


def test_an_upgrade_to_gold_raises_the_open_ticket_and_its_deadlines(django_capture_on_commit_callbacks):
    member = mf.member()
    made = ticket(member_no=member.member_no, kind=Ticket.Kind.QUESTION)
    done = ticket_in("resolved", member_no=member.member_no, kind=Ticket.Kind.QUESTION)
    assert (made.priority, made.priority_reason) == ("normal", "")
    with django_capture_on_commit_callbacks(execute=True):
        result = buy(member, "POS-GOLD", "5000.00")
    assert result.tier.code == "gold"
    made.refresh_from_db()
    assert (made.priority, made.priority_reason) == ("high", "Gold member")
    assert made.first_response_due - made.contacted_at == 2 * H  # the seeded high-priority target
    [event] = tier_events(made)
    assert event.body_params == {"old": "normal", "new": "high", "tier": "gold", "rules": "Gold member"}
    with translation.override("en"):
        assert event.body_text == "Priority Normal → High: the member's tier is now gold."
    done.refresh_from_db()
    assert done.priority == "normal" and tier_events(done) == []


def test_a_refund_back_below_gold_lowers_it_again(django_capture_on_commit_callbacks):
    member = mf.member()
    with django_capture_on_commit_callbacks(execute=True):
        bought = buy(member, "POS-GOLD", "5000.00")
    made = ticket(member_no=member.member_no, kind=Ticket.Kind.QUESTION)
    assert made.priority == "high"
    with django_capture_on_commit_callbacks(execute=True):
        reward_services.refund_purchase(purchase=bought.purchase, external_ref="RET-1")
    made.refresh_from_db()
    assert (made.priority, made.priority_reason) == ("normal", "")
    assert made.first_response_due - made.contacted_at > 2 * H
    assert [e.body_params["new"] for e in tier_events(made)] == ["normal"]


def test_a_priority_set_by_staff_is_kept(support, django_capture_on_commit_callbacks):
    member = mf.member()
    made = ticket(member_no=member.member_no, kind=Ticket.Kind.QUESTION)
    services.update_ticket(ticket=made, actor=support, priority="low")
    with django_capture_on_commit_callbacks(execute=True):
        buy(member, "POS-GOLD", "5000.00")
    made.refresh_from_db()
    assert (made.priority, made.priority_reason) == ("low", "")
    assert tier_events(made) == []


def test_running_again_changes_nothing(monkeypatch):
    from feedback import priority
    from feedback.priority import Standing

    member = mf.member()
    made = ticket(member_no=member.member_no, kind=Ticket.Kind.QUESTION)
    monkeypatch.setattr(priority, "standing_of", lambda m: Standing(tier_code="gold"))
    assert reprioritise_member_tickets(member_ids=[member.pk]) == 1
    assert reprioritise_member_tickets(member_ids=[member.pk]) == 0
    made.refresh_from_db()
    assert made.priority == "high"
    assert len(tier_events(made)) == 1


def test_rewards_sends_the_signal_once_after_commit_with_the_members_who_moved(django_capture_on_commit_callbacks):
    heard = []

    def listener(sender, member_ids, **kwargs):
        heard.append(member_ids)

    tiers_changed.connect(listener, dispatch_uid="test-tiers-changed")
    try:
        member = mf.member()
        with django_capture_on_commit_callbacks(execute=True):
            buy(member, "POS-SMALL", "10.00")  # stays regular
        assert heard == []
        with django_capture_on_commit_callbacks(execute=True):
            buy(member, "POS-SILVER", "1000.00")
        assert heard == [[member.pk]]
    finally:
        tiers_changed.disconnect(dispatch_uid="test-tiers-changed")


def test_the_nightly_re_evaluation_sends_the_members_it_moved(django_capture_on_commit_callbacks):
    from rewards.models import Tier
    from rewards.services.tiers import reevaluate_tiers

    heard = []

    def listener(sender, member_ids, **kwargs):
        heard.append(member_ids)

    member = mf.member()
    buy(member, "POS-900", "900.00")  # regular: Silver starts at 1,000
    Tier.objects.filter(code="silver").update(threshold=Decimal("800.00"))
    tiers_changed.connect(listener, dispatch_uid="test-tiers-changed-nightly")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            result = reevaluate_tiers()
    finally:
        tiers_changed.disconnect(dispatch_uid="test-tiers-changed-nightly")
    assert result.upgrades == 1
    assert heard == [[member.pk]]
