"""Member events: the writers (docs/rules/events.md).

Seats, under concurrency:
1. Every change of an event's registrations takes the event's row lock first
   (`lock_objects.event_for_update`), so sign-ups, cancellations, promotions and check-ins of one
   event run one at a time; the seats are counted under the lock.
2. A sign-up with a key already used answers that registration again (a retry); a key used by
   another member is refused (`idempotency_conflict`). A member holds one active (confirmed or
   waitlisted) registration per event — a unique constraint, and `already_registered` for a second
   key.
3. Confirmed while `confirmed < capacity`, else waitlisted; the waitlist is served in arrival
   order (the registration's id, given under the lock).
4. A seat with a points cost is paid through `rewards.services.programme_spend` in the same
   transaction (insufficient points: nothing is written); a waitlisted member pays when promoted.
   A cancellation before the deadline gives the points back with a reversing row.
5. A confirmed seat freed before the deadline goes to the first waitlisted member who can take it;
   they are told through the outbox (the "event seat confirmed" automation) after commit.
6. Check-in records attendance once (`attended_at`, under the lock) and an "event attendance"
   interaction through `members.services.add_interaction` (the activity bonus follows from it).
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns import lock_objects
from campaigns.errors import (
    AlreadyRegistered,
    CancellationClosed,
    NotEligible,
    RegistrationKeyConflict,
    SignupClosed,
)
from campaigns.models import Campaign, Classification, Event, EventInvitation, EventRegistration, Segment
from campaigns.selectors import events as event_selectors
from members.models import Interaction, Member
from members.services import MemberErased
from rewards.errors import InsufficientPoints
from rewards.ledger_reasons import Reason
from rewards.models import Tier

logger = logging.getLogger(__name__)

EVENT_FIELDS = (
    "title", "kind", "description", "image", "store", "address", "starts_at", "ends_at", "capacity", "price",
    "points_cost", "audience_classifications", "audience_segment", "audience_plan_holders", "signup_opens_at",
    "signup_closes_at", "cancellation_deadline",
)  # fmt: skip


# --- events -------------------------------------------------------------------------------------


def validate_event(values: dict) -> None:
    """Check an event's fields together; ValidationError names each bad field."""
    errors: dict[str, list[str]] = {}
    if not (values.get("title") or "").strip():
        errors["title"] = [_("Enter a title for the event.")]
    if values.get("kind") not in Event.Kind.values:
        errors["kind"] = [_("Choose the kind of event.")]
    starts_at, ends_at = values.get("starts_at"), values.get("ends_at")
    if starts_at is None:
        errors["starts_at"] = [_("Enter when the event starts.")]
    if ends_at is None:
        errors["ends_at"] = [_("Enter when the event ends.")]
    elif starts_at is not None and ends_at <= starts_at:
        errors["ends_at"] = [_("The end must be after the start.")]
    capacity = values.get("capacity")
    if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 1:
        errors["capacity"] = [_("Enter the number of seats (1 or more).")]
    elif capacity > 100_000:
        errors["capacity"] = [_("Enter at most 100000 seats.")]
    price = values.get("price") or 0
    if price < 0:
        errors["price"] = [_("The price cannot be negative.")]
    points_cost = values.get("points_cost") or 0
    if not isinstance(points_cost, int) or points_cost < 0 or points_cost > 10_000_000:
        errors["points_cost"] = [_("Enter a whole number of points from 0 to 10000000.")]
    classes = values.get("audience_classifications") or []
    if not isinstance(classes, list) or any(c not in Classification.values for c in classes):
        errors["audience_classifications"] = [_("Choose classes from the list.")]
    opens, closes = values.get("signup_opens_at"), values.get("signup_closes_at")
    if opens and closes and closes <= opens:
        errors["signup_closes_at"] = [_("Sign-up must close after it opens.")]
    if closes and starts_at and closes > starts_at:
        errors["signup_closes_at"] = [_("Sign-up must close by the start of the event.")]
    deadline = values.get("cancellation_deadline")
    if deadline and starts_at and deadline > starts_at:
        errors["cancellation_deadline"] = [_("The cancellation deadline must be by the start of the event.")]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def create_event(*, actor=None, tiers: list[Tier] | None = None, **fields) -> Event:
    """A new scheduled event; `tiers` (with the other audience fields) says who may come."""
    unknown = set(fields) - set(EVENT_FIELDS)
    if unknown:
        raise ValidationError({name: [_("This field cannot be set.")] for name in sorted(unknown)})
    values = {"kind": Event.Kind.WORKSHOP, "price": 0, "points_cost": 0, **fields}
    values["audience_classifications"] = list(values.get("audience_classifications") or [])
    validate_event(values)
    values["title"] = values["title"].strip()
    event = Event.objects.create(created_by=actor if getattr(actor, "is_authenticated", False) else None, **values)
    if tiers:
        event.audience_tiers.set(tiers)
    logger.info("event %s created by %s", event.pk, getattr(actor, "pk", None))
    return event


