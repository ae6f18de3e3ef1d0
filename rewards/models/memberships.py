"""Paid membership (付费会员): plans bought for a fee, and each member's subscriptions to them."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from members.models import Member, TimeStamped

# The seeded plan's name, marked for the catalogue; `display_name` translates whatever is stored.
SEED_PLAN_NAMES = [gettext_noop("Annual plus")]


class MembershipPlan(TimeStamped):
    """A paid membership plan: bought for a fee, for a number of months, with its own perks."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100, help_text=_("In English; translated when shown."))
    price = models.DecimalField(
        _("price"), max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    duration_months = models.PositiveSmallIntegerField(
        _("duration (months)"), default=12, validators=[MinValueValidator(1)]
    )
    free_delivery = models.BooleanField(_("free delivery"), default=False)
    points_multiplier = models.DecimalField(
        _("points multiplier"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("1.00"),
        validators=[MinValueValidator(Decimal("1"))],
        help_text=_("1.5 = half as many points again on purchases; 1 = no extra points."),
    )
    member_only_rewards = models.BooleanField(_("member-only rewards"), default=False)
    priority_booking = models.TextField(
        _("priority booking and events"), blank=True, help_text=_("What the plan gives for bookings and member events.")
    )
    is_active = models.BooleanField(_("on sale"), default=True)

    class Meta:
        verbose_name = _("membership plan")
        verbose_name_plural = _("membership plans")
        ordering = ["price", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="rewards_plan_price_gte_0"),
            models.CheckConstraint(condition=Q(duration_months__gte=1), name="rewards_plan_duration_gte_1"),
            models.CheckConstraint(condition=Q(points_multiplier__gte=1), name="rewards_plan_multiplier_gte_1"),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return gettext(self.name) if self.name else self.code


class MembershipSubscription(models.Model):
    """One purchase of a plan by a member, from `starts_on` to `ends_on` (both included).

    Written only by `rewards.services.memberships` (buy, cancel, expire). A renewal bought while
    a subscription runs starts the day after it ends."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        CANCELLED = "cancelled", _("Cancelled")
        EXPIRED = "expired", _("Expired")

    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="memberships")
    plan = models.ForeignKey(
        MembershipPlan, verbose_name=_("plan"), on_delete=models.PROTECT, related_name="subscriptions"
    )
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"))
    price_paid = models.DecimalField(_("price paid"), max_digits=12, decimal_places=2)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    external_ref = models.CharField(_("external reference"), max_length=64, unique=True)
    sold_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("sold by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("cancelled by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    renewal_reminded_at = models.DateTimeField(_("renewal reminder sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("sold at"), auto_now_add=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        ordering = ["-starts_on", "-id"]
        indexes = [
            models.Index(fields=["member", "status", "ends_on"], name="rewards_subscription_member"),
            models.Index(fields=["status", "ends_on"], name="rewards_subscription_due"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gte=models.F("starts_on")), name="rewards_sub_ends_after_start"
            ),
            models.CheckConstraint(condition=Q(price_paid__gte=0), name="rewards_sub_price_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.plan} {self.starts_on} – {self.ends_on}"
