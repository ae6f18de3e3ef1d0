"""Tiers, the history of every member's tier changes, and the policy that says how members qualify."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from members.models import Member, Purchase, TimeStamped

# The seeded tier names, marked for the translation catalogue; `Tier.display_name` translates
# whatever name is stored, so a renamed tier shows as typed.
SEED_TIER_NAMES = [gettext_noop("Regular"), gettext_noop("Silver"), gettext_noop("Gold"), gettext_noop("Diamond")]
SEED_TIER_BENEFITS = [
    # xgettext:no-python-format
    gettext_noop("10% off"),
    # xgettext:no-python-format
    gettext_noop("15% off"),
    # xgettext:no-python-format
    gettext_noop("20% off"),
    # xgettext:no-python-format
    gettext_noop("25% off, free delivery"),
]


class Tier(TimeStamped):
    """A membership level reached by the qualifying figure `TierPolicy` chooses (by default the
    lifetime spend net of refunds)."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=50, help_text=_("In English; translated when shown."))
    rank = models.PositiveSmallIntegerField(_("rank"), unique=True, help_text=_("0 is the entry tier."))
    threshold = models.DecimalField(
        _("threshold"),
        max_digits=12,
        decimal_places=2,
        help_text=_(
            "The qualifying figure from which a member reaches this tier: spend in currency units, or points "
            "when the tier policy qualifies by points earned."
        ),
    )
    discount_percent = models.DecimalField(_("discount (%)"), max_digits=5, decimal_places=2, default=Decimal("0.00"))
    free_delivery = models.BooleanField(_("free delivery"), default=False)
    benefits = models.TextField(_("benefits"), blank=True)

    class Meta:
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        ordering = ["rank"]
        constraints = [
            models.UniqueConstraint(fields=["threshold"], name="rewards_tier_unique_threshold"),
            models.CheckConstraint(condition=Q(threshold__gte=0), name="rewards_tier_threshold_gte_0"),
            models.CheckConstraint(
                condition=Q(discount_percent__gte=0) & Q(discount_percent__lte=100),
                name="rewards_tier_discount_0_100",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    def clean(self):
        """Thresholds rise with rank, and the entry tier (rank 0) starts at 0."""
        if self.rank == 0 and self.threshold is not None and self.threshold != 0:
            raise ValidationError({"threshold": _("The entry tier (rank 0) starts at a spend of 0.")})
        others = Tier.objects.exclude(pk=self.pk)
        if self.threshold is None or self.rank is None:
            return
        lower = others.filter(rank__lt=self.rank, threshold__gte=self.threshold).first()
        higher = others.filter(rank__gt=self.rank, threshold__lte=self.threshold).first()
        clash = lower or higher
        if clash:
            raise ValidationError(
                {
                    "threshold": _("Thresholds must rise with rank: “%(tier)s” (rank %(rank)d) has %(threshold)s.")
                    % {"tier": clash.display_name, "rank": clash.rank, "threshold": clash.threshold}
                }
            )

    @property
    def display_name(self) -> str:
        return gettext(self.name) if self.name else self.code


class TierHistory(models.Model):
    """One change of a member's tier, why, and the qualifying figure that decided it."""

    class Reason(models.TextChoices):
        PURCHASE = "purchase", _("Purchase")
        REFUND = "refund", _("Refund")
        ADJUSTMENT = "adjustment", _("Manual change")
        REEVALUATION = "reevaluation", _("Periodic re-evaluation")
        WINDOW = "window", _("Rolling-window re-evaluation")
        GRACE_ENDED = "grace_ended", _("Grace period ended")

    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="tier_history")
    from_tier = models.ForeignKey(
        Tier, verbose_name=_("from"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    to_tier = models.ForeignKey(Tier, verbose_name=_("to"), on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    purchase = models.ForeignKey(
        Purchase, verbose_name=_("purchase"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # What decided the change (empty on rows written before tier policies existed).
    basis = models.CharField(_("qualifying basis"), max_length=20, blank=True, default="")
    window_months = models.PositiveSmallIntegerField(_("window (months)"), null=True, blank=True)
    figure = models.DecimalField(_("qualifying figure"), max_digits=14, decimal_places=2, null=True, blank=True)
    below_since = models.DateField(_("below the threshold since"), null=True, blank=True)
    at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("tier change")
        verbose_name_plural = _("tier history")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["member", "-id"], name="rewards_tierhistory_member")]

    def __str__(self) -> str:
        return f"{self.from_tier} → {self.to_tier}"

    @property
    def note(self) -> str:
        """The figure that decided the change, in the reader's language."""
        if self.figure is None or not self.basis:
            return ""
        text = TierPolicy.describe_figure(self.basis, self.window_months, self.figure)
        if self.below_since:
            text += "; " + gettext("below the threshold since %(date)s") % {"date": self.below_since.isoformat()}
        return text


# Postings read the policy through the cache; `rewards.receivers.forget_tier_policy` drops it
# when the row is saved or deleted.
TIER_POLICY_CACHE_KEY = "rewards:tier-policy"
TIER_POLICY_CACHE_SECONDS = 60
TIERS_CACHE_KEY = "rewards:tiers"  # every tier, read on every posting (rewards.selectors.tiers)
TIERS_CACHE_SECONDS = 60


class TierPolicy(TimeStamped):
    """How members qualify for tiers. A single row (id 1), created by a data migration with the
    defaults — lifetime spend, a 12-month window for the window bases, 30 days of grace, periodic
    downgrades on — and edited by managers in the admin. Without the row the defaults apply."""

    SINGLETON_ID = 1

    class Basis(models.TextChoices):
        LIFETIME_SPEND = "lifetime_spend", _("Lifetime spend")
        WINDOW_SPEND = "window_spend", _("Spend in a rolling window of months")
        LIFETIME_POINTS = "lifetime_points", _("Points earned, lifetime")
        WINDOW_POINTS = "window_points", _("Points earned in a rolling window of months")

    WINDOW_BASES = (Basis.WINDOW_SPEND, Basis.WINDOW_POINTS)
    POINTS_BASES = (Basis.LIFETIME_POINTS, Basis.WINDOW_POINTS)

    basis = models.CharField(
        _("qualify by"),
        max_length=20,
        choices=Basis.choices,
        default=Basis.LIFETIME_SPEND,
        help_text=_(
            "What tier thresholds are compared with. Spend is what members paid, net of refunds; points "
            "earned are credits (purchases, bonuses, positive adjustments) less refund reversals — spending "
            "or expiry does not lower them. Thresholds are read in currency units for spend and in points "
            "for points."
        ),
    )
    window_months = models.PositiveSmallIntegerField(
        _("window (months)"),
        default=12,
        help_text=_(
            "For the rolling-window bases: a purchase counts from the day it was made until the same date "
            "this many months later."
        ),
    )
    grace_days = models.PositiveSmallIntegerField(
        _("downgrade grace period (days)"),
        default=30,
        help_text=_(
            "A member whose figure falls below their tier's threshold keeps the tier for this many days; "
            "the nightly re-evaluation downgrades them only if they are still below when it ends (0: at once)."
        ),
    )
    downgrade = models.BooleanField(
        _("periodic re-evaluation downgrades"),
        default=True,
        help_text=_("Untick to let the nightly re-evaluation only upgrade. Refunds lower the tier at once either way."),
    )

    class Meta:
        verbose_name = _("tier policy")
        verbose_name_plural = _("tier policy")
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="rewards_tierpolicy_singleton"),
            models.CheckConstraint(
                condition=Q(window_months__gte=1) & Q(window_months__lte=120),
                name="rewards_tierpolicy_window_1_120",
                violation_error_message=_("The window is 1 to 120 months."),
            ),
        ]

    def __str__(self) -> str:
        if self.basis in self.WINDOW_BASES:
            return gettext("%(basis)s (%(months)d months)") % {
                "basis": self.get_basis_display(),
                "months": self.window_months,
            }
        return str(self.get_basis_display())

    def save(self, *args, **kwargs):
        self.pk = self.SINGLETON_ID  # there is only one policy: saving another replaces it
        if self.created_at is None:
            existing = TierPolicy.objects.filter(pk=self.pk).values_list("created_at", flat=True).first()
            self.created_at = existing or timezone.now()
        super().save(*args, **kwargs)

    def clean(self):
        if not self.window_months or not 1 <= self.window_months <= 120:
            raise ValidationError({"window_months": _("The window is 1 to 120 months.")})

    @property
    def uses_window(self) -> bool:
        return self.basis in self.WINDOW_BASES

    @property
    def uses_points(self) -> bool:
        return self.basis in self.POINTS_BASES

    @classmethod
    def describe_figure(cls, basis: str, window_months: int | None, figure) -> str:
        """“Spend in the last 12 months: 4,200.00” — the figure named and formatted in the reader's language."""
        if basis in cls.POINTS_BASES:
            shown = number_format(int(figure), 0, force_grouping=True)
        else:
            shown = number_format(figure, 2, force_grouping=True)
        if basis == cls.Basis.LIFETIME_SPEND:
            return gettext("Lifetime spend: %(figure)s") % {"figure": shown}
        if basis == cls.Basis.WINDOW_SPEND:
            return gettext("Spend in the last %(months)d months: %(figure)s") % {
                "months": window_months or 0,
                "figure": shown,
            }
        if basis == cls.Basis.LIFETIME_POINTS:
            return gettext("Points earned, lifetime: %(figure)s") % {"figure": shown}
        return gettext("Points earned in the last %(months)d months: %(figure)s") % {
            "months": window_months or 0,
            "figure": shown,
        }