@transaction.atomic
def update_event(*, event: Event, actor=None, tiers: list[Tier] | None = None, **changes) -> Event:
    """Change an event; more seats give the new ones to the waitlist at once (in arrival order)."""
    unknown = set(changes) - set(EVENT_FIELDS)
    if unknown:
        raise ValidationError({name: [_("This field cannot be changed.")] for name in sorted(unknown)})
    locked = lock_objects.event_for_update(event.pk)
    values = {name: getattr(locked, name) for name in EVENT_FIELDS}
    values.update(changes)
    values["audience_classifications"] = list(values.get("audience_classifications") or [])
    validate_event(values)
    values["title"] = values["title"].strip()
    for name, value in values.items():
        setattr(locked, name, value)
    locked.save()
    if tiers is not None:
        locked.audience_tiers.set(tiers)
    _promote(locked, now=timezone.now(), actor=actor)
    return locked


@transaction.atomic
def cancel_event(*, event: Event, actor=None, now: datetime.datetime | None = None) -> Event:
    """Call the event off: every active registration is cancelled and its points given back."""
    now = now or timezone.now()
    locked = lock_objects.event_for_update(event.pk)
    if locked.status == Event.Status.CANCELLED:
        return locked
    locked.status = Event.Status.CANCELLED
    locked.save(update_fields=["status", "updated_at"])
    for registration in EventRegistration.objects.filter(event=locked, status__in=event_selectors.ACTIVE).order_by(
        "pk"
    ):
        _cancel(registration, locked, now=now, actor=actor)
    return locked


# --- sign-up --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegistrationResult:
    registration: EventRegistration
    created: bool  # False: a retry with the same key, answered with the first registration
    position: int | None  # the place on the waitlist (1 = next), None when confirmed

    @property
    def status(self) -> str:
        return self.registration.status


def clean_key(idempotency_key: str) -> str:
    key = (idempotency_key or "").strip()
    if not key or len(key) > 64:
        raise ValidationError({"idempotency_key": [_("Give a key of 1 to 64 characters for this sign-up.")]})
    return key


def signup_refusal(event: Event, now: datetime.datetime) -> str | None:
    """Why the event takes no sign-up at `now`, or None."""
    if event.status == Event.Status.CANCELLED:
        return _("This event has been cancelled.")
    if event.signup_opens_at and now < event.signup_opens_at:
        return _("Sign-up has not opened yet.")
    closes = event.signup_closes_at or event.starts_at
    if now >= closes:
        return _("Sign-up for this event has closed.")
    return None


def seat_reason(event: Event) -> dict:
    return {"event": event.title[:100]}


