"""Reads of member events: lists with their seat counts, who may come, a member's registrations
and waitlist positions, the results of an event, and the members who attended."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from campaigns.models import Classification, Event, EventInvitation, EventRegistration, MemberScore, OutboxMessage
from members.models import Member, Purchase
from rewards.models import MembershipSubscription
from rewards.selectors import members_in_tiers

ACTIVE = (EventRegistration.Status.CONFIRMED, EventRegistration.Status.WAITLISTED)
RESULTS_WINDOW_DAYS = 30
UPCOMING_LIMIT = 30


def with_counts(queryset: QuerySet[Event]) -> QuerySet[Event]:
    """Events annotated with `confirmed`, `waitlisted` and `attended` (one query for a list)."""
    return queryset.annotate(
        confirmed=Count("registrations", filter=Q(registrations__status=EventRegistration.Status.CONFIRMED)),
        waitlisted=Count("registrations", filter=Q(registrations__status=EventRegistration.Status.WAITLISTED)),
        attended=Count("registrations", filter=Q(registrations__attended_at__isnull=False)),
    )


def event_list() -> QuerySet[Event]:
    return with_counts(Event.objects.select_related("store", "audience_segment")).prefetch_related("audience_tiers")


def seats_left(event: Event) -> int:
    return max(event.capacity - event.confirmed, 0)


def confirmed_count(event_id: int) -> int:
    return EventRegistration.objects.filter(event_id=event_id, status=EventRegistration.Status.CONFIRMED).count()


def waitlist(event_id: int) -> QuerySet[EventRegistration]:
    """The waitlisted registrations in arrival order (the order the event's lock gave them ids)."""
    return EventRegistration.objects.filter(event_id=event_id, status=EventRegistration.Status.WAITLISTED).order_by(
        "pk"
    )


def _position_subquery():
    ahead = (
        EventRegistration.objects.filter(
            event_id=OuterRef("event_id"), status=EventRegistration.Status.WAITLISTED, pk__lte=OuterRef("pk")
        )
        .order_by()
        .values("event_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Subquery(ahead, output_field=IntegerField())


def with_positions(queryset: QuerySet[EventRegistration]) -> QuerySet[EventRegistration]:
    """Registrations annotated with `position` (1 = next to get a seat; None unless waitlisted)."""
    return queryset.annotate(position=_position_subquery())


def position_of(registration: EventRegistration) -> int | None:
    if registration.status != EventRegistration.Status.WAITLISTED:
        return None
    return waitlist(registration.event_id).filter(pk__lte=registration.pk).count()


# --- who may come ---------------------------------------------------------------------------------


def audience_condition(event: Event, *, today: datetime.date | None = None) -> Q | None:
    """The condition a member meets to come (any of the event's audience parts); None: everyone."""
    from campaigns.segments import segment_members

    today = today or timezone.localdate()
    parts: list[Q] = []
    tier_codes = [tier.code for tier in event.audience_tiers.all()]
    if tier_codes:
        parts.append(Q(pk__in=members_in_tiers(Member.objects.all(), tier_codes).values("pk")))
    classes = list(event.audience_classifications or [])
    if classes:
        condition = Q(campaign_score__classification__in=classes)
        if Classification.NO_PURCHASES in classes:
            condition |= ~Exists(MemberScore.objects.filter(member_id=OuterRef("pk")))
        parts.append(condition)
    if event.audience_segment_id:
        parts.append(Q(pk__in=segment_members(event.audience_segment.rules).values("pk")))
    if event.audience_plan_holders:
        parts.append(
            Exists(
                MembershipSubscription.objects.filter(
                    member_id=OuterRef("pk"),
                    status=MembershipSubscription.Status.ACTIVE,
                    starts_on__lte=today,
                    ends_on__gte=today,
                )
            )
        )
    if not parts:
        return None
    combined = parts[0]
    for part in parts[1:]:
        combined |= part
    return combined


def eligible_members(event: Event) -> QuerySet[Member]:
    """The active members who may come to the event."""
    condition = audience_condition(event)
    members = Member.objects.active()
    return members if condition is None else members.filter(condition)


def member_may_attend(event: Event, member: Member) -> bool:
    return eligible_members(event).filter(pk=member.pk).exists()


def events_member_may_attend(events: list[Event], member: Member) -> set[int]:
    """The ids of `events` the member may come to, in one query however many events there are."""
    if not events:
        return set()
    annotations = {}
    for event in events:
        condition = audience_condition(event)
        annotations[f"e{event.pk}"] = Exists(
            Member.objects.active().filter(pk=OuterRef("pk")).filter(condition if condition is not None else Q())
        )
    row = Member.objects.filter(pk=member.pk).annotate(**annotations).values(*annotations).first() or {}
    return {event.pk for event in events if row.get(f"e{event.pk}")}


# --- the member's side ----------------------------------------------------------------------------


def upcoming_events(now: datetime.datetime | None = None) -> list[Event]:
    """Scheduled events not yet ended, soonest first (at most UPCOMING_LIMIT), with counts and tiers."""
    now = now or timezone.now()
    return list(
        event_list().filter(status=Event.Status.SCHEDULED, ends_at__gt=now).order_by("starts_at", "pk")[:UPCOMING_LIMIT]
    )


def member_registrations(member: Member) -> QuerySet[EventRegistration]:
    """The member's registrations (cancelled ones too), newest event first, with waitlist positions."""
    return with_positions(
        EventRegistration.objects.filter(member=member).select_related("event", "event__store")
    ).order_by("-event__starts_at", "-pk")


def active_registration(event: Event, member: Member) -> EventRegistration | None:
    return EventRegistration.objects.filter(event=event, member=member, status__in=ACTIVE).first()


# --- results --------------------------------------------------------------------------------------


def attended_member_ids(event_id: int | None = None, within_days: int | None = None) -> QuerySet:
    """Ids of members who attended an event (`event_id`), or any event (None); `within_days`:
    only attendance in the last N days. A lazy queryset of ids (for a segment rule's subquery)."""
    rows = EventRegistration.objects.filter(attended_at__isnull=False)
    if event_id is not None:
        rows = rows.filter(event_id=event_id)
    if within_days is not None:
        rows = rows.filter(attended_at__gte=timezone.now() - datetime.timedelta(days=within_days))
    return rows.order_by().values_list("member_id", flat=True).distinct()


def invited_member_ids(event_id: int) -> QuerySet:
    """Members an invitation campaign of the event sent a message to (sent or delivered)."""
    campaigns = EventInvitation.objects.filter(event_id=event_id).values("campaign_id")
    return (
        OutboxMessage.objects.filter(
            campaign_id__in=campaigns, status__in=[OutboxMessage.Status.SENT, OutboxMessage.Status.DELIVERED]
        )
        .order_by()
        .values_list("member_id", flat=True)
        .distinct()
    )


@dataclass(frozen=True)
class PurchaseFigures:
    members: int
    buyers: int
    purchases: int
    revenue: Decimal

    @property
    def revenue_per_member(self) -> Decimal:
        return (self.revenue / self.members).quantize(Decimal("0.01")) if self.members else Decimal("0.00")

    @property
    def buyer_rate(self) -> float:
        return round(self.buyers * 100 / self.members, 1) if self.members else 0.0


@dataclass(frozen=True)
class EventResults:
    invited: int
    signed_up: int
    confirmed: int
    waitlisted: int
    cancelled: int
    attended: int
    no_shows: int | None  # None until the event has ended
    points_spent: int
    attendees: PurchaseFigures
    invited_absent: PurchaseFigures
    window_days: int


def _purchase_figures(member_ids: QuerySet, start: datetime.datetime, end: datetime.datetime) -> PurchaseFigures:
    """One query: how many of the members bought from `start` to `end`, how often and how much."""
    members = Member.objects.filter(pk__in=member_ids)
    in_window = Purchase.objects.filter(member_id=OuterRef("pk"), ordered_at__gte=start, ordered_at__lt=end)
    count_sub = Subquery(
        in_window.order_by().values("member_id").annotate(n=Count("pk")).values("n"), output_field=IntegerField()
    )
    total_sub = Subquery(in_window.order_by().values("member_id").annotate(t=Sum("total")).values("t"))
    figures = members.annotate(n=Coalesce(count_sub, 0), t=total_sub).aggregate(
        members=Count("pk"), buyers=Count("pk", filter=Q(n__gt=0)), purchases=Sum("n"), revenue=Sum("t")
    )
    return PurchaseFigures(
        members=figures["members"] or 0,
        buyers=figures["buyers"] or 0,
        purchases=figures["purchases"] or 0,
        revenue=(figures["revenue"] or Decimal("0")).quantize(Decimal("0.01")),
    )


def event_results(event: Event, *, now: datetime.datetime | None = None) -> EventResults:
    """The figures of one event, a fixed number of queries (one per figure group): counts of the
    registrations; invited members; and purchases in the RESULTS_WINDOW_DAYS days after the event
    starts by attendees against invited members who did not come."""
    now = now or timezone.now()
    regs = EventRegistration.objects.filter(event=event)
    counts = regs.aggregate(
        signed_up=Count("member_id", distinct=True),
        confirmed=Count("pk", filter=Q(status=EventRegistration.Status.CONFIRMED)),
        waitlisted=Count("pk", filter=Q(status=EventRegistration.Status.WAITLISTED)),
        cancelled=Count("pk", filter=Q(status=EventRegistration.Status.CANCELLED)),
        attended=Count("pk", filter=Q(attended_at__isnull=False)),
        no_shows=Count("pk", filter=Q(status=EventRegistration.Status.CONFIRMED, attended_at__isnull=True)),
        points_spent=Coalesce(Sum("points_spent", filter=Q(points_entry__isnull=False, points_return__isnull=True)), 0),
    )
    invited = invited_member_ids(event.pk)
    start = event.starts_at
    end = start + datetime.timedelta(days=RESULTS_WINDOW_DAYS)
    attended_ids = attended_member_ids(event.pk)
    return EventResults(
        invited=invited.count(),
        signed_up=counts["signed_up"],
        confirmed=counts["confirmed"],
        waitlisted=counts["waitlisted"],
        cancelled=counts["cancelled"],
        attended=counts["attended"],
        no_shows=counts["no_shows"] if event.ends_at <= now else None,
        points_spent=counts["points_spent"],
        attendees=_purchase_figures(attended_ids, start, end),
        invited_absent=_purchase_figures(invited.exclude(member_id__in=attended_ids), start, end),
        window_days=RESULTS_WINDOW_DAYS,
    )


def find_member_by_code(code: str) -> Member | None:
    """The member a scanned card (its member number, as the card's QR and barcode encode it) or a
    typed phone number names; None when no member matches."""
    code = (code or "").strip()[:64]
    if not code:
        return None
    member = Member.objects.not_erased().filter(member_no=code.upper()).first()
    if member is None:
        member = Member.objects.not_erased().with_phone(code).first()
    return member


def events_on(day: datetime.date, *, store=None) -> list[Event]:
    """The scheduled events that start on the local day `day` (with `store`: at that store or at no
    store), soonest first, with their counts. One query."""
    start = timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
    events = with_counts(Event.objects.select_related("store")).filter(
        status=Event.Status.SCHEDULED, starts_at__gte=start, starts_at__lt=start + datetime.timedelta(days=1)
    )
    if store is not None:
        events = events.filter(Q(store=store) | Q(store__isnull=True))
    return list(events.order_by("starts_at", "pk")[:UPCOMING_LIMIT])
