"""The programme analytics' managed assumptions (one row, pk 1, edited by managers in the admin).

The cost of a point prices the points liability (`rewards.analytics.outstanding_liability`); the
margin and the cost of a message price the programme's return (`campaigns.analytics.programme_roi`).
No row = these defaults; `load()` reads without writing.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

DEFAULT_COST_PER_POINT = Decimal("0.0100")
DEFAULT_MARGIN_PERCENT = Decimal("40.00")
DEFAULT_COST_PER_MESSAGE = Decimal("0.0500")


class ProgrammeAssumptions(models.Model):
    SINGLETON_PK = 1

    cost_per_point = models.DecimalField(
        _("cost of a point (¥)"),
        max_digits=8,
        decimal_places=4,
        default=DEFAULT_COST_PER_POINT,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("What one outstanding point costs the shop when it is spent (0.01: 100 points cost ¥1)."),
    )
    margin_percent = models.DecimalField(
        _("gross margin (%)"),
        max_digits=5,
        decimal_places=2,
        default=DEFAULT_MARGIN_PERCENT,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text=_("The share of a sale that is margin; extra sales are worth this much to the shop."),
    )
    cost_per_message = models.DecimalField(
        _("cost of a message (¥)"),
        max_digits=8,
        decimal_places=4,
        default=DEFAULT_COST_PER_MESSAGE,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("What one campaign message costs to send (SMS fee, on average over the channels)."),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("programme analytics assumptions")
        verbose_name_plural = _("programme analytics assumptions")
        permissions = [("view_programme_analytics", _("Can see the programme analytics"))]
        constraints = [
            models.CheckConstraint(condition=Q(cost_per_point__gte=0), name="rewards_assumptions_point_gte_0"),
            models.CheckConstraint(
                condition=Q(margin_percent__gte=0) & Q(margin_percent__lte=100), name="rewards_assumptions_margin_0_100"
            ),
            models.CheckConstraint(condition=Q(cost_per_message__gte=0), name="rewards_assumptions_message_gte_0"),
        ]

    def __str__(self) -> str:
        return gettext("Programme analytics assumptions")

    def save(self, *args, **kwargs):
        self.pk = self.SINGLETON_PK
        super().save(*args, **kwargs)

    @classmethod
    def load(cls) -> ProgrammeAssumptions:
        """The row, or the defaults when managers never saved one (reads only)."""
        return cls.objects.filter(pk=cls.SINGLETON_PK).first() or cls(pk=cls.SINGLETON_PK)