@transaction.atomic
def register_member(
    *,
    event: Event,
    member: Member,
    idempotency_key: str,
    source: str = EventRegistration.Source.STAFF,
    actor=None,
    now: datetime.datetime | None = None,
) -> RegistrationResult:
    """Sign `member` up: confirmed while seats last, else waitlisted (the module's rules 1–4).

    Refusals: SignupClosed, NotEligible, AlreadyRegistered, RegistrationKeyConflict,
    InsufficientPoints (the seat's points cost; a waitlisted member needs the points too)."""
    key = clean_key(idempotency_key)
    now = now or timezone.now()
    locked = lock_objects.event_for_update(event.pk)
    earlier = EventRegistration.objects.filter(event=locked, idempotency_key=key).first()
    if earlier is not None:
        if earlier.member_id != member.pk:
            raise RegistrationKeyConflict(_("This key was used for another member's sign-up."))
        return RegistrationResult(registration=earlier, created=False, position=event_selectors.position_of(earlier))
    active = event_selectors.active_registration(locked, member)
    if active is not None:
        raise AlreadyRegistered(
            _("Member %(member_no)s is already signed up (%(status)s).")
            % {"member_no": member.member_no, "status": active.get_status_display()}
        )
    refusal = signup_refusal(locked, now)
    if refusal:
        raise SignupClosed(refusal)
    if not event_selectors.member_may_attend(locked, member):
        raise NotEligible(
            _("Member %(member_no)s is not among the members this event is for.") % {"member_no": member.member_no}
        )
    confirmed = event_selectors.confirmed_count(locked.pk) < locked.capacity
    registration = EventRegistration(
        event=locked,
        member=member,
        status=EventRegistration.Status.CONFIRMED if confirmed else EventRegistration.Status.WAITLISTED,
        source=source,
        idempotency_key=key,
        confirmed_at=now if confirmed else None,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    if locked.points_cost:
        if confirmed:
            _pay_seat(registration, locked, actor=actor)
        else:
            _check_balance(member, locked.points_cost)
    try:
        with transaction.atomic():
            registration.save()
    except IntegrityError as exc:  # the constraints hold even for a writer that skipped the lock
        raise AlreadyRegistered(_("This member is already signed up.")) from exc
    return RegistrationResult(
        registration=registration, created=True, position=event_selectors.position_of(registration)
    )


def _check_balance(member: Member, points: int) -> None:
    from rewards.selectors import points_summary

    balance = points_summary(member, expiring_dates=0).balance
    if balance < points:
        raise InsufficientPoints(
            _("The member has %(balance)d points; %(points)d are needed.") % {"balance": balance, "points": points}
        )


def _pay_seat(registration: EventRegistration, event: Event, *, actor) -> None:
    from rewards.services.programme_spend import spend_points

    try:
        spent = spend_points(
            member=registration.member,
            points=event.points_cost,
            reason_code=Reason.EVENT_SEAT,
            reason_params=seat_reason(event),
            actor=actor,
        )
    except MemberErased as exc:
        raise NotEligible(str(exc)) from exc
    registration.points_entry = spent.entry
    registration.points_spent = event.points_cost


# --- cancellation and the waitlist ----------------------------------------------------------------


@dataclass(frozen=True)
class CancelResult:
    registration: EventRegistration
    promoted: list[EventRegistration] = field(default_factory=list)
    points_returned: int = 0


def cancellation_deadline(event: Event) -> datetime.datetime:
    return event.cancellation_deadline or event.starts_at


@transaction.atomic
def cancel_registration(
    *, registration: EventRegistration, actor=None, now: datetime.datetime | None = None
) -> CancelResult:
    """Cancel a sign-up before the deadline (CancellationClosed after it): a seat's points come
    back with a reversing row and a freed seat goes to the waitlist (rule 5). Cancelling a
    cancelled registration again changes nothing."""
    now = now or timezone.now()
    locked = lock_objects.event_for_update(registration.event_id)
    current = EventRegistration.objects.select_related("member").get(pk=registration.pk)
    if current.status == EventRegistration.Status.CANCELLED:
        return CancelResult(registration=current)
    if now >= cancellation_deadline(locked):
        raise CancellationClosed(_("The cancellation deadline for this event has passed."))
    if current.attended_at:
        raise CancellationClosed(_("The member has already been checked in."))
    returned = _cancel(current, locked, now=now, actor=actor)
    promoted = _promote(locked, now=now, actor=actor)
    return CancelResult(registration=current, promoted=promoted, points_returned=returned)


def _cancel(registration: EventRegistration, event: Event, *, now, actor) -> int:
    returned = 0
    if registration.points_entry_id and not registration.points_return_id:
        from rewards.services.programme_spend import give_back_points

        given = give_back_points(
            entry=registration.points_entry,
            reason_code=Reason.EVENT_SEAT_RETURNED,
            reason_params=seat_reason(event),
            actor=actor,
        )
        registration.points_return = given.entry
        returned = given.points
    registration.status = EventRegistration.Status.CANCELLED
    registration.cancelled_at = now
    registration.save(update_fields=["status", "cancelled_at", "points_return", "updated_at"])
    return returned


def _promote(event: Event, *, now, actor) -> list[EventRegistration]:
    """Give free seats to the waitlist in arrival order; a member who cannot pay the seat's points
    now keeps their place and the seat goes to the next. The promoted are told after commit."""
    if event.status != Event.Status.SCHEDULED or now >= event.starts_at:
        return []
    free = event.capacity - event_selectors.confirmed_count(event.pk)
    promoted: list[EventRegistration] = []
    if free <= 0:
        return promoted
    for registration in event_selectors.waitlist(event.pk).select_related("member"):
        if free <= 0:
            break
        if event.points_cost:
            try:
                with transaction.atomic():  # a savepoint: a refusal leaves the transaction usable
                    _pay_seat(registration, event, actor=actor)
            except (InsufficientPoints, NotEligible):
                continue
        registration.status = EventRegistration.Status.CONFIRMED
        registration.confirmed_at = now
        registration.save(update_fields=["status", "confirmed_at", "points_entry", "points_spent", "updated_at"])
        promoted.append(registration)
        free -= 1
    if promoted:
        member_ids = [registration.member_id for registration in promoted]
        event_id = event.pk
        transaction.on_commit(lambda: _tell_promoted(event_id, member_ids))
    return promoted


def _tell_promoted(event_id: int, member_ids: list[int]) -> None:
    from campaigns.services import automations

    try:
        automations.tell_seat_confirmed(event_id=event_id, member_ids=member_ids)
    except Exception:  # the seat is theirs either way; the message is a courtesy
        logger.exception("could not queue the seat-confirmed message for event %s", event_id)


# --- payment and check-in -------------------------------------------------------------------------


@transaction.atomic
def record_payment(*, registration: EventRegistration, note: str = "", actor=None, now=None) -> EventRegistration:
    """Record that the event's price was paid outside the system (once; a second call keeps the first)."""
    lock_objects.event_for_update(registration.event_id)
    current = EventRegistration.objects.get(pk=registration.pk)
    if current.paid_at is None:
        current.paid_at = now or timezone.now()
        current.payment_note = (note or "").strip()[:100]
        current.save(update_fields=["paid_at", "payment_note", "updated_at"])
    return current


@dataclass(frozen=True)
class CheckInResult:
    outcome: str  # "checked_in", "already_checked_in", "waitlisted", "not_registered", "unknown_member"
    member: Member | None = None
    registration: EventRegistration | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in ("checked_in", "already_checked_in")


@transaction.atomic
def check_in(*, event: Event, code: str, actor=None, now: datetime.datetime | None = None) -> CheckInResult:
    """Check a member in at the door by their card's code (member number) or phone (rule 6)."""
    now = now or timezone.now()
    member = event_selectors.find_member_by_code(code)
    if member is None:
        return CheckInResult(outcome="unknown_member")
    locked = lock_objects.event_for_update(event.pk)
    registration = event_selectors.active_registration(locked, member)
    if registration is None:
        return CheckInResult(outcome="not_registered", member=member)
    if registration.status == EventRegistration.Status.WAITLISTED:
        return CheckInResult(outcome="waitlisted", member=member, registration=registration)
    if registration.attended_at is not None:
        return CheckInResult(outcome="already_checked_in", member=member, registration=registration)
    registration.attended_at = now
    registration.save(update_fields=["attended_at", "updated_at"])
    from members.services import add_interaction

    add_interaction(
        member=member,
        kind=Interaction.Kind.EVENT,
        channel=Interaction.Channel.STORE,
        summary=locked.title[:500],
        occurred_at=now,
        store=locked.store,
        actor=actor,
    )
    return CheckInResult(outcome="checked_in", member=member, registration=registration)


# --- invitations ----------------------------------------------------------------------------------

DEFAULT_INVITATION = (
    "{{ member.name }}您好，诚邀您参加会员专属活动「%(title)s」（%(when)s）。点击报名：{{ event_link }}"
)


@transaction.atomic
def invite_segment(
    *, event: Event, segment: Segment | None, channel: str = "sms", body: str = "", subject: str = "", actor=None
) -> Campaign:
    """A draft campaign to `segment` (every member when None) whose message carries each member's
    signed sign-up link (`{{ event_link }}`); it is launched like any campaign, so the outbox and
    the contact policy apply."""
    from campaigns.services.campaigns import create_campaign

    when = timezone.localtime(event.starts_at).strftime("%m-%d %H:%M")
    body = body or DEFAULT_INVITATION % {"title": event.title, "when": when}
    if "event_link" not in body:
        raise ValidationError({"body": [_("The message must carry the sign-up link: {{ event_link }}.")]})
    saved = create_campaign(
        name=(_("Invitation: %(title)s") % {"title": event.title})[:150],
        channel=channel,
        body=body,
        subject=subject or (event.title if channel == "email" else ""),
        segment=segment,
        actor=actor,
    )
    EventInvitation.objects.create(event=event, campaign=saved.campaign)
    return saved.campaign
