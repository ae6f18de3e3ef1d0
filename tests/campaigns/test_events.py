"""Member events through their services: seats and the waitlist, keys, windows, who may come,
points paid and given back, cancellation and promotion, check-in, invitations, results."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from campaigns import event_links, personal_variables, selectors
from campaigns.errors import (
    AlreadyRegistered,
    CancellationClosed,
    NotEligible,
    RegistrationKeyConflict,
    SignupClosed,
)
from campaigns.models import Automation, Classification, EventRegistration, MemberScore, OutboxMessage
from campaigns.selectors import events as event_selectors
from campaigns.services import automations
from campaigns.services import events as event_services
from members.models import Interaction
from rewards.errors import InsufficientPoints
from rewards.models import LedgerEntry
from rewards.selectors import points_summary
from tests.campaigns.event_helpers import event, key, member, sign_up
from tests.members import factories

pytestmark = pytest.mark.django_db

CONFIRMED, WAITLISTED, CANCELLED = "confirmed", "waitlisted", "cancelled"


def balance(made) -> int:
    return points_summary(made, expiring_dates=0).balance


def test_seats_are_confirmed_while_they_last_then_waitlisted_in_order():
    made = event(capacity=2)
    results = [sign_up(made, member()) for _ in range(4)]
    assert [r.status for r in results] == [CONFIRMED, CONFIRMED, WAITLISTED, WAITLISTED]
    assert [r.position for r in results] == [None, None, 1, 2]


def test_a_retry_with_the_same_key_answers_the_first_registration():
    made, someone = event(capacity=1), member()
    first = sign_up(made, someone, idempotency_key="k-1")
    again = sign_up(made, someone, idempotency_key="k-1")
    assert first.created and not again.created
    assert again.registration.pk == first.registration.pk
    assert EventRegistration.objects.count() == 1


def test_a_key_of_another_member_is_refused():
    made = event()
    sign_up(made, member(), idempotency_key="k-1")
    with pytest.raises(RegistrationKeyConflict):
        sign_up(made, member(), idempotency_key="k-1")


def test_a_member_signs_up_once():
    made, someone = event(), member()
    sign_up(made, someone)
    with pytest.raises(AlreadyRegistered):
        sign_up(made, someone)


def test_sign_up_outside_its_window_is_refused():
    later = event(signup_opens_at=timezone.now() + datetime.timedelta(days=1))
    with pytest.raises(SignupClosed):
        sign_up(later, member())
    started = event(starts_in=datetime.timedelta(hours=-1))
    with pytest.raises(SignupClosed):
        sign_up(started, member())


def test_only_the_audience_may_come():
    high = member()
    MemberScore.objects.create(
        member=high, as_of=timezone.localdate(), computed_at=timezone.now(), classification=Classification.HIGH_VALUE
    )
    made = event(audience_classifications=[Classification.HIGH_VALUE])
    assert sign_up(made, high).status == CONFIRMED
    with pytest.raises(NotEligible):
        sign_up(made, member())


def test_paid_plan_holders_only_refuses_others():
    made = event(audience_plan_holders=True)
    with pytest.raises(NotEligible):
        sign_up(made, member())


def test_points_pay_the_seat_and_come_back_on_a_cancellation_in_time():
    made, someone = event(points_cost=100), member(points=300)
    before = balance(someone)
    result = sign_up(made, someone)
    assert balance(someone) == before - 100
    assert result.registration.points_entry.kind == LedgerEntry.Kind.SPEND
    cancelled = event_services.cancel_registration(registration=result.registration)
    assert cancelled.points_returned == 100 and balance(someone) == before
    assert cancelled.registration.points_return.kind == LedgerEntry.Kind.SPEND_RETURN


def test_short_of_points_nothing_is_written():
    made, someone = event(points_cost=10_000), member()
    with pytest.raises(InsufficientPoints):
        sign_up(made, someone)
    assert not EventRegistration.objects.exists()
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.SPEND).exists()


def test_a_cancellation_promotes_the_first_waitlisted_and_tells_them():
    made = event(capacity=1)
    first, second, third = member(), member(sms_consent=True), member()
    seat = sign_up(made, first).registration
    sign_up(made, second)
    sign_up(made, third)
    with django_on_commit():
        result = event_services.cancel_registration(registration=seat)
    assert [r.member_id for r in result.promoted] == [second.pk]
    statuses = dict(EventRegistration.objects.values_list("member_id", "status"))
    assert statuses == {first.pk: CANCELLED, second.pk: CONFIRMED, third.pk: WAITLISTED}
    third_reg = EventRegistration.objects.get(member=third)
    assert event_selectors.position_of(third_reg) == 1
    seat_campaign = Automation.objects.get(kind=Automation.Kind.EVENT_SEAT).campaign
    assert list(OutboxMessage.objects.filter(campaign=seat_campaign).values_list("member_id", flat=True)) == [second.pk]


def test_a_waitlisted_member_short_of_points_keeps_the_place_and_the_next_gets_the_seat():
    made = event(capacity=1, points_cost=50)
    first, poor, rich = member(points=50), member(points=50), member(points=50)
    seat = sign_up(made, first).registration
    sign_up(made, poor)
    sign_up(made, rich)
    event_services.cancel_registration(registration=seat)  # nothing spent by poor yet
    statuses = dict(EventRegistration.objects.values_list("member_id", "status"))
    assert statuses[poor.pk] == CONFIRMED  # poor still had the points
    assert statuses[rich.pk] == WAITLISTED


def test_cancellation_after_the_deadline_is_refused():
    made = event(cancellation_deadline=timezone.now() + datetime.timedelta(hours=1))
    seat = sign_up(made, member()).registration
    with pytest.raises(CancellationClosed):
        event_services.cancel_registration(registration=seat, now=timezone.now() + datetime.timedelta(hours=2))


def test_more_seats_go_to_the_waitlist():
    made = event(capacity=1)
    sign_up(made, member())
    waiting = sign_up(made, member()).registration
    event_services.update_event(event=made, capacity=2)
    waiting.refresh_from_db()
    assert waiting.status == CONFIRMED


def test_check_in_by_card_records_attendance_once_with_an_interaction():
    made = event(starts_in=datetime.timedelta(minutes=30))
    someone = member()
    sign_up(made, someone)
    with django_on_commit():
        first = event_services.check_in(event=made, code=someone.member_no.lower())
    again = event_services.check_in(event=made, code=someone.member_no)
    assert (first.outcome, again.outcome) == ("checked_in", "already_checked_in")
    assert Interaction.objects.filter(member=someone, kind=Interaction.Kind.EVENT).count() == 1


def test_check_in_by_phone_and_refusals():
    made = event(capacity=1)
    seated, waiting, stranger = member(phone="13800001111"), member(), member()
    sign_up(made, seated)
    sign_up(made, waiting)
    assert event_services.check_in(event=made, code="138 0000 1111").outcome == "checked_in"
    assert event_services.check_in(event=made, code=waiting.member_no).outcome == "waitlisted"
    assert event_services.check_in(event=made, code=stranger.member_no).outcome == "not_registered"
    assert event_services.check_in(event=made, code="nobody").outcome == "unknown_member"


def test_invitation_campaign_carries_a_signed_link_for_each_member():
    made, someone = event(), member()
    campaign = event_services.invite_segment(event=made, segment=None)
    values = personal_variables.values_for(campaign, someone)
    token = values["event_link"].rstrip("/").rsplit("/", 1)[1]
    data = event_links.read_token(token)
    assert (data.event_id, data.member_no) == (made.pk, someone.member_no)
    assert event_links.read_token(token[:-2] + "xx") is None


def test_invitation_needs_the_link():
    with pytest.raises(ValidationError):
        event_services.invite_segment(event=event(), segment=None, body="Hello")


def test_reminder_goes_the_day_before_to_confirmed_members():
    made = event(capacity=1, starts_in=datetime.timedelta(hours=20))
    seated, waiting = member(sms_consent=True), member(sms_consent=True)
    sign_up(made, seated)
    sign_up(made, waiting)
    reminder = Automation.objects.get(kind=Automation.Kind.EVENT_REMINDER)
    assert automations.run_automations() == {}  # off until marketing switches it on
    automations.update_automation(automation=reminder, enabled=True)
    assert automations.run_automations() == {"event_reminder": 1}
    assert automations.run_automations() == {"event_reminder": 0}
    reminder.refresh_from_db()  # its campaign was made when marketing switched it on
    rows = OutboxMessage.objects.filter(campaign=reminder.campaign)
    assert list(rows.values_list("member_id", flat=True)) == [seated.pk]


def test_results_count_the_figures_and_no_shows_after_the_end():
    made = event(capacity=2, starts_in=datetime.timedelta(hours=-1), hours=2)
    before = made.starts_at - datetime.timedelta(hours=1)
    came, absent = member(), member()
    sign_up(made, came, now=before)
    sign_up(made, absent, now=before)
    sign_up(made, member(), now=before)
    event_services.check_in(event=made, code=came.member_no)
    factories.purchase(came, total="300.00", ordered_at=timezone.now() - datetime.timedelta(minutes=5))
    during = event_selectors.event_results(made)
    assert (during.signed_up, during.confirmed, during.waitlisted, during.attended) == (3, 2, 1, 1)
    assert during.no_shows is None
    after = event_selectors.event_results(made, now=made.ends_at)
    assert after.no_shows == 1
    assert after.attendees.buyers == 1 and str(after.attendees.revenue) == "300.00"
    assert list(selectors.attended_member_ids()) == [came.pk]
    assert list(selectors.attended_member_ids(event_id=made.pk, within_days=1)) == [came.pk]


class django_on_commit:
    """Run on_commit callbacks of the test's transaction (pytest-django keeps one open)."""

    def __enter__(self):
        from django.test import TestCase

        self._ctx = TestCase.captureOnCommitCallbacks(execute=True)
        return self._ctx.__enter__()

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


def test_keys_must_be_given():
    with pytest.raises(ValidationError):
        sign_up(event(), member(), idempotency_key=" ")


def test_attended_ids_take_a_key():
    assert list(selectors.attended_member_ids(event_id=0)) == []


def test_a_frozen_or_unknown_code_finds_nobody():
    assert event_selectors.find_member_by_code("") is None


def test_keys_are_per_event():
    someone = member()
    sign_up(event(), someone, idempotency_key="same")
    assert sign_up(event(), someone, idempotency_key="same").created


_ = key
