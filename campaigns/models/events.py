"""Member events (会员专属活动): workshops, launches, gatherings; their registrations and invitations.

Rows change only through `campaigns.services.events` (sign-up, waitlist, cancellation, check-in);
docs/rules/events.md states the rules.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from campaigns.models.dispatch import Campaign
from campaigns.models.segments import Segment
from members.models import Member, Store, TimeStamped


class Event(TimeStamped):
    """A member event with its seats, who may come, its windows and its price in money or points."""

    class Kind(models.TextChoices):
        WORKSHOP = "workshop", _("Workshop")
        LAUNCH = "launch", _("Product launch")
        GATHERING = "gathering", _("Gathering")
        TASTING = "tasting", _("Tasting")
        TALK = "talk", _("Talk")
        OTHER = "other", pgettext_lazy("event kind", "Other")

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", pgettext_lazy("event status", "Scheduled")
        CANCELLED = "cancelled", pgettext_lazy("event status", "Cancelled")

    title = models.CharField(_("title"), max_length=150)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.WORKSHOP)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    description = models.TextField(_("description"), blank=True)
    image = models.ImageField(_("image"), upload_to="events/", blank=True, max_length=200)
    store = models.ForeignKey(
        Store, verbose_name=_("store"), null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    address = models.CharField(_("address"), max_length=200, blank=True, help_text=_("When it is not in a store."))
    starts_at = models.DateTimeField(_("starts at"), db_index=True)
    ends_at = models.DateTimeField(_("ends at"))
    capacity = models.PositiveIntegerField(_("seats"), validators=[MinValueValidator(1)])
    price = models.DecimalField(
        _("price"), max_digits=12, decimal_places=2, default=0,
        help_text=_("0 for a free event. Paid outside the system; staff record the payment."),
    )  # fmt: skip
    points_cost = models.PositiveIntegerField(
        _("points per seat"), default=0, help_text=_("Optional: points taken from the member's balance for a seat.")
    )
    # Who may come: a member matching ANY of these; everyone when all are empty.
    audience_tiers = models.ManyToManyField(
        "rewards.Tier", verbose_name=_("tiers"), blank=True, related_name="+", help_text=_("Members of these tiers.")
    )
    audience_classifications = models.JSONField(
        _("classifications"), default=list, blank=True, help_text=_("Members of these classes.")
    )
    audience_segment = models.ForeignKey(
        Segment, verbose_name=_("segment"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    audience_plan_holders = models.BooleanField(
        _("paid plan holders"), default=False, help_text=_("Members with a paid membership in force.")
    )
    signup_opens_at = models.DateTimeField(_("sign-up opens"), null=True, blank=True)
    signup_closes_at = models.DateTimeField(
        _("sign-up closes"), null=True, blank=True, help_text=_("Empty: until the event starts.")
    )
    cancellation_deadline = models.DateTimeField(
        _("cancellation deadline"), null=True, blank=True, help_text=_("Empty: until the event starts.")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )  # fmt: skip

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["-starts_at", "-id"]
        permissions = [("checkin_event", _("Can check members in at an event"))]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="campaigns_event_ends_after"),
            models.CheckConstraint(condition=Q(capacity__gte=1), name="campaigns_event_capacity_positive"),
            models.CheckConstraint(condition=Q(price__gte=0), name="campaigns_event_price_not_negative"),
        ]

    def __str__(self) -> str:
        return self.title


class EventRegistration(TimeStamped):
    """A member's place at an event: confirmed while seats last, then waitlisted in arrival order.

    One active (confirmed or waitlisted) registration per member and event; the key makes a retry
    the same registration. `points_entry` is the ledger row that paid the seat (a `rewards` row,
    written by `rewards.services.spend_points`), `points_return` the row that gave it back.
    """

    class Status(models.TextChoices):
        CONFIRMED = "confirmed", _("Confirmed")
        WAITLISTED = "waitlisted", _("Waitlisted")
        CANCELLED = "cancelled", pgettext_lazy("registration status", "Cancelled")

    class Source(models.TextChoices):
        LINK = "link", _("Invitation link")
        CENTRE = "centre", _("Member centre")
        STAFF = "staff", _("Staff")
        API = "api", _("API")

    event = models.ForeignKey(Event, verbose_name=_("event"), on_delete=models.PROTECT, related_name="registrations")
    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="event_registrations"
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices, default=Source.STAFF)
    idempotency_key = models.CharField(_("idempotency key"), max_length=64)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    attended_at = models.DateTimeField(_("attended at"), null=True, blank=True)
    points_spent = models.PositiveIntegerField(_("points spent"), default=0)
    points_entry = models.ForeignKey(
        "rewards.LedgerEntry", verbose_name=_("points paid"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="+",
    )  # fmt: skip
    points_return = models.ForeignKey(
        "rewards.LedgerEntry", verbose_name=_("points given back"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="+",
    )  # fmt: skip
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True, help_text=_("The price, paid outside."))
    payment_note = models.CharField(_("payment note"), max_length=100, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("registered by"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )  # fmt: skip

    class Meta:
        verbose_name = _("event registration")
        verbose_name_plural = _("event registrations")
        ordering = ["event", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "member"],
                condition=Q(status__in=["confirmed", "waitlisted"]),
                name="campaigns_registration_once_per_member",
            ),
            models.UniqueConstraint(fields=["event", "idempotency_key"], name="campaigns_registration_unique_key"),
        ]
        indexes = [models.Index(fields=["event", "status", "id"], name="campaigns_reg_event_status")]

    def __str__(self) -> str:
        return f"{self.event} · {self.member.member_no}"


class EventInvitation(models.Model):
    """A campaign that invites its audience to an event; its `{{ event_link }}` is a signed sign-up link."""

    event = models.ForeignKey(Event, verbose_name=_("event"), on_delete=models.PROTECT, related_name="invitations")
    campaign = models.OneToOneField(
        Campaign, verbose_name=_("campaign"), on_delete=models.PROTECT, related_name="event_invitation"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("event invitation")
        verbose_name_plural = _("event invitations")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event} · {self.campaign}"
